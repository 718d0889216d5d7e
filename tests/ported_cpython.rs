//! Cases ported from CPython's `Lib/test/test_concurrent_futures/` (the `ThreadPoolExecutor`
//! suite: `executor.py`, `test_thread_pool.py`, `test_shutdown.py`, `test_future.py`,
//! `test_wait.py`, `test_deadlock.py`, `test_process_pool.py`).
//!
//! Source: <https://github.com/python/cpython/tree/main/Lib/test/test_concurrent_futures>
//! (the 3.14-era files).
//!
//! Copyright & License:
//!   - Copyright (c) 2001 Python Software Foundation; All Rights Reserved
//!   - Licensed under the PSF License Version 2 (Python Software Foundation License Version 2):
//!     <https://docs.python.org/3/license.html>,
//!     <https://github.com/python/cpython/blob/main/LICENSE>
//!   - Changes, as the licence asks: the Python cases are rewritten in Rust against this crate's
//!     API (the mapping below); `time.sleep` staging is replaced by gates and latches; cases
//!     that do not apply to this crate (process pools, ...) are left out, each with its reason
//!     in `docs/cpython-port.md`.
//!
//! Each test names the Python case it comes from as `file::Class::method`. The Python suite uses
//! `time.sleep` to hold tasks in place; these ports use gates and latches instead, so every wait is
//! on a condition and is bounded by `TIMEOUT` (a wait that hits it is a failure, not a retry).
//! Cases that need `map`, `as_completed` or `wait` are in `ported_cpython_map.rs`.
//!
//! Mapping: `Future.result()` is `TaskHandle::join`, `result(timeout)` is `wait_timeout` then
//! `join`, `done()` is `is_finished`, `cancel()` is `cancel`, an exception in a task is a panic in
//! the task, `shutdown(wait=True)` is `shutdown`, `shutdown(cancel_futures=True)` is
//! `shutdown_now`, and Python's default `worker_count = 5` is `BoundedExecutor::new(5)`.

mod common;

use std::any::Any;
use std::cell::RefCell;
use std::collections::HashSet;
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

use bounded_executor::{
    BoundedExecutor, SubmitError, SubmitTimeoutError, TaskError, TaskHandle, TrySubmitError,
};
use common::Gate;

/// Upper bound for every wait on a condition. Reaching it means the executor hung or lost a
/// wake-up; nothing here is expected to come near it.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Python's `ExecutorMixin.worker_count`.
const WORKER_COUNT: usize = 5;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// A counter that can be waited on, e.g. "5 tasks have started".
#[derive(Default)]
struct Latch {
    count: Mutex<usize>,
    cv: Condvar,
}

impl Latch {
    fn new() -> Arc<Self> {
        Arc::default()
    }

    fn count_up(&self) {
        *self.count.lock().unwrap() += 1;
        self.cv.notify_all();
    }

    fn get(&self) -> usize {
        *self.count.lock().unwrap()
    }

    /// Waits until the count reaches `n`; false if `TIMEOUT` passed first.
    fn wait_for(&self, n: usize) -> bool {
        let guard = self.count.lock().unwrap();
        let (_guard, res) = self.cv.wait_timeout_while(guard, TIMEOUT, |c| *c < n).unwrap();
        !res.timed_out()
    }
}

/// Counts drops, to prove a closure or value is released exactly once.
struct DropToken(Arc<Latch>);

impl Drop for DropToken {
    fn drop(&mut self) {
        self.0.count_up();
    }
}

/// Polls a condition the executor does not expose as a blocking wait, bounded by `TIMEOUT`.
fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        thread::sleep(Duration::from_millis(1));
    }
}

/// Runs `f` on its own thread and fails the test if it does not return within `TIMEOUT`; this
/// turns the Python "does not hang" cases into bounded tests. A hung thread is leaked.
fn within<R: Send + 'static>(what: &str, f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(TIMEOUT) {
        Ok(r) => r,
        Err(_) => panic!("{what} did not finish within {TIMEOUT:?} (hang)"),
    }
}

/// One worker, so tasks queue behind a blocker; room for several queued tasks so that a test
/// holding one running, one pending and one cancelled task never blocks in `submit`.
fn single_worker() -> BoundedExecutor {
    BoundedExecutor::builder().max_workers(1).capacity(8).build().unwrap()
}

/// Occupies the executor's only worker with a task that waits on the returned gate, and returns
/// once it is running, so that the next task submitted stays pending (Python's `RUNNING_FUTURE`
/// and `PENDING_FUTURE` states).
fn occupy_single_worker(exec: &BoundedExecutor) -> (Gate, TaskHandle<&'static str>) {
    assert_eq!(exec.max_workers(), 1);
    let gate = Gate::new();
    let started = Latch::new();
    let handle = {
        let (gate, started) = (gate.clone(), started.clone());
        exec.submit(move || {
            started.count_up();
            gate.wait_at_most(TIMEOUT);
            "blocker"
        })
        .unwrap()
    };
    assert!(started.wait_for(1), "blocker never started");
    (gate, handle)
}

fn panic_message(payload: &(dyn Any + Send)) -> Option<&str> {
    payload
        .downcast_ref::<&'static str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
}

/// A waker that records that it was woken, for the `Future` impl of `TaskHandle`.
#[derive(Default)]
struct FlagWaker {
    woken: Mutex<bool>,
    cv: Condvar,
}

impl Wake for FlagWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        *self.woken.lock().unwrap() = true;
        self.cv.notify_all();
    }
}

impl FlagWaker {
    fn wait_woken(&self) -> bool {
        let guard = self.woken.lock().unwrap();
        let (_guard, res) = self.cv.wait_timeout_while(guard, TIMEOUT, |w| !*w).unwrap();
        !res.timed_out()
    }
}

// ---------------------------------------------------------------------------------------------
// executor.py :: ExecutorTest (run by CPython as ThreadPoolExecutorTest)
// ---------------------------------------------------------------------------------------------

// executor.py::ExecutorTest::test_submit
#[test]
fn submit_returns_result() {
    let _watchdog = common::test_watchdog("ported_cpython::submit_returns_result");
    let exec = BoundedExecutor::new(WORKER_COUNT);
    let handle = exec.submit(|| 2u32.pow(8)).unwrap();
    assert_eq!(handle.join().unwrap(), 256);
}

