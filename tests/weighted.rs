//! The weighted bound: `Builder::weight_capacity`, `submit_weighted` and its `try_`/`_timeout`
//! variants, `map_weighted`, `weight_in_flight`. A task holds one slot and its weight in units
//! until it ends; a submit waits while either does not fit.
//!
//! The last tests bound in-flight *bytes* (buffers of 1 KiB to 8 MiB, each submitted with its
//! length as weight) and measure the peak heap with a counting global allocator, which is why
//! every test in this file runs one at a time (`serial`).

mod common;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::thread;
use std::time::Duration;

use bounded_executor::{
    BoundedExecutor, Builder, SubmitError, SubmitTimeoutError, TaskHandle, TrySubmitError,
};
use common::{
    assert_every_slot_is_back, assert_every_unit_is_back, occupy_workers, Gate, WATCHDOG,
};
use counting_alloc::{reset_peak, Counting};

#[path = "common/counting_alloc.rs"]
mod counting_alloc;

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// One test at a time: the heap measurements must not see another test's allocations.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn weighted(workers: usize, capacity: usize, weight_capacity: u64) -> BoundedExecutor {
    Builder::new()
        .max_workers(workers)
        .capacity(capacity)
        .weight_capacity(weight_capacity)
        .build()
        .unwrap()
}

/// Submits a task of `weight` that tells when it runs and then waits on `gate`.
fn gated(exec: &BoundedExecutor, weight: u64, gate: &Gate) -> TaskHandle<()> {
    let (started_tx, started) = mpsc::channel();
    let gate = gate.clone();
    let handle = exec
        .submit_weighted(weight, move || {
            started_tx.send(()).unwrap();
            gate.wait_at_most(WATCHDOG);
        })
        .unwrap();
    started
        .recv_timeout(common::WATCHDOG_LIMIT)
        .expect("timed out waiting for the gated weighted task to start");
    handle
}

#[test]
fn a_heavy_task_waits_until_enough_units_are_free() {
    let _watchdog =
        common::test_watchdog("weighted::a_heavy_task_waits_until_enough_units_are_free");
    let _serial = serial();
    let exec = Arc::new(weighted(2, 4, 10));
    let gate = Gate::new();
    let heavy_done = Arc::new(AtomicUsize::new(0));
    let heavy = {
        let (gate, heavy_done) = (gate.clone(), Arc::clone(&heavy_done));
        let (started_tx, started) = mpsc::channel();
        let handle = exec
            .submit_weighted(8, move || {
                started_tx.send(()).unwrap();
                gate.wait_at_most(WATCHDOG);
                heavy_done.fetch_add(1, Ordering::SeqCst);
            })
            .unwrap();
        started
            .recv_timeout(common::WATCHDOG_LIMIT)
            .expect("timed out waiting for the heavy task to start");
        handle
    };
    // Slots are free (1 of 4 taken), units are not: 8 + 5 > 10.
    let (waiting_tx, waiting) = mpsc::channel();
    let producer = {
        let (exec, heavy_done) = (Arc::clone(&exec), Arc::clone(&heavy_done));
        thread::spawn(move || {
            waiting_tx.send(()).unwrap();
            let handle = exec.submit_weighted(5, || 5).unwrap();
            // Admitted only once the heavy task gave its units back, so after its body ended.
            assert_eq!(heavy_done.load(Ordering::SeqCst), 1, "admitted next to the heavy task");
            handle.join().unwrap()
        })
    };
    waiting
        .recv_timeout(common::WATCHDOG_LIMIT)
        .expect("timed out waiting for the producer thread to start");
    gate.open();
    assert_eq!(producer.join().unwrap(), 5);
    heavy.join().unwrap();
    let stats = exec.stats();
    assert!(stats.peak_weight_in_flight <= 10, "{stats:?}");
    assert_every_unit_is_back(&exec);
}

