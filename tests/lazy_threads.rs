//! Threads started on demand and retired after a keep-alive (`Builder::min_workers`,
//! `Builder::keep_alive`): counts, bounds, and the guarantees that must not depend on how many
//! threads are alive. Thread exits are observed through the stop hook, never by sleeping.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use bounded_executor::{BoundedExecutor, Builder};
use common::{run_together, Gate, WATCHDOG};

/// A lazy executor whose stop hook reports each exiting worker's index on the returned channel.
fn lazy(max: usize, min: usize, keep_alive: Duration) -> (BoundedExecutor, mpsc::Receiver<usize>) {
    let (exits_tx, exits) = mpsc::channel();
    let exits_tx = std::sync::Mutex::new(exits_tx);
    let exec = Builder::new()
        .max_workers(max)
        .min_workers(min)
        .keep_alive(keep_alive)
        .on_thread_stop(move |index| {
            let _ = exits_tx.lock().unwrap().send(index);
        })
        .build()
        .unwrap();
    (exec, exits)
}

#[test]
fn min_workers_zero_starts_no_thread_until_there_is_work() {
    let _watchdog = common::test_watchdog(
        "lazy_threads::min_workers_zero_starts_no_thread_until_there_is_work",
    );
    let (exec, _exits) = lazy(4, 0, Builder::DEFAULT_KEEP_ALIVE);
    assert_eq!(exec.workers(), 0);
    assert_eq!(exec.stats().threads_started, 0);
    assert_eq!(exec.submit(|| 7).unwrap().join().unwrap(), 7);
    assert!(exec.workers() >= 1);
    assert!(exec.stats().threads_started >= 1);
}

#[test]
fn the_default_starts_every_thread_at_build_and_keeps_them() {
    let _watchdog = common::test_watchdog(
        "lazy_threads::the_default_starts_every_thread_at_build_and_keeps_them",
    );
    let exec = BoundedExecutor::new(3);
    assert_eq!(exec.workers(), 3);
    for _ in 0..100 {
        exec.submit(|| ()).unwrap().join().unwrap();
    }
    assert_eq!((exec.workers(), exec.stats().threads_started), (3, 3));
    exec.shutdown();
    let stats = exec.stats();
    assert_eq!((exec.workers(), stats.threads_exited), (0, 3));
}

#[test]
fn threads_start_while_no_worker_is_idle_up_to_max_workers() {
    let _watchdog = common::test_watchdog(
        "lazy_threads::threads_start_while_no_worker_is_idle_up_to_max_workers",
    );
    let (exec, _exits) = lazy(4, 0, Builder::DEFAULT_KEEP_ALIVE);
    // Four tasks that only finish together: they need four threads at once.
    run_together(&exec, 4);
    assert_eq!(exec.workers(), 4);
    assert_eq!(exec.stats().threads_started, 4);
}

#[test]
fn never_more_than_max_workers_run_tasks() {
    let _watchdog = common::test_watchdog("lazy_threads::never_more_than_max_workers_run_tasks");
    let (exec, _exits) = lazy(2, 0, Duration::ZERO);
    let running = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..2_000)
        .map(|_| {
            let (running, most) = (Arc::clone(&running), Arc::clone(&most));
            exec.submit(move || {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                running.fetch_sub(1, Ordering::SeqCst);
            })
            .unwrap()
        })
        .collect();
    handles.into_iter().for_each(|h| h.join().unwrap());
    // The producer helps while the executor is full: two workers plus the producer.
    assert!(most.load(Ordering::SeqCst) <= 3, "{} at once", most.load(Ordering::SeqCst));
    assert!(exec.workers() <= 2);
}

#[test]
fn idle_threads_beyond_min_workers_exit_after_keep_alive() {
    let _watchdog = common::test_watchdog(
        "lazy_threads::idle_threads_beyond_min_workers_exit_after_keep_alive",
    );
    let (exec, exits) = lazy(3, 1, Duration::from_millis(20));
    assert_eq!(exec.workers(), 1);
    run_together(&exec, 3);
    assert_eq!(exec.workers(), 3);
    // Two of the three retire; the minimum stays.
    for _ in 0..2 {
        exits.recv_timeout(WATCHDOG).expect("an idle thread never retired");
    }
    assert_eq!(exec.workers(), 1);
    assert_eq!(exec.stats().threads_exited, 2);
    // The one kept still runs tasks, and new threads start again on demand.
    assert_eq!(exec.submit(|| 1).unwrap().join().unwrap(), 1);
    exec.shutdown();
    let stats = exec.stats();
    assert_eq!(stats.threads_started, stats.threads_exited);
}