// executor.py::ExecutorTest::test_submit_keyword
// Positional and keyword arguments become captures; the TypeError branches (no callable) are
// compile errors in Rust.
#[test]
fn submit_closure_captures_arguments() {
    let _watchdog = common::test_watchdog("ported_cpython::submit_closure_captures_arguments");
    let exec = BoundedExecutor::new(WORKER_COUNT);
    let (x, y) = (2, 8);
    let handle = exec.submit(move || x * y).unwrap();
    assert_eq!(handle.join().unwrap(), 16);

    let args = vec![1];
    let kwargs = vec![("self", 2), ("fn", 3)];
    let handle = exec.submit(move || (args, kwargs)).unwrap();
    assert_eq!(handle.join().unwrap(), (vec![1], vec![("self", 2), ("fn", 3)]));
}

// executor.py::ExecutorTest::test_shutdown_race_issue12456
// (with submit instead of map: more tasks than workers are queued when shutdown starts)
#[test]
fn shutdown_with_more_tasks_than_workers_does_not_hang() {
    let _watchdog = common::test_watchdog(
        "ported_cpython::shutdown_with_more_tasks_than_workers_does_not_hang",
    );
    let exec = Arc::new(BoundedExecutor::new(WORKER_COUNT));
    let handles: Vec<_> =
        (0..WORKER_COUNT + 1).map(|i| exec.submit(move || i.to_string()).unwrap()).collect();
    let e = exec.clone();
    within("shutdown", move || e.shutdown());
    for (i, h) in handles.into_iter().enumerate() {
        assert_eq!(h.join().unwrap(), i.to_string());
    }
}

// executor.py::ExecutorTest::test_no_stale_references
// The executor must not hold on to a finished task's closure (and what it captured) even when
// the handle was dropped.
#[test]
fn detached_task_closure_is_dropped_after_it_runs() {
    let _watchdog =
        common::test_watchdog("ported_cpython::detached_task_closure_is_dropped_after_it_runs");
    let exec = BoundedExecutor::new(WORKER_COUNT);
    let drops = Latch::new();
    let ran = Latch::new();
    let token = DropToken(drops.clone());
    {
        let ran = ran.clone();
        // Deliberately discarding the handle.
        drop(
            exec.submit(move || {
                let _keep = &token;
                ran.count_up();
            })
            .unwrap(),
        );
    }
    assert!(ran.wait_for(1), "task never ran");
    assert!(drops.wait_for(1), "captured value not released after the task ran");
    assert_eq!(drops.get(), 1);
}

// executor.py::ExecutorTest::test_max_workers_negative (0 with the builder; negatives cannot
// be expressed as usize)
#[test]
fn zero_max_workers_is_rejected_by_builder() {
    let _watchdog =
        common::test_watchdog("ported_cpython::zero_max_workers_is_rejected_by_builder");
    let err = BoundedExecutor::builder().max_workers(0).build().unwrap_err();
    assert!(!err.to_string().is_empty());
}

// executor.py::ExecutorTest::test_max_workers_negative (0 with the panicking constructor)
#[test]
#[should_panic]
fn zero_max_workers_panics_in_new() {
    let _watchdog = common::test_watchdog("ported_cpython::zero_max_workers_panics_in_new");
    let _ = BoundedExecutor::new(0);
}

// executor.py::ExecutorTest::test_swallows_falsey_exceptions
// Python lost exceptions that were "falsey"; here the analogues are an empty panic message and
// a zero-sized payload: each must still come back as a panic with its payload intact.
#[test]
fn falsey_panic_payloads_are_not_swallowed() {
    let _watchdog =
        common::test_watchdog("ported_cpython::falsey_panic_payloads_are_not_swallowed");
    #[derive(Debug, PartialEq)]
    struct Falsey;

    let exec = BoundedExecutor::new(WORKER_COUNT);

    let err = exec.submit(|| -> u8 { panic!("") }).unwrap().join().unwrap_err();
    assert!(err.is_panic());
    assert_eq!(panic_message(&*err.into_panic()), Some(""));

    let err = exec.submit(|| -> u8 { std::panic::panic_any(Falsey) }).unwrap().join().unwrap_err();
    assert!(err.is_panic());
    assert_eq!(err.into_panic().downcast_ref::<Falsey>(), Some(&Falsey));
}

// test_process_pool.py::ProcessPoolExecutorTest::test_traceback
// (the part that applies to threads: the exception's type and arguments reach the caller)
#[test]
fn panic_payload_keeps_its_type_and_value() {
    let _watchdog = common::test_watchdog("ported_cpython::panic_payload_keeps_its_type_and_value");
    #[derive(Debug, PartialEq)]
    struct RuntimeError(i32);

    let exec = BoundedExecutor::new(WORKER_COUNT);
    let err = exec
        .submit(|| -> () { std::panic::panic_any(RuntimeError(123)) })
        .unwrap()
        .join()
        .unwrap_err();
    assert!(err.is_panic());
    assert!(!err.is_cancelled());
    let payload = err.into_panic();
    assert_eq!(payload.downcast_ref::<RuntimeError>(), Some(&RuntimeError(123)));
}

// ---------------------------------------------------------------------------------------------
// test_thread_pool.py :: ThreadPoolExecutorTest
// ---------------------------------------------------------------------------------------------

// test_thread_pool.py::ThreadPoolExecutorTest::test_map_submits_without_iteration
// (with submit: tasks whose handles were dropped still run before shutdown returns)
#[test]
fn shutdown_runs_detached_tasks() {
    let _watchdog = common::test_watchdog("ported_cpython::shutdown_runs_detached_tasks");
    let exec = BoundedExecutor::new(WORKER_COUNT);
    let finished = Arc::new(Mutex::new(Vec::new()));
    for n in 0..10 {
        let finished = finished.clone();
        drop(exec.submit(move || finished.lock().unwrap().push(n)).unwrap());
    }
    exec.shutdown();
    let mut finished = finished.lock().unwrap().clone();
    finished.sort_unstable();
    assert_eq!(finished, (0..10).collect::<Vec<_>>());
}

