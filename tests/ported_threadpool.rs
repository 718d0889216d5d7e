//! Cases ported from the `threadpool` crate's own test suite.
//!
//! Origin: <https://github.com/rust-threadpool/rust-threadpool>, `src/lib.rs`, `mod test`, at
//! commit a9dd15c278a8ab07d694efb169348138823bb89d (threadpool 1.8.1).
//! Licence of the original: MIT OR Apache-2.0 (threadpool's `LICENSE-MIT` and `LICENSE-APACHE`;
//! copyright The Rust Project Developers, Corey Farwell, Stefan Schindler). The cases are written
//! anew against this crate's API; no code is copied. Each test names the case it comes from.
//!
//! Mapping: `ThreadPool::new(n)` is `BoundedExecutor::new(n)`, `execute` is `execute` (or
//! `submit`, where the test needs a job's handle), `active_count` is `running()`, `queued_count`
//! is `queued()`, `max_count` is `max_workers()`, `panic_count` is `stats().panicked`,
//! `set_num_threads` is `set_max_workers`, `with_name` is `Builder::thread_name`, and a pool shared
//! by `clone()` is an executor shared by `Arc`.
//!
//! Adapted, where this crate's documented semantics differ:
//! - threadpool's queue is unbounded, so its `execute` never waits. Ours waits while
//!   `capacity()` tasks are in flight (and the waiting producer helps run queued tasks). Where a
//!   case queues more than the capacity while the workers are held, the producer is another
//!   thread, so that the test thread can still release them.
//! - threadpool's `join()` waits until every queued job has run and leaves the pool open; this
//!   crate has no such call (its `shutdown` closes the executor). The ports wait for the jobs
//!   they submitted: their handles, a `TaskSet`, or a channel the jobs send to.
//! - threadpool holds jobs in place with `sleep`s (of up to 23 s) and measures after another
//!   sleep; the ports hold them on gates and barriers and measure once every job said it started.
//! - A panicking job kills a threadpool worker, which is replaced; ours catch the panic and stay,
//!   so the recovery case also asserts that no thread was started to replace one.
//! - Threads are named `<name>-<index>`, not `<name>`, and `Debug` prints this crate's fields.
//! - threadpool's drop does not wait for jobs; ours does (it is `shutdown`), so the drop in
//!   `test_should_not_panic_on_drop_if_subtasks_panic_after_drop` happens on another thread.
//! - `test_massive_task_creation` submits 200,000 jobs, not 4,200,000: the bound makes the count
//!   beside the point (memory stays flat), and the suite runs in debug builds on two shared cores.
//!
//! Left out: `test_cloned_eq` (an executor is not `Clone`: it is shared by `Arc`, whose equality
//! is `Arc::ptr_eq`), `test_join_wavesurfer` (it measures waves of threads leaving threadpool's
//! `join` against a clock of one-second sleeps; this crate has no `join` of the pool), and
//! `test_sync_shared_data`/`test_send_shared_data`, which check a private type (the public
//! types are checked instead).
//!
//! Two cases are added beside the ports, each adapted from the case it names, because they guard
//! what the original guards under this crate's own features (lazy threads, helping): see
//! `issue 19` in their comments.

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, TryRecvError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use bounded_executor::{BoundedExecutor, Builder, TaskError, TaskHandle, TaskSet};
use common::{start_gated, test_watchdog, Barrier, Gate, Opener, WATCHDOG_LIMIT};

/// threadpool's `TEST_TASKS`: the pool size most cases use.
const TEST_TASKS: usize = 4;

/// How long a case that guards a known bug waits before it fails, instead of `WATCHDOG_LIMIT`:
/// far beyond what a correct executor needs, short enough to keep a failing suite quick.
const STRANDED: Duration = Duration::from_secs(10);

fn thread_name() -> String {
    thread::current().name().unwrap_or("<unnamed>").to_owned()
}

