//! `submit_or_run`: queued like `submit` while a slot is free; run on the calling thread, with a
//! finished handle, when the executor is full (Java's `CallerRunsPolicy`, with a result).

mod common;

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use bounded_executor::{BoundedExecutor, SubmitError};
use common::{occupy_workers, DropCounter};

fn on_a_worker() -> bool {
    thread::current().name().is_some_and(|name| name.starts_with("bounded-executor-"))
}

#[test]
fn with_a_free_slot_the_task_is_queued_for_a_worker() {
    let _watchdog =
        common::test_watchdog("caller_runs::with_a_free_slot_the_task_is_queued_for_a_worker");
    let exec = BoundedExecutor::builder().max_workers(1).capacity(2).build().unwrap();
    let handle = exec.submit_or_run(on_a_worker).unwrap();
    assert!(handle.join().unwrap());
    let stats = exec.stats();
    assert_eq!((stats.submitted, stats.completed, stats.inline), (1, 1, 0));
}

#[test]
fn when_full_the_caller_runs_the_task_and_gets_a_finished_handle() {
    let _watchdog = common::test_watchdog(
        "caller_runs::when_full_the_caller_runs_the_task_and_gets_a_finished_handle",
    );
    let exec = Arc::new(BoundedExecutor::builder().max_workers(1).capacity(1).build().unwrap());
    let (gate, busy) = occupy_workers(&exec); // the only slot is taken
    let caller = thread::current().id();
    let inner = Arc::clone(&exec);
    let handle = exec
        .submit_or_run(move || {
            // Holds no slot: only the blocked task is in flight, and it is the one running.
            let seen = (inner.in_flight(), inner.running(), inner.queued());
            (thread::current().id(), seen)
        })
        .unwrap();
    assert!(handle.is_finished());
    assert_eq!(handle.join().unwrap(), (caller, (1, 1, 0)));
    let stats = exec.stats();
    assert_eq!((stats.submitted, stats.completed, stats.inline, stats.helped), (2, 1, 1, 0));
    gate.open();
    for handle in busy {
        handle.join().unwrap();
    }
    exec.shutdown();
    let stats = exec.stats();
    assert_eq!((stats.submitted, stats.completed, stats.inline, stats.helped), (2, 2, 1, 0));
}

#[test]
fn a_panic_in_a_caller_run_task_comes_back_through_join() {
    let _watchdog =
        common::test_watchdog("caller_runs::a_panic_in_a_caller_run_task_comes_back_through_join");
    let exec = BoundedExecutor::builder().max_workers(1).capacity(1).build().unwrap();
    let (gate, busy) = occupy_workers(&exec);
    let handle = exec.submit_or_run(|| -> u32 { panic!("caller-run task fails") }).unwrap();
    let err = handle.join().unwrap_err();
    assert!(err.is_panic());
    assert_eq!(exec.stats().panicked, 1);
    gate.open();
    busy.into_iter().for_each(|h| h.join().unwrap());
}

#[test]
fn after_shutdown_the_closure_comes_back_unrun() {
    let _watchdog =
        common::test_watchdog("caller_runs::after_shutdown_the_closure_comes_back_unrun");
    let exec = BoundedExecutor::new(1);
    exec.shutdown();
    let drops = DropCounter::new();
    let counted = drops.make();
    let err = exec
        .submit_or_run(move || {
            let _keep = &counted;
            unreachable!("a refused task never runs")
        })
        .unwrap_err();
    assert!(matches!(err, SubmitError::Shutdown(_)));
    assert_eq!(drops.dropped(), 0);
    drop(err.into_inner());
    assert_eq!(drops.dropped(), 1);
    let stats = exec.stats();
    assert_eq!((stats.submitted, stats.rejected, stats.inline), (0, 1, 0));
}

#[test]
fn a_caller_run_task_follows_the_workers_rules_and_the_caller_is_restored_after() {
    let _watchdog = common::test_watchdog(
        "caller_runs::a_caller_run_task_follows_the_workers_rules_and_the_caller_is_restored_after",
    );
    let exec = Arc::new(BoundedExecutor::builder().max_workers(1).capacity(2).build().unwrap());
    let (gate, busy) = occupy_workers(&exec);
    let queued = exec.submit(|| thread::current().id()).unwrap(); // full now
    let caller = thread::current().id();
    let inner = Arc::clone(&exec);
    let (nested_ran_here, queued_ran_on) = exec
        .submit_or_run(move || {
            // A nested submit to the full executor runs inline, as on a worker, instead of
            // waiting for a slot only the blocked worker could free.
            let nested = inner.submit(|| thread::current().id()).unwrap();
            assert!(nested.is_finished());
            // Joining a task that has not started runs it here.
            (nested.join().unwrap() == thread::current().id(), queued.join().unwrap())
        })
        .unwrap()
        .join()
        .unwrap();
    assert!(nested_ran_here);
    assert_eq!(queued_ran_on, caller);
    assert_eq!(exec.stats().inline, 2);
    // Back on the caller, which is no worker: a full executor makes it wait, not run inline.
    // (The only worker is blocked, so the slot held by the joined task's queue entry cannot
    // come back: the timeout is certain.)
    let err = exec.submit_timeout(|| (), Duration::from_millis(1)).unwrap_err();
    assert!(err.is_timeout());
    gate.open();
    busy.into_iter().for_each(|h| h.join().unwrap());
}

#[test]
fn on_a_worker_of_the_full_executor_it_runs_inline_on_that_worker() {
    let _watchdog = common::test_watchdog(
        "caller_runs::on_a_worker_of_the_full_executor_it_runs_inline_on_that_worker",
    );
    let exec = Arc::new(BoundedExecutor::builder().max_workers(1).capacity(1).build().unwrap());
    let inner = Arc::clone(&exec);
    let ran_on_worker = exec
        .submit(move || inner.submit_or_run(on_a_worker).unwrap().join().unwrap())
        .unwrap()
        .join()
        .unwrap();
    assert!(ran_on_worker);
    assert_eq!(exec.stats().inline, 1);
}

#[test]
fn many_producers_never_exceed_the_bound_and_lose_nothing() {
    let _watchdog = common::test_watchdog(
        "caller_runs::many_producers_never_exceed_the_bound_and_lose_nothing",
    );
    let exec = Arc::new(BoundedExecutor::new(2));
    let producers: Vec<_> = (0..4u64)
        .map(|p| {
            let exec = Arc::clone(&exec);
            thread::spawn(move || {
                (0..500u64)
                    .map(|i| exec.submit_or_run(move || p * 1000 + i).unwrap())
                    .map(|h| h.join().unwrap())
                    .sum::<u64>()
            })
        })
        .collect();
    let total: u64 = producers.into_iter().map(|p| p.join().unwrap()).sum();
    let expected: u64 = (0..4u64).map(|p| (0..500).map(|i| p * 1000 + i).sum::<u64>()).sum();
    assert_eq!(total, expected);
    exec.shutdown();
    let stats = exec.stats();
    assert_eq!((stats.submitted, stats.completed), (2000, 2000));
    assert!(stats.peak_in_flight <= exec.capacity());
    assert_eq!((exec.in_flight(), exec.running(), exec.queued()), (0, 0, 0));
}
