//! The in-flight bound: exact under any number of producers, and `submit` waits while full.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

use bounded_executor::{BoundedExecutor, SubmitTimeoutError, TrySubmitError};
use common::{occupy_workers, Gate};

#[test]
fn try_submit_accepts_exactly_capacity_then_returns_the_very_closure() {
    let _watchdog = common::test_watchdog(
        "backpressure::try_submit_accepts_exactly_capacity_then_returns_the_very_closure",
    );
    let exec = BoundedExecutor::builder().max_workers(2).queue_ratio(3).build().unwrap();
    let (gate, mut held) = occupy_workers(&exec);
    let mut accepted = held.len();
    loop {
        let gate = gate.clone();
        match exec.try_submit(move || gate.wait()) {
            Ok(handle) => {
                held.push(handle);
                accepted += 1;
            }
            Err(TrySubmitError::Full(_)) => break,
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(accepted, exec.capacity());
    assert_eq!(exec.in_flight(), exec.capacity());

    let token = String::from("mine");
    let err = exec.try_submit(move || token).unwrap_err();
    assert!(err.is_full());
    assert_eq!(
        err.to_string(),
        "the executor is full: capacity() tasks, or weight_capacity() units, are in flight"
    );
    assert_eq!(format!("{err:?}"), "Full(..)");
    assert_eq!(err.into_inner()(), "mine");

    gate.open();
    for handle in held {
        handle.join().unwrap();
    }
    assert_eq!(exec.in_flight(), 0);
    assert_eq!(exec.stats().peak_in_flight, exec.capacity());
}

#[test]
fn racing_try_submits_never_exceed_capacity() {
    let _watchdog = common::test_watchdog("backpressure::racing_try_submits_never_exceed_capacity");
    let exec = Arc::new(BoundedExecutor::builder().max_workers(1).capacity(5).build().unwrap());
    let (gate, first) = occupy_workers(&exec);
    let racers = 8;
    let start = Arc::new(common::Barrier::new(racers, "the racers' start"));
    let threads: Vec<_> = (0..racers)
        .map(|_| {
            let (exec, gate, start) = (Arc::clone(&exec), gate.clone(), Arc::clone(&start));
            thread::spawn(move || {
                start.wait();
                let mut mine = Vec::new();
                loop {
                    let gate = gate.clone();
                    match exec.try_submit(move || gate.wait()) {
                        Ok(handle) => mine.push(handle),
                        Err(err) => {
                            assert!(err.is_full());
                            return mine;
                        }
                    }
                }
            })
        })
        .collect();
    let accepted: Vec<_> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
    assert_eq!(accepted.len() + first.len(), exec.capacity());
    gate.open();
    accepted.into_iter().chain(first).for_each(|h| h.join().unwrap());
}

#[test]
fn bound_holds_under_many_producers() {
    let _watchdog = common::test_watchdog("backpressure::bound_holds_under_many_producers");
    let exec = Arc::new(BoundedExecutor::builder().max_workers(2).capacity(3).build().unwrap());
    let over_bound = Arc::new(AtomicUsize::new(0));
    let producers: Vec<_> = (0..4)
        .map(|_| {
            let (exec, over_bound) = (Arc::clone(&exec), Arc::clone(&over_bound));
            thread::spawn(move || {
                for _ in 0..5_000 {
                    let (probe, over) = (Arc::clone(&exec), Arc::clone(&over_bound));
                    exec.submit(move || {
                        if probe.in_flight() > probe.capacity() {
                            over.fetch_add(1, Ordering::Relaxed);
                        }
                    })
                    .unwrap();
                }
            })
        })
        .collect();
    producers.into_iter().for_each(|p| p.join().unwrap());
    // Tasks hold an Arc of the executor: shut down (not drop) to run them all.
    exec.shutdown();
    assert_eq!(over_bound.load(Ordering::Relaxed), 0);
    let stats = exec.stats();
    assert_eq!(stats.completed, 20_000);
    assert!(stats.peak_in_flight <= 3, "peak {}", stats.peak_in_flight);
}

#[test]
fn submit_waits_while_full_and_proceeds_when_a_slot_frees() {
    let _watchdog = common::test_watchdog(
        "backpressure::submit_waits_while_full_and_proceeds_when_a_slot_frees",
    );
    let exec = Arc::new(BoundedExecutor::builder().max_workers(1).capacity(1).build().unwrap());
    let (gate, held) = occupy_workers(&exec);
    let (done_tx, done) = mpsc::channel();
    let producer = {
        let exec = Arc::clone(&exec);
        thread::spawn(move || {
            let handle = exec.submit(|| 7).unwrap();
            done_tx.send(()).unwrap();
            handle.join().unwrap()
        })
    };
    // The producer cannot get past `submit` while the only slot is held. (A negative check: it
    // can only miss a bug, never fail a correct executor.)
    assert!(done.recv_timeout(Duration::from_millis(50)).is_err());
    assert_eq!(exec.in_flight(), 1);
    gate.open();
    held.into_iter().for_each(|h| h.join().unwrap());
    assert_eq!(producer.join().unwrap(), 7);
    assert!(exec.stats().submit_wait > Duration::ZERO);
}

#[test]
fn submit_timeout_times_out_while_full_and_hands_the_closure_back() {
    let _watchdog = common::test_watchdog(
        "backpressure::submit_timeout_times_out_while_full_and_hands_the_closure_back",
    );
    let exec = BoundedExecutor::builder().max_workers(1).capacity(1).build().unwrap();
    let (gate, held) = occupy_workers(&exec);
    let err = exec.submit_timeout(|| "back", Duration::from_millis(20)).unwrap_err();
    assert!(matches!(err, SubmitTimeoutError::Timeout(_)));
    assert_eq!(err.into_inner()(), "back");
    gate.open();
    held.into_iter().for_each(|h| h.join().unwrap());
    let ok = exec.submit_timeout(|| 1, Duration::from_secs(60)).unwrap();
    assert_eq!(ok.join().unwrap(), 1);
}

#[test]
fn a_waiting_producer_is_woken_by_slots_freed_one_by_one() {
    let _watchdog = common::test_watchdog(
        "backpressure::a_waiting_producer_is_woken_by_slots_freed_one_by_one",
    );
    // Capacity 4: producers sleep until the count falls to the low-water mark (2). Free the
    // slots one at a time and check every blocked producer gets through.
    let exec = Arc::new(BoundedExecutor::builder().max_workers(4).capacity(4).build().unwrap());
    let gates: Vec<Gate> = (0..4).map(|_| Gate::new()).collect();
    let (started_tx, started) = mpsc::channel();
    let held: Vec<_> = gates
        .iter()
        .map(|gate| {
            let (gate, started_tx) = (gate.clone(), started_tx.clone());
            exec.submit(move || {
                started_tx.send(()).unwrap();
                gate.wait()
            })
            .unwrap()
        })
        .collect();
    (0..4).for_each(|_| {
        started
            .recv_timeout(common::WATCHDOG_LIMIT)
            .expect("timed out waiting for a gated task to start on each of the 4 workers")
    });
    let producers: Vec<_> = (0..2)
        .map(|i| {
            let exec = Arc::clone(&exec);
            thread::spawn(move || exec.submit(move || i).unwrap().join().unwrap())
        })
        .collect();
    for gate in &gates {
        gate.open();
    }
    let mut got: Vec<i32> = producers.into_iter().map(|p| p.join().unwrap()).collect();
    got.sort();
    assert_eq!(got, [0, 1]);
    held.into_iter().for_each(|h| h.join().unwrap());
}

#[test]
fn many_tasks_through_a_tiny_executor() {
    let _watchdog = common::test_watchdog("backpressure::many_tasks_through_a_tiny_executor");
    let exec = BoundedExecutor::builder().max_workers(2).capacity(1).build().unwrap();
    let sum = Arc::new(AtomicUsize::new(0));
    for i in 0..20_000 {
        let sum = Arc::clone(&sum);
        exec.submit(move || sum.fetch_add(i, Ordering::Relaxed)).unwrap();
    }
    exec.shutdown();
    assert_eq!(sum.load(Ordering::Relaxed), (0..20_000).sum::<usize>());
    assert_eq!(exec.stats().peak_in_flight, 1);
}
