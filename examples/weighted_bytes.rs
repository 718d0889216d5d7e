//! Bounding bytes in flight, not tasks: a producer reads buffers of very different sizes (1 KiB
//! to 8 MiB) and submits each with its length as weight, under `weight_capacity(32 MiB)`. Memory
//! stays under 32 MiB of buffers in the executor, plus the one buffer the producer holds while it
//! waits for room, whatever the mix of sizes. A bound of 64 tasks alone would let 64 × 8 MiB
//! through. A counting allocator prints the peak heap.
//!
//! ```text
//! cargo run --release --example weighted_bytes
//! ```

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use bounded_executor::BoundedExecutor;

const MIB: usize = 1 << 20;

/// Counts the bytes the program holds, and their peak.
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

/// Stands in for reading a file or a network message: `len` bytes of data.
fn read(i: u64, len: usize) -> Vec<u8> {
    vec![i as u8; len]
}

/// The work on a buffer: a hash (FNV-1a), slower per byte than reading it.
fn fnv1a(buffer: &[u8]) -> u64 {
    buffer
        .iter()
        .fold(0xcbf2_9ce4_8422_2325, |hash, &b| (hash ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

/// A buffer size from 1 KiB to 8 MiB, spread over the scales (xorshift, fixed seed).
fn next_len(state: &mut u64) -> usize {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    let kib_log2 = *state % 14; // 1 KiB << 0..=13
    let len = (1024usize << kib_log2) + (*state >> 8) as usize % (1024 << kib_log2);
    len.min(8 * MIB)
}

fn main() {
    let exec = BoundedExecutor::builder()
        .max_workers(2)
        .capacity(64)
        .weight_capacity(32 << 20) // 32 MiB of buffers in flight, queued or running
        .build()
        .unwrap();

    let base = LIVE.load(Ordering::Relaxed);
    let mut state = 0x5EED_u64;
    let mut read_bytes = 0;
    let mut hashes = Vec::new();
    for i in 0..400 {
        let len = next_len(&mut state);
        let buffer = read(i, len);
        read_bytes += len;
        // Waits while the bytes in flight plus this buffer would pass 32 MiB.
        let handle = exec
            .submit_weighted(len as u64, move || fnv1a(&buffer))
            .expect("the executor is running and no buffer is over 32 MiB");
        hashes.push(handle);
    }
    let digest = hashes.into_iter().fold(0, |digest, h| digest ^ h.join().unwrap());

    let stats = exec.stats();
    println!(
        "{} buffers, {} MiB read and hashed, digest {digest:016x}",
        stats.completed,
        read_bytes / MIB
    );
    println!(
        "peak in flight: {} tasks (capacity {}), {:.1} MiB of buffers (weight capacity {} MiB)",
        stats.peak_in_flight,
        exec.capacity(),
        stats.peak_weight_in_flight as f64 / MIB as f64,
        exec.weight_capacity() / MIB as u64,
    );
    println!(
        "peak heap: +{:.1} MiB (32 MiB in the executor + the buffer the producer holds + small change)",
        PEAK.load(Ordering::Relaxed).saturating_sub(base) as f64 / MIB as f64
    );
}
