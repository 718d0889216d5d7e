//! Submits a million no-op tasks through a 2-worker executor at queue ratio 2 (capacity 4),
//! handles dropped, and prints the time per task and the executor's counters: memory stays at
//! four tasks' worth however many are submitted.
//!
//! ```text
//! cargo run --release --example million [N] [WORKERS] [RATIO]
//! ```

use std::time::Instant;

use bounded_executor::BoundedExecutor;

fn main() {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<usize>().expect("a number"));
    let n = args.next().unwrap_or(1_000_000);
    let workers = args.next().unwrap_or(2);
    let ratio = args.next().unwrap_or(2);

    let exec = BoundedExecutor::builder().max_workers(workers).queue_ratio(ratio).build().unwrap();
    let started = Instant::now();
    for _ in 0..n {
        drop(exec.submit(|| ()).expect("the executor is running"));
    }
    exec.shutdown();
    let elapsed = started.elapsed();

    let stats = exec.stats();
    println!(
        "{n} no-op tasks, {workers} workers, capacity {}: {:.2?} ({:.0} ns/task)",
        exec.capacity(),
        elapsed,
        elapsed.as_nanos() as f64 / n as f64
    );
    println!(
        "completed {}, peak in flight {}, producer waited {:.2?}",
        stats.completed, stats.peak_in_flight, stats.submit_wait
    );
}