/// `test_set_num_threads_increasing`: growing the pool lets more jobs run at once.
#[test]
fn set_max_workers_growing_runs_more_jobs_at_once() {
    let _watchdog =
        test_watchdog("ported_threadpool::set_max_workers_growing_runs_more_jobs_at_once");
    let new_thread_amount = TEST_TASKS + 8;
    let exec = BoundedExecutor::new(TEST_TASKS);
    let gate = Opener::new();
    let mut held = start_gated(&exec, TEST_TASKS, &gate);
    assert_eq!(exec.running(), TEST_TASKS);

    exec.set_max_workers(new_thread_amount).unwrap();
    held.extend(start_gated(&exec, new_thread_amount - TEST_TASKS, &gate));
    assert_eq!(exec.running(), new_thread_amount);
    assert_eq!(exec.workers(), new_thread_amount);

    gate.open();
    held.into_iter().for_each(|h| h.join().unwrap());
}

/// `test_set_num_threads_decreasing`: after a shrink, the jobs run on the new number of threads.
#[test]
fn set_max_workers_shrinking_runs_jobs_on_the_new_size() {
    let _watchdog =
        test_watchdog("ported_threadpool::set_max_workers_shrinking_runs_jobs_on_the_new_size");
    let new_thread_amount = 2;
    let exec = BoundedExecutor::new(TEST_TASKS);
    let quick: Vec<_> = (0..TEST_TASKS).map(|_| exec.submit(|| 1).unwrap()).collect();
    assert_eq!(quick.into_iter().map(|h| h.join().unwrap()).sum::<i32>(), TEST_TASKS as i32);
    exec.set_max_workers(new_thread_amount).unwrap();
    assert_eq!(exec.max_workers(), new_thread_amount);
    let gate = Opener::new();
    let held = start_gated(&exec, new_thread_amount, &gate);
    assert_eq!(exec.running(), new_thread_amount);
    gate.open();
    held.into_iter().for_each(|h| h.join().unwrap());
}

/// Beyond `test_set_num_threads_decreasing`, which only ever has two long jobs: once the pool
/// shrank, no more than the new maximum may run at once, idle threads included ("threads beyond
/// the new maximum exit as they finish their current task"; an idle one has none).
#[test]
fn after_a_shrink_an_idle_pool_runs_at_most_the_new_maximum_at_once() {
    let _watchdog = test_watchdog(
        "ported_threadpool::after_a_shrink_an_idle_pool_runs_at_most_the_new_maximum_at_once",
    );
    for round in 0..20 {
        let exec = BoundedExecutor::new(TEST_TASKS);
        for _ in 0..TEST_TASKS {
            exec.submit(|| ()).unwrap().join().unwrap();
        }
        exec.set_max_workers(2).unwrap();
        let gate = Opener::new();
        let (started_tx, started) = mpsc::channel();
        let held: Vec<_> = (0..3)
            .map(|_| {
                let (gate, started_tx) = (gate.clone(), started_tx.clone());
                exec.submit(move || {
                    started_tx.send(()).unwrap();
                    gate.wait();
                })
                .unwrap()
            })
            .collect();
        for _ in 0..2 {
            started.recv_timeout(WATCHDOG_LIMIT).expect("timed out waiting for a job to start");
        }
        // The third job may only start once one of the first two ended. (A negative check: it
        // can miss the bug, never fail a correct executor.)
        let third_started = started.recv_timeout(Duration::from_millis(20)).is_ok();
        gate.open();
        held.into_iter().for_each(|h| h.join().unwrap());
        assert!(!third_started, "round {round}: three jobs ran at once after set_max_workers(2)");
    }
}

