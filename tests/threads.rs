//! Worker threads: count, names, stack size, and configuration errors.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use bounded_executor::{BoundedExecutor, Builder};

#[test]
fn workers_are_named_prefix_dash_index() {
    let _watchdog = common::test_watchdog("threads::workers_are_named_prefix_dash_index");
    let workers = 3;
    let exec =
        BoundedExecutor::builder().max_workers(workers).thread_name("crunch").build().unwrap();
    // All three tasks meet at the barrier, so they run at once, on three different workers.
    let barrier = Arc::new(common::Barrier::new(workers, "one task on each worker"));
    let names: BTreeSet<String> = (0..workers)
        .map(|_| {
            let barrier = Arc::clone(&barrier);
            exec.submit(move || {
                barrier.wait();
                std::thread::current().name().unwrap().to_owned()
            })
            .unwrap()
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();
    assert_eq!(names, BTreeSet::from(["crunch-0".into(), "crunch-1".into(), "crunch-2".into()]));
}

#[test]
fn default_names_and_worker_count() {
    let _watchdog = common::test_watchdog("threads::default_names_and_worker_count");
    let exec = Builder::new().build().unwrap();
    let cores = std::thread::available_parallelism().unwrap().get();
    assert_eq!(exec.max_workers(), cores);
    assert_eq!(exec.capacity(), 2 * cores);
    let name = exec.submit(|| std::thread::current().name().unwrap().to_owned()).unwrap();
    assert!(name.join().unwrap().starts_with("bounded-executor-"));
}

#[test]
fn stack_size_is_applied() {
    let _watchdog = common::test_watchdog("threads::stack_size_is_applied");
    fn depth(n: u64) -> u64 {
        let pad = std::hint::black_box([0u8; 1024]);
        if n == 0 {
            pad[0] as u64
        } else {
            depth(n - 1) + 1
        }
    }
    // 16 MiB of stack for 5,000 frames of at least 1 KiB (about 2.2 KiB each in a debug
    // build: 11 MiB), more than the 2 MiB default either way.
    let exec = BoundedExecutor::builder().max_workers(1).stack_size(16 << 20).build().unwrap();
    assert_eq!(exec.submit(|| depth(5_000)).unwrap().join().unwrap(), 5_000);
}

#[test]
fn zero_workers_ratio_or_capacity_is_an_error_not_a_panic() {
    let _watchdog =
        common::test_watchdog("threads::zero_workers_ratio_or_capacity_is_an_error_not_a_panic");
    let err = |b: Builder| b.build().unwrap_err().to_string();
    assert_eq!(err(Builder::new().max_workers(0)), "max_workers must be at least 1");
    assert_eq!(err(Builder::new().queue_ratio(0)), "queue_ratio must be at least 1");
    assert_eq!(err(Builder::new().capacity(0)), "capacity must be at least 1");
    assert_eq!(
        err(Builder::new().max_workers(2).queue_ratio(usize::MAX)),
        "the capacity (queue_ratio * max_workers, or as set) is over the limit of 16777215"
    );
}

#[test]
#[should_panic(expected = "max_workers must be at least 1")]
fn new_with_zero_workers_panics() {
    let _watchdog = common::test_watchdog("threads::new_with_zero_workers_panics");
    let _ = BoundedExecutor::new(0);
}

#[test]
fn capacity_overrides_ratio() {
    let _watchdog = common::test_watchdog("threads::capacity_overrides_ratio");
    let exec =
        BoundedExecutor::builder().max_workers(2).queue_ratio(9).capacity(3).build().unwrap();
    assert_eq!(exec.capacity(), 3);
    assert!(format!("{exec:?}").starts_with("BoundedExecutor { max_workers: 2, capacity: 3"));
}

#[test]
fn a_nul_in_the_thread_name_is_an_error_not_a_panic() {
    let _watchdog =
        common::test_watchdog("threads::a_nul_in_the_thread_name_is_an_error_not_a_panic");
    let err = BoundedExecutor::builder().thread_name("bad\0name").build().unwrap_err();
    assert!(err.to_string().contains("NUL"), "{err}");
}

#[test]
fn worker_counts_past_the_limit_are_errors_not_panics() {
    let _watchdog =
        common::test_watchdog("threads::worker_counts_past_the_limit_are_errors_not_panics");
    for (workers, ratio, capacity) in [
        (usize::MAX, 2, Some(1)),
        (usize::MAX >> 4, 1, None),
        (Builder::MAX_WORKERS + 1, 1, Some(1)),
    ] {
        let mut builder = BoundedExecutor::builder().max_workers(workers).queue_ratio(ratio);
        if let Some(capacity) = capacity {
            builder = builder.capacity(capacity);
        }
        let err = builder.build().unwrap_err();
        assert!(err.to_string().contains("over the limit"), "{err}");
    }
}

#[test]
#[should_panic(expected = "over the limit")]
fn new_with_too_many_workers_panics_with_the_builders_error() {
    let _watchdog =
        common::test_watchdog("threads::new_with_too_many_workers_panics_with_the_builders_error");
    let _ = BoundedExecutor::new(usize::MAX);
}

/// A property test over edge values of every builder input: `build` returns `Ok` or `Err`,
/// never panics, and an `Ok` executor has the asked-for shape. Combinations whose success
/// would spawn thousands of threads are skipped (they are refused before any spawn, or never
/// reached: see the last case above).
#[test]
fn build_never_panics_on_edge_inputs() {
    let _watchdog = common::test_watchdog("threads::build_never_panics_on_edge_inputs");
    let workers = [0, 1, 2, 3, Builder::MAX_WORKERS + 1, usize::MAX >> 4, usize::MAX];
    let ratios = [0, 1, 2, 7, usize::MAX >> 2, usize::MAX];
    let capacities = [None, Some(0), Some(1), Some(usize::MAX >> 3), Some(usize::MAX)];
    let names = ["w", "", "bad\0name", "a-very-long-thread-name-prefix-beyond-fifteen-bytes", "ü"];
    let stacks = [None, Some(0), Some(1), Some(usize::MAX)];
    let mut built = 0;
    for &w in &workers {
        for &r in &ratios {
            for &c in &capacities {
                for name in names {
                    for &stack in &stacks {
                        let mut b = BoundedExecutor::builder()
                            .max_workers(w)
                            .queue_ratio(r)
                            .thread_name(name);
                        if let Some(c) = c {
                            b = b.capacity(c);
                        }
                        if let Some(stack) = stack {
                            b = b.stack_size(stack);
                        }
                        let outcome = std::panic::catch_unwind(|| b.build());
                        let result = outcome.unwrap_or_else(|_| {
                            panic!("build panicked: {w} workers, ratio {r}, capacity {c:?}, name {name:?}, stack {stack:?}")
                        });
                        if let Ok(exec) = result {
                            built += 1;
                            assert_eq!(exec.max_workers(), w);
                            assert_eq!(exec.capacity(), c.unwrap_or(r.saturating_mul(w)));
                            assert_eq!(exec.submit(|| 1).unwrap().join().unwrap(), 1);
                        }
                    }
                }
            }
        }
    }
    assert!(built > 0);
}
