//! Graceful, immediate and deadline shutdown; Drop; shutdown racing with producers.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

use bounded_executor::{BoundedExecutor, SubmitError, SubmitTimeoutError, TrySubmitError};
use common::{occupy_workers, DropCounter};

#[test]
fn shutdown_runs_every_accepted_task() {
    let _watchdog = common::test_watchdog("shutdown::shutdown_runs_every_accepted_task");
    let exec = BoundedExecutor::builder().max_workers(2).capacity(64).build().unwrap();
    let ran = Arc::new(AtomicUsize::new(0));
    for _ in 0..64 {
        let ran = Arc::clone(&ran);
        drop(exec.submit(move || ran.fetch_add(1, Ordering::SeqCst)).unwrap());
    }
    exec.shutdown();
    assert_eq!(ran.load(Ordering::SeqCst), 64);
    assert_eq!(exec.in_flight(), 0);
    assert!(exec.is_shutdown());
}

#[test]
fn drop_is_a_graceful_shutdown() {
    let _watchdog = common::test_watchdog("shutdown::drop_is_a_graceful_shutdown");
    let ran = Arc::new(AtomicUsize::new(0));
    {
        let exec = BoundedExecutor::builder().max_workers(1).capacity(16).build().unwrap();
        for _ in 0..16 {
            let ran = Arc::clone(&ran);
            exec.submit(move || ran.fetch_add(1, Ordering::SeqCst)).unwrap();
        }
    }
    assert_eq!(ran.load(Ordering::SeqCst), 16);
}

#[test]
fn every_submit_flavour_hands_the_closure_back_after_shutdown() {
    let _watchdog = common::test_watchdog(
        "shutdown::every_submit_flavour_hands_the_closure_back_after_shutdown",
    );
    let exec = BoundedExecutor::new(1);
    exec.shutdown();
    let closures = DropCounter::new();
    let c = closures.make();
    match exec.submit(move || drop(c)) {
        Err(SubmitError::Shutdown(f)) => f(),
        other => panic!("expected Shutdown, got {other:?}"),
    }
    assert_eq!(closures.dropped(), 1, "the returned closure is the one we gave");
    assert!(matches!(exec.try_submit(|| ()), Err(TrySubmitError::Shutdown(_))));
    assert!(matches!(
        exec.submit_timeout(|| (), Duration::from_secs(1)),
        Err(SubmitTimeoutError::Shutdown(_))
    ));
    assert_eq!(exec.submit(|| ()).unwrap_err().to_string(), "the executor was shut down");
    assert_eq!(exec.stats().rejected, 4);
}

#[test]
fn shutdown_is_idempotent_and_concurrent_callers_all_wait() {
    let _watchdog =
        common::test_watchdog("shutdown::shutdown_is_idempotent_and_concurrent_callers_all_wait");
    let exec = Arc::new(BoundedExecutor::new(2));
    let (gate, held) = occupy_workers(&exec);
    let callers: Vec<_> = (0..3)
        .map(|_| {
            let exec = Arc::clone(&exec);
            thread::spawn(move || {
                exec.shutdown();
                // Whoever returns, the workers are gone: every accepted task has finished.
                exec.in_flight()
            })
        })
        .collect();
    gate.open();
    for caller in callers {
        assert_eq!(caller.join().unwrap(), 0);
    }
    assert!(held.iter().all(|h| h.is_finished()));
    exec.shutdown();
}

#[test]
fn a_producer_waiting_for_a_slot_is_released_by_shutdown() {
    let _watchdog =
        common::test_watchdog("shutdown::a_producer_waiting_for_a_slot_is_released_by_shutdown");
    let exec = Arc::new(BoundedExecutor::builder().max_workers(1).capacity(1).build().unwrap());
    let (gate, held) = occupy_workers(&exec);
    let (waiting_tx, waiting) = mpsc::channel();
    let producer = {
        let exec = Arc::clone(&exec);
        thread::spawn(move || {
            waiting_tx.send(()).unwrap();
            exec.submit(|| "never").map(drop).map_err(|e| e.into_inner()())
        })
    };
    waiting
        .recv_timeout(common::WATCHDOG_LIMIT)
        .expect("timed out waiting for the producer thread to start");
    // Shut down from another thread: it waits for the held task, but must release the producer
    // first, while the task still holds the only slot.
    let closer = {
        let exec = Arc::clone(&exec);
        thread::spawn(move || exec.shutdown())
    };
    assert_eq!(producer.join().unwrap(), Err("never"));
    gate.open();
    closer.join().unwrap();
    held.into_iter().for_each(|h| h.join().unwrap());
}

