//! What both benches share: the pools under test, the calibrated work a task does, and where
//! results go. Every pool is built fresh for one run, driven the way its own docs suggest, and
//! torn down outside the timed region.

use std::collections::VecDeque;
use std::hint::black_box;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use bounded_executor::BoundedExecutor;

/// Worker threads in every pool: the machine this was written for has two cores.
pub(crate) const WORKERS: usize = 2;

/// How a bench was started: `cargo bench` passes `--bench`; `cargo test --benches` does not, and
/// then we only check that every variant runs, on tiny sizes, without writing results.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// `cargo bench`: full sizes.
    Full,
    /// `BENCH_QUICK=1 cargo bench`: every size shrunk so the bench runs in seconds (CI).
    Quick,
    /// `cargo test --benches`: a smoke test.
    Smoke,
}

impl Mode {
    pub(crate) fn from_env() -> Mode {
        if !std::env::args().any(|a| a == "--bench") {
            Mode::Smoke
        } else if std::env::var_os("BENCH_QUICK").is_some_and(|v| !v.is_empty() && v != "0") {
            Mode::Quick
        } else {
            Mode::Full
        }
    }

    /// Picks the size for this mode.
    pub(crate) fn pick<T>(self, full: T, quick: T, smoke: T) -> T {
        match self {
            Mode::Full => full,
            Mode::Quick => quick,
            Mode::Smoke => smoke,
        }
    }
}

/// `target/bench-results`, under whatever target directory cargo used.
pub(crate) fn results_dir() -> PathBuf {
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let dir = tmp.parent().map_or(tmp.clone(), |p| p.to_path_buf()).join("bench-results");
    std::fs::create_dir_all(&dir).expect("create target/bench-results");
    dir
}

/// A fixed amount of CPU work per task, counted in loop iterations rather than clock time so that
/// a task that is preempted still does the same work when it resumes. Uniform (every task the
/// same), or heavy-tailed: one task in `long_one_in` (picked by a hash of its index, the same
/// sequence for every pool) does `long_iters` instead.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Work {
    iters: u64,
    long_iters: u64,
    /// 0: no task is long.
    long_one_in: u64,
    /// Nominal nanoseconds of a short and a long task: what the ideal wall time is made of.
    ns: f64,
    long_ns: f64,
}

/// The work of one task: what its closure captures.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TaskWork(u64);

impl TaskWork {
    #[inline]
    pub(crate) fn run(self) {
        spin(self.0);
    }
}

impl Work {
    /// A task that does nothing.
    pub(crate) const NOOP: Work =
        Work { iters: 0, long_iters: 0, long_one_in: 0, ns: 0.0, long_ns: 0.0 };

    /// About `ns` nanoseconds of work on this machine (see [`calibrate`]).
    pub(crate) fn ns(ns: u64, iters_per_us: f64) -> Work {
        Work { iters: iters(ns, iters_per_us), ns: ns as f64, ..Work::NOOP }
    }

    /// `short_ns` per task, but one task in `one_in` takes `long_ns`.
    pub(crate) fn heavy_tail(short_ns: u64, long_ns: u64, one_in: u64, iters_per_us: f64) -> Work {
        Work {
            iters: iters(short_ns, iters_per_us),
            long_iters: iters(long_ns, iters_per_us),
            long_one_in: one_in,
            ns: short_ns as f64,
            long_ns: long_ns as f64,
        }
    }

    pub(crate) fn is_noop(self) -> bool {
        self.iters == 0 && self.long_one_in == 0
    }

    fn is_long(self, i: usize) -> bool {
        if self.long_one_in == 0 {
            return false;
        }
        // splitmix64's finaliser: long tasks land at random, in clusters as real ones do.
        let mut z = (i as u64).wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % self.long_one_in == 0
    }

    /// The work of task `i` of a run (`i` in `0..n`, whichever producer submits it).
    #[inline]
    pub(crate) fn task(self, i: usize) -> TaskWork {
        TaskWork(if self.is_long(i) { self.long_iters } else { self.iters })
    }

    /// The nominal CPU time of tasks `0..n`, in nanoseconds.
    pub(crate) fn total_ns(self, n: usize) -> f64 {
        if self.long_one_in == 0 {
            return self.ns * n as f64;
        }
        (0..n).map(|i| if self.is_long(i) { self.long_ns } else { self.ns }).sum()
    }