// test_thread_pool.py::ThreadPoolExecutorTest::test_saturation
// Python submits 15 * max_workers blocked tasks and checks that exactly max_workers threads
// exist. With a bounded executor the submitter is held back at `capacity()`, so the blocked
// tasks are submitted from a second thread while the first `capacity()` hold the pool.
#[test]
fn saturation_uses_exactly_max_workers_threads() {
    let _watchdog =
        common::test_watchdog("ported_cpython::saturation_uses_exactly_max_workers_threads");
    // Without helping: a producer that helps runs tasks on its own thread, and this test counts
    // the worker threads (CPython's pool never runs a task on the submitter).
    let exec = BoundedExecutor::builder().max_workers(4).producer_helps(false).build().unwrap();
    let total = 15 * exec.max_workers();
    let gate = Gate::new();
    let started = Latch::new();
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let threads = Arc::new(Mutex::new(HashSet::<ThreadId>::new()));

    let task = || {
        let (gate, started, running, peak, threads) =
            (gate.clone(), started.clone(), running.clone(), peak.clone(), threads.clone());
        move || {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            threads.lock().unwrap().insert(thread::current().id());
            started.count_up();
            gate.wait_at_most(TIMEOUT);
            running.fetch_sub(1, Ordering::SeqCst);
        }
    };

    let mut handles = Vec::new();
    for _ in 0..exec.capacity() {
        handles.push(exec.try_submit(task()).expect("below capacity"));
    }
    match exec.try_submit(task()) {
        Err(TrySubmitError::Full(_)) => {}
        Err(e) => panic!("expected Full, got {e:?}"),
        Ok(_) => panic!("try_submit accepted a task beyond capacity"),
    }
    assert_eq!(exec.in_flight(), exec.capacity());
    assert!(started.wait_for(exec.max_workers()), "workers did not all start");

    let already = handles.len();
    thread::scope(|s| {
        let submitter =
            s.spawn(|| (already..total).map(|_| exec.submit(task()).unwrap()).collect::<Vec<_>>());
        gate.open();
        handles.extend(submitter.join().unwrap());
    });
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(started.get(), total);
    assert_eq!(peak.load(Ordering::SeqCst), exec.max_workers());
    assert_eq!(threads.lock().unwrap().len(), exec.max_workers());
    assert!(exec.stats().peak_in_flight <= exec.capacity());
    exec.shutdown();
}

// test_thread_pool.py::ThreadPoolExecutorTest::test_idle_thread_reuse
// Python checks that sequential tasks reuse one lazily started thread. Our thread count is not
// observable, so this checks what carries over: sequential tasks run on pool threads, never on
// the caller's thread.
#[test]
fn sequential_tasks_run_on_pool_threads() {
    let _watchdog = common::test_watchdog("ported_cpython::sequential_tasks_run_on_pool_threads");
    let exec =
        BoundedExecutor::builder().max_workers(WORKER_COUNT).thread_name("reuse").build().unwrap();
    let me = thread::current().id();
    for (x, y) in [(21, 2), (6, 7), (3, 14)] {
        let (product, id, name) = exec
            .submit(move || {
                let t = thread::current();
                (x * y, t.id(), t.name().map(str::to_owned))
            })
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(product, 42);
        assert_ne!(id, me);
        assert!(name.unwrap_or_default().starts_with("reuse-"));
    }
}

// test_thread_pool.py::ThreadPoolExecutorTest::test_hang_global_shutdown_lock
// (without the fork: a task that keeps resubmitting itself to its own pool must not keep
// shutdown from finishing; its next submit is refused once shutdown has begun)
#[test]
fn shutdown_stops_a_self_resubmitting_task() {
    let _watchdog =
        common::test_watchdog("ported_cpython::shutdown_stops_a_self_resubmitting_task");
    fn resubmit(exec: Weak<BoundedExecutor>, runs: Arc<AtomicUsize>, stopped: mpsc::Sender<()>) {
        runs.fetch_add(1, Ordering::SeqCst);
        let Some(e) = exec.upgrade() else {
            let _ = stopped.send(());
            return;
        };
        let next = {
            let (exec, runs, stopped) = (exec.clone(), runs.clone(), stopped.clone());
            move || resubmit(exec, runs, stopped)
        };
        match e.submit(next) {
            Ok(handle) => drop(handle),
            Err(SubmitError::Shutdown(_)) => {
                let _ = stopped.send(());
            }
            Err(other) => panic!("unexpected submit error: {other}"),
        }
    }

    let exec = Arc::new(BoundedExecutor::new(1));
    let runs = Arc::new(AtomicUsize::new(0));
    let (tx, stopped) = mpsc::channel();
    {
        let (weak, runs) = (Arc::downgrade(&exec), runs.clone());
        drop(exec.submit(move || resubmit(weak, runs, tx)).unwrap());
    }
    eventually("the task resubmitted itself 50 times", || runs.load(Ordering::SeqCst) >= 50);
    let e = exec.clone();
    within("shutdown of a pool with a self-resubmitting task", move || e.shutdown());
    stopped.recv_timeout(TIMEOUT).expect("the chain never saw SubmitError::Shutdown");
}

// ---------------------------------------------------------------------------------------------
// test_shutdown.py :: ExecutorShutdownTest / ThreadPoolShutdownTest
// ---------------------------------------------------------------------------------------------

// test_shutdown.py::ExecutorShutdownTest::test_run_after_shutdown
#[test]
fn submit_after_shutdown_hands_closure_back() {
    let _watchdog =
        common::test_watchdog("ported_cpython::submit_after_shutdown_hands_closure_back");
    let exec = BoundedExecutor::new(WORKER_COUNT);
    exec.shutdown();
    exec.shutdown(); // idempotent

    let f = match exec.submit(|| 2u32.pow(5)) {
        Err(SubmitError::Shutdown(f)) => f,
        Err(e) => panic!("expected Shutdown, got {e}"),
        Ok(_) => panic!("submit accepted a task after shutdown"),
    };
    assert_eq!(f(), 32, "the closure handed back is the one submitted");

    match exec.try_submit(|| 1) {
        Err(TrySubmitError::Shutdown(f)) => assert_eq!(f(), 1),
        Err(e) => panic!("expected Shutdown, got {e}"),
        Ok(_) => panic!("try_submit accepted a task after shutdown"),
    }
    match exec.submit_timeout(|| 2, TIMEOUT) {
        Err(SubmitTimeoutError::Shutdown(f)) => assert_eq!(f(), 2),
        Err(e) => panic!("expected Shutdown, got {e}"),
        Ok(_) => panic!("submit_timeout accepted a task after shutdown"),
    }
}

