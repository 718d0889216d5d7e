//! `stats()` adds up exactly once the executor is idle.

mod common;

use std::time::Duration;

use bounded_executor::{BoundedExecutor, Stats};
use common::occupy_workers;

#[test]
fn counters_add_up_after_a_mixed_workload() {
    let _watchdog = common::test_watchdog("stats::counters_add_up_after_a_mixed_workload");
    let exec = BoundedExecutor::builder().max_workers(2).capacity(4).build().unwrap();
    let mut at_build = exec.stats();
    assert_eq!((at_build.threads_started, at_build.threads_exited), (2, 0));
    at_build.threads_started = 0;
    assert_eq!(at_build, Stats::default());
    for i in 0..100 {
        let handle = exec
            .submit(move || {
                if i % 10 == 0 {
                    panic!("every tenth")
                }
            })
            .unwrap();
        assert_eq!(handle.join().is_err(), i % 10 == 0);
    }
    let (gate, held) = occupy_workers(&exec);
    let queued: Vec<_> = (0..2).map(|_| exec.submit(|| ()).unwrap()).collect();
    assert!(exec.try_submit(|| ()).is_err());
    assert!(exec.submit_timeout(|| (), Duration::from_millis(5)).is_err());
    assert!(queued.iter().all(|h| h.cancel()));
    gate.open();
    held.into_iter().for_each(|h| h.join().unwrap());
    exec.shutdown();
    assert!(exec.submit(|| ()).is_err());

    let stats = exec.stats();
    assert_eq!(stats.submitted, 104);
    assert_eq!(stats.completed, 102);
    assert_eq!(stats.panicked, 10);
    assert_eq!(stats.cancelled, 2);
    assert_eq!(stats.rejected, 3);
    assert_eq!(stats.inline, 0);
    assert_eq!(stats.peak_in_flight, 4);
    assert!(stats.submit_wait >= Duration::from_millis(5));
    assert_eq!(stats.submitted, stats.completed + stats.cancelled);
    assert_eq!((stats.threads_started, stats.threads_exited), (2, 2));
}

#[test]
fn nested_submits_into_a_full_executor_count_as_inline() {
    let _watchdog =
        common::test_watchdog("stats::nested_submits_into_a_full_executor_count_as_inline");
    let exec =
        std::sync::Arc::new(BoundedExecutor::builder().max_workers(1).capacity(1).build().unwrap());
    let inner = std::sync::Arc::clone(&exec);
    let handle = exec.submit(move || inner.submit(|| 5).unwrap().join().unwrap()).unwrap();
    assert_eq!(handle.join().unwrap(), 5);
    exec.shutdown();
    let stats = exec.stats();
    assert_eq!((stats.submitted, stats.completed, stats.inline), (2, 2, 1));
}