    /// The ideal wall time of tasks `0..n` on `WORKERS` workers: their total work shared out
    /// evenly, with no overhead (a lower bound no pool reaches).
    pub(crate) fn ideal(self, n: usize) -> Duration {
        Duration::from_nanos((self.total_ns(n) / WORKERS as f64) as u64)
    }
}

fn iters(ns: u64, iters_per_us: f64) -> u64 {
    (ns as f64 * iters_per_us / 1000.0).round() as u64
}

#[inline]
fn spin(iters: u64) {
    let mut x = black_box(1u64);
    for _ in 0..black_box(iters) {
        x = black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1));
    }
    black_box(x);
}

/// Loop iterations per microsecond: the fastest of a few timed runs, the one least disturbed.
pub(crate) fn calibrate() -> f64 {
    const ITERS: u64 = 2_000_000;
    spin(ITERS);
    let best = (0..7)
        .map(|_| {
            let start = Instant::now();
            spin(ITERS);
            start.elapsed()
        })
        .min()
        .unwrap();
    ITERS as f64 / (best.as_nanos() as f64 / 1000.0)
}

/// Leaks a value for the rest of the run, so tasks can borrow it without an `Arc` clone (a
/// contended atomic add) per task. Benches leak a few bytes per run.
pub(crate) fn leak<T>(value: T) -> &'static T {
    Box::leak(Box::new(value))
}

/// Counts tasks down to zero; the waiter sleeps until then. One contended decrement per task is
/// what a pool without result delivery must pay somewhere to know that everything ran.
#[derive(Debug)]
pub(crate) struct Latch {
    remaining: AtomicUsize,
    done: Mutex<bool>,
    cv: Condvar,
}

impl Latch {
    pub(crate) fn new(count: usize) -> &'static Latch {
        leak(Latch {
            remaining: AtomicUsize::new(count),
            done: Mutex::new(count == 0),
            cv: Condvar::new(),
        })
    }

    #[inline]
    pub(crate) fn count_down(&self) {
        // ORDERING: AcqRel so the last decrement sees every task's effects before it signals.
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            *self.done.lock().unwrap() = true;
            self.cv.notify_all();
        }
    }

    pub(crate) fn wait(&self) {
        let mut done = self.done.lock().unwrap();
        while !*done {
            done = self.cv.wait(done).unwrap();
        }
    }
}

/// A pool under test and the way it is driven.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pool {
    /// This crate as it ships: `BoundedExecutor::new(WORKERS)`, whatever ratio and tuning that
    /// default has today. Handles are dropped at once; `shutdown` (inside the timed region) waits
    /// for the tasks. The pool every target is about.
    OursDefault,
    /// The default executor driven by `execute` (no handle), as threadpool's `execute` is.
    OursExecute,
    /// This crate with one setting changed from the default: `queue_ratio(ratio)` (capacity =
    /// ratio × workers) if `ratio` is set, `producer_helps(helps)` if `helps` is set. With
    /// `window`, each producer keeps the newest `capacity` handles and joins the oldest when the
    /// window is full; otherwise handles are dropped at once (detached) and `shutdown` waits for
    /// the tasks.
    Ours { ratio: Option<usize>, helps: Option<bool>, window: bool },
    /// `rayon::ThreadPool::spawn`, completion counted by a [`Latch`].
    Rayon,
    /// `threadpool::ThreadPool::execute`, then `join`.
    Threadpool,
    /// `tokio` `spawn_blocking` on a runtime capped at `WORKERS` blocking threads. With
    /// `keep_handles`, every `JoinHandle` is kept and awaited at the end, as a user collecting
    /// results would; otherwise handles are dropped and a [`Latch`] counts completion.
    Tokio { keep_handles: bool },
    /// The pool one writes by hand: a bounded crossbeam channel of boxed closures
    /// (capacity = 2 × workers), each result sent back on a second channel.
    NaiveBounded,
    /// Workers draining a crossbeam channel *bounded* at 2 × workers of boxed closures, no result
    /// delivery: what a bound of that size costs by itself.
    Bounded4,
    /// [`Pool::Bounded4`] plus an exact count of the tasks in flight, queued and running (the
    /// producer adds one before each send, a worker takes one away after each task), which never
    /// binds: what counting running tasks, as our bound does, costs on top of a channel's bound
    /// on queued ones. One more word that the producer and the workers both write per task.
    Bounded4Counted,
    /// Workers draining an unbounded crossbeam channel of boxed closures, no result delivery:
    /// the least work any pool can do per task.
    Floor,
}