// test_shutdown.py::ExecutorShutdownTest::test_interpreter_shutdown
// Python checks that a pending task still runs at interpreter exit. Rust has no atexit hook for
// a live executor; the nearest case is dropping it: Drop waits for every queued task.
#[test]
fn drop_runs_pending_tasks() {
    let _watchdog = common::test_watchdog("ported_cpython::drop_runs_pending_tasks");
    let exec = BoundedExecutor::new(1);
    let ran = Arc::new(AtomicUsize::new(0));
    for _ in 0..20 {
        let ran = ran.clone();
        drop(
            exec.submit(move || {
                ran.fetch_add(1, Ordering::SeqCst);
            })
            .unwrap(),
        );
    }
    drop(exec);
    assert_eq!(ran.load(Ordering::SeqCst), 20);
}

// test_shutdown.py::ExecutorShutdownTest::test_hang_issue12364
// Tasks are still queued when shutdown starts; shutdown waits for them and every result is
// delivered afterwards. The gate keeps the tasks in place until shutdown has begun.
#[test]
fn shutdown_waits_for_queued_tasks() {
    let _watchdog = common::test_watchdog("ported_cpython::shutdown_waits_for_queued_tasks");
    let exec = BoundedExecutor::new(WORKER_COUNT);
    let gate = Gate::new();
    let handles: Vec<_> = (0..exec.capacity())
        .map(|i| {
            let gate = gate.clone();
            exec.submit(move || {
                gate.wait_at_most(TIMEOUT);
                i * i
            })
            .unwrap()
        })
        .collect();

    thread::scope(|s| {
        let shutdown = s.spawn(|| exec.shutdown());
        eventually("shutdown has begun", || exec.is_shutdown());
        // Full and shut down at once: the refusal says Shutdown.
        assert!(matches!(exec.try_submit(|| 0), Err(TrySubmitError::Shutdown(_))));
        assert!(!shutdown.is_finished(), "shutdown returned while tasks were still queued");
        gate.open();
        shutdown.join().unwrap();
    });
    for (i, h) in handles.into_iter().enumerate() {
        assert!(h.is_finished());
        assert_eq!(h.join().unwrap(), i * i);
    }
}

// test_shutdown.py::ExecutorShutdownTest::test_hang_issue12364
// (the plain form: 50 tasks through a 5-worker pool, shut down, then collect every result)
#[test]
fn results_are_available_after_shutdown() {
    let _watchdog = common::test_watchdog("ported_cpython::results_are_available_after_shutdown");
    let exec = BoundedExecutor::new(WORKER_COUNT);
    let handles: Vec<_> = (0..50u64).map(|i| exec.submit(move || i + 1).unwrap()).collect();
    exec.shutdown();
    let sum: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(sum, (1..=50).sum());
}

// test_shutdown.py::ExecutorShutdownTest::test_cancel_futures
// Python can only say "more than 20 of 50 cancelled"; with the workers held on a gate until
// shutdown_now has begun, the split is exact: the 5 running tasks finish, the 45 queued ones
// are cancelled.
#[test]
fn shutdown_now_cancels_queued_tasks() {
    let _watchdog = common::test_watchdog("ported_cpython::shutdown_now_cancels_queued_tasks");
    let exec = BoundedExecutor::builder().max_workers(WORKER_COUNT).capacity(50).build().unwrap();
    let gate = Gate::new();
    let started = Latch::new();
    let running = Arc::new(Mutex::new(HashSet::new()));
    let handles: Vec<_> = (0..50)
        .map(|i| {
            let (gate, started, running) = (gate.clone(), started.clone(), running.clone());
            exec.submit(move || {
                running.lock().unwrap().insert(i);
                started.count_up();
                gate.wait_at_most(TIMEOUT);
                i
            })
            .unwrap()
        })
        .collect();
    assert!(started.wait_for(WORKER_COUNT));
    let running = running.lock().unwrap().clone();
    assert_eq!(running.len(), WORKER_COUNT);

    let cancelled = thread::scope(|s| {
        // shutdown_now waits for the running tasks, so it gets its own thread.
        let shutdown = s.spawn(|| exec.shutdown_now());
        eventually("shutdown_now has begun", || exec.is_shutdown());
        gate.open();
        shutdown.join().unwrap()
    });
    assert_eq!(cancelled, 50 - WORKER_COUNT);

    for (i, h) in handles.into_iter().enumerate() {
        assert!(h.is_finished(), "task {i} unsettled after shutdown_now");
        if running.contains(&i) {
            assert_eq!(h.join().unwrap(), i);
        } else {
            assert!(h.join().unwrap_err().is_cancelled());
        }
    }
    assert_eq!(started.get(), WORKER_COUNT, "a cancelled task ran");
    assert_eq!(exec.stats().cancelled, (50 - WORKER_COUNT) as u64);
}

// test_shutdown.py::ExecutorShutdownTest::test_cancel_futures
// (Python's timing: shutdown(cancel_futures=True) cancels the pending futures at once, so their
// waiters wake even while the running tasks are still busy)
#[test]
fn shutdown_now_settles_queued_handles_while_workers_are_busy() {
    let _watchdog = common::test_watchdog(
        "ported_cpython::shutdown_now_settles_queued_handles_while_workers_are_busy",
    );
    let exec = BoundedExecutor::new(1);
    let (gate, running) = occupy_single_worker(&exec);
    let queued = exec.submit(|| 0).unwrap();
    thread::scope(|s| {
        let shutdown = s.spawn(|| exec.shutdown_now());
        let settled = queued.wait_timeout(TIMEOUT);
        gate.open();
        assert_eq!(shutdown.join().unwrap(), 1);
        assert!(settled, "queued handle not cancelled until a worker was free");
    });
    assert!(queued.join().unwrap_err().is_cancelled());
    assert_eq!(running.join().unwrap(), "blocker");
}

// test_shutdown.py::ExecutorShutdownTest::test_hang_gh94440
#[test]
fn shutdown_after_cancel_does_not_hang() {
    let _watchdog = common::test_watchdog("ported_cpython::shutdown_after_cancel_does_not_hang");
    let exec = Arc::new(BoundedExecutor::new(1));
    assert_eq!(exec.submit(|| 0).unwrap().join().unwrap(), 0);
    let handle = exec.submit(|| 0).unwrap();
    let _ = handle.cancel();
    let e = exec.clone();
    within("shutdown after a quick cancel", move || e.shutdown());
    // Whether the cancel won or lost the race, the handle is settled.
    assert!(handle.is_finished());
    match handle.join() {
        Ok(v) => assert_eq!(v, 0),
        Err(e) => assert!(e.is_cancelled()),
    }
}

