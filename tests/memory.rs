//! Memory is flat: a million submissions with handles dropped raise the peak heap by what
//! `capacity()` tasks need, whatever the number of submissions. A counting global allocator
//! measures it, which is why this test has a file (and a process) of its own.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use bounded_executor::BoundedExecutor;

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts bytes on the side.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as ours.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Tests in this file measure one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// Peak heap growth, in bytes, while submitting `n` no-op tasks with handles dropped.
fn peak_growth(capacity: usize, n: usize) -> usize {
    let exec = BoundedExecutor::builder().max_workers(2).capacity(capacity).build().unwrap();
    // Warm up: let the queue and the parking lot allocate what they keep.
    for _ in 0..10_000 {
        drop(exec.submit(|| ()).unwrap());
    }
    while exec.in_flight() > 0 {
        std::thread::yield_now();
    }
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let started = Instant::now();
    for _ in 0..n {
        drop(exec.submit(|| ()).unwrap());
    }
    exec.shutdown();
    let growth = PEAK.load(Ordering::Relaxed).saturating_sub(base);
    println!(
        "capacity {capacity:>5}, {n:>9} submits: peak heap +{growth} bytes ({:.0} ns/submit, debug build)",
        started.elapsed().as_nanos() as f64 / n as f64
    );
    growth
}

#[test]
fn a_million_submits_at_capacity_4_raise_the_peak_by_a_few_kb() {
    let _serial = SERIAL.lock().unwrap();
    let small = peak_growth(4, 10_000);
    let large = peak_growth(4, 1_000_000);
    assert!(large < 8 * 1024, "peak grew by {large} bytes");
    // Flat in N: 100x more submissions, no more than a little jitter more memory.
    assert!(large <= small + 2 * 1024, "10k: +{small} B, 1M: +{large} B");
}

#[test]
fn a_million_submits_at_capacity_1024_stay_well_under_a_mib() {
    let _serial = SERIAL.lock().unwrap();
    let growth = peak_growth(1024, 1_000_000);
    assert!(growth < 512 * 1024, "peak grew by {growth} bytes");
}
