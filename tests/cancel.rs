//! Cancelling a task that has not started: it never runs, its slot frees at once.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};

use bounded_executor::BoundedExecutor;
use common::{occupy_workers, DropCounter};

#[test]
fn a_queued_task_cancels_never_runs_and_drops_its_closure_once() {
    let _watchdog = common::test_watchdog(
        "cancel::a_queued_task_cancels_never_runs_and_drops_its_closure_once",
    );
    let exec = BoundedExecutor::new(1);
    let (gate, held) = occupy_workers(&exec);
    let ran = Arc::new(AtomicUsize::new(0));
    let closures = DropCounter::new();
    let queued = {
        let (ran, captured) = (Arc::clone(&ran), closures.make());
        exec.submit(move || {
            let _keep = captured;
            ran.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap()
    };
    assert_eq!(exec.in_flight(), 2);
    assert!(queued.cancel());
    assert_eq!(closures.dropped(), 1, "the cancelled closure is dropped at once");
    assert_eq!(exec.in_flight(), 1, "the slot frees at once");
    assert!(!queued.cancel(), "a second cancel changes nothing");
    assert!(queued.is_finished());
    gate.open();
    held.into_iter().for_each(|h| h.join().unwrap());
    exec.shutdown();
    let err = queued.join().unwrap_err();
    assert!(err.is_cancelled());
    assert_eq!(err.to_string(), "task was cancelled before it started");
    assert_eq!(ran.load(Ordering::SeqCst), 0);
    assert_eq!(closures.dropped(), 1);
    assert_eq!(exec.stats().cancelled, 1);
}

#[test]
fn a_running_task_cannot_be_cancelled() {
    let _watchdog = common::test_watchdog("cancel::a_running_task_cannot_be_cancelled");
    let exec = BoundedExecutor::new(1);
    let (gate, mut held) = occupy_workers(&exec);
    let running = held.pop().unwrap();
    assert!(!running.cancel());
    gate.open();
    running.join().unwrap();
}

#[test]
fn a_finished_task_cannot_be_cancelled() {
    let _watchdog = common::test_watchdog("cancel::a_finished_task_cannot_be_cancelled");
    let exec = BoundedExecutor::new(1);
    let handle = exec.submit(|| 5).unwrap();
    assert!(handle.wait_timeout(std::time::Duration::from_secs(60)));
    assert!(!handle.cancel());
    assert_eq!(handle.join().unwrap(), 5);
}

#[test]
fn a_cancelled_entry_keeps_its_slot_until_a_worker_passes_over_it() {
    let _watchdog = common::test_watchdog(
        "cancel::a_cancelled_entry_keeps_its_slot_until_a_worker_passes_over_it",
    );
    // The cancelled task's allocation stays in the queue until popped, so it keeps counting
    // against the bound (memory stays within capacity), though no longer as in flight.
    let exec = BoundedExecutor::builder().max_workers(1).capacity(2).build().unwrap();
    let (gate, held) = occupy_workers(&exec);
    let queued = exec.submit(|| 1).unwrap();
    assert!(queued.cancel());
    assert_eq!(exec.in_flight(), 1);
    let refused = exec.try_submit(|| 2).unwrap_err();
    assert!(refused.is_full());
    gate.open();
    held.into_iter().for_each(|h| h.join().unwrap());
    // The worker, now free, passes over the husk and gives its slot back.
    let accepted = exec.submit(refused.into_inner()).unwrap();
    assert_eq!(accepted.join().unwrap(), 2);
}

#[test]
fn cancelling_in_a_loop_never_grows_memory_past_capacity() {
    let _watchdog =
        common::test_watchdog("cancel::cancelling_in_a_loop_never_grows_memory_past_capacity");
    // Regression: husks of cancelled tasks used to pile up in the queue while every worker was
    // busy. Now a cancelled entry holds its slot, so submit-then-cancel cannot outrun the bound.
    let exec = BoundedExecutor::builder().max_workers(1).capacity(4).build().unwrap();
    let (gate, held) = occupy_workers(&exec);
    let mut accepted = 0;
    while let Ok(handle) = exec.try_submit(|| [0u8; 8192]) {
        assert!(handle.cancel());
        accepted += 1;
        assert!(accepted < 100, "cancelled entries must keep their slots");
    }
    assert_eq!(accepted, 3);
    gate.open();
    held.into_iter().for_each(|h| h.join().unwrap());
}

#[test]
fn cancel_races_with_start_and_exactly_one_wins() {
    let _watchdog = common::test_watchdog("cancel::cancel_races_with_start_and_exactly_one_wins");
    // Each round, a task is submitted to an idle worker and cancelled at once: either the worker
    // started it (cancel false, it ran once) or the cancel won (it never ran).
    let exec = BoundedExecutor::new(2);
    for _ in 0..common::rounds(2_000, 20) {
        let (tx, rx) = mpsc::channel();
        let handle = exec.submit(move || tx.send(()).unwrap()).unwrap();
        let cancelled = handle.cancel();
        let result = handle.join();
        assert_eq!(cancelled, result.is_err());
        assert_eq!(rx.try_recv().is_ok(), !cancelled);
    }
    exec.shutdown();
    let stats = exec.stats();
    assert_eq!(stats.submitted, stats.completed + stats.cancelled);
    assert_eq!(exec.in_flight(), 0);
}