/// `test_active_count`: with every worker busy, `running()` counts them and the rest wait.
#[test]
fn running_counts_the_busy_workers_and_queued_the_rest() {
    let _watchdog =
        test_watchdog("ported_threadpool::running_counts_the_busy_workers_and_queued_the_rest");
    let exec = BoundedExecutor::new(TEST_TASKS);
    let gate = Opener::new();
    let mut held = start_gated(&exec, TEST_TASKS, &gate);
    // threadpool queues 2 * TEST_TASKS looping jobs; here the rest of the capacity (also
    // 2 * TEST_TASKS in all) waits behind the gated ones.
    let queued: Vec<_> = (0..TEST_TASKS)
        .map(|_| {
            let gate = gate.clone();
            exec.submit(move || gate.wait()).unwrap()
        })
        .collect();
    assert_eq!(exec.running(), TEST_TASKS);
    assert_eq!(exec.queued(), TEST_TASKS);
    assert_eq!(exec.max_workers(), TEST_TASKS);
    gate.open();
    held.extend(queued);
    held.into_iter().for_each(|h| h.join().unwrap());
}

/// `test_works`: every job runs.
#[test]
fn execute_runs_every_job() {
    let _watchdog = test_watchdog("ported_threadpool::execute_runs_every_job");
    let exec = BoundedExecutor::new(TEST_TASKS);
    let (tx, rx) = mpsc::channel();
    for _ in 0..TEST_TASKS {
        let tx = tx.clone();
        exec.execute(move || tx.send(1).unwrap()).unwrap();
    }
    let sum: usize = (0..TEST_TASKS)
        .map(|_| rx.recv_timeout(WATCHDOG_LIMIT).expect("timed out waiting for a job's 1"))
        .sum();
    assert_eq!(sum, TEST_TASKS);
}

/// `test_zero_tasks_panic`: a pool of no threads is refused (`new` panics; the builder says so
/// as an error).
#[test]
#[should_panic(expected = "max_workers must be at least 1")]
fn new_with_zero_workers_panics() {
    let _watchdog = test_watchdog("ported_threadpool::new_with_zero_workers_panics");
    assert!(Builder::new().max_workers(0).build().is_err());
    let _ = BoundedExecutor::new(0);
}

/// `test_recovery_from_subtask_panic`: panicking jobs leave a pool that still runs jobs. Here no
/// thread dies, so none is started in its place.
#[test]
fn workers_survive_panicking_jobs() {
    let _watchdog = test_watchdog("ported_threadpool::workers_survive_panicking_jobs");
    let exec = BoundedExecutor::new(TEST_TASKS);
    let panicked: Vec<_> = (0..TEST_TASKS)
        .map(|_| exec.submit(|| -> () { panic!("Ignore this panic, it must!") }).unwrap())
        .collect();
    for handle in panicked {
        assert!(handle.join().unwrap_err().is_panic());
    }
    assert_eq!(exec.stats().panicked, TEST_TASKS as u64);

    let (tx, rx) = mpsc::channel();
    for _ in 0..TEST_TASKS {
        let tx = tx.clone();
        exec.execute(move || tx.send(1).unwrap()).unwrap();
    }
    let sum: usize = (0..TEST_TASKS)
        .map(|_| rx.recv_timeout(WATCHDOG_LIMIT).expect("timed out waiting for a job's 1"))
        .sum();
    assert_eq!(sum, TEST_TASKS);
    assert_eq!((exec.workers(), exec.stats().threads_started), (TEST_TASKS, TEST_TASKS as u64));
}

/// `test_should_not_panic_on_drop_if_subtasks_panic_after_drop`: dropping the executor while its
/// jobs are about to panic neither panics nor loses the jobs. Our `Drop` waits for them, so it
/// runs on another thread while this one releases them.
#[test]
fn dropping_the_executor_before_its_jobs_panic_does_not_panic() {
    let _watchdog = test_watchdog(
        "ported_threadpool::dropping_the_executor_before_its_jobs_panic_does_not_panic",
    );
    let exec = BoundedExecutor::new(TEST_TASKS);
    let waiter = Arc::new(Barrier::new(TEST_TASKS + 1, "the jobs and the test"));
    for _ in 0..TEST_TASKS {
        let waiter = Arc::clone(&waiter);
        exec.execute(move || {
            waiter.wait();
            panic!("Ignore this panic, it should!");
        })
        .unwrap();
    }
    let dropper = thread::spawn(move || {
        drop(exec);
    });
    waiter.wait(); // kick off the failures
    dropper.join().expect("dropping the executor panicked");
}

