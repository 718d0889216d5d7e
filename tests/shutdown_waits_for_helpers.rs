//! `shutdown` waits for every accepted task's end, wherever it runs: on a worker, on a producer
//! helping a full executor, or on a caller running its own task (`submit_or_run`). A helper
//! gives a helped task's slot back before it publishes the outcome and drops a result nobody
//! will read, and a caller-runs task holds no slot at all: neither is a worker, and a shutdown
//! used to return while they still ran user code of accepted tasks (issue 19, item 5).

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

use bounded_executor::{BoundedExecutor, SubmitError, TaskHandle};
use common::{join_within, watchdog, Gate, WATCHDOG_LIMIT};

/// Long enough for a shutdown that does not wait to return, on a loaded machine: the
/// assertions below hold however long it is (the waited-for task is held by a gate meanwhile).
const NOT_WAITING: Duration = Duration::from_millis(200);

/// Runs a task on the only worker that waits on the returned gate, once it has started.
fn occupy(exec: &BoundedExecutor, weight: u64) -> (Gate, TaskHandle<()>) {
    let gate = Gate::new();
    let (started_tx, started) = mpsc::channel();
    let inner = gate.clone();
    let busy = exec
        .submit_weighted(weight, move || {
            started_tx.send(()).unwrap();
            inner.wait();
        })
        .unwrap();
    started.recv_timeout(WATCHDOG_LIMIT).expect("the gated task starts");
    (gate, busy)
}

/// A result whose `Drop` reports that it began, waits on a gate, then marks itself done.
struct SlowDrop {
    began: mpsc::Sender<()>,
    gate: Gate,
    done: Arc<AtomicBool>,
}

impl Drop for SlowDrop {
    fn drop(&mut self) {
        self.began.send(()).unwrap();
        self.gate.wait();
        self.done.store(true, Ordering::SeqCst);
    }
}

#[test]
fn shutdown_waits_for_a_helper_dropping_a_helped_tasks_result() {
    let _watchdog = common::test_watchdog(
        "shutdown_waits_for_helpers::shutdown_waits_for_a_helper_dropping_a_helped_tasks_result",
    );
    let _watchdog = watchdog("the shutdown after a helper's task");
    let exec = Arc::new(
        BoundedExecutor::builder()
            .max_workers(1)
            .capacity(2)
            .weight_capacity(10)
            .producer_helps(true)
            .build()
            .unwrap(),
    );
    let (worker_gate, busy) = occupy(&exec, 1);
    let (began_tx, began) = mpsc::channel();
    let (drop_gate, done) = (Gate::new(), Arc::new(AtomicBool::new(false)));
    let result = SlowDrop { began: began_tx, gate: drop_gate.clone(), done: Arc::clone(&done) };
    // Queued behind the gated task, its handle dropped: whoever runs it drops its result.
    drop(exec.submit_weighted(1, move || result).unwrap());
    assert_eq!(exec.in_flight(), exec.capacity());
    let producer = {
        let exec = Arc::clone(&exec);
        // Full: helps with the queued task. It weighs 1, not 5: its slot goes back as it ends,
        // before its result is dropped (in `SlowDrop::drop`, held by the gate).
        thread::spawn(move || exec.submit_weighted(5, || ()).map(drop))
    };
    began.recv_timeout(WATCHDOG_LIMIT).expect("the helper drops the helped task's result");
    worker_gate.open();
    join_within(busy, "the gated task").unwrap();
    assert_eq!(exec.in_flight(), 0, "no slot is held: only the helper's drop is left");
    assert!(
        !exec.shutdown_timeout(NOT_WAITING),
        "shutdown_timeout returned true while a helper was still ending an accepted task"
    );
    drop_gate.open();
    exec.shutdown();
    assert!(done.load(Ordering::SeqCst), "shutdown returned before the helped task ended");
    // The helper's own submit found the executor shut down once it was done helping.
    let refused = producer.join().unwrap().unwrap_err();
    assert!(matches!(refused, SubmitError::Shutdown(_)));
    let stats = exec.stats();
    assert_eq!((stats.submitted, stats.completed, stats.helped), (2, 2, 1));
}

#[test]
fn shutdown_waits_for_a_caller_running_its_own_task() {
    let _watchdog = common::test_watchdog(
        "shutdown_waits_for_helpers::shutdown_waits_for_a_caller_running_its_own_task",
    );
    let _watchdog = watchdog("the shutdown after a caller-runs task");
    let exec = Arc::new(BoundedExecutor::builder().max_workers(1).capacity(1).build().unwrap());
    let (worker_gate, busy) = occupy(&exec, 1);
    let (began_tx, began) = mpsc::channel();
    let (task_gate, done) = (Gate::new(), Arc::new(AtomicBool::new(false)));
    let caller = {
        let (exec, task_gate, done) = (Arc::clone(&exec), task_gate.clone(), Arc::clone(&done));
        thread::spawn(move || {
            // Full: runs right here, holding no slot.
            let handle = exec
                .submit_or_run(move || {
                    began_tx.send(()).unwrap();
                    task_gate.wait();
                    done.store(true, Ordering::SeqCst);
                })
                .unwrap();
            assert!(handle.is_finished());
        })
    };
    began.recv_timeout(WATCHDOG_LIMIT).expect("the caller runs its task");
    worker_gate.open();
    join_within(busy, "the gated task").unwrap();
    assert_eq!(exec.in_flight(), 0, "a caller-runs task holds no slot");
    assert!(
        !exec.shutdown_timeout(NOT_WAITING),
        "shutdown_timeout returned true while an accepted caller-runs task was running"
    );
    task_gate.open();
    exec.shutdown();
    assert!(done.load(Ordering::SeqCst), "shutdown returned before the caller-runs task ended");
    caller.join().unwrap();
    let stats = exec.stats();
    assert_eq!((stats.submitted, stats.completed, stats.inline), (2, 2, 1));
}

/// A helped task that shuts its own executor down does not wait for itself (it is the helper
/// the shutdown would wait for): it stops accepting and returns, as from a worker.
#[test]
fn a_helped_task_that_shuts_its_executor_down_does_not_wait_for_itself() {
    let _watchdog = common::test_watchdog("shutdown_waits_for_helpers::a_helped_task_that_shuts_its_executor_down_does_not_wait_for_itself");
    let _watchdog = watchdog("a shutdown from inside a helped task");
    let exec = Arc::new(
        BoundedExecutor::builder().max_workers(1).capacity(2).producer_helps(true).build().unwrap(),
    );
    let (worker_gate, busy) = occupy(&exec, 1);
    let inner = Arc::clone(&exec);
    let stopper = exec.submit(move || inner.shutdown()).unwrap();
    // Full: helps with `stopper`, whose shutdown returns at once; then this submit is refused.
    assert!(matches!(exec.submit(|| ()), Err(SubmitError::Shutdown(_))));
    assert!(stopper.is_finished());
    assert_eq!(exec.stats().helped, 1);
    worker_gate.open();
    exec.shutdown();
    join_within(busy, "the gated task").unwrap();
    join_within(stopper, "the stopping task").unwrap();
}
