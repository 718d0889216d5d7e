//! Lazy threads (`Builder::min_workers`): a push *claims* an idle worker, so that N pushes
//! against k idle workers start N - k threads, up to `max_workers`, and tasks that wait for each
//! other each get a thread. An idle worker counted on by every push until it woke ran one task
//! of a burst while the rest stayed queued with no thread coming (issue 19, item 1). Also ported
//! here: tokio's regression test for its issue 8056, the same bug class in its blocking pool
//! (`tokio/tests/rt_spawn_blocking.rs`, `issue_8056_regression_test`), rewritten against this
//! API: a fresh lazy executor per round, quick tasks, and pairs of long-lived tasks blocked on
//! channels while the pool churns.
//!
//! Rounds: `IDLE_CLAIMS_ROUNDS` (default 100 per test). Every wait is under a watchdog.

mod common;

use std::sync::{mpsc, Arc};
use std::time::Duration;

use bounded_executor::{BoundedExecutor, Builder, TaskHandle};
use common::{join_within, watchdog, Barrier};

fn rounds() -> u64 {
    std::env::var("IDLE_CLAIMS_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(100)
}

/// Submits `n` tasks that only finish together (with this thread): each needs a thread of its
/// own at once. Fails, naming the round, if they do not all meet.
fn burst_that_waits_for_itself(exec: &BoundedExecutor, n: usize, round: u64) {
    let barrier = Arc::new(Barrier::new(n + 1, "a burst of tasks that wait for each other"));
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let barrier = Arc::clone(&barrier);
            exec.submit(move || barrier.wait()).unwrap()
        })
        .collect();
    barrier.wait();
    for handle in handles {
        join_within(handle, &format!("round {round}: a task of the burst")).unwrap();
    }
}

#[test]
fn a_burst_against_one_warm_idle_worker_runs_every_task_at_once() {
    let _watchdog = common::test_watchdog(
        "idle_claims::a_burst_against_one_warm_idle_worker_runs_every_task_at_once",
    );
    let _watchdog = watchdog("bursts against a warm idle worker");
    for round in 0..rounds() {
        let exec = Builder::new().max_workers(8).min_workers(0).capacity(16).build().unwrap();
        // Warm: one thread, idle now (the keep-alive is 10 s).
        join_within(exec.submit(|| ()).unwrap(), "the warm-up task").unwrap();
        assert_eq!(exec.stats().threads_started, 1);
        burst_that_waits_for_itself(&exec, 8, round);
        let stats = exec.stats();
        assert_eq!(exec.workers(), 8, "round {round}: {stats:?}");
        assert_eq!(stats.threads_started, 8, "round {round}: never more than max_workers");
    }
}

/// With room to spare (`max_workers` 16), each push starts at most one thread: a burst of 8
/// against `min_workers(1)` (one thread born idle) starts 7 more, or 8 if the idle one already
/// had the first task when the first push looked; never fewer than the burst needs.
#[test]
fn n_pushes_against_k_idle_workers_start_n_minus_k_threads() {
    let _watchdog = common::test_watchdog(
        "idle_claims::n_pushes_against_k_idle_workers_start_n_minus_k_threads",
    );
    let _watchdog = watchdog("bursts against idle workers");
    for round in 0..rounds() {
        let idle = 1 + (round % 3) as usize;
        let exec = Builder::new().max_workers(16).min_workers(idle).capacity(32).build().unwrap();
        burst_that_waits_for_itself(&exec, 8, round);
        let started = exec.stats().threads_started as usize;
        assert!(
            (8..=8 + idle).contains(&started),
            "round {round}: {started} threads started for 8 tasks against {idle} idle"
        );
    }
}

/// The minimum's threads are counted idle from the start: the first submit after `build`
/// claims one of them instead of starting one more.
#[test]
fn the_first_submit_after_build_claims_a_thread_of_the_minimum() {
    let _watchdog = common::test_watchdog(
        "idle_claims::the_first_submit_after_build_claims_a_thread_of_the_minimum",
    );
    let _watchdog = watchdog("first submits after build");
    for round in 0..rounds() {
        let exec = Builder::new().max_workers(4).min_workers(2).build().unwrap();
        assert_eq!(join_within(exec.submit(|| 5).unwrap(), "the first task").unwrap(), 5);
        assert_eq!(exec.stats().threads_started, 2, "round {round}: a third thread started");
        assert_eq!(exec.workers(), 2);
    }
}

/// Tasks that wait for each other, on a pool that scales to zero between bursts (zero
/// keep-alive): each burst finds no thread, or threads on their way out.
#[test]
fn bursts_on_a_pool_that_retires_at_once_run_every_task_at_once() {
    let _watchdog = common::test_watchdog(
        "idle_claims::bursts_on_a_pool_that_retires_at_once_run_every_task_at_once",
    );
    let _watchdog = watchdog("bursts on a zero keep-alive pool");
    let exec =
        Builder::new().max_workers(4).min_workers(0).keep_alive(Duration::ZERO).build().unwrap();
    for round in 0..rounds() {
        burst_that_waits_for_itself(&exec, 1 + (round % 4) as usize, round);
    }
}

/// The port of tokio's `issue_8056_regression_test`.
#[test]
fn tokio_issue_8056_regression_long_lived_tasks_among_churn_all_get_threads() {
    let _watchdog = common::test_watchdog(
        "idle_claims::tokio_issue_8056_regression_long_lived_tasks_among_churn_all_get_threads",
    );
    type Writer = (Vec<mpsc::SyncSender<()>>, Vec<TaskHandle<()>>);

    /// Two long-lived tasks, each reading its channel until the sender is gone.
    fn make_writer(exec: &BoundedExecutor) -> Writer {
        let mut senders = Vec::new();
        let mut handles = Vec::new();
        for _ in 0..2 {
            let (tx, rx) = mpsc::sync_channel::<()>(1);
            senders.push(tx);
            handles.push(exec.submit(move || while rx.recv().is_ok() {}).unwrap());
        }
        (senders, handles)
    }

    fn drive_writer((senders, handles): Writer, round: u64) {
        for tx in &senders {
            tx.send(()).unwrap();
        }
        drop(senders);
        for handle in handles {
            join_within(handle, &format!("round {round}: a long-lived task")).unwrap();
        }
    }

    fn quick(exec: &BoundedExecutor, round: u64) {
        join_within(exec.submit(|| ()).unwrap(), &format!("round {round}: a quick task")).unwrap();
    }

    let _watchdog = watchdog("tokio's issue-8056 scenario");
    for round in 0..rounds() {
        // tokio's blocking pool: threads on demand, up to a cap, kept 10 s. Fresh per round:
        // a pool growing its first workers is where the race showed most.
        let exec = Builder::new().max_workers(16).min_workers(0).build().unwrap();
        quick(&exec, round);
        quick(&exec, round);
        let persistent = make_writer(&exec);
        for _ in 0..2 {
            quick(&exec, round);
            quick(&exec, round);
            let (senders, handles) = make_writer(&exec);
            drop(senders);
            for handle in handles {
                join_within(handle, &format!("round {round}: a churned task")).unwrap();
            }
        }
        quick(&exec, round);
        quick(&exec, round);
        let second = make_writer(&exec);
        drive_writer(persistent, round);
        drive_writer(second, round);
    }
}