#[test]
fn both_bounds_hold_at_once() {
    let _watchdog = common::test_watchdog("weighted::both_bounds_hold_at_once");
    let _serial = serial();
    // The count binds: two light tasks fill capacity 2 with 98 units to spare.
    let exec = weighted(2, 2, 100);
    let gate = Gate::new();
    let held = [gated(&exec, 1, &gate), gated(&exec, 1, &gate)];
    assert_eq!((exec.in_flight(), exec.weight_in_flight()), (2, 2));
    assert!(exec.try_submit_weighted(1, || ()).unwrap_err().is_full());
    assert!(exec.try_submit(|| ()).unwrap_err().is_full());
    gate.open();
    held.into_iter().for_each(|h| h.join().unwrap());

    // The units bind: 4 producers, random weights, each task checks the units running with it.
    let exec = Arc::new(weighted(3, 8, 20));
    let running_units = Arc::new(AtomicU64::new(0));
    let producers: Vec<_> = (0..4u64)
        .map(|p| {
            let (exec, running_units) = (Arc::clone(&exec), Arc::clone(&running_units));
            thread::spawn(move || {
                let mut rng = 0x9E37_79B9_7F4A_7C15u64 ^ p;
                for _ in 0..300 {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    let weight = rng % 12;
                    let running_units = Arc::clone(&running_units);
                    exec.submit_weighted(weight, move || {
                        let now = running_units.fetch_add(weight, Ordering::SeqCst) + weight;
                        assert!(now <= 20, "{now} units running");
                        running_units.fetch_sub(weight, Ordering::SeqCst);
                    })
                    .unwrap();
                }
            })
        })
        .collect();
    producers.into_iter().for_each(|p| p.join().unwrap());
    exec.shutdown();
    let stats = exec.stats();
    assert_eq!((stats.submitted, stats.completed, stats.panicked), (1200, 1200, 0));
    assert!(stats.peak_in_flight <= 8 && stats.peak_weight_in_flight <= 20, "{stats:?}");
    assert_eq!((exec.in_flight(), exec.weight_in_flight()), (0, 0));
}

#[test]
fn weight_zero_takes_a_slot_and_no_units() {
    let _watchdog = common::test_watchdog("weighted::weight_zero_takes_a_slot_and_no_units");
    let _serial = serial();
    let exec = weighted(2, 2, 5);
    let gate = Gate::new();
    let heavy = gated(&exec, 5, &gate);
    // Every unit is taken, yet a weight-0 task gets the free slot.
    assert!(exec.try_submit_weighted(1, || ()).unwrap_err().is_full());
    let zero = exec.try_submit_weighted(0, || 0).unwrap();
    assert_eq!((exec.in_flight(), exec.weight_in_flight()), (2, 5));
    // And the count still binds it.
    assert!(exec.try_submit_weighted(0, || ()).unwrap_err().is_full());
    gate.open();
    heavy.join().unwrap();
    assert_eq!(zero.join().unwrap(), 0);
    assert_every_slot_is_back(&exec);
    assert_every_unit_is_back(&exec);
}

#[test]
fn a_task_heavier_than_the_weight_capacity_is_refused_at_once_with_its_closure() {
    let _watchdog = common::test_watchdog(
        "weighted::a_task_heavier_than_the_weight_capacity_is_refused_at_once_with_its_closure",
    );
    let _serial = serial();
    // An idle executor: if any of these waited, it would wait forever.
    let exec = Arc::new(weighted(1, 4, 10));
    let token = || String::from("mine");

    let f = token();
    let err = exec.submit_weighted(11, move || f).unwrap_err();
    assert!(err.is_too_heavy() && !err.is_shutdown());
    assert!(matches!(err, SubmitError::TooHeavy(_)));
    assert_eq!(format!("{err:?}"), "TooHeavy(..)");
    assert_eq!(
        err.to_string(),
        "the task weighs more than the executor's whole weight capacity: it could never be admitted"
    );
    assert_eq!(err.into_inner()(), "mine");

    let f = token();
    let err = exec.try_submit_weighted(u64::MAX, move || f).unwrap_err();
    assert!(err.is_too_heavy() && !err.is_full());
    assert!(matches!(err, TrySubmitError::TooHeavy(_)));
    assert_eq!(err.into_inner()(), "mine");

    let f = token();
    let err = exec.submit_weighted_timeout(11, move || f, Duration::from_secs(3600)).unwrap_err();
    assert!(err.is_too_heavy() && !err.is_timeout());
    assert!(matches!(err, SubmitTimeoutError::TooHeavy(_)));
    assert_eq!(err.into_inner()(), "mine");

    // From a worker of the same executor too: refused, not run inline.
    let inner = Arc::clone(&exec);
    let nested = exec.submit(move || inner.submit_weighted(11, || ()).map(drop)).unwrap();
    assert!(nested.join().unwrap().unwrap_err().is_too_heavy());

    // The whole capacity is not too heavy.
    assert_eq!(exec.submit_weighted(10, || 10).unwrap().join().unwrap(), 10);
    let stats = exec.stats();
    assert_eq!((stats.rejected, stats.submitted), (4, 2), "{stats:?}");
}