thread_local! {
    static EXIT_NOTICE: RefCell<Option<ExitNotice>> = const { RefCell::new(None) };
}

/// Stored in a worker's thread-local storage; its destructor runs when that thread exits.
struct ExitNotice {
    id: ThreadId,
    exited: Arc<Mutex<Vec<ThreadId>>>,
    latch: Arc<Latch>,
}

impl Drop for ExitNotice {
    fn drop(&mut self) {
        self.exited.lock().unwrap().push(self.id);
        self.latch.count_up();
    }
}

/// Runs `n` tasks at once on `exec` (held on a gate until all have started), registering an
/// exit notice on each worker thread; returns the ids of those threads.
fn register_exit_notices(
    exec: &BoundedExecutor,
    n: usize,
    exited: &Arc<Mutex<Vec<ThreadId>>>,
    latch: &Arc<Latch>,
) -> HashSet<ThreadId> {
    let gate = Gate::new();
    let started = Latch::new();
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let (gate, started, exited, latch) =
                (gate.clone(), started.clone(), exited.clone(), latch.clone());
            exec.submit(move || {
                let id = thread::current().id();
                EXIT_NOTICE.with(|slot| {
                    slot.borrow_mut().get_or_insert(ExitNotice { id, exited, latch });
                });
                started.count_up();
                gate.wait_at_most(TIMEOUT);
                id
            })
            .unwrap()
        })
        .collect();
    assert!(started.wait_for(n));
    gate.open();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

// test_shutdown.py::ThreadPoolShutdownTest::test_threads_terminate
#[test]
fn worker_threads_exit_after_shutdown() {
    let _watchdog = common::test_watchdog("ported_cpython::worker_threads_exit_after_shutdown");
    let exec = BoundedExecutor::new(WORKER_COUNT);
    let exited = Arc::new(Mutex::new(Vec::new()));
    let latch = Latch::new();
    let ids = register_exit_notices(&exec, 3, &exited, &latch);
    assert_eq!(ids.len(), 3);
    exec.shutdown();
    assert!(latch.wait_for(3), "worker threads still alive after shutdown");
    let exited: HashSet<_> = exited.lock().unwrap().iter().copied().collect();
    assert_eq!(exited, ids);
}

// test_shutdown.py::ThreadPoolShutdownTest::test_context_manager_shutdown
// (a `with` block is a scope: leaving it drops the executor, which shuts it down)
#[test]
fn leaving_scope_shuts_down_and_threads_exit() {
    let _watchdog =
        common::test_watchdog("ported_cpython::leaving_scope_shuts_down_and_threads_exit");
    let exited = Arc::new(Mutex::new(Vec::new()));
    let latch = Latch::new();
    let ids = {
        let exec = BoundedExecutor::new(WORKER_COUNT);
        let abs: Vec<i32> = (-5..5)
            .map(|v: i32| exec.submit(move || v.abs()).unwrap())
            .collect::<Vec<_>>()
            .into_iter()
            .map(|h| h.join().unwrap())
            .collect();
        assert_eq!(abs, [5, 4, 3, 2, 1, 0, 1, 2, 3, 4]);
        register_exit_notices(&exec, WORKER_COUNT, &exited, &latch)
    };
    assert!(latch.wait_for(ids.len()), "worker threads still alive after drop");
}

// test_shutdown.py::ThreadPoolShutdownTest::test_del_shutdown
// test_shutdown.py::ThreadPoolShutdownTest::test_shutdown_no_wait (the part that applies:
// results computed before shutdown stay readable; there is no non-blocking shutdown)
#[test]
fn handles_outlive_dropped_executor() {
    let _watchdog = common::test_watchdog("ported_cpython::handles_outlive_dropped_executor");
    let exec = BoundedExecutor::new(WORKER_COUNT);
    let handles: Vec<_> =
        (-5..5).map(|v: i32| (v, exec.submit(move || v.abs()).unwrap())).collect();
    drop(exec);
    for (v, h) in handles {
        assert!(h.is_finished());
        assert_eq!(h.join().unwrap(), v.abs());
    }
}

/// Names of the threads that run `n` simultaneous tasks (one per worker).
fn worker_names(exec: &BoundedExecutor, n: usize) -> Vec<(ThreadId, Option<String>)> {
    let gate = Gate::new();
    let started = Latch::new();
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let (gate, started) = (gate.clone(), started.clone());
            exec.submit(move || {
                started.count_up();
                gate.wait_at_most(TIMEOUT);
                let t = thread::current();
                (t.id(), t.name().map(str::to_owned))
            })
            .unwrap()
        })
        .collect();
    assert!(started.wait_for(n), "not every worker picked up a task");
    gate.open();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

// test_shutdown.py::ThreadPoolShutdownTest::test_thread_names_assigned
#[test]
fn thread_name_prefix_names_every_worker() {
    let _watchdog = common::test_watchdog("ported_cpython::thread_name_prefix_names_every_worker");
    let exec = BoundedExecutor::builder()
        .max_workers(WORKER_COUNT)
        .thread_name("SpecialPool")
        .build()
        .unwrap();
    let mut names: Vec<String> = worker_names(&exec, WORKER_COUNT)
        .into_iter()
        .map(|(_, name)| name.expect("worker thread has no name"))
        .collect();
    names.sort();
    let expected: Vec<String> = (0..WORKER_COUNT).map(|i| format!("SpecialPool-{i}")).collect();
    assert_eq!(names, expected);
}

// test_shutdown.py::ThreadPoolShutdownTest::test_thread_names_default
// Python wants default names that are "reasonably sane and unique"; we require distinct
// threads and, where the default names them, distinct names.
#[test]
fn default_thread_names_are_distinct() {
    let _watchdog = common::test_watchdog("ported_cpython::default_thread_names_are_distinct");
    let exec = BoundedExecutor::new(WORKER_COUNT);
    let workers = worker_names(&exec, WORKER_COUNT);
    let ids: HashSet<_> = workers.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids.len(), WORKER_COUNT);
    let names: Vec<_> = workers.iter().filter_map(|(_, n)| n.as_deref()).collect();
    let distinct: HashSet<_> = names.iter().collect();
    assert_eq!(distinct.len(), names.len(), "duplicate default names: {names:?}");
}

