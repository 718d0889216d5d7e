//! Randomized: executors that feed each other (issue 19). Two or three executors per round, each
//! with its own random configuration (lazy or not, zero or short keep-alive, helping or not,
//! weighted or not), fed by plain producer threads and by their own tasks:
//!
//! - a task of executor `i` submits to executors `j > i` (blocking `submit`, weighted submits,
//!   `submit_or_run`, `execute`) and joins what it submitted, so a worker of one pool is a
//!   producer of the next, helps it when it is full, or runs its task caller-runs;
//! - nested caller-runs: the task it runs that way may do the same one level up;
//! - it submits to its own executor and joins that (inline on a full executor, or run by the
//!   joiner: the thread is always one of that executor's, as a worker or a helper);
//! - it submits back to a lower executor with `submit_or_run` (never waits) and lets it go;
//! - a pair producer submits pairs of tasks that wait for each other (a barrier of two), one
//!   pair at a time, with `submit` then `submit_timeout(Duration::MAX)` (which never helps);
//! - a resizer changes `max_workers` (2 to 3) and now and then the capacity (2 to 6);
//! - producers cancel some handles.
//!
//! Submissions only go up the levels, back-submits never wait and are never joined, and one pair
//! is in flight at a time, so no round can deadlock by its own design: any hang is the
//! executor's. Checked: every accepted task ran once or was cancelled (counted by the tasks
//! themselves and by `stats()`), no task panicked, every slot and unit is back, every thread
//! started was joined; and a sampler fails the round if a task stays queued while the executor
//! has fewer than `max_workers` threads, continuously for 200 ms (a stable violation: an idle
//! worker would take it in microseconds, and a lazy executor must start a thread for it).
//!
//! Seeded: `CROSS_EXECUTOR_SEED` (printed on failure), `CROSS_EXECUTOR_ROUNDS` (default 200),
//! bounded in time too (`CROSS_EXECUTOR_SECS`, default 20). Every wait is under a watchdog.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use bounded_executor::{BoundedExecutor, Builder, TaskHandle};
use common::{
    assert_every_slot_is_back, assert_every_unit_is_back, join_within, watchdog, Barrier,
    SplitMix64,
};

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// How long a task may stay queued, continuously, beside a free thread seat.
const STABLE: Duration = Duration::from_millis(200);

/// One executor of a round.
struct Level {
    exec: BoundedExecutor,
    weighted: bool,
    describe: String,
}

/// A round's executors and what the tasks count.
struct World {
    levels: Vec<Level>,
    /// Submissions accepted (`Ok`), tasks that ran, tasks cancelled by their handle.
    accepted: AtomicU64,
    ran: AtomicU64,
    cancelled: AtomicU64,
}

impl World {
    fn exec(&self, level: usize) -> &BoundedExecutor {
        &self.levels[level].exec
    }

    fn accept<T>(&self, handle: TaskHandle<T>) -> TaskHandle<T> {
        self.accepted.fetch_add(1, Ordering::SeqCst);
        handle
    }
}

/// A task's closure (boxed: a task builds tasks of its own kind).
type Job = Box<dyn FnOnce() -> u64 + Send + 'static>;

/// A task that does a little work and returns `value`.
fn leaf(world: &Arc<World>, value: u64) -> Job {
    let world = Arc::clone(world);
    Box::new(move || {
        world.ran.fetch_add(1, Ordering::SeqCst);
        (0..value % 64).fold(value, |acc, i| std::hint::black_box(acc.wrapping_add(i)))
    })
}

/// A weight for a submit to `level`: 0 to 4 on a weighted executor (capacity 8), 1 otherwise.
fn weight(world: &World, level: usize, rng: &mut SplitMix64) -> u64 {
    if world.levels[level].weighted {
        rng.below(5)
    } else {
        1
    }
}

/// A task of `level` that feeds the levels above it (see the module docs). Returns the sum of
/// what it joined, which it also computes on its own, so the caller can check it.
fn cross(world: &Arc<World>, level: usize, seed: u64) -> Job {
    let world = Arc::clone(world);
    Box::new(move || {
        world.ran.fetch_add(1, Ordering::SeqCst);
        let mut rng = SplitMix64(seed);
        let top = world.levels.len();
        let mut handles = Vec::new();
        for _ in 0..1 + rng.below(3) {
            let up = level + 1 + rng.below((top - level - 1).max(1) as u64) as usize;
            if up >= top {
                break;
            }
            let exec = world.exec(up);
            let value = rng.below(1000);
            let handle = match rng.below(6) {
                0 => exec.submit(leaf(&world, value)),
                1 => exec.submit_weighted(weight(&world, up, &mut rng), leaf(&world, value)),
                2 => exec.submit_or_run(leaf(&world, value)),
                // Nested caller-runs: a task that feeds the level above it in turn.
                3 => exec.submit_or_run(cross(&world, up, rng.next())),
                4 => exec.submit(cross(&world, up, rng.next())),
                _ => {
                    let ran = exec.execute({
                        let run = leaf(&world, value);
                        move || {
                            run();
                        }
                    });
                    if ran.is_ok() {
                        world.accepted.fetch_add(1, Ordering::SeqCst);
                    }
                    continue;
                }
            };
            handles.push(world.accept(handle.expect("the executors outlive the round's tasks")));
        }
        // Its own executor: inline if full, or run by this thread when joined.
        if rng.percent(40) {
            let own = world.exec(level).submit(leaf(&world, 7)).unwrap();
            handles.push(world.accept(own));
        }
        // Back down, never waiting, never joined.
        if level > 0 && rng.percent(30) {
            let down = rng.below(level as u64) as usize;
            if let Ok(handle) = world.exec(down).submit_or_run(leaf(&world, 3)) {
                drop(world.accept(handle));
            }
        }
        handles
            .into_iter()
            .map(|h| join_within(h, "a task joined by a task of a lower level").unwrap())
            .fold(0, u64::wrapping_add)
    })
}

