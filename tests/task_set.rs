//! `TaskSet`: completion order, panics as items, timeouts, async use, and cancel-on-drop.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bounded_executor::{BoundedExecutor, TaskSet};
use common::{occupy_workers, Gate};

#[test]
fn results_come_in_completion_order() {
    let _watchdog = common::test_watchdog("task_set::results_come_in_completion_order");
    let exec = BoundedExecutor::new(2);
    let mut set = TaskSet::new(&exec);
    let gate = Gate::new();
    let slow = gate.clone();
    set.submit(move || {
        slow.wait();
        "slow"
    })
    .unwrap();
    set.submit(|| "fast").unwrap();
    assert_eq!(set.len(), 2);
    assert_eq!(set.join_next().unwrap().unwrap(), "fast");
    gate.open();
    assert_eq!(set.join_next().unwrap().unwrap(), "slow");
    assert!(set.join_next().is_none());
    assert!(set.is_empty());
}

#[test]
fn a_panicking_task_is_an_err_item() {
    let _watchdog = common::test_watchdog("task_set::a_panicking_task_is_an_err_item");
    let exec = BoundedExecutor::builder().max_workers(2).capacity(10).build().unwrap();
    let mut set = TaskSet::new(&exec);
    for i in 0..10 {
        let _ = set.submit(move || if i == 4 { panic!("four") } else { i }).unwrap();
    }
    let results: Vec<_> = std::iter::from_fn(|| set.join_next()).collect();
    assert_eq!(results.len(), 10);
    assert_eq!(results.iter().filter(|r| r.as_ref().is_err_and(|e| e.is_panic())).count(), 1);
}

#[test]
fn join_next_timeout_gives_none_while_nothing_finished() {
    let _watchdog =
        common::test_watchdog("task_set::join_next_timeout_gives_none_while_nothing_finished");
    let exec = BoundedExecutor::new(1);
    let mut set = TaskSet::new(&exec);
    let gate = Gate::new();
    let held = gate.clone();
    set.submit(move || held.wait()).unwrap();
    assert!(set.join_next_timeout(Duration::from_millis(10)).is_none());
    assert!(!set.is_empty());
    gate.open();
    assert!(set.join_next_timeout(Duration::from_secs(60)).unwrap().is_ok());
}

#[test]
fn handles_from_submit_can_be_pushed() {
    let _watchdog = common::test_watchdog("task_set::handles_from_submit_can_be_pushed");
    let exec = BoundedExecutor::new(2);
    let mut set = TaskSet::new(&exec);
    for i in 0..5 {
        set.push(exec.submit(move || i).unwrap());
    }
    let mut got: Vec<i32> = std::iter::from_fn(|| set.join_next()).map(Result::unwrap).collect();
    got.sort();
    assert_eq!(got, [0, 1, 2, 3, 4]);
}

#[test]
fn dropping_the_set_cancels_tasks_that_have_not_started() {
    let _watchdog =
        common::test_watchdog("task_set::dropping_the_set_cancels_tasks_that_have_not_started");
    let exec = BoundedExecutor::builder().max_workers(1).capacity(4).build().unwrap();
    let (gate, held) = occupy_workers(&exec);
    let ran = Arc::new(AtomicUsize::new(0));
    let mut set = TaskSet::new(&exec);
    for _ in 0..3 {
        let ran = Arc::clone(&ran);
        set.submit(move || ran.fetch_add(1, Ordering::SeqCst)).unwrap();
    }
    drop(set);
    gate.open();
    held.into_iter().for_each(|h| h.join().unwrap());
    exec.shutdown();
    assert_eq!(ran.load(Ordering::SeqCst), 0);
    assert_eq!(exec.stats().cancelled, 3);
}

#[test]
fn usable_from_async_code() {
    let _watchdog = common::test_watchdog("task_set::usable_from_async_code");
    let exec = BoundedExecutor::builder().max_workers(2).capacity(50).build().unwrap();
    let mut set = TaskSet::new(&exec);
    for i in 0..50u64 {
        let _ = set.submit(move || i).unwrap();
    }
    let total = futures::executor::block_on(async {
        let mut total = 0;
        while let Some(result) = set.join_next_async().await {
            total += result.unwrap();
        }
        total
    });
    assert_eq!(total, 1225);
}

#[test]
fn join_next_on_a_worker_at_capacity_one_runs_its_own_tasks() {
    let _watchdog =
        common::test_watchdog("task_set::join_next_on_a_worker_at_capacity_one_runs_its_own_tasks");
    let exec = Arc::new(BoundedExecutor::builder().max_workers(1).capacity(2).build().unwrap());
    let inner = Arc::clone(&exec);
    let outer = exec.submit(move || {
        let mut set = TaskSet::new(&inner);
        set.submit(|| 1).unwrap(); // queued: the only worker is us
        set.submit(|| 2).unwrap(); // full: runs inline
        std::iter::from_fn(|| set.join_next()).map(Result::unwrap).sum::<i32>()
    });
    assert_eq!(outer.unwrap().join().unwrap(), 3);
    exec.shutdown();
}

/// A handle polled once (so a waker is registered on it) and pushed just as its task finishes:
/// the set's own waker must be woken once, not by both the publisher and `push`. A second wake
/// queued the slot twice: a later `join_next` took a handle that was not ready, or panicked.
#[test]
fn pushing_a_polled_handle_as_it_finishes_queues_it_once() {
    let _watchdog =
        common::test_watchdog("task_set::pushing_a_polled_handle_as_it_finishes_queues_it_once");
    use std::future::Future;
    use std::sync::atomic::AtomicBool;
    use std::task::{Context, Waker};

    let exec = BoundedExecutor::new(2);
    let mut set = TaskSet::new(&exec);
    for round in 0..common::rounds(10_000, 20) as u32 {
        let go = Arc::new(AtomicBool::new(false));
        let mut handle = {
            let go = Arc::clone(&go);
            exec.submit(move || {
                while !go.load(Ordering::Acquire) {
                    std::hint::spin_loop();
                }
                round
            })
            .unwrap()
        };
        let mut cx = Context::from_waker(Waker::noop());
        assert!(std::pin::Pin::new(&mut handle).poll(&mut cx).is_pending());
        go.store(true, Ordering::Release);
        set.push(handle); // races the task's publication
        assert_eq!(set.join_next().unwrap().unwrap(), round);
        assert!(set.join_next_timeout(Duration::ZERO).is_none(), "round {round}: a second entry");
    }
}
