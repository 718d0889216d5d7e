//! Scoped tasks borrow from the caller's stack: sum the chunks of a slice in parallel without
//! copying it or wrapping it in an `Arc`, with the usual bound on tasks in flight.
//!
//! ```text
//! cargo run --release --example scoped
//! ```

use bounded_executor::BoundedExecutor;

fn main() {
    let exec = BoundedExecutor::new(2);
    let readings: Vec<f64> = (0..1_000_000).map(|i| (i as f64).sin()).collect();

    let (sum, max) = exec.scope(|s| {
        // Each task borrows its own chunk of `readings`; `scope` waits for all of them.
        let handles: Vec<_> = readings
            .chunks(10_000)
            .map(|chunk| {
                s.submit(move || {
                    let sum: f64 = chunk.iter().sum();
                    let max = chunk.iter().copied().fold(f64::MIN, f64::max);
                    (sum, max)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("no task panics"))
            .fold((0.0, f64::MIN), |(s, m), (cs, cm)| (s + cs, m.max(cm)))
    });

    println!("{} readings: sum {sum:.6}, max {max:.6}", readings.len());
    println!("peak in flight: {} of {}", exec.stats().peak_in_flight, exec.capacity());
}
