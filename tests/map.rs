//! `map` and `map_unordered`: lazy, bounded (counting untaken results), in order or in
//! completion order, panics per item, cancellation on drop, errors after shutdown.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;

use bounded_executor::BoundedExecutor;
use common::Gate;

#[test]
fn map_yields_in_input_order() {
    let _watchdog = common::test_watchdog("map::map_yields_in_input_order");
    let exec = BoundedExecutor::new(2);
    let n = common::rounds(1000, 50);
    let out: Vec<u64> = exec.map(0..n, |i| i * 3).map(Result::unwrap).collect();
    assert_eq!(out, (0..n).map(|i| i * 3).collect::<Vec<_>>());
}

/// A result that counts how many of its kind are alive, and the most ever alive at once.
struct Token(Arc<Live>);

#[derive(Default)]
struct Live {
    now: AtomicUsize,
    peak: AtomicUsize,
}

impl Token {
    fn new(live: &Arc<Live>) -> Self {
        let now = live.now.fetch_add(1, Ordering::SeqCst) + 1;
        live.peak.fetch_max(now, Ordering::SeqCst);
        Token(Arc::clone(live))
    }
}

impl Drop for Token {
    fn drop(&mut self) {
        self.0.now.fetch_sub(1, Ordering::SeqCst);
    }
}

#[test]
fn map_on_an_infinite_input_holds_at_most_capacity_results() {
    let _watchdog =
        common::test_watchdog("map::map_on_an_infinite_input_holds_at_most_capacity_results");
    let exec = BoundedExecutor::builder().max_workers(2).capacity(4).build().unwrap();
    let live = Arc::new(Live::default());
    let pulled = Arc::new(AtomicUsize::new(0));
    let inputs = {
        let pulled = Arc::clone(&pulled);
        (0u64..).inspect(move |_| {
            pulled.fetch_add(1, Ordering::SeqCst);
        })
    };
    let maker = Arc::clone(&live);
    let mut taken = 0;
    let take = common::rounds(10_000, 100) as usize;
    for result in exec.map(inputs, move |i| (i, Token::new(&maker))).take(take) {
        let (i, token) = result.unwrap();
        assert_eq!(i, taken);
        taken += 1;
        drop(token);
        // Never more than capacity() inputs ahead of what was taken.
        assert!(pulled.load(Ordering::SeqCst) <= taken as usize + exec.capacity());
    }
    let peak = live.peak.load(Ordering::SeqCst);
    println!(
        "map over 0..: {take} results taken, {} inputs pulled, at most {peak} results alive at once (capacity {})",
        pulled.load(Ordering::SeqCst),
        exec.capacity()
    );
    assert!(peak <= exec.capacity(), "peak {peak}");
    assert!(pulled.load(Ordering::SeqCst) <= take + exec.capacity());
}

#[test]
fn map_unordered_holds_at_most_capacity_results() {
    let _watchdog = common::test_watchdog("map::map_unordered_holds_at_most_capacity_results");
    let exec = BoundedExecutor::builder().max_workers(2).capacity(3).build().unwrap();
    let live = Arc::new(Live::default());
    let maker = Arc::clone(&live);
    let take = common::rounds(5_000, 100) as usize;
    let count = exec.map_unordered(0u32.., move |_| Token::new(&maker)).take(take).count();
    assert_eq!(count, take);
    assert!(live.peak.load(Ordering::SeqCst) <= 3);
}

#[test]
fn map_unordered_yields_in_completion_order() {
    let _watchdog = common::test_watchdog("map::map_unordered_yields_in_completion_order");
    let exec = BoundedExecutor::builder().max_workers(2).queue_ratio(2).build().unwrap();
    let gate = Gate::new();
    let slow = gate.clone();
    let mut results = exec.map_unordered(0..20, move |i| {
        if i == 0 {
            slow.wait(); // item 0 finishes only when we say so
        }
        i
    });
    let mut seen: Vec<i32> = (0..19).map(|_| results.next().unwrap().unwrap()).collect();
    assert!(!seen.contains(&0), "item 0 cannot have finished yet");
    gate.open();
    seen.push(results.next().unwrap().unwrap());
    assert_eq!(seen[19], 0);
    assert!(results.next().is_none());
    seen.sort();
    assert_eq!(seen, (0..20).collect::<Vec<_>>());
}

#[test]
fn a_panicking_item_is_that_items_error_and_the_rest_go_on() {
    let _watchdog =
        common::test_watchdog("map::a_panicking_item_is_that_items_error_and_the_rest_go_on");
    let exec = BoundedExecutor::new(2);
    let results: Vec<_> = exec.map(0..10, |i| if i == 3 { panic!("item 3") } else { i }).collect();
    for (i, result) in results.into_iter().enumerate() {
        match result {
            Ok(v) => assert_eq!(v, i as i32),
            Err(err) => {
                assert_eq!(i, 3);
                assert!(err.is_panic());
            }
        }
    }
    let errors = exec.map_unordered(0..10, |i| if i % 2 == 0 { panic!("even") } else { i });
    assert_eq!(errors.filter(Result::is_err).count(), 5);
}

