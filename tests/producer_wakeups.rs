//! A release wakes every waiting producer whose task now fits in the room it leaves, so that no
//! producer sleeps beside a free slot and units it would fit in (issue 19, item 2). The case
//! that broke: a weight capacity of 10, two weight-1 producers parked behind a weight-10 task,
//! whose release woke one of them; the other slept beside 9 free units, 3 free slots and an idle
//! worker, and when the first one's task waited for the second's, that was a deadlock.
//!
//! Every round passes whatever the timing; the old code failed in the rounds where both
//! producers had parked before the heavy task ended. Rounds: `PRODUCER_WAKEUPS_ROUNDS`
//! (default 100). Every wait is under a watchdog.

mod common;

use std::sync::{mpsc, Arc};
use std::thread;

use bounded_executor::{BoundedExecutor, Builder};
use common::{
    assert_every_slot_is_back, assert_every_unit_is_back, join_within, watchdog, Barrier, Gate,
    WATCHDOG_LIMIT,
};

fn rounds() -> u64 {
    std::env::var("PRODUCER_WAKEUPS_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(100)
}

/// Runs a gated task of `weight` on a worker, once it has started.
fn heavy(exec: &BoundedExecutor, weight: u64) -> (Gate, bounded_executor::TaskHandle<()>) {
    let gate = Gate::new();
    let (started_tx, started) = mpsc::channel();
    let inner = gate.clone();
    let handle = exec
        .submit_weighted(weight, move || {
            started_tx.send(()).unwrap();
            inner.wait();
        })
        .unwrap();
    started.recv_timeout(WATCHDOG_LIMIT).expect("the heavy task starts");
    (gate, handle)
}

/// `producers` threads each submit one task of `weight` behind a heavy task that holds every
/// unit; the tasks only finish together, so every producer must be woken by the heavy task's
/// release alone.
fn light_producers_behind_a_heavy_task(exec: &Arc<BoundedExecutor>, producers: usize, weight: u64) {
    let (gate, heavy) = heavy(exec, exec.weight_capacity());
    let together = Arc::new(Barrier::new(producers, "tasks that wait for each other"));
    let (entering_tx, entering) = mpsc::channel();
    let threads: Vec<_> = (0..producers)
        .map(|_| {
            let (exec, together, entering_tx) =
                (Arc::clone(exec), Arc::clone(&together), entering_tx.clone());
            thread::spawn(move || {
                entering_tx.send(()).unwrap();
                let handle = exec.submit_weighted(weight, move || together.wait()).unwrap();
                join_within(handle, "a light task").unwrap();
            })
        })
        .collect();
    for _ in 0..producers {
        entering.recv_timeout(WATCHDOG_LIMIT).expect("a producer starts");
    }
    gate.open();
    join_within(heavy, "the heavy task").unwrap();
    for thread in threads {
        thread.join().unwrap();
    }
}

#[test]
fn a_heavy_release_wakes_both_light_producers_parked_behind_it() {
    let _watchdog = common::test_watchdog(
        "producer_wakeups::a_heavy_release_wakes_both_light_producers_parked_behind_it",
    );
    let _watchdog = watchdog("two light producers behind a heavy task");
    let exec = Arc::new(
        Builder::new()
            .max_workers(3)
            .capacity(3)
            .weight_capacity(10)
            .producer_helps(false)
            .build()
            .unwrap(),
    );
    for _ in 0..rounds() {
        light_producers_behind_a_heavy_task(&exec, 2, 1);
    }
    assert_every_slot_is_back(&exec);
    assert_every_unit_is_back(&exec);
}

/// The same with more producers of mixed fit: four of weight 2 under a capacity of 8 all fit
/// once the heavy task is gone.
#[test]
fn a_heavy_release_wakes_every_producer_that_fits() {
    let _watchdog =
        common::test_watchdog("producer_wakeups::a_heavy_release_wakes_every_producer_that_fits");
    let _watchdog = watchdog("four producers behind a heavy task");
    let exec = Arc::new(
        Builder::new()
            .max_workers(5)
            .capacity(5)
            .weight_capacity(8)
            .producer_helps(false)
            .build()
            .unwrap(),
    );
    for _ in 0..rounds() / 2 {
        light_producers_behind_a_heavy_task(&exec, 4, 2);
    }
    assert_every_slot_is_back(&exec);
    assert_every_unit_is_back(&exec);
}

/// A producer that does not fit is passed over, not woken in the place of one that does: a
/// weight-6 producer, then a weight-2 one, wait behind tasks of weights 5 and 3 under a weight
/// capacity of 8. The end of the weight-3 task frees 3 units: room for the weight-2 task, which
/// must get in while the weight-5 task still runs (a release that woke only the oldest waiting
/// producer woke the weight-6 one, which went back to sleep, and the weight-2 one slept on).
#[test]
fn a_producer_that_does_not_fit_is_passed_over() {
    let _watchdog =
        common::test_watchdog("producer_wakeups::a_producer_that_does_not_fit_is_passed_over");
    let _watchdog = watchdog("a light producer behind a heavy one that does not fit yet");
    let exec = Arc::new(
        Builder::new()
            .max_workers(3)
            .capacity(4)
            .weight_capacity(8)
            .producer_helps(false)
            .build()
            .unwrap(),
    );
    for _ in 0..rounds() / 2 {
        // 5 + 3 = 8 units in flight, both gated.
        let (stays, staying) = heavy(&exec, 5);
        let (goes, going) = heavy(&exec, 3);
        let (entered_tx, entered) = mpsc::channel();
        let big = {
            let (exec, entered_tx) = (Arc::clone(&exec), entered_tx.clone());
            thread::spawn(move || {
                entered_tx.send(()).unwrap();
                exec.submit_weighted(6, || ()).unwrap().join().unwrap();
            })
        };
        entered.recv_timeout(WATCHDOG_LIMIT).expect("the big producer starts");
        let (light_in_tx, light_in) = mpsc::channel();
        let small = {
            let exec = Arc::clone(&exec);
            thread::spawn(move || {
                entered_tx.send(()).unwrap();
                let handle = exec.submit_weighted(2, || ()).unwrap();
                light_in_tx.send(()).unwrap();
                handle.join().unwrap();
            })
        };
        entered.recv_timeout(WATCHDOG_LIMIT).expect("the small producer starts");
        // Frees 3 units: room for the weight-2 task, not for the weight-6 one.
        goes.open();
        join_within(going, "the weight-3 task").unwrap();
        light_in.recv_timeout(WATCHDOG_LIMIT).expect("the weight-2 producer was not woken");
        stays.open();
        join_within(staying, "the weight-5 task").unwrap();
        big.join().unwrap();
        small.join().unwrap();
    }
    assert_every_slot_is_back(&exec);
    assert_every_unit_is_back(&exec);
}