// ---------------------------------------------------------------------------------------------
// test_wait.py :: ThreadPoolWaitTests
// ---------------------------------------------------------------------------------------------

// test_wait.py::ThreadPoolWaitTests::test_pending_calls_race
// 100 tasks wait on one event; with a bounded executor the submitter blocks at capacity until
// the event is set, then every task completes.
#[test]
fn backpressure_then_release_all() {
    let _watchdog = common::test_watchdog("ported_cpython::backpressure_then_release_all");
    let exec = BoundedExecutor::new(WORKER_COUNT);
    let gate = Gate::new();
    let handles = thread::scope(|s| {
        let submitter = s.spawn(|| {
            (0..100)
                .map(|i| {
                    let gate = gate.clone();
                    exec.submit(move || {
                        gate.wait_at_most(TIMEOUT);
                        i
                    })
                    .unwrap()
                })
                .collect::<Vec<_>>()
        });
        eventually("the submitter fills the executor", || exec.in_flight() == exec.capacity());
        assert!(!submitter.is_finished(), "submit did not block at capacity");
        gate.open();
        submitter.join().unwrap()
    });
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(results, (0..100).collect::<Vec<_>>());
    exec.shutdown(); // so every worker has finished its bookkeeping
    let stats = exec.stats();
    assert_eq!(stats.completed, 100);
    assert_eq!(stats.peak_in_flight, exec.capacity());
}

// ---------------------------------------------------------------------------------------------
// test_deadlock.py :: ExecutorDeadlockTest (process-pool suite; the thread analogues)
// ---------------------------------------------------------------------------------------------

// test_deadlock.py::ExecutorDeadlockTest::test_error_during_func_exec_on_worker
#[test]
fn panic_in_task_does_not_break_the_pool() {
    let _watchdog = common::test_watchdog("ported_cpython::panic_in_task_does_not_break_the_pool");
    let exec = BoundedExecutor::new(2);
    let err = exec.submit(|| -> u8 { panic!("RuntimeError") }).unwrap().join().unwrap_err();
    assert!(err.is_panic());
    assert_eq!(panic_message(&*err.into_panic()), Some("RuntimeError"));
    // The worker that caught the panic keeps serving.
    let results: Vec<_> = (0..4)
        .map(|i| exec.submit(move || i).unwrap())
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();
    assert_eq!(results, [0, 1, 2, 3]);
    exec.shutdown(); // so every worker has finished its bookkeeping
    let stats = exec.stats();
    assert_eq!(stats.panicked, 1);
    assert_eq!(stats.completed, 5);
}

// test_deadlock.py::ExecutorDeadlockTest::test_shutdown_deadlock
// (a worker "crashes" after shutdown was called: here the task panics while shutdown waits)
#[test]
fn panic_while_shutdown_waits_does_not_deadlock() {
    let _watchdog =
        common::test_watchdog("ported_cpython::panic_while_shutdown_waits_does_not_deadlock");
    let exec = Arc::new(BoundedExecutor::new(2));
    let gate = Gate::new();
    let started = Latch::new();
    let handle = {
        let (gate, started) = (gate.clone(), started.clone());
        exec.submit(move || -> u8 {
            started.count_up();
            gate.wait_at_most(TIMEOUT);
            panic!("crash after shutdown")
        })
        .unwrap()
    };
    assert!(started.wait_for(1));
    let (tx, done) = mpsc::channel();
    let e = exec.clone();
    thread::spawn(move || {
        e.shutdown();
        let _ = tx.send(());
    });
    eventually("shutdown has begun", || exec.is_shutdown());
    gate.open();
    done.recv_timeout(TIMEOUT).expect("shutdown deadlocked after a task panicked");
    assert!(handle.join().unwrap_err().is_panic());
}

// ---------------------------------------------------------------------------------------------
// test_future.py :: FutureTests
// Python builds futures in each state by hand; here each state is reached with a real task on
// a one-worker executor: finished (joined or waited on), running (holds the worker on a gate),
// pending (queued behind it), cancelled (a pending one that was cancelled).
// ---------------------------------------------------------------------------------------------

