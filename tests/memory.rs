//! Memory is flat: a million submissions with handles dropped raise the peak heap by what
//! `capacity()` tasks need, whatever the number of submissions. A counting global allocator
//! measures it, which is why this test has a file (and a process) of its own.

mod common;

use std::sync::Mutex;
use std::time::Instant;

use bounded_executor::BoundedExecutor;
use counting_alloc::{reset_peak, Counting};

#[path = "common/counting_alloc.rs"]
mod counting_alloc;

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Tests in this file measure one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// Peak heap growth, in bytes, while submitting `n` no-op tasks with handles dropped.
fn submits_peak_growth(capacity: usize, n: usize) -> usize {
    let exec = BoundedExecutor::builder().max_workers(2).capacity(capacity).build().unwrap();
    // Warm up: let the queue and the parking lot allocate what they keep.
    for _ in 0..10_000 {
        drop(exec.submit(|| ()).unwrap());
    }
    while exec.in_flight() > 0 {
        std::thread::yield_now();
    }
    let base = reset_peak();
    let started = Instant::now();
    for _ in 0..n {
        drop(exec.submit(|| ()).unwrap());
    }
    exec.shutdown();
    let growth = counting_alloc::peak_growth(base);
    println!(
        "capacity {capacity:>5}, {n:>9} submits: peak heap +{growth} bytes ({:.0} ns/submit, debug build)",
        started.elapsed().as_nanos() as f64 / n as f64
    );
    growth
}

#[test]
fn a_million_submits_at_capacity_4_raise_the_peak_by_a_few_kb() {
    let _watchdog =
        common::test_watchdog("memory::a_million_submits_at_capacity_4_raise_the_peak_by_a_few_kb");
    let _serial = SERIAL.lock().unwrap();
    let small = submits_peak_growth(4, 10_000);
    let large = submits_peak_growth(4, 1_000_000);
    assert!(large < 8 * 1024, "peak grew by {large} bytes");
    // Flat in N: 100x more submissions, no more than a little jitter more memory.
    assert!(large <= small + 2 * 1024, "10k: +{small} B, 1M: +{large} B");
}

#[test]
fn a_million_submits_at_capacity_1024_stay_well_under_a_mib() {
    let _watchdog =
        common::test_watchdog("memory::a_million_submits_at_capacity_1024_stay_well_under_a_mib");
    let _serial = SERIAL.lock().unwrap();
    let growth = submits_peak_growth(1024, 1_000_000);
    assert!(growth < 512 * 1024, "peak grew by {growth} bytes");
}