/// `test_massive_task_creation`: a flood of jobs, the first `TEST_TASKS` of which hold every
/// worker until the test has counted them. threadpool queues them all; here the producer (its
/// own thread) waits at the bound meanwhile, and helping is off, so that `running()` counts the
/// workers alone.
#[test]
fn a_flood_of_jobs_runs_through_the_bound() {
    let _watchdog = test_watchdog("ported_threadpool::a_flood_of_jobs_runs_through_the_bound");
    let test_tasks = 200_000;
    let exec =
        Arc::new(Builder::new().max_workers(TEST_TASKS).producer_helps(false).build().unwrap());
    let b0 = Arc::new(Barrier::new(TEST_TASKS + 1, "b0: the pool filled once"));
    let b1 = Arc::new(Barrier::new(TEST_TASKS + 1, "b1: the pool measured"));
    let (tx, rx) = mpsc::channel();
    let producer = {
        let (exec, b0, b1) = (Arc::clone(&exec), Arc::clone(&b0), Arc::clone(&b1));
        thread::spawn(move || {
            for i in 0..test_tasks {
                let (tx, b0, b1) = (tx.clone(), Arc::clone(&b0), Arc::clone(&b1));
                exec.execute(move || {
                    if i < TEST_TASKS {
                        b0.wait();
                        b1.wait();
                    }
                    let _ = tx.send(1);
                })
                .unwrap();
            }
        })
    };
    b0.wait();
    // Measured between the barriers, asserted after the second, so that a failure leaves no job
    // waiting in it.
    let running = exec.running();
    b1.wait();
    assert_eq!(running, TEST_TASKS);
    let sum: usize = (0..test_tasks)
        .map(|i| {
            rx.recv_timeout(WATCHDOG_LIMIT)
                .unwrap_or_else(|_| panic!("timed out waiting for job {i} of {test_tasks}"))
        })
        .sum();
    assert_eq!(sum, test_tasks);
    producer.join().unwrap();
    exec.shutdown();
    assert_eq!((exec.running(), exec.in_flight()), (0, 0));
    assert!(exec.stats().peak_in_flight <= exec.capacity());
}