/// What one timed run measured.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Run {
    pub(crate) wall: Duration,
    /// For this crate's pools: what a sampler thread saw of the bound during the run.
    pub(crate) bound: Option<Bound>,
}

/// `in_flight()` against `capacity()`, sampled every [`SAMPLE_EVERY`] by a thread of its own
/// while the producers run: the bound must hold at every sample.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Bound {
    pub(crate) samples: u64,
    pub(crate) max_in_flight: usize,
    pub(crate) capacity: usize,
    /// Samples where `in_flight() > capacity()`.
    pub(crate) violations: u64,
}

impl Bound {
    pub(crate) fn merge(self, other: Bound) -> Bound {
        Bound {
            samples: self.samples + other.samples,
            max_in_flight: self.max_in_flight.max(other.max_in_flight),
            capacity: self.capacity.max(other.capacity),
            violations: self.violations + other.violations,
        }
    }
}

/// How often the sampler looks: rarely enough that its wake-ups cost the pool under test a
/// negligible share of the 2 cores.
pub(crate) const SAMPLE_EVERY: Duration = Duration::from_millis(1);

/// Runs `body` while a thread samples `exec`'s bound.
fn sampled(exec: &BoundedExecutor, body: impl FnOnce()) -> Bound {
    let stop = std::sync::atomic::AtomicBool::new(false);
    thread::scope(|s| {
        let sampler = s.spawn(|| {
            let mut bound = Bound::default();
            // ORDERING: Relaxed; a stop flag that guards no data.
            while !stop.load(Ordering::Relaxed) {
                let (in_flight, capacity) = (exec.in_flight(), exec.capacity());
                bound.samples += 1;
                bound.max_in_flight = bound.max_in_flight.max(in_flight);
                bound.capacity = bound.capacity.max(capacity);
                bound.violations += u64::from(in_flight > capacity);
                thread::sleep(SAMPLE_EVERY);
            }
            bound
        });
        body();
        stop.store(true, Ordering::Relaxed);
        sampler.join().expect("the sampler does not panic")
    })
}

impl Pool {
    pub(crate) fn name(self) -> String {
        match self {
            Pool::OursDefault => format!("ours default (new({WORKERS}))"),
            Pool::OursExecute => format!("ours default, execute (new({WORKERS}))"),
            Pool::Ours { ratio, helps, window } => {
                let mut name = String::from("ours");
                if let Some(ratio) = ratio {
                    name += &format!(" r{ratio}");
                }
                match helps {
                    Some(true) => name += " helping",
                    Some(false) => name += " helping off",
                    None => {}
                }
                name + if window { " window" } else { "" }
            }
            Pool::Rayon => "rayon spawn".into(),
            Pool::Threadpool => "threadpool".into(),
            Pool::Tokio { keep_handles: true } => "tokio spawn_blocking (handles kept)".into(),
            Pool::Tokio { keep_handles: false } => "tokio spawn_blocking".into(),
            Pool::NaiveBounded => "naive bounded".into(),
            Pool::Bounded4 => format!("bounded({}) channel", 2 * WORKERS),
            Pool::Bounded4Counted => format!("bounded({}) channel, counted", 2 * WORKERS),
            Pool::Floor => "floor (unbounded)".into(),
        }
    }

    /// A short, argument-safe name.
    pub(crate) fn key(self) -> String {
        match self {
            Pool::OursDefault => "ours-default".into(),
            Pool::OursExecute => "ours-execute".into(),
            Pool::Ours { ratio, helps, window } => {
                let mut key = String::from("ours");
                if let Some(ratio) = ratio {
                    key += &format!("-r{ratio}");
                }
                match helps {
                    Some(true) => key += "-helping",
                    Some(false) => key += "-helping-off",
                    None => {}
                }
                key + if window { "-window" } else { "" }
            }
            Pool::Rayon => "rayon".into(),
            Pool::Threadpool => "threadpool".into(),
            Pool::Tokio { keep_handles: false } => "tokio".into(),
            Pool::Tokio { keep_handles: true } => "tokio-handles".into(),
            Pool::NaiveBounded => "naive-bounded".into(),
            Pool::Bounded4 => format!("bounded{}", 2 * WORKERS),
            Pool::Bounded4Counted => format!("bounded{}-counted", 2 * WORKERS),
            Pool::Floor => "floor".into(),
        }
    }