#[test]
fn try_submit_weighted_is_full_when_the_units_are_short() {
    let _watchdog =
        common::test_watchdog("weighted::try_submit_weighted_is_full_when_the_units_are_short");
    let _serial = serial();
    let exec = weighted(2, 8, 10);
    let gate = Gate::new();
    let heavy = gated(&exec, 7, &gate);
    let err = exec.try_submit_weighted(4, || "back").unwrap_err();
    assert!(err.is_full());
    assert_eq!(err.into_inner()(), "back");
    let fits = exec.try_submit_weighted(3, || 3).unwrap();
    assert_eq!(exec.weight_in_flight(), 10);
    assert_eq!(exec.stats().rejected, 1);
    gate.open();
    heavy.join().unwrap();
    assert_eq!(fits.join().unwrap(), 3);
}

#[test]
fn submit_weighted_timeout_times_out_when_the_units_are_short() {
    let _watchdog = common::test_watchdog(
        "weighted::submit_weighted_timeout_times_out_when_the_units_are_short",
    );
    let _serial = serial();
    let exec = weighted(2, 8, 10);
    let gate = Gate::new();
    let heavy = gated(&exec, 7, &gate);
    let err = exec.submit_weighted_timeout(4, || "back", Duration::from_millis(20)).unwrap_err();
    assert!(err.is_timeout());
    assert_eq!(err.into_inner()(), "back");
    assert_eq!(exec.stats().rejected, 1);
    gate.open();
    heavy.join().unwrap();
    let handle = exec.submit_weighted_timeout(10, || 10, WATCHDOG).unwrap();
    assert_eq!(handle.join().unwrap(), 10);
}

#[test]
fn weight_in_flight_counts_queued_and_running_tasks_and_is_zero_at_rest() {
    let _watchdog = common::test_watchdog(
        "weighted::weight_in_flight_counts_queued_and_running_tasks_and_is_zero_at_rest",
    );
    let _serial = serial();
    let exec = weighted(1, 8, 100);
    let (gate, busy) = occupy_workers(&exec); // one task of weight 1, running
    let queued = exec.submit_weighted(30, || ()).unwrap();
    let cancelled = exec.submit_weighted(20, || ()).unwrap();
    assert_eq!(exec.weight_in_flight(), 51);
    // A cancelled task stops counting at once, though its queue entry keeps its units until a
    // worker passes over it.
    assert!(cancelled.cancel());
    assert_eq!((exec.in_flight(), exec.weight_in_flight()), (2, 31));
    assert!(exec.try_submit_weighted(50, || ()).unwrap_err().is_full(), "the husk holds 20");
    gate.open();
    busy.into_iter().for_each(|h| h.join().unwrap());
    queued.join().unwrap();
    // `join` returned: the task's units no longer count.
    assert_eq!(exec.weight_in_flight(), 0);
    assert_every_slot_is_back(&exec);
    assert_every_unit_is_back(&exec);
    exec.shutdown();
    assert_eq!(exec.weight_in_flight(), 0);
}