/// `test_shrink`: jobs running when the pool shrinks finish; those queued after them run on the
/// new number of threads, and the threads beyond it exit.
#[test]
fn shrinking_lets_running_jobs_finish_then_runs_at_most_the_new_size() {
    let _watchdog = test_watchdog(
        "ported_threadpool::shrinking_lets_running_jobs_finish_then_runs_at_most_the_new_size",
    );
    let test_tasks_begin = TEST_TASKS + 2;
    let (exits_tx, exits) = mpsc::channel();
    let exits_tx = Mutex::new(exits_tx);
    let exec = Builder::new()
        .max_workers(test_tasks_begin)
        .on_thread_stop(move |index| {
            let _ = exits_tx.lock().unwrap().send(index);
        })
        .build()
        .unwrap();
    let b0 = Arc::new(Barrier::new(test_tasks_begin + 1, "b0: the first jobs started"));
    let b1 = Arc::new(Barrier::new(test_tasks_begin + 1, "b1: the first jobs released"));
    let b2 = Arc::new(Barrier::new(TEST_TASKS + 1, "b2: the second jobs started"));
    let b3 = Arc::new(Barrier::new(TEST_TASKS + 1, "b3: the second jobs released"));
    let mut handles = Vec::new();
    for _ in 0..test_tasks_begin {
        let (b0, b1) = (Arc::clone(&b0), Arc::clone(&b1));
        handles.push(
            exec.submit(move || {
                b0.wait();
                b1.wait();
            })
            .unwrap(),
        );
    }
    let mut second = Vec::new();
    for _ in 0..TEST_TASKS {
        let (b2, b3) = (Arc::clone(&b2), Arc::clone(&b3));
        second.push(
            exec.submit(move || {
                b2.wait();
                b3.wait();
            })
            .unwrap(),
        );
    }
    // Each count is taken between two barriers and asserted after the second, so that a
    // failure leaves no job waiting in one.
    b0.wait();
    exec.set_max_workers(TEST_TASKS).unwrap();
    let running_after_shrink = exec.running();
    b1.wait();
    assert_eq!(running_after_shrink, test_tasks_begin);
    // threadpool measures right after b2; the first jobs may then still be returning from b1,
    // so they are joined first (a joined task no longer counts as running).
    handles.into_iter().for_each(|h| h.join().unwrap());
    b2.wait();
    let running_later = exec.running();
    b3.wait();
    assert_eq!(running_later, TEST_TASKS);
    second.into_iter().for_each(|h| h.join().unwrap());
    for _ in TEST_TASKS..test_tasks_begin {
        exits
            .recv_timeout(WATCHDOG_LIMIT)
            .expect("timed out waiting for a thread beyond the new size to exit");
    }
    assert_eq!(exec.workers(), TEST_TASKS);
}

/// `test_name`: the first threads, a thread started by growing the pool, and the thread that
/// runs jobs after a panic, all carry the pool's name.
#[test]
fn every_thread_carries_the_pool_name_after_a_resize_and_a_panic_too() {
    let _watchdog = test_watchdog(
        "ported_threadpool::every_thread_carries_the_pool_name_after_a_resize_and_a_panic_too",
    );
    let name = "test";
    let exec = Builder::new().max_workers(2).thread_name(name).build().unwrap();
    let (tx, rx) = mpsc::sync_channel(0);
    let mut handles = Vec::new();
    for _ in 0..2 {
        let tx = tx.clone();
        handles.push(exec.submit(move || tx.send(thread_name()).unwrap()).unwrap());
    }
    exec.set_max_workers(3).unwrap();
    let tx_clone = tx.clone();
    handles.push(
        exec.submit(move || {
            tx_clone.send(thread_name()).unwrap();
            panic!("Ignore this panic, it must!");
        })
        .unwrap(),
    );
    handles.push(exec.submit(move || tx.send(thread_name()).unwrap()).unwrap());
    let allowed: BTreeSet<String> = (0..3).map(|index| format!("{name}-{index}")).collect();
    for _ in 0..4 {
        let thread_name = rx.recv_timeout(WATCHDOG_LIMIT).expect("timed out waiting for a name");
        assert!(allowed.contains(&thread_name), "a job ran on {thread_name:?}");
    }
    let panicked = handles.into_iter().map(TaskHandle::join).filter(Result::is_err).count();
    assert_eq!(panicked, 1);
}

