//! What both benches share: the pools under test, the calibrated work a task does, and where
//! results go. Every pool is built fresh for one run, driven the way its own docs suggest, and
//! torn down outside the timed region.

use std::collections::VecDeque;
use std::hint::black_box;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
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

/// A fixed amount of CPU work, counted in loop iterations rather than clock time so that a task
/// that is preempted still does the same work when it resumes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Work {
    iters: u64,
    /// Where to add the nanoseconds this task spent running, for the utilisation figure.
    busy: Option<&'static AtomicU64>,
}

impl Work {
    /// A task that does nothing.
    pub(crate) const NOOP: Work = Work { iters: 0, busy: None };

    /// About `ns` nanoseconds of work on this machine (see [`calibrate`]).
    pub(crate) fn ns(ns: u64, iters_per_us: f64) -> Work {
        Work { iters: (ns as f64 * iters_per_us / 1000.0).round() as u64, busy: None }
    }

    /// The same work, adding its running time to `busy`.
    pub(crate) fn timed(self, busy: &'static AtomicU64) -> Work {
        Work { busy: Some(busy), ..self }
    }

    #[inline]
    pub(crate) fn run(self) {
        match self.busy {
            None => spin(self.iters),
            Some(busy) => {
                let start = Instant::now();
                spin(self.iters);
                // ORDERING: Relaxed; read after the pool's completion signal, which orders it.
                busy.fetch_add(start.elapsed().as_nanos() as u64, Ordering::Relaxed);
            }
        }
    }
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
    /// for the tasks. The pool every target of issue 13 is about.
    OursDefault,
    /// The default executor driven by `execute` (no handle), as threadpool's `execute` is.
    OursExecute,
    /// This crate, `queue_ratio(ratio)`: capacity = ratio × workers. With `window`, each producer
    /// keeps the newest `capacity` handles and joins the oldest when the window is full;
    /// otherwise handles are dropped at once (detached) and `shutdown` waits for the tasks.
    ///
    /// Built with `builder().max_workers(WORKERS).queue_ratio(ratio)`, so `ours-r2-drop` is the
    /// same configuration as [`Pool::OursDefault`] only while the builder's default ratio is 2 and
    /// `new` sets nothing else; `OursDefault` follows `new` if the default changes.
    Ours { ratio: usize, window: bool },
    /// `rayon::ThreadPool::spawn`, completion counted by a [`Latch`].
    Rayon,
    /// `threadpool::ThreadPool::execute`, then `join`.
    Threadpool,
    /// `tokio` `spawn_blocking` on a runtime capped at `WORKERS` blocking threads. With
    /// `keep_handles`, every `JoinHandle` is kept and awaited at the end, as a user collecting
    /// results would; otherwise handles are dropped and a [`Latch`] counts completion.
    Tokio { keep_handles: bool },
    /// The pool one writes by hand: a bounded crossbeam channel of boxed closures
    /// (capacity = 2 × workers, like our default), each result sent back on a second channel.
    NaiveBounded,
    /// Workers draining a crossbeam channel *bounded* at 2 × workers (the capacity of our
    /// default) of boxed closures, no result delivery: what a bound of that size costs by itself,
    /// the reference issue 13 asks the default to match.
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

impl Pool {
    pub(crate) fn name(self) -> String {
        match self {
            Pool::OursDefault => format!("ours default (new({WORKERS}))"),
            Pool::OursExecute => format!("ours default, execute (new({WORKERS}))"),
            Pool::Ours { ratio, window } => {
                format!("ours r{ratio} {}", if window { "window" } else { "drop" })
            }
            Pool::Rayon => "rayon spawn".into(),
            Pool::Threadpool => "threadpool".into(),
            Pool::Tokio { keep_handles: true } => "tokio spawn_blocking".into(),
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
            Pool::Ours { ratio, window } => {
                format!("ours-r{ratio}-{}", if window { "window" } else { "drop" })
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

    /// Builds the pool, then times `producers` threads submitting `n` tasks between them until
    /// every task has completed. Building and tearing down the pool are not timed.
    pub(crate) fn run(self, n: usize, producers: usize, work: Work) -> Duration {
        let share = |p: usize| n / producers + usize::from(p < n % producers);
        match self {
            Pool::OursDefault | Pool::OursExecute => {
                let exec = BoundedExecutor::new(WORKERS);
                let start = Instant::now();
                thread::scope(|s| {
                    for p in 0..producers {
                        let exec = &exec;
                        s.spawn(move || {
                            for _ in 0..share(p) {
                                if self == Pool::OursExecute {
                                    let _ = exec.execute(move || work.run());
                                } else {
                                    drop(exec.submit(move || work.run()));
                                }
                            }
                        });
                    }
                });
                exec.shutdown();
                start.elapsed()
            }
            Pool::Ours { ratio, window } => {
                let exec = BoundedExecutor::builder()
                    .max_workers(WORKERS)
                    .queue_ratio(ratio)
                    .build()
                    .expect("build executor");
                let start = Instant::now();
                thread::scope(|s| {
                    for p in 0..producers {
                        let exec = &exec;
                        s.spawn(move || {
                            if window {
                                let mut handles = VecDeque::with_capacity(exec.capacity());
                                for _ in 0..share(p) {
                                    if handles.len() == exec.capacity() {
                                        let oldest: bounded_executor::TaskHandle<()> =
                                            handles.pop_front().unwrap();
                                        oldest.join().unwrap();
                                    }
                                    handles.push_back(exec.submit(move || work.run()).unwrap());
                                }
                                for h in handles {
                                    h.join().unwrap();
                                }
                            } else {
                                for _ in 0..share(p) {
                                    drop(exec.submit(move || work.run()));
                                }
                            }
                        });
                    }
                });
                // Graceful shutdown returns once every accepted task has run: the completion
                // signal a user who drops handles has, at no cost per task.
                exec.shutdown();
                start.elapsed()
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
                            for _ in 0..share(p) {
                                pool.spawn(move || {
                                    work.run();
                                    latch.count_down();
                                });
                            }
                        });
                    }
                });
                latch.wait();
                start.elapsed()
            }
            Pool::Threadpool => {
                let pool = threadpool::ThreadPool::new(WORKERS);
                let start = Instant::now();
                thread::scope(|s| {
                    for p in 0..producers {
                        let pool = pool.clone();
                        s.spawn(move || {
                            for _ in 0..share(p) {
                                pool.execute(move || work.run());
                            }
                        });
                    }
                });
                pool.join();
                start.elapsed()
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
                                    .map(|_| rt.spawn_blocking(move || work.run()))
                                    .collect();
                                rt.block_on(async move {
                                    for h in handles {
                                        h.await.unwrap();
                                    }
                                });
                            } else {
                                for _ in 0..share(p) {
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
                elapsed
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
                            for _ in 0..share(p) {
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
                elapsed
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
                            for _ in 0..share(p) {
                                if let Some(count) = in_flight {
                                    count.fetch_add(1, Ordering::Relaxed);
                                }
                                job_tx.send(Box::new(move || work.run())).unwrap();
                            }
                        });
                    }
                });
                drop(job_tx);
                for w in workers {
                    w.join().unwrap();
                }
                start.elapsed()
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
