//! `wait_idle` and `wait_idle_timeout`: they return once nothing is queued or running, and leave
//! the executor usable (issue 23).

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

use bounded_executor::BoundedExecutor;
use common::{Gate, Opener};

#[test]
fn wait_idle_returns_once_every_task_has_run_and_the_pool_stays_usable() {
    let _watchdog = common::test_watchdog(
        "wait_idle::wait_idle_returns_once_every_task_has_run_and_the_pool_stays_usable",
    );
    let exec = Arc::new(BoundedExecutor::builder().max_workers(2).capacity(8).build().unwrap());
    let gate = Opener::new();
    let ran = Arc::new(AtomicUsize::new(0));
    for _ in 0..8 {
        let (gate, ran) = (Gate::clone(&gate), Arc::clone(&ran));
        exec.execute(move || {
            gate.wait();
            ran.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
    }
    let (idle_tx, idle) = mpsc::channel();
    let waiter = {
        let (exec, ran) = (Arc::clone(&exec), Arc::clone(&ran));
        thread::spawn(move || {
            exec.wait_idle();
            idle_tx.send((ran.load(Ordering::SeqCst), exec.in_flight())).unwrap();
        })
    };
    assert!(!exec.wait_idle_timeout(Duration::ZERO), "eight tasks are in flight");
    gate.open();
    let (ran_then, in_flight_then) =
        idle.recv_timeout(common::WATCHDOG_LIMIT).expect("wait_idle never returned");
    assert_eq!((ran_then, in_flight_then), (8, 0), "wait_idle returned before the tasks ended");
    waiter.join().unwrap();
    // Usable: not shut down, and it takes more work.
    assert!(!exec.is_shutdown());
    assert_eq!(exec.submit(|| 5).unwrap().join().unwrap(), 5);
    assert!(exec.wait_idle_timeout(common::WATCHDOG_LIMIT));
}

#[test]
fn wait_idle_timeout_gives_up_on_a_stuck_task_then_sees_it_end() {
    let _watchdog = common::test_watchdog(
        "wait_idle::wait_idle_timeout_gives_up_on_a_stuck_task_then_sees_it_end",
    );
    let exec = BoundedExecutor::new(1);
    let gate = Opener::new();
    let stuck = common::start_gated(&exec, 1, &gate);
    assert!(!exec.wait_idle_timeout(Duration::from_millis(20)));
    assert_eq!(exec.in_flight(), 1, "a timed-out wait changes nothing");
    gate.open();
    assert!(exec.wait_idle_timeout(common::WATCHDOG_LIMIT));
    // The slot comes back as the closure returns, which can be an instant before its handle
    // sees the outcome published (see `wait_idle`'s docs): join, do not poll `is_finished`.
    for handle in stuck {
        handle.join().unwrap();
    }
}

#[test]
fn wait_idle_on_an_idle_or_shut_down_executor_returns_at_once() {
    let _watchdog = common::test_watchdog(
        "wait_idle::wait_idle_on_an_idle_or_shut_down_executor_returns_at_once",
    );
    let exec = BoundedExecutor::builder().max_workers(2).min_workers(0).build().unwrap();
    exec.wait_idle();
    assert!(exec.wait_idle_timeout(Duration::ZERO));
    exec.submit(|| ()).unwrap().join().unwrap();
    exec.shutdown();
    exec.wait_idle();
}

#[test]
fn wait_idle_from_a_task_of_the_same_executor_panics_instead_of_hanging() {
    let _watchdog = common::test_watchdog(
        "wait_idle::wait_idle_from_a_task_of_the_same_executor_panics_instead_of_hanging",
    );
    let exec = Arc::new(BoundedExecutor::new(1));
    let inner = Arc::clone(&exec);
    let err = exec.submit(move || inner.wait_idle()).unwrap().join().unwrap_err();
    assert!(err.is_panic());
    exec.wait_idle();
}

/// Randomized: producers submit bursts (some tasks cancelled, some nested), a waiter waits for
/// idle after each burst, and every time it returns, every task of the burst has ended.
#[test]
fn wait_idle_never_returns_early_under_random_bursts() {
    let _watchdog =
        common::test_watchdog("wait_idle::wait_idle_never_returns_early_under_random_bursts");
    let rounds = common::rounds(200, 4);
    let mut rng = common::SplitMix64(0x1d1e);
    for round in 0..rounds {
        let workers = 1 + rng.below(3) as usize;
        let exec = Arc::new(
            BoundedExecutor::builder()
                .max_workers(workers)
                .min_workers(rng.below(workers as u64 + 1) as usize)
                .keep_alive(Duration::ZERO)
                .build()
                .unwrap(),
        );
        let ended = Arc::new(AtomicUsize::new(0));
        let tasks = 1 + rng.below(20) as usize;
        let mut cancelled = 0;
        for _ in 0..tasks {
            let (ended, nested) = (Arc::clone(&ended), Arc::clone(&exec));
            let nest = rng.percent(20);
            let spin = rng.below(200);
            let handle = exec
                .submit(move || {
                    if nest {
                        nested.submit(|| ()).unwrap().join().unwrap();
                    }
                    for _ in 0..spin {
                        std::hint::spin_loop();
                    }
                    ended.fetch_add(1, Ordering::SeqCst);
                })
                .unwrap();
            if rng.percent(10) && handle.cancel() {
                cancelled += 1;
            }
        }
        exec.wait_idle();
        assert_eq!(
            ended.load(Ordering::SeqCst) + cancelled,
            tasks,
            "round {round}: wait_idle returned with tasks left"
        );
        assert_eq!(exec.in_flight(), 0, "round {round}");
    }
}
