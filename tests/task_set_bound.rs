//! `TaskSet` under issue 23: results not taken count against the capacity, each task has an id
//! that cancels it, `try_join_next`, `cancel_all`, `Extend`.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bounded_executor::{BoundedExecutor, TaskSet};
use common::Opener;

#[test]
fn a_submit_loop_without_join_next_is_refused_at_capacity() {
    let _watchdog = common::test_watchdog(
        "task_set_bound::a_submit_loop_without_join_next_is_refused_at_capacity",
    );
    let exec = BoundedExecutor::builder().max_workers(2).capacity(4).build().unwrap();
    let mut set = TaskSet::new(&exec);
    let mut accepted = 0;
    // Regression: finished results did not count, so this loop ran all 1000 (and would go on).
    for i in 0..1000u64 {
        match set.submit(move || i) {
            Ok(_) => accepted += 1,
            Err(err) => {
                assert!(err.is_full(), "{err}");
                assert_eq!(err.into_inner()(), i, "the closure comes back");
                break;
            }
        }
    }
    assert_eq!(accepted, 4);
    assert_eq!(set.len(), 4);
    assert!(set.try_submit(|| 0).unwrap_err().is_full());
    // Taking a result makes room for exactly one more.
    assert!(set.join_next().unwrap().is_ok());
    let _ = set.submit(|| 7).unwrap();
    assert!(set.submit(|| 8).unwrap_err().is_full());
    let total: u64 = std::iter::from_fn(|| set.join_next()).map(Result::unwrap).sum();
    assert!(total >= 7);
    assert!(set.is_empty());
}

#[test]
fn cancel_by_id_stops_only_that_task_and_its_result_still_comes_out() {
    let _watchdog = common::test_watchdog(
        "task_set_bound::cancel_by_id_stops_only_that_task_and_its_result_still_comes_out",
    );
    let exec = BoundedExecutor::builder().max_workers(1).capacity(4).build().unwrap();
    let gate = Opener::new();
    let mut set = TaskSet::new(&exec);
    let ran = Arc::new(AtomicUsize::new(0));
    let blocker = {
        let (gate, ran) = (common::Gate::clone(&gate), Arc::clone(&ran));
        set.submit(move || {
            gate.wait();
            ran.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap()
    };
    while exec.running() == 0 {
        std::thread::yield_now();
    }
    let ids: Vec<_> = (0..3)
        .map(|_| {
            let ran = Arc::clone(&ran);
            set.submit(move || {
                ran.fetch_add(1, Ordering::SeqCst);
            })
            .unwrap()
        })
        .collect();
    assert!(set.cancel(ids[1]), "a queued task is cancelled");
    assert!(!set.cancel(ids[1]), "only once");
    assert!(!set.cancel(blocker), "a running task is not");
    gate.open();
    let mut outcomes = Vec::new();
    while let Some((id, result)) = set.join_next_with_id() {
        outcomes.push((id, result.is_err()));
    }
    outcomes.sort();
    let mut expected = vec![(blocker, false), (ids[0], false), (ids[1], true), (ids[2], false)];
    expected.sort();
    assert_eq!(outcomes, expected);
    assert_eq!(ran.load(Ordering::SeqCst), 3);
    assert!(!set.cancel(ids[0]), "a taken id is not in the set");
}

#[test]
fn cancel_all_cancels_the_queued_tasks_and_leaves_the_set_usable() {
    let _watchdog = common::test_watchdog(
        "task_set_bound::cancel_all_cancels_the_queued_tasks_and_leaves_the_set_usable",
    );
    let exec = BoundedExecutor::builder().max_workers(1).capacity(8).build().unwrap();
    let gate = Opener::new();
    let mut set = TaskSet::new(&exec);
    set.extend(common::start_gated(&exec, 1, &gate)); // the only worker is held
    for _ in 0..5 {
        let _ = set.submit(|| unreachable!("cancelled")).unwrap();
    }
    assert_eq!(set.len(), 6);
    assert_eq!(set.cancel_all(), 5);
    assert_eq!(set.cancel_all(), 0);
    gate.open();
    let results: Vec<_> = std::iter::from_fn(|| set.join_next()).collect();
    assert_eq!(results.iter().filter(|r| r.as_ref().is_err_and(|e| e.is_cancelled())).count(), 5);
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
    let _ = set.submit(|| ()).unwrap();
    assert!(set.join_next().unwrap().is_ok());
}

#[test]
fn try_join_next_never_waits() {
    let _watchdog = common::test_watchdog("task_set_bound::try_join_next_never_waits");
    let exec = BoundedExecutor::new(1);
    let gate = Opener::new();
    let mut set = TaskSet::new(&exec);
    assert!(set.try_join_next().is_none(), "empty");
    set.extend(common::start_gated(&exec, 1, &gate));
    assert!(set.try_join_next().is_none(), "nothing finished yet");
    assert_eq!(set.len(), 1);
    gate.open();
    let result = loop {
        if let Some(result) = set.try_join_next() {
            break result;
        }
        std::thread::yield_now();
    };
    assert!(result.is_ok());
    assert!(set.is_empty());
}

#[test]
fn extend_and_push_are_never_refused_and_ids_are_unique() {
    let _watchdog = common::test_watchdog(
        "task_set_bound::extend_and_push_are_never_refused_and_ids_are_unique",
    );
    let exec = BoundedExecutor::builder().max_workers(1).capacity(2).build().unwrap();
    let mut set = TaskSet::new(&exec);
    let mut ids = Vec::new();
    for i in 0..6 {
        let handle = exec.submit(move || i).unwrap();
        ids.push(set.push(handle)); // a finished task frees its executor slot: submit goes on
    }
    set.extend((0..2).map(|i| exec.submit(move || i).unwrap()));
    assert_eq!(set.len(), 8, "push and extend count in len");
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len());
    assert!(set.submit(|| 0).unwrap_err().is_full(), "over capacity: submit refuses");
    assert_eq!(std::iter::from_fn(|| set.join_next()).count(), 8);
}