/// A random executor for level `level`.
fn build(rng: &mut SplitMix64, level: usize) -> Level {
    let max = 2 + rng.below(2) as usize;
    let mut builder = Builder::new()
        .max_workers(max)
        .capacity(2 + rng.below(5) as usize)
        .thread_name(format!("level{level}"))
        .producer_helps(rng.percent(50));
    let min = match rng.below(3) {
        0 => None,
        1 => Some(0),
        _ => Some(1),
    };
    if let Some(min) = min {
        let keep_alive = [Duration::ZERO, Duration::from_millis(1), Duration::from_millis(50)]
            [rng.below(3) as usize];
        builder = builder.min_workers(min).keep_alive(keep_alive);
    }
    let weighted = rng.percent(40);
    if weighted {
        builder = builder.weight_capacity(8);
    }
    let describe = format!("{builder:?}");
    Level { exec: builder.build().unwrap(), weighted, describe }
}

/// Samples every executor until `stop`: fails the round (returns the finding) if a task stays
/// queued while fewer than `max_workers` threads are alive, over `STABLE` of samples.
fn sample(world: &World, stop: &AtomicBool) -> Option<String> {
    let mut since: Vec<Option<(Instant, u32)>> = vec![None; world.levels.len()];
    while !stop.load(Ordering::SeqCst) {
        for (level, held) in world.levels.iter().zip(since.iter_mut()) {
            let exec = &level.exec;
            let (queued, workers, max) = (exec.queued(), exec.workers(), exec.max_workers());
            if queued > 0 && workers < max {
                let (from, samples) = held.get_or_insert((Instant::now(), 0));
                *samples += 1;
                if from.elapsed() >= STABLE && *samples >= 20 {
                    let finding = format!(
                        "{queued} task(s) queued for {:?} ({samples} samples) with {workers} of \
                         {max} workers: {:?} {:?}, built as {}",
                        from.elapsed(),
                        exec,
                        exec.stats(),
                        level.describe
                    );
                    // Said at once: the round may hang on what was found.
                    eprintln!("cross_executor sampler: {finding}");
                    return Some(finding);
                }
            } else {
                *held = None;
            }
        }
        thread::sleep(Duration::from_millis(1));
    }
    None
}

