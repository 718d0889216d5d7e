//! Loom models of the crate's own synchronisation: run with
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release --lib loom`.
//!
//! Each model is small on purpose: loom explores every interleaving of the threads it runs, so a
//! model holds two or three threads and a handful of atomic steps. Together they cover the slot
//! bound, the result slot (run vs join vs cancel vs drop), submit vs shutdown, cancel vs start,
//! a parked producer, the async waiter registration, the weighted bound (acquire, release
//! and wake-up of producers whose units do not fit; a helping producer of another weight; a
//! release that must wake every parked producer that fits), lazy threads (a push racing a
//! retirement; tasks that wait for each other, each needing a thread a push claims or starts),
//! and a shutdown that must wait for helpers and caller-runs tasks. Under loom the parking lot
//! is modelled with its keys and tokens (see `sync.rs`), so a wake-up a release misses is a
//! deadlock loom reports.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Wake, Waker};

use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;

use crate::handle::TaskHandle;
use crate::hooks::Hooks;
use crate::queue::Message;
use crate::shared::{PoppedBy, Refusal, Shared, ThreadsConfig, Wait};
use crate::submit_future::SubmitFuture;
use crate::task::Task;

/// A worker's loop, for models that need one: runs jobs until told to stop.
fn worker(shared: Arc<Shared>) -> thread::JoinHandle<()> {
    thread::spawn(move || loop {
        match shared.queue.pop() {
            Message::Run(job) => shared.execute(job, PoppedBy::Worker(0)),
            Message::Stop => return,
            Message::Retire => unreachable!("no resize in these models"),
        }
    })
}

#[test]
fn loom_the_bound_holds_under_two_producers() {
    loom::model(|| {
        let shared = Arc::new(Shared::new(1, 1));
        let inside = Arc::new(AtomicUsize::new(0));
        let producers: Vec<_> = (0..2)
            .map(|_| {
                let (shared, inside) = (shared.clone(), inside.clone());
                thread::spawn(move || {
                    if shared.try_admit(1).is_ok() {
                        assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0, "two slots at once");
                        inside.fetch_sub(1, Ordering::SeqCst);
                        shared.release(1);
                    }
                })
            })
            .collect();
        for producer in producers {
            producer.join().unwrap();
        }
        assert_eq!(shared.in_flight(), 0);
    });
}

#[test]
fn loom_a_parked_producer_is_woken_by_a_release() {
    loom::model(|| {
        let shared = Arc::new(Shared::new(1, 1));
        shared.try_admit(1).unwrap();
        let producer = {
            let shared = shared.clone();
            thread::spawn(move || {
                // Waits (parks) until the release below; loom reports a deadlock if it is missed.
                assert!(shared.admit(1, Wait::Forever).is_ok());
                shared.release(1);
            })
        };
        shared.release(1);
        producer.join().unwrap();
    });
}

/// Counts drops of a task's result.
struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn loom_result_slot_run_vs_join() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let result = Counted(drops.clone());
        let (task, job) = Task::allocate(move || result, 1);
        let runner =
            thread::spawn(move || assert!(job.run(&mut |panicked, _| assert!(!panicked)).won()));
        assert!(task.header().wait(None));
        // SAFETY: the outcome is published (waited above) and this is the only reader.
        let value = unsafe { task.take_outcome() }.unwrap();
        runner.join().unwrap();
        assert_eq!(drops.load(Ordering::SeqCst), 0);
        drop(value);
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        task.detach();
    });
}

#[test]
fn loom_result_slot_run_vs_cancel() {
    loom::model(|| {
        let ran = Arc::new(AtomicBool::new(false));
        let (task, job) = {
            let ran = ran.clone();
            Task::allocate(move || ran.store(true, Ordering::SeqCst), 1)
        };
        let runner = thread::spawn(move || job.run(&mut |_, _| {}).won());
        let cancelled = task.cancel(&mut |_| {}).won();
        let started = runner.join().unwrap();
        assert!(cancelled != started, "exactly one of run and cancel claims the task");
        assert!(task.header().wait(None));
        // SAFETY: published, and this is the only reader.
        let outcome = unsafe { task.take_outcome() };
        assert_eq!(outcome.is_err(), cancelled);
        assert_eq!(ran.load(Ordering::SeqCst), started);
        task.detach();
    });
}

#[test]
fn loom_result_slot_run_vs_detach_drops_the_result_once() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let result = Counted(drops.clone());
        let (task, job) = Task::allocate(move || result, 1);
        // The worker runs the task, then drops its queue entry; whichever reference goes last
        // frees the task.
        let runner = thread::spawn(move || job.run(&mut |_, _| {}).won());
        task.detach(); // the handle is dropped while the task may be running
        assert!(runner.join().unwrap());
        // Dropped exactly once: by the run or the detach, whichever came second (or by the run
        // alone, if the handle was gone before it began).
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    });
}

/// Three references (a handle, a queue entry, and a scope's own list) go on three threads while
/// the task runs: the result is dropped exactly once, and the last reference frees the task
/// (a free racing a use of the stage would be a loom access violation).
#[test]
fn loom_three_references_go_while_the_task_runs() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let result = Counted(drops.clone());
        let (task, job) = Task::allocate(move || result, 1);
        let listed = job.clone();
        let runner = thread::spawn(move || assert!(job.run(&mut |_, _| {}).won()));
        let lister = thread::spawn(move || drop(listed));
        task.detach();
        runner.join().unwrap();
        lister.join().unwrap();
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn loom_submit_vs_shutdown() {
    loom::model(|| {
        let shared = Arc::new(Shared::new(1, 2));
        let worker = worker(shared.clone());
        let producer = {
            let shared = shared.clone();
            thread::spawn(move || match TaskHandle::submit(&shared, 1, || 5, Wait::No) {
                Ok(handle) => Some(handle),
                Err((refusal, _)) => {
                    assert_eq!(refusal, Refusal::Shutdown);
                    None
                }
            })
        };
        shared.begin_shutdown();
        let handle = producer.join().unwrap();
        // The worker stops only after every accepted task ran: a lost Stop would deadlock here.
        worker.join().unwrap();
        if let Some(handle) = handle {
            assert!(handle.is_finished());
            assert_eq!(handle.join().unwrap(), 5);
        }
        assert_eq!(shared.in_flight(), 0);
    });
}

#[test]
fn loom_cancel_vs_start_gives_the_slot_back_once() {
    loom::model(|| {
        let shared = Arc::new(Shared::new(1, 1));
        let handle = TaskHandle::submit(&shared, 1, || 1, Wait::No).ok().unwrap();
        let worker = {
            let shared = shared.clone();
            thread::spawn(move || match shared.queue.pop() {
                Message::Run(job) => shared.execute(job, PoppedBy::Worker(0)),
                Message::Stop | Message::Retire => unreachable!(),
            })
        };
        // Cancelled off the queue while the worker pops the entry: whichever of the two goes
        // second gives the slot back (the task's DONE and POPPED bits decide).
        let cancelled = handle.cancel();
        worker.join().unwrap();
        assert_eq!(handle.join().is_err(), cancelled);
        // Exactly one slot was taken and exactly one given back: it is free, and no second.
        assert_eq!(shared.in_flight(), 0);
        assert!(shared.try_admit(1).is_ok());
        assert!(shared.try_admit(1).is_err());
    });
}

struct Flag(Arc<AtomicBool>);

impl Wake for Flag {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[test]
fn loom_async_waiter_registration_loses_no_wake_up() {
    loom::model(|| {
        let shared = Arc::new(Shared::new(1, 1));
        shared.try_admit(1).unwrap();
        let woken = Arc::new(AtomicBool::new(false));
        let waker = Waker::from(std::sync::Arc::new(Flag(woken.clone())));
        let releaser = {
            let shared = shared.clone();
            thread::spawn(move || shared.release(1))
        };
        let mut future = SubmitFuture::new(shared.clone(), || 3);
        let mut cx = Context::from_waker(&waker);
        let first = Pin::new(&mut future).poll(&mut cx);
        releaser.join().unwrap();
        let handle = match first {
            Poll::Ready(result) => result.unwrap(),
            Poll::Pending => {
                // Pending while the slot was taken: the release must have woken us.
                assert!(woken.load(Ordering::SeqCst), "lost wake-up");
                match Pin::new(&mut future).poll(&mut cx) {
                    Poll::Ready(result) => result.unwrap(),
                    Poll::Pending => panic!("woken, but still no slot"),
                }
            }
        };
        assert!(!handle.is_finished()); // queued: no worker in this model
    });
}

/// Counts the wakes of one waker.
struct Count(Arc<AtomicUsize>);

impl Wake for Count {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn loom_a_waker_registered_while_the_task_publishes_is_woken_once() {
    loom::model(|| {
        let (task, job) = Task::allocate(|| 1, 1);
        // An earlier poll left a waker and the WAKER bit behind.
        let first = Arc::new(AtomicUsize::new(0));
        assert!(!task.header().register_waker(&Waker::from(std::sync::Arc::new(Count(first)))));
        let runner = thread::spawn(move || assert!(job.run(&mut |_, _| {}).won()));
        // A `TaskSet::push` registers its own waker and wakes it itself only if told to.
        let second = Arc::new(AtomicUsize::new(0));
        let waker = Waker::from(std::sync::Arc::new(Count(second.clone())));
        if task.header().register_waker(&waker) {
            waker.wake_by_ref();
        }
        runner.join().unwrap();
        assert_eq!(second.load(Ordering::SeqCst), 1, "the new waker is woken exactly once");
        task.detach();
    });
}

/// A producer took its slot before `shutdown_now` and pushes after the drain; the only worker
/// joins that task. The joiner must end it (cancel it, as the drain would have): nothing else
/// will pop it. Then the husk's slot comes back once, and exactly one `Stop` is sent.
#[test]
fn loom_a_task_pushed_after_the_drain_is_cancelled_by_its_joining_worker() {
    loom::model(|| {
        let shared = Arc::new(Shared::new(1, 2));
        let admission = shared.try_admit(1).unwrap();
        let stopper = {
            let shared = shared.clone();
            thread::spawn(move || assert!(!shared.cancel_queued().discard()))
        };
        let (completion, job) = Task::allocate(|| 7, 1);
        let task = job.clone();
        let handle = TaskHandle::start(&shared, admission, completion, job);
        // The worker joins it (what `join` does on a worker of this executor).
        shared.run_off_queue(&*task, 0);
        assert!(task.header().wait(None), "the joined task ended");
        stopper.join().unwrap();
        // Whatever the drain did not pop, the worker pops now.
        let mut stops = 0;
        while let Some(message) = shared.queue.try_pop() {
            match message {
                Message::Run(job) => shared.execute(job, PoppedBy::Worker(0)),
                Message::Stop => stops += 1,
                Message::Retire => unreachable!(),
            }
        }
        // Run if the join came before `shutdown_now` began, else cancelled.
        match handle.join() {
            Ok(value) => assert_eq!(value, 7),
            Err(err) => assert!(err.is_cancelled()),
        }
        assert_eq!(shared.slots_taken(), 0, "the slot came back exactly once");
        assert_eq!(stops, 1);
    });
}

/// Drops with a panic.
struct Bomb;

impl Drop for Bomb {
    fn drop(&mut self) {
        panic!("Bomb");
    }
}

#[test]
fn loom_cancel_vs_pop_with_a_panicking_closure_gives_the_slot_back_once() {
    loom::model(|| {
        let shared = Arc::new(Shared::new(1, 1));
        let bomb = Bomb;
        let handle = TaskHandle::submit(&shared, 1, move || drop(bomb), Wait::No).ok().unwrap();
        let worker = {
            let shared = shared.clone();
            thread::spawn(move || match shared.queue.pop() {
                Message::Run(job) => {
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        shared.execute(job, PoppedBy::Worker(0))
                    }));
                }
                Message::Stop | Message::Retire => unreachable!(),
            })
        };
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handle.cancel()));
        worker.join().unwrap();
        assert_eq!(shared.slots_taken(), 0, "the slot came back exactly once");
        drop(handle);
    });
}

/// A producer that finds the executor full runs the queued task itself while a worker may pop
/// it too: each task runs exactly once, the bound holds, and every slot comes back.
#[test]
fn loom_a_helping_producer_and_a_worker_run_each_task_once() {
    loom::model(|| {
        let shared = Arc::new(Shared::new(1, 1).with_producer_helps(true));
        let runs = Arc::new(AtomicUsize::new(0));
        let worker = worker(shared.clone());
        let task = |runs: &Arc<AtomicUsize>| {
            let runs = runs.clone();
            move || {
                runs.fetch_add(1, Ordering::SeqCst);
            }
        };
        let first = TaskHandle::submit(&shared, 1, task(&runs), Wait::Forever).ok().unwrap();
        // Full: helps with `first` if it is still queued, else waits for the worker.
        let second = TaskHandle::submit(&shared, 1, task(&runs), Wait::Forever).ok().unwrap();
        assert!(first.join().is_ok());
        assert!(second.join().is_ok());
        shared.begin_shutdown();
        worker.join().unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        assert_eq!(shared.slots_taken(), 0);
    });
}

/// A helping producer is handed the slot of the task it ran, unless a shutdown began: then it
/// gives the slot back (the last one stops the workers) and is refused. Either way no slot
/// leaks and every accepted task runs.
#[test]
fn loom_a_helping_producer_racing_shutdown_leaks_no_slot() {
    loom::model(|| {
        let shared = Arc::new(Shared::new(1, 1).with_producer_helps(true));
        let first = TaskHandle::submit(&shared, 1, || 1, Wait::No).ok().unwrap();
        let stopper = {
            let shared = shared.clone();
            thread::spawn(move || shared.begin_shutdown())
        };
        // Full, and no worker yet: helps with `first`, then keeps its slot or is refused.
        let second = TaskHandle::submit(&shared, 1, || 2, Wait::Forever);
        stopper.join().unwrap();
        worker(shared.clone()).join().unwrap();
        assert_eq!(first.join().unwrap(), 1);
        match second {
            Ok(second) => assert_eq!(second.join().unwrap(), 2),
            Err((refusal, _)) => assert_eq!(refusal, Refusal::Shutdown),
        }
        assert_eq!(shared.slots_taken(), 0);
    });
}

/// An executor whose threads are real (loom) threads, started and retired by `threads.rs`: at
/// most `max` workers, `min` kept, and a keep-alive that may end at any point (under loom a
/// timed wait for work returns at once when the queue is empty).
fn pool(max: usize, min: usize, capacity: usize) -> Arc<Shared> {
    pool_with(max, min, capacity, |shared| shared)
}

/// As [`pool`], with more configuration (`configure` gets the shared state before its threads
/// start).
fn pool_with(
    max: usize,
    min: usize,
    capacity: usize,
    configure: impl FnOnce(Shared) -> Shared,
) -> Arc<Shared> {
    let shared = Arc::new(configure(Shared::new(max, capacity)).with_threads(ThreadsConfig {
        max_workers: max,
        min_workers: Some(min),
        keep_alive: std::time::Duration::ZERO,
        name: "loom".into(),
        stack_size: None,
        hooks: Hooks::default(),
    }));
    shared.threads.fill_to_min(&shared).unwrap();
    shared
}

/// What `BoundedExecutor::shutdown` does: stop accepting, wait for the threads, join them.
fn shut_down(shared: &Shared) {
    shared.begin_shutdown();
    assert!(shared.wait_workers_exited(None));
    shared.threads.join_all();
    assert_eq!(shared.threads.live(), 0);
    assert_eq!(shared.slots_taken(), 0);
}

/// The spawn decision against an idle worker's retirement: a lazy executor with no thread
/// kept. The first submit starts a worker; the second may come while that worker, idle, is
/// retiring. The second task must still run (a lost task leaves `join` waiting forever, which
/// loom reports as a deadlock), and never more than one worker takes tasks.
#[test]
fn loom_a_submit_racing_an_idle_workers_retirement_is_run() {
    loom::model(|| {
        let shared = pool(1, 0, 1);
        assert_eq!(shared.threads.live(), 0, "no thread until there is work");
        for value in 1..=2 {
            let inner = shared.clone();
            let handle = TaskHandle::submit(
                &shared,
                1,
                move || {
                    assert!(inner.threads.live() <= 1, "more workers than max_workers");
                    value
                },
                Wait::Forever,
            )
            .ok()
            .unwrap();
            assert_eq!(handle.join().unwrap(), value);
        }
        shut_down(&shared);
    });
}

/// Two producers on a lazy executor of one worker: each push makes a spawn decision, racing
/// the other and the worker's retirement. Both tasks run, on at most one worker at a time.
#[test]
fn loom_two_producers_spawn_at_most_max_workers() {
    loom::model(|| {
        let shared = pool(1, 0, 2);
        let producer = {
            let shared = shared.clone();
            thread::spawn(move || {
                let handle = TaskHandle::submit(&shared, 1, || 1, Wait::Forever).ok().unwrap();
                handle.join().unwrap()
            })
        };
        let inner = shared.clone();
        let handle = TaskHandle::submit(
            &shared,
            1,
            move || {
                assert!(inner.threads.live() <= 1);
                2
            },
            Wait::Forever,
        )
        .ok()
        .unwrap();
        assert_eq!(handle.join().unwrap(), 2);
        assert_eq!(producer.join().unwrap(), 1);
        shut_down(&shared);
    });
}

/// The `Stop` relay: two workers kept alive, one `Stop` sent; each that takes it passes it on.
/// A lost relay leaves a worker waiting and the shutdown with it.
#[test]
fn loom_the_stop_relay_reaches_every_worker() {
    loom::model(|| {
        let shared = pool(2, 2, 2);
        assert_eq!(shared.threads.live(), 2);
        shut_down(&shared);
    });
}

/// A shrink sends the `Retire` relay while a task runs: the extra worker exits (after its
/// task, if it is the one running it), the task runs, and the shutdown finds one worker.
#[test]
fn loom_a_shrink_retires_the_extra_worker_and_loses_no_task() {
    loom::model(|| {
        let shared = pool(2, 2, 2);
        let handle = TaskHandle::submit(&shared, 1, || 3, Wait::Forever).ok().unwrap();
        shared.threads.set_max(&shared, 1).unwrap();
        assert_eq!(handle.join().unwrap(), 3);
        shut_down(&shared);
        assert_eq!(shared.stats().threads_exited, 2);
    });
}

/// Two producers of weight 2 under a weight capacity of 3 (the count bound, 2, never binds):
/// they cannot both be in flight, so one waits for the other's task to end on the worker. The
/// waiter must be woken by that release (loom reports a deadlock if the wake-up is lost), the
/// units in the word never pass the capacity, and every slot and unit comes back.
#[test]
fn loom_weighted_producers_that_cannot_both_fit_wait_and_are_woken() {
    loom::model(|| {
        let shared = Arc::new(Shared::new(1, 2).with_weight_capacity(3));
        let worker = worker(shared.clone());
        let submit = |shared: &Arc<Shared>| {
            let handle = TaskHandle::submit(shared, 2, || 2, Wait::Forever).ok().unwrap();
            assert!(shared.units_taken() <= 3, "units past the weight capacity");
            handle
        };
        let producer = {
            let shared = shared.clone();
            thread::spawn(move || submit(&shared).join().unwrap())
        };
        let mine = submit(&shared).join().unwrap();
        assert_eq!(producer.join().unwrap() + mine, 4);
        shared.begin_shutdown();
        worker.join().unwrap();
        assert_eq!((shared.slots_taken(), shared.units_taken()), (0, 0));
    });
}

/// A helping producer that wants 2 units runs a queued task of weight 1 (or the worker does):
/// the weights differ, so the helped task's slot and unit are given back, not handed over,
/// and the producer takes its own. Each task runs once and every slot and unit comes back.
#[test]
fn loom_a_helping_producer_of_another_weight_gives_the_helped_slot_back() {
    loom::model(|| {
        let shared = Arc::new(Shared::new(1, 1).with_producer_helps(true).with_weight_capacity(2));
        let worker = worker(shared.clone());
        let first = TaskHandle::submit(&shared, 1, || 1, Wait::Forever).ok().unwrap();
        // Full (one slot): helps with `first` if it is still queued, else waits for the worker.
        let second = TaskHandle::submit(&shared, 2, || 2, Wait::Forever).ok().unwrap();
        // The second task's units, or none if the worker already ran it: never the first's too.
        assert!(matches!(shared.units_taken(), 0 | 2), "units: {}", shared.units_taken());
        assert_eq!(first.join().unwrap() + second.join().unwrap(), 3);
        shared.begin_shutdown();
        worker.join().unwrap();
        assert_eq!((shared.slots_taken(), shared.units_taken()), (0, 0));
    });
}

/// Sets its flag as it is dropped.
struct SetOnDrop(Arc<AtomicBool>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// A producer helps with a queued task of another weight while the executor shuts down: the
/// helped task's slot is given back as it ends, before its result (nobody's: the handle is
/// gone) is dropped. The shutdown must wait for that drop too: a shutdown that returns with an
/// accepted task still ending is a failure. (Fails without `Threads::wait_helpers`.)
#[test]
fn loom_shutdown_waits_for_a_helper_ending_a_task_of_another_weight() {
    loom::model(|| {
        let shared =
            pool_with(1, 1, 1, |shared| shared.with_producer_helps(true).with_weight_capacity(2));
        let dropped = Arc::new(AtomicBool::new(false));
        let result = SetOnDrop(dropped.clone());
        drop(TaskHandle::submit(&shared, 1, move || result, Wait::No).ok().unwrap());
        let producer = {
            let shared = shared.clone();
            // Full: helps with the first task if the worker has not taken it yet.
            thread::spawn(move || drop(TaskHandle::submit(&shared, 2, || (), Wait::Forever)))
        };
        shut_down(&shared);
        assert!(dropped.load(Ordering::SeqCst), "shutdown returned before a helped task ended");
        producer.join().unwrap();
    });
}

/// A caller runs its own task on a full executor (`submit_or_run`) while it shuts down. The
/// task holds no slot, so nothing in the slot word makes the shutdown wait for it: either the
/// caller is refused, or the shutdown waits for the task to end. (Fails without
/// `Shared::helping_unless_shut_down`'s registration and check.)
#[test]
fn loom_shutdown_waits_for_a_caller_running_its_own_task() {
    loom::model(|| {
        let shared = pool(1, 1, 1);
        // Takes the only slot until the worker has run it.
        drop(TaskHandle::submit(&shared, 1, || (), Wait::No).ok().unwrap());
        let returned = Arc::new(AtomicBool::new(false));
        let ended = Arc::new(AtomicBool::new(false));
        let caller = {
            let (shared, returned, ended) = (shared.clone(), returned.clone(), ended.clone());
            thread::spawn(move || {
                let task = move || {
                    assert!(!returned.load(Ordering::SeqCst), "a task ran after shutdown returned");
                    ended.store(true, Ordering::SeqCst);
                };
                match TaskHandle::submit_or_run(&shared, task) {
                    Ok(handle) => drop(handle),
                    Err((refusal, _)) => assert_eq!(refusal, Refusal::Shutdown),
                }
            })
        };
        shut_down(&shared);
        returned.store(true, Ordering::SeqCst);
        caller.join().unwrap();
        let stats = shared.stats();
        assert_eq!(stats.submitted, stats.completed, "every accepted task ended");
        assert_eq!(stats.completed == 2, ended.load(Ordering::SeqCst));
    });
}

/// A task that only returns once `n` tasks of its group run at once (a barrier on loom's
/// primitives, so that a task left queued with no thread to run it is a deadlock loom reports).
fn meet(group: &Arc<(loom::sync::Mutex<usize>, loom::sync::Condvar)>, n: usize) -> impl FnOnce() {
    let group = group.clone();
    move || {
        let (arrived, all_here) = &*group;
        let mut arrived = arrived.lock().unwrap();
        *arrived += 1;
        all_here.notify_all();
        while *arrived < n {
            arrived = all_here.wait(arrived).unwrap();
        }
    }
}

/// Two tasks that wait for each other on a lazy executor of two threads, one started at build
/// (counted idle from its reservation). The first push claims that thread; the second finds
/// none idle and starts the other. A push that counted on the idle worker after it had taken
/// the first task, the old bug, leaves the second task queued with no thread coming: loom
/// reports the deadlock. (Fails on the code before claims.)
#[test]
fn loom_tasks_that_wait_for_each_other_each_get_a_thread() {
    loom::model(|| {
        let shared = pool(2, 1, 2);
        let group = Arc::new((loom::sync::Mutex::new(0), loom::sync::Condvar::new()));
        let first = TaskHandle::submit(&shared, 1, meet(&group, 2), Wait::Forever).ok().unwrap();
        let second = TaskHandle::submit(&shared, 1, meet(&group, 2), Wait::Forever).ok().unwrap();
        first.join().unwrap();
        second.join().unwrap();
        assert!(shared.threads.live() <= 2, "never more than max_workers");
        shut_down(&shared);
    });
}

/// Two producers of weight 1 parked behind a task of weight 10, under a weight capacity of 10
/// and 3 slots. The heavy task's release leaves room for both and must wake both: each holds
/// its slot until the other is in too (their tasks wait for each other), so a release that woke
/// one would leave the other asleep beside 9 free units and 2 free slots, a deadlock loom
/// reports. (Fails with a release that wakes one parked producer, as before.)
#[test]
fn loom_a_release_wakes_every_parked_producer_that_fits() {
    loom::model(|| {
        let shared = Arc::new(Shared::new(1, 3).with_weight_capacity(10));
        assert!(shared.try_admit(10).is_ok(), "the heavy task takes every unit");
        let both_in = Arc::new((loom::sync::Mutex::new(0), loom::sync::Condvar::new()));
        let producers: Vec<_> = (0..2)
            .map(|_| {
                let (shared, both_in) = (shared.clone(), both_in.clone());
                thread::spawn(move || {
                    assert!(shared.admit(1, Wait::Forever).is_ok());
                    meet(&both_in, 2)();
                    shared.release(1);
                })
            })
            .collect();
        shared.release(10);
        for producer in producers {
            producer.join().unwrap();
        }
        assert_eq!((shared.slots_taken(), shared.units_taken()), (0, 0));
    });
}

/// Batched wake-ups (helping off, no weight capacity): a release that leaves fewer than half
/// the slots free while tasks are queued leaves the parked producer asleep (capacity 4 on one
/// worker: the fifth submit parks, the first release defers, the second wakes). The producer
/// must be woken before the worker idles beside a free slot: a state where the worker waits
/// for a task while the producer sleeps with a task left to submit is a deadlock loom reports.
#[test]
fn loom_a_batched_wake_up_never_leaves_a_worker_idle_beside_a_sleeping_producer() {
    loom::model(|| {
        let shared = pool(1, 1, 4);
        for value in 0..5 {
            drop(TaskHandle::submit(&shared, 1, move || value, Wait::Forever).ok().unwrap());
        }
        shut_down(&shared);
        assert_eq!(shared.stats().completed, 5);
    });
}

/// A snapshot taken while a producer submits a task and a worker runs it (or its handle cancels
/// it) never counts it ended without counting it submitted: `stats` reads `completed` and
/// `cancelled` with Acquire before `submitted`, paired with their Release increments. (Fails
/// with the counts read the other way round, or with Relaxed increments and loads: loom then
/// lets the later load of `submitted` return the value before the submit.)
#[test]
fn loom_a_snapshot_never_counts_more_ended_than_submitted() {
    loom::model(|| {
        let shared = pool(1, 1, 1);
        let producer = {
            let shared = shared.clone();
            thread::spawn(move || {
                let handle = TaskHandle::submit(&shared, 1, || (), Wait::Forever).ok().unwrap();
                // Either outcome (cancelled, or already run) is a snapshot to check.
                let _ = handle.cancel();
            })
        };
        let stats = shared.stats();
        assert!(stats.completed + stats.cancelled <= stats.submitted, "{stats:?}");
        producer.join().unwrap();
        shut_down(&shared);
        let stats = shared.stats();
        assert_eq!((stats.submitted, stats.completed + stats.cancelled), (1, 1));
    });
}
