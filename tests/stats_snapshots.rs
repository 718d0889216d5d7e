//! Issue 24: every `stats()` snapshot keeps the invariants documented on `Stats`, under load:
//! `completed + cancelled <= submitted`, `panicked <= completed` (and `inline`, `helped` too),
//! and `peak_in_flight <=` the largest capacity the executor ever had.
//!
//! A randomized watcher: per round, an executor of random shape (workers, ratio, lazy or not,
//! helping producers or not) fed by producers that mix every submit flavour, panicking tasks and
//! cancels, while a resizer grows and shrinks it; the test thread takes snapshots all along and
//! checks each one, then shuts the executor down (`shutdown` or `shutdown_now`, at random) while
//! the producers still submit, snapshotting through the shutdown too. At rest the counts add up
//! exactly.
//!
//! Seeded from `STATS_SNAPSHOTS_SEED` (printed); `STATS_SNAPSHOTS` sets the snapshots to take
//! (default 10^6). Bounded in count and in time (`TIME_BUDGET`: a slow machine takes fewer
//! snapshots, never longer), and by the watchdog.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use bounded_executor::{BoundedExecutor, Builder, Stats};
use common::SplitMix64;

const ROUNDS: u64 = 40;
/// The payload of the tasks that panic on purpose.
const TASK_PANIC: &str = "a panicking task (stats_snapshots)";
const PRODUCERS: usize = 3;
const MOST_WORKERS: u64 = 3;
/// The test stops taking snapshots after this, however many it took.
const TIME_BUDGET: Duration = Duration::from_secs(8);

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Checks one snapshot against the invariants on `Stats`; `largest_capacity` was read after it.
fn check(stats: &Stats, largest_capacity: usize, round: u64, seed: u64) {
    let context = || format!("round {round} (seed {seed}): {stats:?}");
    assert!(
        stats.completed + stats.cancelled <= stats.submitted,
        "completed + cancelled > submitted in {}",
        context()
    );
    assert!(stats.panicked <= stats.completed, "panicked > completed in {}", context());
    assert!(stats.inline <= stats.completed, "inline > completed in {}", context());
    assert!(stats.helped <= stats.completed, "helped > completed in {}", context());
    assert!(
        stats.peak_in_flight <= largest_capacity,
        "peak_in_flight > the largest capacity {largest_capacity} in {}",
        context()
    );
}

/// Submits tasks of every flavour until the executor refuses them for good.
fn produce(exec: &BoundedExecutor, mut rng: SplitMix64, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        let panics = rng.percent(5);
        let task = move || {
            if panics {
                std::panic::panic_any(TASK_PANIC);
            }
        };
        let handle = match rng.below(10) {
            0..=4 => exec.submit(task).ok(),
            5 | 6 => exec.try_submit(task).ok(),
            7 => exec.submit_timeout(task, Duration::from_micros(50)).ok(),
            8 => exec.submit_or_run(task).ok(),
            _ => {
                if exec.execute(task).is_err() && exec.is_shutdown() {
                    return;
                }
                None
            }
        };
        match handle {
            Some(handle) if rng.percent(25) => {
                let _ = handle.cancel();
            }
            Some(_) => {}
            None if exec.is_shutdown() => return,
            None => {}
        }
    }
}

/// Resizes the executor at random until told to stop, recording each capacity it sets in
/// `largest` before setting it.
fn resize(exec: &BoundedExecutor, ratio: usize, largest: &AtomicUsize, stop: &AtomicBool) {
    let mut rng = SplitMix64(largest.load(Ordering::SeqCst) as u64);
    while !stop.load(Ordering::Relaxed) {
        let workers = 1 + rng.below(MOST_WORKERS) as usize;
        largest.fetch_max(workers * ratio, Ordering::SeqCst);
        if exec.set_max_workers(workers).is_err() {
            return; // shut down
        }
        for _ in 0..rng.below(200) {
            thread::yield_now();
        }
    }
}

#[test]
fn every_snapshot_keeps_the_invariants() {
    let _watchdog = common::test_watchdog("stats_snapshots::every_snapshot_keeps_the_invariants");
    // A few thousand tasks panic: keep their messages (only theirs) out of the output.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if info.payload().downcast_ref::<&str>() != Some(&TASK_PANIC) {
            default_hook(info);
        }
    }));
    let seed = env_or("STATS_SNAPSHOTS_SEED", 0x5747_5324_u64);
    let target: u64 = env_or("STATS_SNAPSHOTS", 1_000_000);
    println!("STATS_SNAPSHOTS_SEED={seed} STATS_SNAPSHOTS={target}");
    let mut rng = SplitMix64(seed);
    let started = Instant::now();
    let mut taken = 0u64;
    let mut rounds = 0;
    for round in 0..ROUNDS {
        if started.elapsed() > TIME_BUDGET {
            break;
        }
        rounds += 1;
        let workers = 1 + rng.below(MOST_WORKERS) as usize;
        let ratio = 1 + rng.below(3) as usize;
        let mut builder =
            Builder::new().max_workers(workers).queue_ratio(ratio).producer_helps(rng.percent(50));
        if rng.percent(30) {
            builder = builder.min_workers(0).keep_alive(Duration::ZERO);
        }
        let exec = Arc::new(builder.build().unwrap());
        let largest = Arc::new(AtomicUsize::new(workers * ratio));
        let stop = Arc::new(AtomicBool::new(false));
        let producers: Vec<_> = (0..PRODUCERS)
            .map(|_| {
                let (exec, stop) = (Arc::clone(&exec), Arc::clone(&stop));
                let rng = SplitMix64(rng.next());
                thread::spawn(move || produce(&exec, rng, &stop))
            })
            .collect();
        let resizer = {
            let (exec, largest, stop) =
                (Arc::clone(&exec), Arc::clone(&largest), Arc::clone(&stop));
            thread::spawn(move || resize(&exec, ratio, &largest, &stop))
        };
        let per_round = target / ROUNDS;
        let snapshot = |taken: &mut u64| {
            let stats = exec.stats();
            check(&stats, largest.load(Ordering::SeqCst), round, seed);
            *taken += 1;
        };
        let until = taken + per_round * 3 / 4;
        while taken < until && started.elapsed() <= TIME_BUDGET {
            for _ in 0..1000 {
                snapshot(&mut taken);
            }
        }
        // Shut down while the producers and the resizer still run, snapshotting meanwhile.
        let now = rng.percent(50);
        let closer = {
            let exec = Arc::clone(&exec);
            thread::spawn(move || {
                if now {
                    exec.shutdown_now();
                } else {
                    exec.shutdown();
                }
            })
        };
        let until = taken + per_round / 4;
        while !closer.is_finished() || taken < until && started.elapsed() <= TIME_BUDGET {
            snapshot(&mut taken);
        }
        closer.join().unwrap();
        stop.store(true, Ordering::Relaxed);
        producers.into_iter().for_each(|p| p.join().unwrap());
        resizer.join().unwrap();
        // At rest, exact.
        let stats = exec.stats();
        check(&stats, largest.load(Ordering::SeqCst), round, seed);
        assert_eq!(exec.in_flight(), 0, "round {round} (seed {seed})");
        assert_eq!(
            stats.submitted,
            stats.completed + stats.cancelled,
            "round {round} (seed {seed}): {stats:?}"
        );
    }
    let _ = std::panic::take_hook();
    println!("{taken} snapshots in {rounds} rounds, {:?}", started.elapsed());
    assert!(taken >= 10_000, "only {taken} snapshots within {TIME_BUDGET:?}");
}
