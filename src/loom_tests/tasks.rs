//! Loom models of a task's life: its result slot, its references, cancel, submit against shutdown, async waiters (see `mod.rs`).

use super::*;

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
