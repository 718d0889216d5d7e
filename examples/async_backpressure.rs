//! An async producer (a tokio task) feeding CPU-bound work to the executor: `submit_async`
//! waits for a free slot without blocking the runtime's thread, so the producer slows down to
//! the workers' pace and memory stays flat, while other async tasks keep running.
//!
//! ```text
//! cargo run --release --example async_backpressure
//! ```

use std::sync::Arc;

use bounded_executor::BoundedExecutor;

/// CPU-bound work that should not run on the async runtime's thread.
fn checksum(seed: u64) -> u64 {
    (0..20_000u64).fold(seed, |acc, i| acc.rotate_left(5) ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

fn main() {
    let exec = Arc::new(BoundedExecutor::builder().max_workers(2).capacity(4).build().unwrap());
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();

    let total = runtime.block_on(async {
        // A second async task that keeps ticking: the producer's waiting never blocks it.
        let ticker = tokio::task::spawn(async {
            let mut ticks = 0u64;
            for _ in 0..1_000 {
                ticks += 1;
                tokio::task::yield_now().await;
            }
            ticks
        });

        let producer = {
            let exec = Arc::clone(&exec);
            tokio::task::spawn(async move {
                let mut pending = std::collections::VecDeque::new();
                let mut total = 0u64;
                for seed in 0..20_000u64 {
                    // Waits (asynchronously) while 4 tasks are in flight.
                    let handle = exec.submit_async(move || checksum(seed)).await.unwrap();
                    pending.push_back(handle);
                    if pending.len() > exec.capacity() {
                        total = total.wrapping_add(pending.pop_front().unwrap().await.unwrap());
                    }
                }
                for handle in pending {
                    total = total.wrapping_add(handle.await.unwrap());
                }
                total
            })
        };

        let ticks = ticker.await.unwrap();
        println!("the ticker ran {ticks} times while the producer waited for slots");
        producer.await.unwrap()
    });

    let stats = exec.stats();
    println!("checksum {total:#x} over {} tasks", stats.completed);
    println!(
        "peak in flight {} (capacity {}), producer waited {:.2?} in all",
        stats.peak_in_flight,
        exec.capacity(),
        stats.submit_wait
    );
}