/// From `test_name`'s "new spawn thread should share the name too", on a lazy pool: a thread
/// started while the previous one is still retiring (in its stop hook) is named, and its hooks
/// are given an index, within `0..max_workers`, as the docs promise. // issue 19 item 7
#[test]
fn a_thread_started_while_another_retires_is_named_within_max_workers() {
    let _watchdog = test_watchdog(
        "ported_threadpool::a_thread_started_while_another_retires_is_named_within_max_workers",
    );
    let (in_stop_tx, in_stop) = mpsc::channel();
    let in_stop_tx = Mutex::new(in_stop_tx);
    let leave = Gate::new();
    let exec = {
        let leave = leave.clone();
        Builder::new()
            .max_workers(1)
            .min_workers(0)
            .keep_alive(Duration::ZERO)
            .thread_name("test")
            .on_thread_stop(move |index| {
                let _ = in_stop_tx.lock().unwrap().send(index);
                leave.wait_at_most(WATCHDOG_LIMIT);
            })
            .build()
            .unwrap()
    };
    let _open = OpenOnDrop(leave.clone());
    assert_eq!(exec.submit(thread_name).unwrap().join().unwrap(), "test-0");
    // The only thread found no work and retired: it is in its stop hook now.
    assert_eq!(
        in_stop.recv_timeout(WATCHDOG_LIMIT).expect("timed out waiting for a retirement"),
        0
    );
    let second = exec.submit(thread_name).unwrap();
    if !second.wait_timeout(Duration::from_secs(2)) {
        // A library that waits for the retiring thread's index: let that thread go.
        leave.open();
    }
    let second = second.join().unwrap();
    leave.open();
    assert_eq!(
        second, "test-0",
        "issue 19 item 7: a thread started while index 0 was retiring got a name (and a hook \
         index) beyond max_workers(1)"
    );
}

/// Opens a gate when dropped: a failing assertion cannot leave a stop hook waiting.
struct OpenOnDrop(Gate);

impl Drop for OpenOnDrop {
    fn drop(&mut self) {
        self.0.open();
    }
}

/// `test_debug`: `Debug` shows the pool's sizes and counts, busy or not.
#[test]
fn debug_shows_the_sizes_and_counts() {
    let _watchdog = test_watchdog("ported_threadpool::debug_shows_the_sizes_and_counts");
    let exec = BoundedExecutor::new(4);
    assert_eq!(
        format!("{exec:?}"),
        "BoundedExecutor { max_workers: 4, capacity: 8, workers: 4, in_flight: 0, shutdown: false }"
    );
    let gate = Opener::new();
    let held = start_gated(&exec, 1, &gate);
    assert_eq!(
        format!("{exec:?}"),
        "BoundedExecutor { max_workers: 4, capacity: 8, workers: 4, in_flight: 1, shutdown: false }"
    );
    gate.open();
    held.into_iter().for_each(|h| h.join().unwrap());
    exec.shutdown();
    assert_eq!(
        format!("{exec:?}"),
        "BoundedExecutor { max_workers: 4, capacity: 8, workers: 0, in_flight: 0, shutdown: true }"
    );
}

/// `test_repeate_join`: waiting for every job, twice in a row, on the same open executor.
#[test]
fn waiting_for_every_job_twice_in_a_row() {
    let _watchdog = test_watchdog("ported_threadpool::waiting_for_every_job_twice_in_a_row");
    let exec = Builder::new().max_workers(8).thread_name("repeate join test").build().unwrap();
    let test_count = Arc::new(AtomicUsize::new(0));
    for expected in [42, 84] {
        let mut jobs = TaskSet::new(&exec);
        for _ in 0..42 {
            let test_count = Arc::clone(&test_count);
            // `push`: the set's own `submit` refuses past `capacity()` results not taken.
            let _ = jobs.push(
                exec.submit(move || {
                    test_count.fetch_add(1, Ordering::Relaxed);
                })
                .unwrap(),
            );
        }
        while let Some(result) = jobs.join_next() {
            result.unwrap();
        }
        assert_eq!(test_count.load(Ordering::Relaxed), expected);
    }
}