#[test]
fn a_helping_producer_hands_over_only_a_slot_of_the_same_weight() {
    let _watchdog = common::test_watchdog(
        "weighted::a_helping_producer_hands_over_only_a_slot_of_the_same_weight",
    );
    let _serial = serial();
    // One worker, held; two slots, so one task queued fills the executor.
    let exec = weighted(1, 2, 10);
    let (gate, busy) = occupy_workers(&exec); // weight 1
    let ran = Arc::new(AtomicUsize::new(0));
    let counted = |ran: &Arc<AtomicUsize>| {
        let ran = Arc::clone(ran);
        move || {
            ran.fetch_add(1, Ordering::SeqCst);
        }
    };

    // Another weight: the producer runs the queued task of weight 3, gives its slot and units
    // back, and takes its own 5.
    exec.submit_weighted(3, counted(&ran)).unwrap();
    let five = exec.submit_weighted(5, counted(&ran)).unwrap();
    assert_eq!(ran.load(Ordering::SeqCst), 1, "the producer helped");
    assert_eq!((exec.in_flight(), exec.weight_in_flight()), (2, 1 + 5));

    // The same weight: the producer runs the queued task of weight 5 and keeps its slot.
    let other_five = exec.submit_weighted(5, counted(&ran)).unwrap();
    assert!(five.is_finished());
    assert_eq!((exec.in_flight(), exec.weight_in_flight()), (2, 1 + 5));

    // Heavier than what is left once it helped: runs the queued 5, then 9 fits (1 + 9).
    let nine = exec.submit_weighted(9, counted(&ran)).unwrap();
    assert!(other_five.is_finished());
    assert_eq!((exec.in_flight(), exec.weight_in_flight()), (2, 1 + 9));
    assert_eq!(exec.stats().helped, 3);

    gate.open();
    busy.into_iter().for_each(|h| h.join().unwrap());
    nine.join().unwrap();
    assert_eq!(ran.load(Ordering::SeqCst), 4);
    let stats = exec.stats();
    assert!(stats.peak_in_flight <= 2 && stats.peak_weight_in_flight <= 10, "{stats:?}");
    assert_every_slot_is_back(&exec);
    assert_every_unit_is_back(&exec);
}

#[test]
fn map_weighted_yields_in_input_order_within_the_weight_bound() {
    let _watchdog = common::test_watchdog(
        "weighted::map_weighted_yields_in_input_order_within_the_weight_bound",
    );
    let _serial = serial();
    let exec = weighted(3, 16, 10);
    let running_units = Arc::new(AtomicU64::new(0));
    let inputs: Vec<u64> = (0..60).map(|i| i * 7 % 11).collect(); // weights 0..=10
    let results: Vec<u64> = {
        let running_units = Arc::clone(&running_units);
        exec.map_weighted(
            inputs.clone(),
            |&w| w,
            move |w| {
                let now = running_units.fetch_add(w, Ordering::SeqCst) + w;
                assert!(now <= 10, "{now} units running");
                running_units.fetch_sub(w, Ordering::SeqCst);
                w * 100
            },
        )
        .map(Result::unwrap)
        .collect()
    };
    assert_eq!(results, inputs.iter().map(|w| w * 100).collect::<Vec<_>>());
    let stats = exec.stats();
    assert!(stats.peak_weight_in_flight <= 10, "{stats:?}");
    assert_eq!(exec.weight_in_flight(), 0);
}

#[test]
fn map_weighted_counts_results_not_taken_and_holds_one_input_to_weigh_it() {
    let _watchdog = common::test_watchdog(
        "weighted::map_weighted_counts_results_not_taken_and_holds_one_input_to_weigh_it",
    );
    let _serial = serial();
    let exec = weighted(2, 16, 10);
    let pulled = Arc::new(AtomicUsize::new(0));
    let inputs = {
        let pulled = Arc::clone(&pulled);
        (0..100u64).inspect(move |_| {
            pulled.fetch_add(1, Ordering::SeqCst);
        })
    };
    let mut results = exec.map_weighted(inputs, |_| 4, |i| i);
    assert_eq!(pulled.load(Ordering::SeqCst), 0, "lazy");
    assert_eq!(results.next().unwrap().unwrap(), 0);
    // Two items of 4 fit in 10 units (untaken results included), and the third was pulled to
    // be weighed and is held: 16 slots would have allowed far more.
    assert_eq!(pulled.load(Ordering::SeqCst), 3);
    assert_eq!(results.next().unwrap().unwrap(), 1);
    assert_eq!(pulled.load(Ordering::SeqCst), 4);
    drop(results);
    assert_every_unit_is_back(&exec);
}

#[test]
fn map_weighted_reports_a_too_heavy_item_in_its_place_and_goes_on() {
    let _watchdog = common::test_watchdog(
        "weighted::map_weighted_reports_a_too_heavy_item_in_its_place_and_goes_on",
    );
    let _serial = serial();
    let exec = weighted(2, 4, 10);
    let results: Vec<_> = exec.map_weighted([3u64, 11, 10, 0, 12], |&w| w, |w| w).collect();
    assert_eq!(results.len(), 5);
    assert_eq!(*results[0].as_ref().unwrap(), 3);
    let err = results[1].as_ref().unwrap_err();
    assert!(err.is_too_heavy() && !err.is_shutdown());
    assert_eq!(
        err.to_string(),
        "task was not submitted: its weight 11 is over the executor's weight capacity 10"
    );
    assert_eq!(*results[2].as_ref().unwrap(), 10);
    assert_eq!(*results[3].as_ref().unwrap(), 0);
    assert!(results[4].as_ref().unwrap_err().is_too_heavy());
    assert_eq!(exec.stats().rejected, 2);
}

