//! `shutdown_background`, and a `Drop` that does not block after the caller chose not to wait
//! (`shutdown_background`, or a `shutdown_timeout` that timed out): issue 23.

mod common;

use std::sync::mpsc;

use std::time::Duration;

use bounded_executor::BoundedExecutor;
use common::Gate;

/// Builds an executor whose only worker is held at a gate, drops it after `stop`, and checks
/// that the drop returned while the task was still held, and that the task then finished.
fn drop_returns_while_a_task_is_stuck(stop: impl FnOnce(&BoundedExecutor)) {
    let exec = BoundedExecutor::builder().max_workers(1).capacity(2).build().unwrap();
    let gate = Gate::new();
    let mut stuck = common::start_gated(&exec, 1, &gate);
    let (ran_tx, ran) = mpsc::channel();
    exec.execute(move || ran_tx.send(()).unwrap()).unwrap(); // queued behind the stuck one
    stop(&exec);
    assert!(exec.is_shutdown());
    assert!(exec.submit(|| ()).unwrap_err().is_shutdown(), "no task accepted after it");
    // Regression: this `drop` waited for the stuck task forever.
    drop(exec);
    assert!(!stuck[0].is_finished(), "the drop returned before the gate opened");
    gate.open();
    stuck.pop().unwrap().join().unwrap();
    ran.recv_timeout(common::WATCHDOG_LIMIT).expect("the queued task still runs after the drop");
}

#[test]
fn drop_after_shutdown_background_does_not_wait() {
    let _watchdog =
        common::test_watchdog("shutdown_background::drop_after_shutdown_background_does_not_wait");
    drop_returns_while_a_task_is_stuck(|exec| exec.shutdown_background());
}

#[test]
fn drop_after_a_timed_out_shutdown_does_not_wait() {
    let _watchdog =
        common::test_watchdog("shutdown_background::drop_after_a_timed_out_shutdown_does_not_wait");
    drop_returns_while_a_task_is_stuck(|exec| {
        assert!(!exec.shutdown_timeout(Duration::from_millis(10)), "a task is stuck");
    });
}

#[test]
fn shutdown_after_shutdown_background_still_waits() {
    let _watchdog = common::test_watchdog(
        "shutdown_background::shutdown_after_shutdown_background_still_waits",
    );
    let exec = BoundedExecutor::new(2);
    let (ran_tx, ran) = mpsc::channel();
    for i in 0..4 {
        let ran_tx = ran_tx.clone();
        exec.execute(move || ran_tx.send(i).unwrap()).unwrap();
    }
    exec.shutdown_background();
    exec.shutdown(); // an explicit shutdown still joins the workers
    drop(ran_tx);
    let mut got: Vec<i32> = ran.try_iter().collect();
    got.sort();
    assert_eq!(got, [0, 1, 2, 3], "every accepted task ran before shutdown returned");
    assert_eq!(exec.workers(), 0);
}