/// `test_multi_join`: two executors whose jobs feed each other: each job of `pool0` submits a job
/// to `pool1`, which waits until every job of `pool0` has ended (threadpool's `pool0.join()`).
#[test]
fn two_executors_feeding_each_other_run_every_job() {
    let _watchdog =
        test_watchdog("ported_threadpool::two_executors_feeding_each_other_run_every_job");
    let pool0 = Builder::new().max_workers(4).thread_name("multi join pool0").build().unwrap();
    let pool1 =
        Arc::new(Builder::new().max_workers(4).thread_name("multi join pool1").build().unwrap());
    let (tx, rx) = mpsc::channel();
    let release = Opener::new();
    let pool0_drained = Opener::new();
    let pool0_left = Arc::new(AtomicUsize::new(8));
    let outer: Vec<_> = (0..8)
        .map(|i| {
            let (pool1, tx) = (Arc::clone(&pool1), tx.clone());
            let (release, drained, left) =
                (release.clone(), pool0_drained.clone(), Arc::clone(&pool0_left));
            pool0
                .submit(move || {
                    release.wait();
                    let drained_too = drained.clone();
                    let inner = pool1
                        .submit(move || {
                            drained_too.wait(); // pool0.join()
                            tx.send(i).expect("send i from pool1 to the test");
                        })
                        .unwrap();
                    if left.fetch_sub(1, Ordering::SeqCst) == 1 {
                        drained.open();
                    }
                    inner
                })
                .unwrap()
        })
        .collect();
    drop(tx);
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    release.open();
    let inner: Vec<_> = outer.into_iter().map(|h| h.join().unwrap()).collect();
    inner.into_iter().for_each(|h| h.join().unwrap());
    let received: Vec<i32> = rx.iter().collect();
    assert_eq!(received.iter().sum::<i32>(), (0..8).sum());
}

/// From `test_multi_join`, at the smallest sizes, where the executors are full: a job of `pool0`
/// (on its only worker) submits to a full `pool1` and helps, running `pool1`'s queued job; that
/// job submits to `pool0`, which is full too (the outer job holds its slot). The thread is still
/// `pool0`'s worker, so the nested submit runs inline, as the docs promise; waiting instead could
/// only end when the outer job ends, which waits for it. // issue 19 item 3
#[test]
fn a_job_helping_another_executor_still_runs_its_own_executors_nested_submit_inline() {
    let _watchdog = test_watchdog(
        "ported_threadpool::a_job_helping_another_executor_still_runs_its_own_executors_nested_submit_inline",
    );
    let pool0 = Arc::new(Builder::new().max_workers(1).capacity(1).build().unwrap());
    let pool1 = Arc::new(Builder::new().max_workers(1).capacity(2).build().unwrap());
    let gate = Opener::new();
    let held = start_gated(&pool1, 1, &gate); // pool1's only worker
    let nested = {
        let pool0 = Arc::clone(&pool0);
        // Queued in pool1, which is now full. A bounded submit, so that the bug fails the test
        // after STRANDED instead of hanging it (submit_timeout also runs inline on a worker).
        pool1
            .submit(move || {
                let here = thread::current().id();
                pool0
                    .submit_timeout(move || thread::current().id() == here, STRANDED)
                    .map(|handle| handle.join().unwrap())
                    .map_err(|err| err.to_string())
            })
            .unwrap()
    };
    let outer = {
        let pool1 = Arc::clone(&pool1);
        pool0
            .submit(move || {
                // pool1 is full: this thread helps, running `nested` here.
                let freed = pool1.submit(|| ()).unwrap();
                drop(freed);
                thread_name()
            })
            .unwrap()
    };
    assert!(outer.join().unwrap().starts_with("bounded-executor-"));
    assert_eq!(pool1.stats().helped, 1, "pool0's worker did not help pool1");
    assert_eq!(
        nested.join().unwrap(),
        Ok(true),
        "issue 19 item 3: a submit to its own full executor, from a worker of it that was \
         helping another executor, waited instead of running inline"
    );
    gate.open();
    held.into_iter().for_each(|h| h.join().unwrap());
}

/// `test_empty_pool`: shutting down an executor with nothing to do returns at once.
#[test]
fn shutting_down_an_idle_executor_returns_at_once() {
    let _watchdog =
        test_watchdog("ported_threadpool::shutting_down_an_idle_executor_returns_at_once");
    let exec = BoundedExecutor::new(4);
    exec.shutdown();
    assert_eq!((exec.workers(), exec.in_flight()), (0, 0));
    assert!(exec.is_shutdown());
}