#[test]
fn shutdown_wakes_a_producer_waiting_for_units() {
    let _watchdog = common::test_watchdog("weighted::shutdown_wakes_a_producer_waiting_for_units");
    let _serial = serial();
    let exec = Arc::new(weighted(1, 4, 10));
    let gate = Gate::new();
    let heavy = gated(&exec, 8, &gate);
    let (waiting_tx, waiting) = mpsc::channel();
    let producer = {
        let exec = Arc::clone(&exec);
        thread::spawn(move || {
            waiting_tx.send(()).unwrap();
            exec.submit_weighted(5, || "never").map(drop).map_err(|e| {
                assert!(e.is_shutdown(), "{e:?}");
                e.into_inner()()
            })
        })
    };
    waiting
        .recv_timeout(common::WATCHDOG_LIMIT)
        .expect("timed out waiting for the producer thread to start");
    // The heavy task keeps its units until the producer is released: only the shutdown can.
    let closer = {
        let exec = Arc::clone(&exec);
        thread::spawn(move || exec.shutdown())
    };
    assert_eq!(producer.join().unwrap(), Err("never"));
    gate.open();
    closer.join().unwrap();
    heavy.join().unwrap();
    assert_eq!(exec.weight_in_flight(), 0);
}

#[test]
fn bad_weight_capacities_are_build_errors_not_panics() {
    let _watchdog =
        common::test_watchdog("weighted::bad_weight_capacities_are_build_errors_not_panics");
    let _serial = serial();
    let err = |b: Builder| b.build().unwrap_err().to_string();
    assert_eq!(
        err(Builder::new().weight_capacity(0)),
        "weight_capacity must be at least 1 (leave it unset for no weight bound)"
    );
    assert_eq!(
        err(Builder::new().weight_capacity(Builder::MAX_WEIGHT_CAPACITY + 1)),
        "weight_capacity is 137438953472, over the limit of 137438953471"
    );
    assert_eq!(
        err(Builder::new().capacity(Builder::MAX_CAPACITY + 1)),
        "the capacity (queue_ratio * max_workers, or as set) is over the limit of 16777215"
    );
    let exec = Builder::new()
        .max_workers(1)
        .capacity(Builder::MAX_CAPACITY)
        .weight_capacity(Builder::MAX_WEIGHT_CAPACITY)
        .build()
        .unwrap();
    assert_eq!(exec.weight_capacity(), Builder::MAX_WEIGHT_CAPACITY);
    assert_eq!(
        exec.submit_weighted(Builder::MAX_WEIGHT_CAPACITY, || 1).unwrap().join().unwrap(),
        1
    );
    // Unset, the weight bound never binds for plain tasks.
    let exec = BoundedExecutor::new(1);
    assert_eq!(exec.weight_capacity(), Builder::MAX_WEIGHT_CAPACITY);
}

// ---- bounding bytes in flight ----------------------------------------------------------------

const KIB: usize = 1 << 10;
const MIB: usize = 1 << 20;
/// The bytes allowed in flight.
const BYTES_IN_FLIGHT: u64 = 32 << 20;
/// The largest buffer: the producer holds one while it waits for room.
const LARGEST: usize = 8 * MIB;
/// What the executor, handles and channels may add on top.
const SLACK: usize = MIB;

/// Buffer sizes from 1 KiB to 8 MiB, the large ones often enough that a bound on the count of
/// tasks lets far more than 32 MiB through.
fn sizes() -> impl Iterator<Item = usize> {
    [8 * MIB, KIB, 6 * MIB, 64 * KIB, 8 * MIB, 4 * KIB, 3 * MIB, 512 * KIB]
        .into_iter()
        .cycle()
        .take(64)
}

/// The executor of the byte tests: 16 slots, and a weight bound of 32 MiB if `by_weight`.
fn byte_executor(by_weight: bool) -> BoundedExecutor {
    let builder = Builder::new().max_workers(2).capacity(16);
    let builder = if by_weight { builder.weight_capacity(BYTES_IN_FLIGHT) } else { builder };
    builder.build().unwrap()
}

