//! `execute`: tasks without a handle. They run, count, keep the bound, and their panics are
//! contained; a refusal hands the closure back.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};

use bounded_executor::{BoundedExecutor, Builder, SubmitError};
use common::{assert_every_slot_is_back, occupy_workers, Gate};

#[test]
fn every_executed_task_runs_before_shutdown_returns() {
    let _watchdog =
        common::test_watchdog("execute::every_executed_task_runs_before_shutdown_returns");
    let exec = BoundedExecutor::new(2);
    let ran = Arc::new(AtomicUsize::new(0));
    for _ in 0..1_000 {
        let ran = Arc::clone(&ran);
        exec.execute(move || {
            ran.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
    }
    exec.shutdown();
    assert_eq!(ran.load(Ordering::SeqCst), 1_000);
    let stats = exec.stats();
    assert_eq!((stats.submitted, stats.completed), (1_000, 1_000));
}

#[test]
fn a_panicking_task_is_counted_and_contained() {
    let _watchdog = common::test_watchdog("execute::a_panicking_task_is_counted_and_contained");
    let exec = BoundedExecutor::new(1);
    for _ in 0..10 {
        exec.execute(|| panic!("nobody will see this")).unwrap();
    }
    // The pool still works, and the producer never saw a panic.
    assert_eq!(exec.submit(|| 5).unwrap().join().unwrap(), 5);
    exec.shutdown();
    let stats = exec.stats();
    assert_eq!((stats.completed, stats.panicked), (11, 10));
    assert_eq!(exec.in_flight(), 0);
}

#[test]
fn execute_waits_for_the_bound_and_keeps_it() {
    let _watchdog = common::test_watchdog("execute::execute_waits_for_the_bound_and_keeps_it");
    let exec = Builder::new().max_workers(1).capacity(2).producer_helps(false).build().unwrap();
    let (gate, held) = occupy_workers(&exec);
    let queued = Gate::new();
    let inner = queued.clone();
    exec.execute(move || inner.wait()).unwrap();
    assert_eq!(exec.in_flight(), 2, "full");
    std::thread::scope(|s| {
        // Waits for a slot (no helping here), which only the gates below free.
        let producer = s.spawn(|| exec.execute(|| ()).unwrap());
        gate.open();
        queued.open();
        producer.join().unwrap();
    });
    held.into_iter().for_each(|h| h.join().unwrap());
    assert_eq!(exec.stats().peak_in_flight, 2);
    assert_every_slot_is_back(&exec);
}

#[test]
fn a_nested_execute_into_a_full_executor_runs_inline() {
    let _watchdog =
        common::test_watchdog("execute::a_nested_execute_into_a_full_executor_runs_inline");
    let exec = Arc::new(Builder::new().max_workers(1).capacity(1).build().unwrap());
    let inner = Arc::clone(&exec);
    let (tx, rx) = mpsc::channel();
    exec.execute(move || {
        let worker = std::thread::current().id();
        inner.execute(move || tx.send(std::thread::current().id() == worker).unwrap()).unwrap();
    })
    .unwrap();
    assert!(
        rx.recv_timeout(common::WATCHDOG_LIMIT)
            .expect("timed out waiting for the nested execute to run"),
        "the nested task ran on the worker, inline"
    );
    exec.shutdown();
    assert_eq!(exec.stats().inline, 1);
}

#[test]
fn after_shutdown_the_closure_comes_back() {
    let _watchdog = common::test_watchdog("execute::after_shutdown_the_closure_comes_back");
    let exec = BoundedExecutor::new(1);
    exec.shutdown();
    let ran = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&ran);
    let err = exec.execute(move || {
        counter.fetch_add(1, Ordering::SeqCst);
    });
    match err {
        Err(SubmitError::Shutdown(f)) => f(),
        other => panic!("{other:?}"),
    }
    assert_eq!(ran.load(Ordering::SeqCst), 1, "handed back unrun, and runnable");
    assert_eq!(exec.stats().rejected, 1);
}

#[test]
fn shutdown_now_cancels_executed_tasks_that_have_not_started() {
    let _watchdog =
        common::test_watchdog("execute::shutdown_now_cancels_executed_tasks_that_have_not_started");
    let exec = Builder::new().max_workers(1).capacity(4).build().unwrap();
    let (gate, held) = occupy_workers(&exec);
    let ran = Arc::new(AtomicUsize::new(0));
    for _ in 0..3 {
        let ran = Arc::clone(&ran);
        exec.execute(move || {
            ran.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
    }
    gate.open();
    let cancelled = exec.shutdown_now();
    held.into_iter().for_each(|h| h.join().unwrap());
    assert_eq!(ran.load(Ordering::SeqCst) + cancelled, 3);
    assert_eq!(exec.stats().cancelled as usize, cancelled);
}