/// `test_no_fun_or_joy`: jobs keep coming from another thread while the executor shuts down;
/// each is either run or handed back refused, and none is lost.
#[test]
fn submits_racing_a_shutdown_are_run_or_handed_back() {
    let _watchdog =
        test_watchdog("ported_threadpool::submits_racing_a_shutdown_are_run_or_handed_back");
    let exec =
        Arc::new(Builder::new().max_workers(8).thread_name("no fun or joy").build().unwrap());
    let ran = Arc::new(AtomicUsize::new(0));
    let job = |ran: &Arc<AtomicUsize>| {
        let ran = Arc::clone(ran);
        move || {
            ran.fetch_add(1, Ordering::SeqCst);
        }
    };
    exec.execute(job(&ran)).unwrap();
    let submitter = {
        let (exec, ran) = (Arc::clone(&exec), Arc::clone(&ran));
        thread::spawn(move || {
            let mut refused = 0;
            for _ in 0..23 {
                if let Err(err) = exec.execute(job(&ran)) {
                    assert!(err.is_shutdown(), "{err}");
                    refused += 1;
                    drop(err.into_inner());
                }
            }
            refused
        })
    };
    exec.shutdown();
    let refused = submitter.join().unwrap();
    assert_eq!(ran.load(Ordering::SeqCst) + refused, 24);
    let stats = exec.stats();
    assert_eq!((stats.submitted, stats.completed), (24 - refused as u64, 24 - refused as u64));
}

/// `test_clone`: one executor shared by two threads (by `Arc`) serves both while a first batch
/// still occupies it.
#[test]
fn one_executor_shared_by_two_threads_serves_both() {
    let _watchdog =
        test_watchdog("ported_threadpool::one_executor_shared_by_two_threads_serves_both");
    let exec =
        Arc::new(Builder::new().max_workers(2).thread_name("clone example").build().unwrap());
    // The first batch occupies the executor (its whole capacity) for a while.
    let first_batch_gate = Opener::new();
    let first_batch: Vec<_> = (0..exec.capacity())
        .map(|_| {
            let gate = first_batch_gate.clone();
            exec.submit(move || gate.wait()).unwrap()
        })
        .collect();
    let first_batch_done = Opener::new();
    let worker = |range: std::ops::Range<u64>, fold: fn(u64, u64) -> u64, init: u64| {
        let (exec, done) = (Arc::clone(&exec), first_batch_done.clone());
        thread::spawn(move || {
            done.wait();
            let (tx, rx) = mpsc::channel();
            for i in range {
                let tx = tx.clone();
                exec.execute(move || tx.send(i).expect("channel will be waiting")).unwrap();
            }
            drop(tx);
            rx.iter().fold(init, fold)
        })
    };
    let t0 = worker(0..42, |a, b| a + b, 0);
    let t1 = worker(1..12, |a, b| a * b, 1);
    first_batch_gate.open();
    first_batch.into_iter().for_each(|h| h.join().unwrap());
    first_batch_done.open();
    assert_eq!(t0.join().expect("thread 0 returns after calculating additions"), 861);
    assert_eq!(t1.join().expect("thread 1 returns after calculating multiplications"), 39_916_800);
}

/// `test_send`, `test_sync_shared_data`, `test_send_shared_data`: the executor can be shared
/// between threads, and handles and errors sent to them.
#[test]
fn the_executor_its_handles_and_errors_can_cross_threads() {
    let _watchdog =
        test_watchdog("ported_threadpool::the_executor_its_handles_and_errors_can_cross_threads");
    fn assert_send<T: Send>() {}
    fn assert_sync<T: Sync>() {}
    assert_send::<BoundedExecutor>();
    assert_sync::<BoundedExecutor>();
    assert_send::<TaskHandle<String>>();
    assert_send::<TaskError>();
    assert_sync::<TaskError>();
    assert_send::<TaskSet<u8>>();
}