fn round(seed: u64, round: u64) {
    let mut rng = SplitMix64(seed ^ round.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let levels = 2 + rng.below(2) as usize;
    let world = Arc::new(World {
        levels: (0..levels).map(|level| build(&mut rng, level)).collect(),
        accepted: AtomicU64::new(0),
        ran: AtomicU64::new(0),
        cancelled: AtomicU64::new(0),
    });
    let done = AtomicBool::new(false);
    let (producer_seeds, pair_seed, resizer_seed) =
        ([rng.next(), rng.next()], rng.next(), rng.next());
    let finding = Mutex::new(None);
    thread::scope(|s| {
        let sampler = s.spawn(|| *finding.lock().unwrap() = sample(&world, &done));
        let producers: Vec<_> = producer_seeds
            .iter()
            .map(|&seed| {
                let world = Arc::clone(&world);
                s.spawn(move || {
                    let mut rng = SplitMix64(seed);
                    let mut handles = Vec::new();
                    for _ in 0..20 + rng.below(20) {
                        let level = rng.below(world.levels.len() as u64) as usize;
                        let exec = world.exec(level);
                        let handle = match rng.below(4) {
                            0 => exec.submit(cross(&world, level, rng.next())),
                            1 => exec.submit_or_run(cross(&world, level, rng.next())),
                            2 => exec.submit_weighted(
                                weight(&world, level, &mut rng),
                                leaf(&world, rng.below(100)),
                            ),
                            _ => exec.submit(leaf(&world, rng.below(100))),
                        };
                        let handle = world.accept(handle.unwrap());
                        if rng.percent(10) && handle.cancel() {
                            world.cancelled.fetch_add(1, Ordering::SeqCst);
                            assert!(handle.join().unwrap_err().is_cancelled());
                        } else {
                            handles.push(handle);
                        }
                        if handles.len() > 4 {
                            join_within(handles.remove(0), "a producer's task").unwrap();
                        }
                    }
                    for handle in handles {
                        join_within(handle, "a producer's task").unwrap();
                    }
                })
            })
            .collect();
        let pairs = {
            let world = Arc::clone(&world);
            s.spawn(move || {
                let mut rng = SplitMix64(pair_seed);
                for _ in 0..3 + rng.below(4) {
                    let exec = world.exec(rng.below(world.levels.len() as u64) as usize);
                    let barrier =
                        Arc::new(Barrier::new(2, "a pair of tasks that wait for each other"));
                    let (a, b) = (Arc::clone(&barrier), barrier);
                    let (ran_a, ran_b) = (Arc::clone(&world), Arc::clone(&world));
                    let first = exec
                        .submit(move || {
                            ran_a.ran.fetch_add(1, Ordering::SeqCst);
                            a.wait();
                        })
                        .unwrap();
                    let second = exec
                        .submit_timeout(
                            move || {
                                ran_b.ran.fetch_add(1, Ordering::SeqCst);
                                b.wait();
                            },
                            Duration::MAX,
                        )
                        .unwrap();
                    let (first, second) = (world.accept(first), world.accept(second));
                    join_within(first, "the first of a pair").unwrap();
                    join_within(second, "the second of a pair").unwrap();
                }
            })
        };
        let resizer = s.spawn(|| {
            let mut rng = SplitMix64(resizer_seed);
            while !done.load(Ordering::SeqCst) {
                let exec = world.exec(rng.below(world.levels.len() as u64) as usize);
                exec.set_max_workers(2 + rng.below(2) as usize).unwrap();
                if rng.percent(30) {
                    exec.set_capacity(2 + rng.below(5) as usize).unwrap();
                }
                thread::sleep(Duration::from_micros(rng.below(2000)));
            }
        });
        for producer in producers {
            producer.join().unwrap();
        }
        pairs.join().unwrap();
        // Fire-and-forget tasks may still be on their way.
        let quiet = Instant::now();
        while world.levels.iter().any(|level| level.exec.in_flight() > 0) {
            assert!(quiet.elapsed() < common::WATCHDOG, "round {round}: tasks never settled");
            thread::sleep(Duration::from_millis(1));
        }
        done.store(true, Ordering::SeqCst);
        resizer.join().unwrap();
        sampler.join().unwrap();
    });
    if let Some(finding) = finding.into_inner().unwrap() {
        panic!("round {round} (seed {seed:#x}): {finding}");
    }
    let (accepted, ran, cancelled) = (
        world.accepted.load(Ordering::SeqCst),
        world.ran.load(Ordering::SeqCst),
        world.cancelled.load(Ordering::SeqCst),
    );
    assert_eq!(ran + cancelled, accepted, "round {round}: ran once or cancelled, each");
    let mut submitted = 0;
    for level in &world.levels {
        let stats = level.exec.stats();
        assert_eq!(stats.panicked, 0, "round {round}: {}", level.describe);
        assert_eq!(
            stats.submitted,
            stats.completed + stats.cancelled,
            "round {round}: {stats:?}, built as {}",
            level.describe
        );
        assert_eq!((level.exec.in_flight(), level.exec.weight_in_flight()), (0, 0));
        submitted += stats.submitted;
    }
    assert_eq!(submitted, accepted, "round {round}: every accepted task counted once");
    for level in &world.levels {
        assert_every_slot_is_back(&level.exec);
        assert_every_unit_is_back(&level.exec);
        level.exec.shutdown();
        let stats = level.exec.stats();
        assert_eq!(level.exec.workers(), 0);
        assert_eq!(stats.threads_started, stats.threads_exited, "round {round}");
    }
}

#[test]
fn executors_that_feed_each_other_lose_no_task_and_strand_none() {
    let _watchdog = common::test_watchdog(
        "cross_executor::executors_that_feed_each_other_lose_no_task_and_strand_none",
    );
    let seed = env_or("CROSS_EXECUTOR_SEED", 0x19C0_55E5_u64);
    let rounds = env_or("CROSS_EXECUTOR_ROUNDS", 200_u64);
    // To replay one round: its number here, and `CROSS_EXECUTOR_ROUNDS` one more.
    let first = env_or("CROSS_EXECUTOR_FROM", 0_u64);
    let budget = Duration::from_secs(env_or("CROSS_EXECUTOR_SECS", 20_u64));
    let started = Instant::now();
    for r in first..rounds {
        if started.elapsed() > budget {
            eprintln!("cross_executor: stopped after {r} rounds ({budget:?})");
            break;
        }
        let _watchdog = watchdog(format!("cross_executor round {r} (seed {seed:#x})"));
        round(seed, r);
    }
}