#[test]
fn a_pool_that_scales_to_zero_comes_back_for_the_next_burst() {
    let _watchdog = common::test_watchdog(
        "lazy_threads::a_pool_that_scales_to_zero_comes_back_for_the_next_burst",
    );
    let (exec, exits) = lazy(2, 0, Duration::ZERO);
    let mut stop_hooks = 0;
    for round in 0..20 {
        assert_eq!(exec.submit(move || round).unwrap().join().unwrap(), round);
        // Wait for every thread started so far to retire (its stop hook to run): the pool is
        // empty again.
        while stop_hooks < exec.stats().threads_started {
            exits.recv_timeout(WATCHDOG).expect("an idle thread never retired");
            stop_hooks += 1;
        }
        let stats = exec.stats();
        assert_eq!(stats.threads_started, stats.threads_exited, "round {round}");
        assert_eq!(exec.workers(), 0);
    }
    assert_eq!(exec.stats().completed, 20);
}

/// Recursive divide-and-conquer with nested submits and joins, at capacity 1, with threads
/// that come and go: the nested-submit and join rules hold whatever the thread count.
#[test]
fn nested_submits_and_joins_complete_with_lazy_threads() {
    let _watchdog =
        common::test_watchdog("lazy_threads::nested_submits_and_joins_complete_with_lazy_threads");
    fn fib(exec: &Arc<BoundedExecutor>, n: u64) -> u64 {
        if n < 2 {
            return n;
        }
        let inner = Arc::clone(exec);
        let half = exec.submit(move || fib(&inner, n - 1)).unwrap();
        let other = fib(exec, n - 2);
        half.join().unwrap() + other
    }
    for min in [0, 1] {
        let exec = Arc::new(
            Builder::new()
                .max_workers(2)
                .min_workers(min)
                .capacity(1)
                .keep_alive(Duration::ZERO)
                .build()
                .unwrap(),
        );
        assert_eq!(fib(&exec, 15), 610, "min_workers({min})");
    }
}

#[test]
fn shutdown_joins_lazy_threads_and_runs_every_accepted_task() {
    let _watchdog = common::test_watchdog(
        "lazy_threads::shutdown_joins_lazy_threads_and_runs_every_accepted_task",
    );
    let (exec, _exits) = lazy(3, 0, Builder::DEFAULT_KEEP_ALIVE);
    let gate = Gate::new();
    let handles: Vec<_> = (0..exec.capacity())
        .map(|i| {
            let gate = gate.clone();
            exec.submit(move || {
                gate.wait();
                i
            })
            .unwrap()
        })
        .collect();
    gate.open();
    exec.shutdown();
    for (i, handle) in handles.into_iter().enumerate() {
        assert!(handle.is_finished());
        assert_eq!(handle.join().unwrap(), i);
    }
    let stats = exec.stats();
    assert_eq!(exec.workers(), 0);
    assert_eq!(stats.threads_started, stats.threads_exited);
}

#[test]
fn bad_thread_counts_are_build_errors_and_zero_keep_alive_is_allowed() {
    let _watchdog = common::test_watchdog(
        "lazy_threads::bad_thread_counts_are_build_errors_and_zero_keep_alive_is_allowed",
    );
    let err = Builder::new().max_workers(2).min_workers(3).build().unwrap_err();
    assert_eq!(err.to_string(), "min_workers is 3, over max_workers (2)");
    let exec =
        Builder::new().max_workers(2).min_workers(0).keep_alive(Duration::ZERO).build().unwrap();
    assert_eq!(exec.submit(|| 2).unwrap().join().unwrap(), 2);
    let exec = Builder::new().max_workers(2).min_workers(2).build().unwrap();
    assert_eq!(exec.workers(), 2);
}