#[test]
fn shutdown_now_cancels_what_has_not_started() {
    let _watchdog = common::test_watchdog("shutdown::shutdown_now_cancels_what_has_not_started");
    let exec = Arc::new(BoundedExecutor::builder().max_workers(1).capacity(5).build().unwrap());
    let (gate, held) = occupy_workers(&exec);
    let ran = Arc::new(AtomicUsize::new(0));
    let queued: Vec<_> = (0..4)
        .map(|_| {
            let ran = Arc::clone(&ran);
            exec.submit(move || ran.fetch_add(1, Ordering::SeqCst)).unwrap()
        })
        .collect();
    let closer = {
        let exec = Arc::clone(&exec);
        thread::spawn(move || exec.shutdown_now())
    };
    // Once shutdown has begun, the cancel flag is visible (see `is_shutdown`'s Acquire): let the
    // held task finish, and the worker must cancel the four queued ones instead of running them.
    while !exec.is_shutdown() {
        thread::yield_now();
    }
    gate.open();
    assert_eq!(closer.join().unwrap(), 4);
    assert_eq!(ran.load(Ordering::SeqCst), 0);
    assert!(queued.into_iter().all(|h| h.join().unwrap_err().is_cancelled()));
    held.into_iter().for_each(|h| h.join().unwrap());
    let stats = exec.stats();
    assert_eq!((stats.submitted, stats.completed, stats.cancelled), (5, 1, 4));
}

#[test]
fn shutdown_timeout_reports_unfinished_work_and_shutdown_still_joins() {
    let _watchdog = common::test_watchdog(
        "shutdown::shutdown_timeout_reports_unfinished_work_and_shutdown_still_joins",
    );
    let ran_to_end = Arc::new(AtomicUsize::new(0));
    let gate;
    {
        let exec = BoundedExecutor::new(1);
        let (g, held) = occupy_workers(&exec);
        gate = g;
        let ran = Arc::clone(&ran_to_end);
        exec.submit(move || ran.fetch_add(1, Ordering::SeqCst)).unwrap();
        assert!(!exec.shutdown_timeout(Duration::from_millis(20)));
        assert!(exec.submit(|| 0).is_err(), "no longer accepting");
        gate.open();
        drop(held);
        // An explicit shutdown waits for the rest (`Drop` no longer does after a timed-out
        // shutdown: see tests/shutdown_background.rs).
        exec.shutdown();
    }
    assert_eq!(ran_to_end.load(Ordering::SeqCst), 1);

    let idle = BoundedExecutor::new(2);
    idle.submit(|| ()).unwrap().join().unwrap();
    assert!(idle.shutdown_timeout(Duration::from_secs(60)));
}

#[test]
fn a_task_may_shut_down_its_own_executor() {
    let _watchdog = common::test_watchdog("shutdown::a_task_may_shut_down_its_own_executor");
    let exec = Arc::new(BoundedExecutor::new(2));
    let inner = Arc::clone(&exec);
    let handle = exec.submit(move || inner.shutdown()).unwrap();
    handle.join().unwrap();
    assert!(exec.is_shutdown());
    exec.shutdown(); // joins the workers, which exit once the accepted tasks ran
}

#[test]
fn the_last_reference_dropped_inside_a_task_does_not_deadlock() {
    let _watchdog = common::test_watchdog(
        "shutdown::the_last_reference_dropped_inside_a_task_does_not_deadlock",
    );
    let exec = Arc::new(BoundedExecutor::new(1));
    let (tx, rx) = mpsc::channel();
    let inner = Arc::clone(&exec);
    exec.submit(move || {
        rx.recv().unwrap();
        drop(inner); // may be the last reference: Drop runs on the worker itself
    })
    .unwrap();
    drop(exec);
    tx.send(()).unwrap();
}