fn checksum(buffer: &[u8]) -> u64 {
    buffer.iter().step_by(4096).map(|&b| u64::from(b)).sum()
}

/// The peak heap growth of the worst case: every task holds its buffer until the producer must
/// make room, and then only the oldest ends. Deterministic: the tasks in flight at any point
/// follow from the sizes and the bound alone. Plain `try_submit` (weight 1) if not `by_weight`.
fn worst_case_peak_growth(by_weight: bool) -> (usize, BoundedExecutor) {
    let exec = byte_executor(by_weight);
    let mut pending: VecDeque<(TaskHandle<u64>, mpsc::Sender<()>)> = VecDeque::with_capacity(64);
    let base = reset_peak();
    for (i, len) in sizes().enumerate() {
        let buffer = vec![i as u8; len]; // "read" by the producer
        let (release, gate) = mpsc::channel::<()>();
        let mut task = move || {
            gate.recv().unwrap();
            checksum(&buffer)
        };
        loop {
            let submitted = if by_weight {
                exec.try_submit_weighted(len as u64, task)
            } else {
                exec.try_submit(task)
            };
            match submitted {
                Ok(handle) => {
                    pending.push_back((handle, release));
                    break;
                }
                // Full: where `submit` would wait. The oldest task ends, giving its room back
                // by the time `join` returns.
                Err(err) if err.is_full() => {
                    task = err.into_inner();
                    let (oldest, its_gate) =
                        pending.pop_front().expect("full with nothing pending");
                    its_gate.send(()).unwrap();
                    oldest.join().unwrap();
                }
                Err(err) => panic!("{err:?}"),
            }
        }
    }
    for (handle, release) in pending {
        release.send(()).unwrap();
        handle.join().unwrap();
    }
    (counting_alloc::peak_growth(base), exec)
}

#[test]
fn bytes_in_flight_stay_under_the_weight_capacity_where_a_count_bound_lets_them_through() {
    let _watchdog = common::test_watchdog("weighted::bytes_in_flight_stay_under_the_weight_capacity_where_a_count_bound_lets_them_through");
    let _serial = serial();
    let bound = BYTES_IN_FLIGHT as usize + LARGEST + SLACK;

    let (peak, exec) = worst_case_peak_growth(true);
    let stats = exec.stats();
    println!("by weight: peak heap +{} MiB, {stats:?}", peak / MIB);
    assert!(peak <= bound, "by weight: peak heap +{peak} bytes, over {bound}");
    assert!(stats.peak_weight_in_flight <= BYTES_IN_FLIGHT, "{stats:?}");
    // The bound was reached, so the comparison below means something.
    assert!(stats.peak_weight_in_flight > BYTES_IN_FLIGHT - LARGEST as u64, "{stats:?}");

    // The same buffers, the same schedule, bounded by count alone (16 tasks): over the bound.
    let (peak, exec) = worst_case_peak_growth(false);
    println!("by count:  peak heap +{} MiB, {:?}", peak / MIB, exec.stats());
    assert!(peak > bound, "by count: peak heap +{peak} bytes, not over {bound}");
}

#[test]
fn a_producer_streaming_buffers_with_submit_weighted_keeps_the_peak_heap_bounded() {
    let _watchdog = common::test_watchdog(
        "weighted::a_producer_streaming_buffers_with_submit_weighted_keeps_the_peak_heap_bounded",
    );
    let _serial = serial();
    // The pattern of `examples/weighted_bytes.rs`: a blocking producer, tasks that read their
    // buffer and drop it, whatever the timing.
    let exec = byte_executor(true);
    let base = reset_peak();
    let mut total = 0;
    for (i, len) in sizes().enumerate() {
        let buffer = vec![i as u8; len];
        total += checksum(&buffer);
        drop(exec.submit_weighted(len as u64, move || checksum(&buffer)).unwrap());
    }
    exec.shutdown();
    let peak = counting_alloc::peak_growth(base);
    let stats = exec.stats();
    assert!(total > 0 && stats.completed == 64, "{stats:?}");
    let bound = BYTES_IN_FLIGHT as usize + LARGEST + SLACK;
    assert!(peak <= bound, "peak heap +{peak} bytes, over {bound}");
    assert!(stats.peak_weight_in_flight <= BYTES_IN_FLIGHT, "{stats:?}");
}