#[test]
fn dropping_a_map_early_cancels_what_has_not_started_and_leaks_no_slot() {
    let _watchdog = common::test_watchdog(
        "map::dropping_a_map_early_cancels_what_has_not_started_and_leaks_no_slot",
    );
    let exec = Arc::new(BoundedExecutor::builder().max_workers(1).capacity(3).build().unwrap());
    let (first_gate, rest_gate) = (Gate::new(), Gate::new());
    let (started_tx, started) = mpsc::channel();
    let ran = Arc::new(AtomicUsize::new(0));
    let map = {
        let (first_gate, rest_gate, ran) = (first_gate.clone(), rest_gate.clone(), ran.clone());
        exec.map(0..100, move |i| {
            started_tx.send(i).unwrap();
            if i == 0 {
                first_gate.wait()
            } else {
                rest_gate.wait()
            }
            ran.fetch_add(1, Ordering::SeqCst);
            i
        })
    };
    let (drop_tx, drop_rx) = mpsc::channel::<()>();
    let consumer = thread::spawn(move || {
        let mut map = map;
        let first = map.next().unwrap().unwrap(); // the window is items 0, 1, 2
        drop_rx.recv().unwrap();
        drop(map); // item 1 runs, item 2 has not started
        first
    });
    assert_eq!(
        started
            .recv_timeout(common::WATCHDOG_LIMIT)
            .expect("timed out waiting for item 0 to start"),
        0
    );
    first_gate.open();
    assert_eq!(
        started
            .recv_timeout(common::WATCHDOG_LIMIT)
            .expect("timed out waiting for item 1 to start on the only worker"),
        1
    ); // the only worker now runs item 1
    drop_tx.send(()).unwrap();
    assert_eq!(consumer.join().unwrap(), 0);
    rest_gate.open();
    exec.shutdown();
    let stats = exec.stats();
    assert_eq!((stats.submitted, stats.completed, stats.cancelled), (3, 2, 1));
    assert_eq!(ran.load(Ordering::SeqCst), 2);
    assert_eq!(exec.in_flight(), 0);
}

#[test]
fn after_shutdown_the_remaining_inputs_yield_one_shutdown_error_then_end() {
    let _watchdog = common::test_watchdog(
        "map::after_shutdown_the_remaining_inputs_yield_one_shutdown_error_then_end",
    );
    let exec = BoundedExecutor::builder().max_workers(1).capacity(4).build().unwrap();
    let pulled = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&pulled);
    let inputs = (0..10).inspect(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
    });
    let mut results = exec.map(inputs, |i| i);
    assert_eq!(results.next().unwrap().unwrap(), 0); // submitted 0..4
    exec.shutdown(); // runs the accepted items 1, 2, 3
    let rest: Vec<_> = results.collect();
    assert_eq!(rest.len(), 4, "three results, then one error");
    assert!(rest[..3].iter().all(|r| r.is_ok()));
    let err = rest[3].as_ref().unwrap_err();
    assert!(err.is_shutdown());
    assert_eq!(err.to_string(), "task was not submitted: the executor was shut down");
    assert_eq!(pulled.load(Ordering::SeqCst), 5, "one input pulled after the shutdown, no more");
}

#[test]
fn an_infinite_input_ends_after_a_shutdown() {
    let _watchdog = common::test_watchdog("map::an_infinite_input_ends_after_a_shutdown");
    for unordered in [false, true] {
        let exec = BoundedExecutor::new(2);
        exec.shutdown();
        let results: Box<dyn Iterator<Item = Result<u64, _>>> = if unordered {
            Box::new(exec.map_unordered(0u64.., |i| i))
        } else {
            Box::new(exec.map(0u64.., |i| i))
        };
        // Regression: this took a million inputs and spun on `filter_map(Result::ok)` forever.
        let errors: Vec<_> = results.take(1_000_000).collect();
        assert_eq!(errors.len(), 1, "unordered: {unordered}");
        assert!(errors[0].as_ref().unwrap_err().is_shutdown());
    }
}

#[test]
fn a_finite_input_all_submitted_before_a_shutdown_yields_no_error() {
    let _watchdog = common::test_watchdog(
        "map::a_finite_input_all_submitted_before_a_shutdown_yields_no_error",
    );
    let exec = BoundedExecutor::builder().max_workers(1).capacity(4).build().unwrap();
    let mut results = exec.map(0..4, |i| i);
    assert_eq!(results.next().unwrap().unwrap(), 0); // all four submitted
    exec.shutdown();
    let rest: Vec<_> = results.map(Result::unwrap).collect();
    assert_eq!(rest, [1, 2, 3]);
}

#[test]
fn map_inside_a_worker_at_capacity_one_completes() {
    let _watchdog = common::test_watchdog("map::map_inside_a_worker_at_capacity_one_completes");
    let exec = Arc::new(BoundedExecutor::builder().max_workers(1).capacity(1).build().unwrap());
    let inner = Arc::clone(&exec);
    let total = exec
        .submit(move || {
            let ordered: u64 = inner.map(0..100u64, |i| i).map(Result::unwrap).sum();
            let unordered: u64 = inner.map_unordered(0..100u64, |i| i).map(Result::unwrap).sum();
            ordered + unordered
        })
        .unwrap();
    assert_eq!(total.join().unwrap(), 2 * 4950);
    exec.shutdown();
}

#[test]
fn a_panicking_input_iterator_gives_its_slot_back() {
    let _watchdog = common::test_watchdog("map::a_panicking_input_iterator_gives_its_slot_back");
    // Regression: the slot taken for the next input leaked when the input iterator panicked.
    let exec = BoundedExecutor::builder().max_workers(1).capacity(2).build().unwrap();
    let inputs = (0..10).map(|i| if i == 1 { panic!("bad input") } else { i });
    let mut results = exec.map(inputs, |i| i);
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| results.next()));
    assert!(caught.is_err());
    assert!(results.next().is_some_and(|r| r.is_ok()), "item 0 was already submitted");
    assert!(results.next().is_none(), "a panicked input counts as ended");
    drop(results);
    assert!(exec.shutdown_timeout(std::time::Duration::from_secs(60)), "a slot leaked");
    assert_eq!(exec.in_flight(), 0);
}
