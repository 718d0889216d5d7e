//! A lazy, bounded `map` over an infinite input: the executor pulls the next number only when a
//! slot is free, so however long the stream, at most `capacity()` items are in flight or
//! waiting to be taken.
//!
//! ```text
//! cargo run --release --example map_stream
//! ```

use bounded_executor::BoundedExecutor;

/// A deliberately slow primality test, so the work is worth spreading over threads.
fn is_prime(n: u64) -> bool {
    n >= 2 && (2..).take_while(|d| d * d <= n).all(|d| n % d != 0)
}

fn main() {
    let exec = BoundedExecutor::builder().max_workers(2).queue_ratio(4).build().unwrap();

    // 1, 2, 3, ... forever: `map` submits only as results are taken.
    let primes: Vec<u64> = exec
        .map(1_000_000_000u64.., |n| (n, is_prime(n)))
        .map(|result| result.expect("is_prime does not panic"))
        .filter_map(|(n, prime)| prime.then_some(n))
        .take(20)
        .collect();

    println!("the first 20 primes above 10^9: {primes:?}");
    let stats = exec.stats();
    println!(
        "{} numbers tested, never more than {} in flight (capacity {})",
        stats.submitted,
        stats.peak_in_flight,
        exec.capacity()
    );
}
