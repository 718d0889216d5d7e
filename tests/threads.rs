//! Worker threads: count, names, stack size, and configuration errors.

use std::collections::BTreeSet;
use std::sync::{Arc, Barrier};

use bounded_executor::{BoundedExecutor, Builder};

#[test]
fn workers_are_named_prefix_dash_index() {
    let workers = 3;
    let exec =
        BoundedExecutor::builder().max_workers(workers).thread_name("crunch").build().unwrap();
    // All three tasks meet at the barrier, so they run at once, on three different workers.
    let barrier = Arc::new(Barrier::new(workers));
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
    let exec = Builder::new().build().unwrap();
    let cores = std::thread::available_parallelism().unwrap().get();
    assert_eq!(exec.max_workers(), cores);
    assert_eq!(exec.capacity(), 2 * cores);
    let name = exec.submit(|| std::thread::current().name().unwrap().to_owned()).unwrap();
    assert!(name.join().unwrap().starts_with("bounded-executor-"));
}

#[test]
fn stack_size_is_applied() {
    fn depth(n: u64) -> u64 {
        let pad = std::hint::black_box([0u8; 1024]);
        if n == 0 {
            pad[0] as u64
        } else {
            depth(n - 1) + 1
        }
    }
    // 16 MiB of stack for about 8 MiB of recursion, more than the 2 MiB default.
    let exec = BoundedExecutor::builder().max_workers(1).stack_size(16 << 20).build().unwrap();
    assert_eq!(exec.submit(|| depth(8_000)).unwrap().join().unwrap(), 8_000);
}

#[test]
fn zero_workers_ratio_or_capacity_is_an_error_not_a_panic() {
    let err = |b: Builder| b.build().unwrap_err().to_string();
    assert_eq!(err(Builder::new().max_workers(0)), "max_workers must be at least 1");
    assert_eq!(err(Builder::new().queue_ratio(0)), "queue_ratio must be at least 1");
    assert_eq!(err(Builder::new().capacity(0)), "capacity must be at least 1");
    assert_eq!(
        err(Builder::new().max_workers(2).queue_ratio(usize::MAX)),
        "queue_ratio * max_workers overflows the largest capacity"
    );
}

#[test]
#[should_panic(expected = "max_workers must be at least 1")]
fn new_with_zero_workers_panics() {
    let _ = BoundedExecutor::new(0);
}

#[test]
fn capacity_overrides_ratio() {
    let exec =
        BoundedExecutor::builder().max_workers(2).queue_ratio(9).capacity(3).build().unwrap();
    assert_eq!(exec.capacity(), 3);
    assert!(format!("{exec:?}").starts_with("BoundedExecutor { max_workers: 2, capacity: 3"));
}