// test_future.py::FutureTests::test_cancel
#[test]
fn cancel_follows_task_state() {
    let _watchdog = common::test_watchdog("ported_cpython::cancel_follows_task_state");
    let exec = single_worker();
    let failed = exec.submit(|| -> i32 { panic!("OSError") }).unwrap();
    let succeeded = exec.submit(|| 5).unwrap();
    assert!(failed.wait_timeout(TIMEOUT) && succeeded.wait_timeout(TIMEOUT));

    let (gate, running) = occupy_single_worker(&exec);
    let drops = Latch::new();
    let ran = Arc::new(AtomicUsize::new(0));
    let pending = {
        let token = DropToken(drops.clone());
        let ran = ran.clone();
        exec.submit(move || {
            let _keep = &token;
            ran.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap()
    };

    assert!(pending.cancel(), "a pending task can be cancelled");
    assert!(pending.is_finished());
    // Python's cancel() returns True again for a cancelled future; ours documents false for a
    // task that has already finished, and a cancelled task has.
    assert!(!pending.cancel(), "a cancelled task is finished: cancel reports false");
    assert!(!running.cancel(), "a running task cannot be cancelled");
    assert!(!failed.cancel(), "a failed task cannot be cancelled");
    assert!(!succeeded.cancel(), "a finished task cannot be cancelled");

    gate.open();
    assert_eq!(running.join().unwrap(), "blocker");
    assert!(failed.join().unwrap_err().is_panic());
    assert_eq!(succeeded.join().unwrap(), 5);
    assert!(pending.join().unwrap_err().is_cancelled());
    exec.shutdown();
    assert_eq!(ran.load(Ordering::SeqCst), 0, "a cancelled task ran");
    assert!(drops.wait_for(1), "a cancelled task's closure was not dropped");
    assert_eq!(drops.get(), 1);
}

// test_future.py::FutureTests::test_cancelled
#[test]
fn only_cancelled_tasks_report_cancelled() {
    let _watchdog = common::test_watchdog("ported_cpython::only_cancelled_tasks_report_cancelled");
    let exec = single_worker();
    let failed = exec.submit(|| -> i32 { panic!("OSError") }).unwrap();
    let succeeded = exec.submit(|| 42).unwrap();
    assert!(failed.wait_timeout(TIMEOUT) && succeeded.wait_timeout(TIMEOUT));
    let (gate, running) = occupy_single_worker(&exec);
    let cancelled = exec.submit(|| 0).unwrap();
    assert!(cancelled.cancel());

    assert!(cancelled.join().unwrap_err().is_cancelled());
    let err = failed.join().unwrap_err();
    assert!(!err.is_cancelled() && err.is_panic());
    assert_eq!(succeeded.join().unwrap(), 42);
    gate.open();
    assert_eq!(running.join().unwrap(), "blocker");
}

// test_future.py::FutureTests::test_done
#[test]
fn is_finished_follows_task_state() {
    let _watchdog = common::test_watchdog("ported_cpython::is_finished_follows_task_state");
    let exec = single_worker();
    let failed = exec.submit(|| -> i32 { panic!("OSError") }).unwrap();
    let succeeded = exec.submit(|| 42).unwrap();
    assert!(failed.wait_timeout(TIMEOUT) && succeeded.wait_timeout(TIMEOUT));
    let (gate, running) = occupy_single_worker(&exec);
    let pending = exec.submit(|| 0).unwrap();
    let cancelled = exec.submit(|| 0).unwrap();
    assert!(cancelled.cancel());

    assert!(!pending.is_finished());
    assert!(!running.is_finished());
    assert!(cancelled.is_finished());
    assert!(failed.is_finished());
    assert!(succeeded.is_finished());

    gate.open();
    assert_eq!(pending.join().unwrap(), 0);
    assert_eq!(running.join().unwrap(), "blocker");
}

// test_future.py::FutureTests::test_result_with_timeout
#[test]
fn result_with_zero_timeout() {
    let _watchdog = common::test_watchdog("ported_cpython::result_with_zero_timeout");
    let exec = single_worker();
    let failed = exec.submit(|| -> i32 { panic!("OSError") }).unwrap();
    let succeeded = exec.submit(|| 42).unwrap();
    assert!(failed.wait_timeout(TIMEOUT) && succeeded.wait_timeout(TIMEOUT));
    let (gate, running) = occupy_single_worker(&exec);
    let pending = exec.submit(|| 0).unwrap();
    let cancelled = exec.submit(|| 0).unwrap();
    assert!(cancelled.cancel());

    assert!(!pending.wait_timeout(Duration::ZERO), "pending: times out");
    assert!(!running.wait_timeout(Duration::ZERO), "running: times out");
    assert!(cancelled.wait_timeout(Duration::ZERO));
    assert!(cancelled.join().unwrap_err().is_cancelled());
    assert!(failed.wait_timeout(Duration::ZERO));
    assert_eq!(panic_message(&*failed.join().unwrap_err().into_panic()), Some("OSError"));
    assert!(succeeded.wait_timeout(Duration::ZERO));
    assert_eq!(succeeded.join().unwrap(), 42);

    gate.open();
    assert_eq!(pending.join().unwrap(), 0);
    assert_eq!(running.join().unwrap(), "blocker");
}

// test_future.py::FutureTests::test_result_with_success
// Python sleeps a second so the main thread is already waiting; here another thread opens the
// gate while the main thread waits, and the outcome is the same whichever comes first.
#[test]
fn result_arrives_while_waiting() {
    let _watchdog = common::test_watchdog("ported_cpython::result_arrives_while_waiting");
    let exec = single_worker();
    let gate = Gate::new();
    let handle = {
        let gate = gate.clone();
        exec.submit(move || {
            gate.wait_at_most(TIMEOUT);
            42
        })
        .unwrap()
    };
    thread::scope(|s| {
        s.spawn(|| gate.open());
        assert!(handle.wait_timeout(TIMEOUT));
    });
    assert_eq!(handle.join().unwrap(), 42);
}

// test_future.py::FutureTests::test_result_with_cancel
#[test]
fn cancel_from_another_thread_wakes_waiter() {
    let _watchdog =
        common::test_watchdog("ported_cpython::cancel_from_another_thread_wakes_waiter");
    let exec = single_worker();
    let (gate, running) = occupy_single_worker(&exec);
    let pending = exec.submit(|| 42).unwrap();
    thread::scope(|s| {
        let canceller = s.spawn(|| pending.cancel());
        assert!(pending.wait_timeout(TIMEOUT), "waiter not woken by cancel");
        assert!(canceller.join().unwrap());
    });
    assert!(pending.join().unwrap_err().is_cancelled());
    gate.open();
    assert_eq!(running.join().unwrap(), "blocker");
}

// test_future.py::FutureTests::test_exception_with_timeout
// (`exception()` is the panic payload: `join().unwrap_err().into_panic()`)
#[test]
fn panic_with_zero_timeout() {
    let _watchdog = common::test_watchdog("ported_cpython::panic_with_zero_timeout");
    let exec = single_worker();
    let failed =
        exec.submit(|| -> i32 { std::panic::panic_any(std::io::ErrorKind::Other) }).unwrap();
    let succeeded = exec.submit(|| 42).unwrap();
    assert!(failed.wait_timeout(TIMEOUT) && succeeded.wait_timeout(TIMEOUT));
    let (gate, running) = occupy_single_worker(&exec);
    let pending = exec.submit(|| 0).unwrap();
    let cancelled = exec.submit(|| 0).unwrap();
    assert!(cancelled.cancel());

    assert!(!pending.wait_timeout(Duration::ZERO));
    assert!(!running.wait_timeout(Duration::ZERO));
    let err = cancelled.join().unwrap_err();
    assert!(err.is_cancelled());
    assert!(err.try_into_panic().is_err(), "a cancelled task has no panic payload");
    let payload = failed.join().unwrap_err().into_panic();
    assert_eq!(payload.downcast_ref::<std::io::ErrorKind>(), Some(&std::io::ErrorKind::Other));
    assert!(succeeded.join().is_ok(), "no exception for a successful task");

    gate.open();
    assert_eq!(pending.join().unwrap(), 0);
    assert_eq!(running.join().unwrap(), "blocker");
}

// test_future.py::FutureTests::test_exception_with_success
#[test]
fn panic_arrives_while_waiting() {
    let _watchdog = common::test_watchdog("ported_cpython::panic_arrives_while_waiting");
    let exec = single_worker();
    let gate = Gate::new();
    let handle = {
        let gate = gate.clone();
        exec.submit(move || -> i32 {
            gate.wait_at_most(TIMEOUT);
            std::panic::panic_any(std::io::ErrorKind::Other)
        })
        .unwrap()
    };
    thread::scope(|s| {
        s.spawn(|| gate.open());
        assert!(handle.wait_timeout(TIMEOUT));
    });
    let payload = handle.join().unwrap_err().into_panic();
    assert!(payload.downcast_ref::<std::io::ErrorKind>().is_some());
}

// test_future.py::FutureTests::test_repr
// (Python's repr shows the state; we check that the error's Display tells the kinds apart)
#[test]
fn task_error_display_tells_kinds_apart() {
    let _watchdog = common::test_watchdog("ported_cpython::task_error_display_tells_kinds_apart");
    let exec = single_worker();
    let failed = exec.submit(|| -> i32 { panic!("OSError") }).unwrap();
    let (gate, running) = occupy_single_worker(&exec);
    let cancelled = exec.submit(|| 0).unwrap();
    assert!(cancelled.cancel());
    let panicked = failed.join().unwrap_err().to_string();
    let cancelled = cancelled.join().unwrap_err().to_string();
    assert!(!panicked.is_empty() && !cancelled.is_empty());
    assert_ne!(panicked, cancelled);
    gate.open();
    running.join().unwrap();
}

// The done-callback cases map onto `TaskHandle`'s `Future` impl: a registered waker plays the
// callback, and "callback runs at once if already done" is "poll is Ready at once".

fn poll_once<T>(
    handle: std::pin::Pin<&mut TaskHandle<T>>,
    waker: &Arc<FlagWaker>,
) -> Poll<Result<T, TaskError>> {
    let waker = Waker::from(waker.clone());
    handle.poll(&mut Context::from_waker(&waker))
}

// test_future.py::FutureTests::test_done_callback_with_result
#[test]
fn future_wakes_on_result() {
    let _watchdog = common::test_watchdog("ported_cpython::future_wakes_on_result");
    let exec = single_worker();
    let gate = Gate::new();
    let handle = {
        let gate = gate.clone();
        exec.submit(move || {
            gate.wait_at_most(TIMEOUT);
            5
        })
        .unwrap()
    };
    let mut handle = pin!(handle);
    let waker = Arc::new(FlagWaker::default());
    assert!(poll_once(handle.as_mut(), &waker).is_pending());
    gate.open();
    assert!(waker.wait_woken(), "waker not woken on completion");
    match poll_once(handle.as_mut(), &waker) {
        Poll::Ready(Ok(v)) => assert_eq!(v, 5),
        other => panic!("expected Ready(Ok(5)), got {other:?}"),
    }
}

// test_future.py::FutureTests::test_done_callback_with_exception
#[test]
fn future_wakes_on_panic() {
    let _watchdog = common::test_watchdog("ported_cpython::future_wakes_on_panic");
    let exec = single_worker();
    let gate = Gate::new();
    let handle = {
        let gate = gate.clone();
        exec.submit(move || -> i32 {
            gate.wait_at_most(TIMEOUT);
            panic!("test")
        })
        .unwrap()
    };
    let mut handle = pin!(handle);
    let waker = Arc::new(FlagWaker::default());
    assert!(poll_once(handle.as_mut(), &waker).is_pending());
    gate.open();
    assert!(waker.wait_woken(), "waker not woken on panic");
    match poll_once(handle.as_mut(), &waker) {
        Poll::Ready(Err(e)) => assert_eq!(panic_message(&*e.into_panic()), Some("test")),
        other => panic!("expected Ready(Err(panic)), got {other:?}"),
    }
}

// test_future.py::FutureTests::test_done_callback_with_cancel
#[test]
fn future_wakes_on_cancel() {
    let _watchdog = common::test_watchdog("ported_cpython::future_wakes_on_cancel");
    let exec = single_worker();
    let (gate, running) = occupy_single_worker(&exec);
    let mut handle = pin!(exec.submit(|| 0).unwrap());
    let waker = Arc::new(FlagWaker::default());
    assert!(poll_once(handle.as_mut(), &waker).is_pending());
    assert!(handle.cancel());
    assert!(waker.wait_woken(), "waker not woken on cancel");
    match poll_once(handle.as_mut(), &waker) {
        Poll::Ready(Err(e)) => assert!(e.is_cancelled()),
        other => panic!("expected Ready(Err(cancelled)), got {other:?}"),
    }
    gate.open();
    running.join().unwrap();
}

// test_future.py::FutureTests::test_done_callback_already_successful
#[test]
fn future_ready_when_already_successful() {
    let _watchdog = common::test_watchdog("ported_cpython::future_ready_when_already_successful");
    let exec = single_worker();
    let handle = exec.submit(|| 5).unwrap();
    assert!(handle.wait_timeout(TIMEOUT));
    let mut handle = pin!(handle);
    match poll_once(handle.as_mut(), &Arc::new(FlagWaker::default())) {
        Poll::Ready(Ok(v)) => assert_eq!(v, 5),
        other => panic!("expected Ready(Ok(5)), got {other:?}"),
    }
}

// test_future.py::FutureTests::test_done_callback_already_failed
#[test]
fn future_ready_when_already_failed() {
    let _watchdog = common::test_watchdog("ported_cpython::future_ready_when_already_failed");
    let exec = single_worker();
    let handle = exec.submit(|| -> i32 { panic!("test") }).unwrap();
    assert!(handle.wait_timeout(TIMEOUT));
    let mut handle = pin!(handle);
    match poll_once(handle.as_mut(), &Arc::new(FlagWaker::default())) {
        Poll::Ready(Err(e)) => assert_eq!(panic_message(&*e.into_panic()), Some("test")),
        other => panic!("expected Ready(Err(panic)), got {other:?}"),
    }
}

// test_future.py::FutureTests::test_done_callback_already_cancelled
#[test]
fn future_ready_when_already_cancelled() {
    let _watchdog = common::test_watchdog("ported_cpython::future_ready_when_already_cancelled");
    let exec = single_worker();
    let (gate, running) = occupy_single_worker(&exec);
    let handle = exec.submit(|| 0).unwrap();
    assert!(handle.cancel());
    let mut handle = pin!(handle);
    match poll_once(handle.as_mut(), &Arc::new(FlagWaker::default())) {
        Poll::Ready(Err(e)) => assert!(e.is_cancelled()),
        other => panic!("expected Ready(Err(cancelled)), got {other:?}"),
    }
    gate.open();
    running.join().unwrap();
}
