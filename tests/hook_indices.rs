//! A worker's index (its thread's name, what its hooks are given) is below `max_workers`, and no
//! two threads run hooks or tasks under one index at once. A retiring thread used to free its
//! index only after its stop hook, so a thread started meanwhile took the next one up: index
//! and name `max_workers` and beyond (issue 19, item 7). Now the index is freed as the thread
//! decides to exit, and the next thread at that index waits for the stop hook to return before
//! its start hook.

mod common;

use std::collections::BTreeMap;
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use bounded_executor::{BoundedExecutor, Builder};
use common::{join_within, watchdog, Barrier, Gate, WATCHDOG_LIMIT};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hook {
    Start,
    Stop,
}

type Log = Arc<Mutex<Vec<(usize, Hook)>>>;

/// A lazy pool of `max` threads, none kept, that retire at once; its hooks log every start and
/// stop with its index (checking the thread's name says the same), and each stop hook calls
/// `on_stop` first.
fn logged(max: usize, on_stop: impl Fn() + Send + Sync + 'static) -> (BoundedExecutor, Log) {
    let log: Log = Arc::default();
    let (start_log, stop_log) = (Arc::clone(&log), Arc::clone(&log));
    let name_says = |index: usize| {
        let name = std::thread::current().name().map(str::to_owned);
        assert_eq!(name, Some(format!("idx-{index}")), "the thread's name is its index");
    };
    let exec = Builder::new()
        .max_workers(max)
        .min_workers(0)
        .keep_alive(Duration::ZERO)
        .thread_name("idx")
        .on_thread_start(move |index| {
            name_says(index);
            start_log.lock().unwrap().push((index, Hook::Start));
        })
        .on_thread_stop(move |index| {
            name_says(index);
            on_stop();
            stop_log.lock().unwrap().push((index, Hook::Stop));
        })
        .build()
        .unwrap();
    (exec, log)
}

/// Every index is below `max`, and under each index starts and stops alternate, starting with
/// a start: never two threads at one index.
fn check(log: &Log, max: usize) {
    let log = log.lock().unwrap();
    let mut by_index: BTreeMap<usize, Vec<Hook>> = BTreeMap::new();
    for &(index, hook) in log.iter() {
        assert!(index < max, "index {index} with max_workers({max}): {log:?}");
        by_index.entry(index).or_default().push(hook);
    }
    for (index, hooks) in by_index {
        for (i, hook) in hooks.iter().enumerate() {
            let expected = if i % 2 == 0 { Hook::Start } else { Hook::Stop };
            assert_eq!(*hook, expected, "index {index}: {hooks:?}");
        }
    }
}

#[test]
fn a_thread_started_while_another_runs_its_stop_hook_gets_an_index_below_max_workers() {
    let _watchdog = common::test_watchdog("hook_indices::a_thread_started_while_another_runs_its_stop_hook_gets_an_index_below_max_workers");
    let _watchdog = watchdog("threads started while another is in its stop hook");
    let in_stop_hook = Arc::new(Mutex::new(None::<mpsc::Sender<()>>));
    let stop_gate = Gate::new();
    let (exec, log) = {
        let (in_stop_hook, stop_gate) = (Arc::clone(&in_stop_hook), stop_gate.clone());
        logged(2, move || {
            if let Some(tx) = in_stop_hook.lock().unwrap().take() {
                tx.send(()).unwrap();
                stop_gate.wait();
            }
        })
    };
    let (tx, stopping) = mpsc::channel();
    *in_stop_hook.lock().unwrap() = Some(tx);
    // One thread (index 0) runs a task, then retires at once: its stop hook holds.
    join_within(exec.submit(|| ()).unwrap(), "the first task").unwrap();
    stopping.recv_timeout(WATCHDOG_LIMIT).expect("the first thread retires");
    // Two tasks that need two threads at once: both start while index 0 is in its stop hook.
    let together = Arc::new(Barrier::new(2, "two tasks that wait for each other"));
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let together = Arc::clone(&together);
            exec.submit(move || together.wait()).unwrap()
        })
        .collect();
    // The thread that takes index 0 waits for this stop hook before its start hook.
    stop_gate.open();
    for handle in handles {
        join_within(handle, "a task of the pair").unwrap();
    }
    exec.shutdown();
    check(&log, 2);
    assert_eq!(exec.stats().threads_started, 3);
}

/// Bursts against a pool whose threads retire at once, with stop hooks that take a moment:
/// threads keep starting while others are in their stop hooks.
#[test]
fn indices_stay_below_max_workers_and_unshared_through_churn() {
    let _watchdog = common::test_watchdog(
        "hook_indices::indices_stay_below_max_workers_and_unshared_through_churn",
    );
    let _watchdog = watchdog("churning threads");
    let (exec, log) = logged(3, || {
        for _ in 0..50 {
            std::thread::yield_now();
        }
    });
    for round in 0..200 {
        let n = 1 + round % 3;
        let together = Arc::new(Barrier::new(n, "a burst that needs its threads at once"));
        let handles: Vec<_> = (0..n)
            .map(|_| {
                let together = Arc::clone(&together);
                exec.submit(move || together.wait()).unwrap()
            })
            .collect();
        for handle in handles {
            join_within(handle, "a task of the burst").unwrap();
        }
    }
    exec.shutdown();
    check(&log, 3);
    let stats = exec.stats();
    assert_eq!(stats.threads_started, stats.threads_exited);
}