    /// True for this crate's pools.
    pub(crate) fn is_ours(self) -> bool {
        matches!(self, Pool::OursDefault | Pool::OursExecute | Pool::Ours { .. })
    }

    /// Builds the pool, then times `producers` threads submitting `n` tasks between them until
    /// every task has completed. Building and tearing down the pool are not timed. Task `i` of
    /// the run does `work.task(i)`, whichever producer submits it.
    pub(crate) fn run(self, n: usize, producers: usize, work: Work) -> Run {
        self.run_sampled(n, producers, work, true)
    }

    /// [`run`](Self::run), with this crate's bound sampled or not (the memory bench does not:
    /// the sampler thread's own allocations would count in the heap it measures).
    pub(crate) fn run_sampled(self, n: usize, producers: usize, work: Work, sample: bool) -> Run {
        let share = |p: usize| n / producers + usize::from(p < n % producers);
        // Task `k` of producer `p`: the producers interleave over `0..n`.
        let task = move |p: usize, k: usize| work.task(p + producers * k);
        let untimed = |wall| Run { wall, bound: None };
        match self {
            Pool::OursDefault | Pool::OursExecute | Pool::Ours { .. } => {
                let exec = match self {
                    Pool::Ours { ratio, helps, .. } => {
                        let mut builder = BoundedExecutor::builder().max_workers(WORKERS);
                        if let Some(ratio) = ratio {
                            builder = builder.queue_ratio(ratio);
                        }
                        if let Some(helps) = helps {
                            builder = builder.producer_helps(helps);
                        }
                        builder.build().expect("build executor")
                    }
                    _ => BoundedExecutor::new(WORKERS),
                };
                let window = matches!(self, Pool::Ours { window: true, .. });
                let start = Instant::now();
                let body = || {
                    thread::scope(|s| {
                        for p in 0..producers {
                            let exec = &exec;
                            s.spawn(move || {
                                if window {
                                    let mut handles = VecDeque::with_capacity(exec.capacity());
                                    for k in 0..share(p) {
                                        if handles.len() == exec.capacity() {
                                            let oldest: bounded_executor::TaskHandle<()> =
                                                handles.pop_front().unwrap();
                                            oldest.join().unwrap();
                                        }
                                        let work = task(p, k);
                                        handles.push_back(exec.submit(move || work.run()).unwrap());
                                    }
                                    for h in handles {
                                        h.join().unwrap();
                                    }
                                } else if self == Pool::OursExecute {
                                    for k in 0..share(p) {
                                        let work = task(p, k);
                                        let _ = exec.execute(move || work.run());
                                    }
                                } else {
                                    for k in 0..share(p) {
                                        let work = task(p, k);
                                        drop(exec.submit(move || work.run()));
                                    }
                                }
                            });
                        }
                    });
                    // Graceful shutdown returns once every accepted task has run: the
                    // completion signal a user who drops handles has, at no cost per task.
                    exec.shutdown();
                };
                let bound = if sample {
                    Some(sampled(&exec, body))
                } else {
                    body();
                    None
                };
                Run { wall: start.elapsed(), bound }
            }
            Pool::Rayon => {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(WORKERS)
                    .build()
                    .expect("build rayon pool");
                let latch = Latch::new(n);
                let start = Instant::now();
                thread::scope(|s| {
                    for p in 0..producers {
                        let pool = &pool;
                        s.spawn(move || {
                            for k in 0..share(p) {
                                let work = task(p, k);
                                pool.spawn(move || {
                                    work.run();
                                    latch.count_down();
                                });
                            }
                        });
                    }
                });
                latch.wait();
                untimed(start.elapsed())
            }
            Pool::Threadpool => {
                let pool = threadpool::ThreadPool::new(WORKERS);
                let start = Instant::now();
                thread::scope(|s| {
                    for p in 0..producers {
                        let pool = pool.clone();
                        s.spawn(move || {
                            for k in 0..share(p) {
                                let work = task(p, k);
                                pool.execute(move || work.run());
                            }
                        });
                    }
                });
                pool.join();
                untimed(start.elapsed())
            }
            Pool::Tokio { keep_handles } => {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .max_blocking_threads(WORKERS)
                    .build()
                    .expect("build tokio runtime");
                let latch = Latch::new(if keep_handles { 0 } else { n });
                let start = Instant::now();
                thread::scope(|s| {
                    for p in 0..producers {
                        let rt = rt.handle().clone();
                        s.spawn(move || {
                            if keep_handles {
                                let handles: Vec<_> = (0..share(p))
                                    .map(|k| {
                                        let work = task(p, k);
                                        rt.spawn_blocking(move || work.run())
                                    })
                                    .collect();
                                rt.block_on(async move {
                                    for h in handles {
                                        h.await.unwrap();
                                    }
                                });
                            } else {
                                for k in 0..share(p) {
                                    let work = task(p, k);
                                    drop(rt.spawn_blocking(move || {
                                        work.run();
                                        latch.count_down();
                                    }));
                                }
                            }
                        });
                    }
                });
                latch.wait();
                let elapsed = start.elapsed();
                rt.shutdown_background();
                untimed(elapsed)
            }
            Pool::NaiveBounded => {
                type Job = Box<dyn FnOnce() + Send>;
                let (job_tx, job_rx) = crossbeam_channel::bounded::<Job>(2 * WORKERS);
                let (done_tx, done_rx) = crossbeam_channel::unbounded::<()>();
                let workers: Vec<_> = (0..WORKERS)
                    .map(|_| {
                        let job_rx = job_rx.clone();
                        let done_tx = done_tx.clone();
                        thread::spawn(move || {
                            for job in job_rx {
                                job();
                                done_tx.send(()).unwrap();
                            }
                        })
                    })
                    .collect();
                let start = Instant::now();
                thread::scope(|s| {
                    for p in 0..producers {
                        let job_tx = job_tx.clone();
                        s.spawn(move || {
                            for k in 0..share(p) {
                                let work = task(p, k);
                                job_tx.send(Box::new(move || work.run())).unwrap();
                            }
                        });
                    }
                    for _ in 0..n {
                        done_rx.recv().unwrap();
                    }
                });
                let elapsed = start.elapsed();
                drop(job_tx);
                for w in workers {
                    w.join().unwrap();
                }
                untimed(elapsed)
            }
            Pool::Bounded4 | Pool::Bounded4Counted | Pool::Floor => {
                type Job = Box<dyn FnOnce() + Send>;
                let (job_tx, job_rx) = if self == Pool::Floor {
                    crossbeam_channel::unbounded::<Job>()
                } else {
                    crossbeam_channel::bounded::<Job>(2 * WORKERS)
                };
                let in_flight =
                    (self == Pool::Bounded4Counted).then(|| Arc::new(AtomicUsize::new(0)));
                let workers: Vec<_> = (0..WORKERS)
                    .map(|_| {
                        let job_rx = job_rx.clone();
                        let in_flight = in_flight.clone();
                        thread::spawn(move || {
                            for job in job_rx {
                                job();
                                if let Some(count) = &in_flight {
                                    count.fetch_sub(1, Ordering::Relaxed);
                                }
                            }
                        })
                    })
                    .collect();
                let start = Instant::now();
                thread::scope(|s| {
                    for p in 0..producers {
                        let job_tx = job_tx.clone();
                        let in_flight = &in_flight;
                        s.spawn(move || {
                            for k in 0..share(p) {
                                if let Some(count) = in_flight {
                                    count.fetch_add(1, Ordering::Relaxed);
                                }
                                let work = task(p, k);
                                job_tx.send(Box::new(move || work.run())).unwrap();
                            }
                        });
                    }
                });
                drop(job_tx);
                for w in workers {
                    w.join().unwrap();
                }
                untimed(start.elapsed())
            }
        }
    }
}

/// The median of some figures (sorted in place).
pub(crate) fn median(xs: &mut [f64]) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    let n = xs.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}
