//! No timed submit ever helps: `submit_timeout` and `submit_weighted_timeout` wait for a slot
//! (park) and never run a queued task on the calling thread, whatever the timeout, including
//! `Duration::MAX`, which no `Instant` can hold (issue 19, item 4).

mod common;

use std::sync::{mpsc, Arc};
use std::thread::{self, ThreadId};
use std::time::Duration;

use bounded_executor::BoundedExecutor;
use common::{join_within, start_gated, watchdog, Gate, WATCHDOG_LIMIT};

/// A full executor (its one worker gated, one task queued behind it, helping on), and a
/// producer thread that calls `submit` on it. The producer must not return while the executor
/// is full (it cannot: no slot frees until the gate opens, and it must not help), and the queued
/// task must run on the worker.
fn assert_never_helps(submit: impl FnOnce(&BoundedExecutor) + Send + 'static) {
    let _watchdog = watchdog("a timed submit into a full executor");
    let exec = Arc::new(
        BoundedExecutor::builder()
            .max_workers(1)
            .capacity(2)
            .weight_capacity(4)
            .producer_helps(true)
            .build()
            .unwrap(),
    );
    let gate = Gate::new();
    let busy = start_gated(&exec, 1, &gate).pop().unwrap();
    let queued = exec.submit(|| thread::current().id()).unwrap();
    assert_eq!(exec.in_flight(), exec.capacity(), "full: one task runs, one is queued");

    let (returned_tx, returned) = mpsc::channel::<ThreadId>();
    let producer = {
        let exec = Arc::clone(&exec);
        thread::spawn(move || {
            submit(&exec);
            returned_tx.send(thread::current().id()).unwrap();
        })
    };
    // A producer that helped would run the queued task and take its slot: back at once.
    assert!(
        returned.recv_timeout(Duration::from_millis(200)).is_err(),
        "the timed submit returned while the executor was full: it ran the queued task"
    );
    gate.open();
    let producer_thread = returned.recv_timeout(WATCHDOG_LIMIT).expect("the timed submit returns");
    producer.join().unwrap();
    join_within(busy, "the gated task").unwrap();
    let ran_on = join_within(queued, "the queued task").unwrap();
    assert_ne!(ran_on, producer_thread, "the queued task ran on the timed producer's thread");
    exec.shutdown();
    let stats = exec.stats();
    assert_eq!(stats.helped, 0);
    assert_eq!(stats.completed, 3);
}

#[test]
fn submit_timeout_with_duration_max_never_helps() {
    let _watchdog =
        common::test_watchdog("timeouts_never_help::submit_timeout_with_duration_max_never_helps");
    assert_never_helps(|exec| {
        exec.submit_timeout(|| (), Duration::MAX).unwrap().join().unwrap();
    });
}

#[test]
fn submit_timeout_with_a_deadline_past_what_an_instant_holds_never_helps() {
    let _watchdog = common::test_watchdog("timeouts_never_help::submit_timeout_with_a_deadline_past_what_an_instant_holds_never_helps");
    assert_never_helps(|exec| {
        exec.submit_timeout(|| (), Duration::from_secs(u64::MAX / 2)).unwrap().join().unwrap();
    });
}

#[test]
fn submit_timeout_with_a_finite_timeout_never_helps() {
    let _watchdog = common::test_watchdog(
        "timeouts_never_help::submit_timeout_with_a_finite_timeout_never_helps",
    );
    assert_never_helps(|exec| {
        exec.submit_timeout(|| (), Duration::from_secs(3600)).unwrap().join().unwrap();
    });
}

#[test]
fn submit_weighted_timeout_with_duration_max_never_helps() {
    let _watchdog = common::test_watchdog(
        "timeouts_never_help::submit_weighted_timeout_with_duration_max_never_helps",
    );
    assert_never_helps(|exec| {
        exec.submit_weighted_timeout(1, || (), Duration::MAX).unwrap().join().unwrap();
    });
}

#[test]
fn submit_weighted_timeout_of_another_weight_never_helps() {
    let _watchdog = common::test_watchdog(
        "timeouts_never_help::submit_weighted_timeout_of_another_weight_never_helps",
    );
    assert_never_helps(|exec| {
        exec.submit_weighted_timeout(2, || (), Duration::MAX).unwrap().join().unwrap();
    });
}

/// The contrast: a plain blocking `submit` into the same full executor does help (so the tests
/// above would see it if a timed submit did too).
#[test]
fn a_blocking_submit_into_the_same_full_executor_helps() {
    let _watchdog = common::test_watchdog(
        "timeouts_never_help::a_blocking_submit_into_the_same_full_executor_helps",
    );
    let _watchdog = watchdog("a blocking submit into a full executor");
    let exec = BoundedExecutor::builder().max_workers(1).capacity(2).producer_helps(true).build();
    let exec = exec.unwrap();
    let gate = Gate::new();
    let busy = start_gated(&exec, 1, &gate).pop().unwrap();
    let queued = exec.submit(|| thread::current().id()).unwrap();
    // Returns with the gate still closed: it ran the queued task and took its slot.
    let mine = exec.submit(|| ()).unwrap();
    assert_eq!(join_within(queued, "the helped task").unwrap(), thread::current().id());
    assert_eq!(exec.stats().helped, 1);
    gate.open();
    join_within(busy, "the gated task").unwrap();
    join_within(mine, "the producer's own task").unwrap();
}
