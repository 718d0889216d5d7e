//! Stress (issue 6): four producers offer two million tasks to two workers with room for eight,
//! through `submit`, `try_submit` and `submit_timeout` with tiny timeouts; tasks panic, handles
//! are joined, dropped or cancelled, and `shutdown_now` lands halfway (with both workers held, so
//! that it surely finds queued tasks to cancel; the other producers keep submitting, and about
//! half the tasks meet the shut-down executor). Afterwards every task ran exactly once or was
//! reported cancelled or rejected, `stats()` adds up exactly, and drop counters prove that no
//! closure, result or panic payload leaked or was dropped twice. About five seconds in a debug
//! build on two shared cores, so the default count is the same in debug and release.
//!
//! The mix comes from a splitmix64 generator per producer, seeded from `STRESS_SEED` (printed, so
//! a failure can be replayed; the thread interleaving of course cannot). `STRESS_TASKS` overrides
//! the task count. A watchdog turns a hang into a failure that reports how far the run got.

mod common;

use std::collections::VecDeque;
use std::fmt;
use std::ops::Range;
use std::panic;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bounded_executor::{BoundedExecutor, TaskHandle};
use common::{Counted, DropCounter, Gate, SplitMix64};

const WORKERS: usize = 2;
const CAPACITY: usize = 8;
const PRODUCERS: usize = 4;
const DEFAULT_TASKS: usize = 2_000_000;
/// Far above the run time (seconds, debug build, two shared cores), far below CI's patience;
/// the run fails sooner if it stops making progress (see the test).
const WATCHDOG: Duration = Duration::from_secs(120);

/// What became of a task, as its producer saw it (low bits of its fate byte).
const REJECTED: u8 = 1;
/// Accepted; the handle was dropped without looking.
const DETACHED: u8 = 2;
const JOINED_OK: u8 = 3;
const JOINED_PANIC: u8 = 4;
/// Accepted; `join` said cancelled though we never cancelled it: `shutdown_now` did.
const JOINED_CANCELLED: u8 = 5;
/// `cancel()` returned true.
const CANCELLED: u8 = 6;
const FATE: u8 = 0x0f;
/// High bit of the fate byte: the task was built to panic.
const PANICS: u8 = 0x80;

/// The panic payload of a panicking task; the panic hook keeps these quiet.
struct Boom {
    id: usize,
    _counted: Counted,
}

/// A task's value: its id, and for half of them something that counts its drop.
struct Output {
    id: usize,
    _counted: Option<Counted>,
}

/// Why a submission was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refused {
    Shutdown,
    Full,
    Timeout,
}

/// Read by the watchdog while the run goes on.
#[derive(Default)]
struct Progress {
    attempted: AtomicUsize,
    accepted: AtomicUsize,
    rejected: AtomicUsize,
    settled: AtomicUsize,
    workers_held: AtomicBool,
    shutdown_started: AtomicBool,
    shutdown_returned: AtomicBool,
    producers_done: AtomicUsize,
}

impl fmt::Display for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let load = |a: &AtomicUsize| a.load(Ordering::SeqCst);
        write!(
            f,
            "attempted {}, accepted {}, refusals {}, handles settled {}, workers held {}, \
             shutdown_now started {} returned {}, producers done {}/{PRODUCERS}",
            load(&self.attempted),
            load(&self.accepted),
            load(&self.rejected),
            load(&self.settled),
            self.workers_held.load(Ordering::SeqCst),
            self.shutdown_started.load(Ordering::SeqCst),
            self.shutdown_returned.load(Ordering::SeqCst),
            load(&self.producers_done),
        )
    }
}

/// What the tasks write to.
struct Counters {
    /// How many times each task ran.
    ran: Vec<AtomicU8>,
    closures: DropCounter,
    results: DropCounter,
    results_made: AtomicUsize,
    payloads: DropCounter,
    payloads_made: AtomicUsize,
}

/// What a producer hands back.
struct Produced {
    fates: Vec<u8>,
    /// Refusals, by reason (one task can be refused twice: see `resubmitted`).
    refused_shutdown: usize,
    refused_full: usize,
    refused_timeout: usize,
    /// Refused closures submitted again.
    resubmitted: usize,
}

/// What a task does besides counting.
enum Role {
    Plain,
    /// Signals that it started, then waits on the gate: holds a worker.
    Hold(mpsc::Sender<()>, Gate),
    /// Opens the gate when dropped, whether it ran, was cancelled or was refused.
    Key {
        _key: Key,
    },
}

/// Opens its gate when dropped.
struct Key(Gate);

impl Drop for Key {
    fn drop(&mut self) {
        self.0.open();
    }
}

/// Everything a producer needs.
struct Producer {
    exec: Arc<BoundedExecutor>,
    counters: Arc<Counters>,
    progress: Arc<Progress>,
    /// Counts producers past their midpoint; the last one asks for `shutdown_now`.
    at_midpoint: Arc<AtomicUsize>,
    trigger: mpsc::Sender<mpsc::Sender<()>>,
}

#[test]
fn every_task_runs_once_or_is_cancelled_or_rejected_and_the_counters_add_up() {
    let tasks = env_or("STRESS_TASKS", DEFAULT_TASKS as u64) as usize;
    let seed = env_or("STRESS_SEED", time_seed());
    println!("stress: STRESS_SEED={seed} STRESS_TASKS={tasks}");
    assert!(tasks >= 64 * PRODUCERS, "STRESS_TASKS={tasks}: too few to shut down midway");

    // Thousands of tasks panic on purpose: keep their messages out of the output.
    let default_hook = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        if !info.payload().is::<Boom>() {
            default_hook(info);
        }
    }));

    let progress = Arc::new(Progress::default());
    let (done_tx, done_rx) = mpsc::channel();
    let body = {
        let progress = Arc::clone(&progress);
        thread::spawn(move || {
            let summary = run(tasks, seed, &progress);
            let _ = done_tx.send(summary);
        })
    };
    // A hang is a wait that gets nowhere: the run fails once its counters have stood still for
    // `WATCHDOG_LIMIT` (a loaded machine may need longer than that for the whole run), or once
    // it has run for `WATCHDOG`.
    let started = Instant::now();
    let (mut seen, mut moved) = (progress.to_string(), Instant::now());
    loop {
        match done_rx.recv_timeout(Duration::from_secs(1)) {
            Ok(summary) => {
                body.join().unwrap();
                println!("{summary}");
                return;
            }
            Err(RecvTimeoutError::Disconnected) => match body.join() {
                Err(payload) => panic::resume_unwind(payload),
                Ok(()) => unreachable!("the body sends its summary before it returns"),
            },
            Err(RecvTimeoutError::Timeout) => {
                let now = progress.to_string();
                if now != seen {
                    (seen, moved) = (now, Instant::now());
                }
                assert!(
                    moved.elapsed() < common::WATCHDOG_LIMIT && started.elapsed() < WATCHDOG,
                    "stress test hung (STRESS_SEED={seed}): no progress for {:?} (run for \
                     {:?}, limit {WATCHDOG:?}); {seen}",
                    moved.elapsed(),
                    started.elapsed()
                );
            }
        }
    }
}

fn env_or(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(value) => value.parse().unwrap_or_else(|_| panic!("{name}={value:?}: not a number")),
        Err(_) => default,
    }
}

fn time_seed() -> u64 {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
    nanos as u64 ^ (nanos >> 64) as u64
}

/// The whole run; panics on the first broken promise, returns the summary line.
fn run(tasks: usize, seed: u64, progress: &Arc<Progress>) -> String {
    let started = Instant::now();
    // Without helping: the shutdown scenario holds every worker and needs `submit` to wait
    // (a helping producer would run the queued tasks itself). `panic_everywhere.rs` and the
    // rest of the suite run with the default, helping on.
    let exec = Arc::new(
        BoundedExecutor::builder()
            .max_workers(WORKERS)
            .capacity(CAPACITY)
            .producer_helps(false)
            .build()
            .unwrap(),
    );
    let counters = Arc::new(Counters {
        ran: (0..tasks).map(|_| AtomicU8::new(0)).collect(),
        closures: DropCounter::new(),
        results: DropCounter::new(),
        results_made: AtomicUsize::new(0),
        payloads: DropCounter::new(),
        payloads_made: AtomicUsize::new(0),
    });

    // Whoever is asked calls `shutdown_now` while the other producers keep submitting, then
    // answers on the channel it was sent.
    let (trigger, asked) = mpsc::channel::<mpsc::Sender<()>>();
    let shutter = {
        let (exec, progress) = (Arc::clone(&exec), Arc::clone(progress));
        thread::spawn(move || {
            let answer = asked.recv().expect("no producer reached the midpoint");
            progress.shutdown_started.store(true, Ordering::SeqCst);
            let cancelled = exec.shutdown_now();
            progress.shutdown_returned.store(true, Ordering::SeqCst);
            answer.send(()).unwrap();
            cancelled
        })
    };

    let at_midpoint = Arc::new(AtomicUsize::new(0));
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let producer = Producer {
                exec: Arc::clone(&exec),
                counters: Arc::clone(&counters),
                progress: Arc::clone(progress),
                at_midpoint: Arc::clone(&at_midpoint),
                trigger: trigger.clone(),
            };
            let ids = tasks * p / PRODUCERS..tasks * (p + 1) / PRODUCERS;
            let seed = seed ^ (p as u64).wrapping_mul(0xd6e8_feb8_6659_fd93);
            thread::spawn(move || producer.run(ids, seed))
        })
        .collect();
    drop(trigger);

    let mut fates = Vec::with_capacity(tasks);
    let (mut refused_shutdown, mut refused_full, mut refused_timeout) = (0, 0, 0);
    let mut resubmitted = 0;
    for producer in producers {
        let produced = producer.join().unwrap();
        fates.extend(produced.fates);
        refused_shutdown += produced.refused_shutdown;
        refused_full += produced.refused_full;
        refused_timeout += produced.refused_timeout;
        resubmitted += produced.resubmitted;
    }
    let shutdown_cancelled = shutter.join().unwrap();
    let elapsed = started.elapsed();

    // Classify every task: ran once, or cancelled, or rejected, and nothing else.
    let (mut ran, mut panicked, mut rejected) = (0u64, 0u64, 0u64);
    let (mut cancelled_by_handle, mut cancelled_by_shutdown) = (0u64, 0u64);
    for (id, (&fate, runs)) in fates.iter().zip(&counters.ran).enumerate() {
        let runs = runs.load(Ordering::Relaxed);
        let panics = fate & PANICS != 0;
        match (fate & FATE, runs) {
            (REJECTED, 0) => rejected += 1,
            (CANCELLED, 0) => cancelled_by_handle += 1,
            (JOINED_CANCELLED | DETACHED, 0) => cancelled_by_shutdown += 1,
            (JOINED_OK, 1) if !panics => ran += 1,
            (JOINED_PANIC, 1) if panics => (ran, panicked) = (ran + 1, panicked + 1),
            (DETACHED, 1) => (ran, panicked) = (ran + 1, panicked + u64::from(panics)),
            (fate, runs) => panic!(
                "task {id} (panics: {panics}): producer saw {}, but it ran {runs} times",
                fate_name(fate)
            ),
        }
    }
    let tasks = tasks as u64;
    let refusals = (refused_shutdown + refused_full + refused_timeout) as u64;
    assert_eq!(rejected, refusals - resubmitted as u64);
    assert!(refused_shutdown > 0, "the producer that triggered shutdown_now submitted after it");

    let stats = exec.stats();
    assert_eq!(exec.in_flight(), 0, "{stats:?}");
    assert_eq!(stats.submitted, tasks - rejected, "{stats:?}");
    assert_eq!(stats.submitted, stats.completed + stats.cancelled, "{stats:?}");
    assert_eq!(stats.completed, ran, "{stats:?}");
    assert_eq!(stats.panicked, panicked, "{stats:?}");
    assert_eq!(stats.cancelled, cancelled_by_handle + cancelled_by_shutdown, "{stats:?}");
    assert_eq!(shutdown_cancelled as u64, cancelled_by_shutdown, "{stats:?}");
    assert_eq!(stats.rejected, refusals, "{stats:?}");
    assert_eq!(stats.inline, 0, "no task submits: nothing runs inline; {stats:?}");
    assert!(stats.peak_in_flight <= CAPACITY, "{stats:?}");

    // Nothing leaked and nothing was dropped twice, before the executor itself goes...
    let check_drops = |when: &str| {
        assert_eq!(counters.closures.dropped() as u64, tasks, "closures dropped, {when}");
        let made = counters.results_made.load(Ordering::SeqCst);
        assert_eq!(counters.results.dropped(), made, "results dropped, {when}");
        let made = counters.payloads_made.load(Ordering::SeqCst);
        assert_eq!(counters.payloads.dropped(), made, "panic payloads dropped, {when}");
    };
    check_drops("with the executor still alive");
    // ...and after.
    drop(exec);
    check_drops("after the executor was dropped");

    format!(
        "stress: tasks {tasks}, ran {ran}, cancelled {} ({cancelled_by_handle} by handle, \
         {cancelled_by_shutdown} by shutdown_now), rejected {rejected} (refusals: {refused_full} \
         full, {refused_timeout} timed out, {refused_shutdown} shut down; {resubmitted} \
         resubmitted), panicked {panicked}, elapsed {elapsed:.2?}",
        stats.cancelled
    )
}

fn fate_name(fate: u8) -> &'static str {
    match fate {
        REJECTED => "rejected",
        DETACHED => "detached",
        JOINED_OK => "joined Ok",
        JOINED_PANIC => "joined a panic",
        JOINED_CANCELLED => "joined cancelled",
        CANCELLED => "cancel() == true",
        _ => "nothing (never recorded)",
    }
}

impl Producer {
    fn run(self, ids: Range<usize>, seed: u64) -> Produced {
        let mut rng = SplitMix64(seed);
        let first = ids.start;
        let midpoint = ids.start + ids.len() / 2;
        let mut produced = Produced {
            fates: vec![0; ids.len()],
            refused_shutdown: 0,
            refused_full: 0,
            refused_timeout: 0,
            resubmitted: 0,
        };
        let mut window = VecDeque::new();
        let mut window_limit = 0;
        let mut ids = ids;
        while let Some(id) = ids.next() {
            if id == midpoint && self.at_midpoint.fetch_add(1, Ordering::SeqCst) + 1 == PRODUCERS {
                // The last producer to get here shuts the executor down; its ids from `id` on
                // are used up there, its remaining ones meet a shut-down executor.
                let mut ids_from_here = id..ids.end;
                self.shut_down_midway(&mut ids_from_here, first, &mut produced, &mut rng);
                ids = ids_from_here;
                continue;
            }
            let panics = rng.percent(2);
            let fate = &mut produced.fates[id - first];
            *fate = if panics { PANICS } else { 0 };
            let task = self.task(id, panics, rng.percent(50), Role::Plain);
            let after_shutdown = self.progress.shutdown_returned.load(Ordering::SeqCst);
            self.progress.attempted.fetch_add(1, Ordering::Relaxed);
            let submitted = match rng.below(4) {
                0 | 1 => self.exec.submit(task).map_err(|e| {
                    assert!(e.is_shutdown(), "task {id}: submit refused with {e:?}");
                    (Refused::Shutdown, e.into_inner())
                }),
                2 => self.exec.try_submit(task).map_err(|e| {
                    assert!(e.is_shutdown() || e.is_full(), "task {id}: try_submit gave {e:?}");
                    (if e.is_full() { Refused::Full } else { Refused::Shutdown }, e.into_inner())
                }),
                _ => {
                    let timeout = Duration::from_nanos(rng.below(20_000));
                    self.exec.submit_timeout(task, timeout).map_err(|e| {
                        assert!(e.is_shutdown() || e.is_timeout(), "task {id}: gave {e:?}");
                        let refused =
                            if e.is_timeout() { Refused::Timeout } else { Refused::Shutdown };
                        (refused, e.into_inner())
                    })
                }
            };
            let handle = match submitted {
                Ok(handle) => handle,
                Err((refused, task)) => {
                    match refused {
                        Refused::Shutdown => {
                            // Coherence: the refusal read the shutdown bit, so a later read does.
                            assert!(self.exec.is_shutdown(), "task {id}: refused before shutdown");
                            produced.refused_shutdown += 1;
                        }
                        Refused::Full => produced.refused_full += 1,
                        Refused::Timeout => produced.refused_timeout += 1,
                    }
                    drop(task); // the closure came back: dropping it must count once
                    *fate |= REJECTED;
                    self.progress.rejected.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
            };
            assert!(!after_shutdown, "task {id} accepted after shutdown_now returned");
            self.progress.accepted.fetch_add(1, Ordering::Relaxed);
            match rng.below(10) {
                0..=2 => *fate |= self.settle(id, panics, handle, &mut rng, 0),
                3 => *fate |= self.settle(id, panics, handle, &mut rng, 3),
                _ => window.push_back((id, panics, handle)),
            }
            if window.len() > window_limit {
                window_limit = rng.below(24) as usize;
                while window.len() > window_limit {
                    let (id, panics, handle) = window.pop_front().unwrap();
                    let how = rng.below(5);
                    produced.fates[id - first] |= self.settle(id, panics, handle, &mut rng, how);
                }
            }
        }
        for (id, panics, handle) in window {
            let how = rng.below(5);
            produced.fates[id - first] |= self.settle(id, panics, handle, &mut rng, how);
        }
        self.progress.producers_done.fetch_add(1, Ordering::SeqCst);
        produced
    }

    /// Holds both workers, queues tasks behind them, then has `shutdown_now` called while the
    /// other producers go on submitting, and returns once it has returned. Holding the workers
    /// makes sure `shutdown_now` finds tasks still queued (those queued here must come back
    /// cancelled), and that this producer's remaining submissions meet a shut-down executor.
    fn shut_down_midway(
        &self,
        ids: &mut Range<usize>,
        first: usize,
        produced: &mut Produced,
        rng: &mut SplitMix64,
    ) {
        let mut next_id = || {
            self.progress.attempted.fetch_add(1, Ordering::Relaxed);
            ids.next().expect("too few tasks per producer to shut down midway")
        };
        let gate = Gate::new();
        let (started_tx, started) = mpsc::channel();
        let holders: Vec<_> = (0..WORKERS)
            .map(|_| {
                let id = next_id();
                let hold = Role::Hold(started_tx.clone(), gate.clone());
                let handle = self.exec.submit(self.task(id, false, false, hold)).unwrap();
                self.progress.accepted.fetch_add(1, Ordering::Relaxed);
                (id, handle)
            })
            .collect();
        for _ in 0..WORKERS {
            started.recv().unwrap();
        }
        self.progress.workers_held.store(true, Ordering::SeqCst);

        // Both workers wait on the gate: what is queued now stays queued. Every task queued here
        // carries a key to the gate, which opens when any of them is dropped; none can run before
        // that, and only `shutdown_now` can drop them.
        let mut queued = Vec::new();
        let (held_id, held) = loop {
            let id = next_id();
            let panics = rng.percent(2);
            produced.fates[id - first] = if panics { PANICS } else { 0 };
            let key = Role::Key { _key: Key(gate.clone()) };
            match self.exec.try_submit(self.task(id, panics, rng.percent(50), key)) {
                Ok(handle) => {
                    self.progress.accepted.fetch_add(1, Ordering::Relaxed);
                    queued.push((id, handle));
                }
                Err(err) => {
                    assert!(err.is_full(), "task {id}: try_submit gave {err:?}");
                    produced.refused_full += 1;
                    break (id, err.into_inner());
                }
            }
        };

        let (answer, answered) = mpsc::channel();
        self.trigger.send(answer).unwrap();
        // The executor is full and its workers held, so this waits until the shutdown begins.
        let err = self.exec.submit(held).err().unwrap_or_else(|| {
            panic!("task {held_id}: accepted by a full executor whose workers are held")
        });
        assert!(err.is_shutdown(), "task {held_id}: submit gave {err:?}");
        // Acquire: synchronises with the start of `shutdown_now`, so the workers the gate
        // releases see that queued tasks are to be cancelled.
        assert!(self.exec.is_shutdown());
        produced.refused_shutdown += 1;
        produced.resubmitted += 1;
        produced.fates[held_id - first] |= REJECTED;
        self.progress.rejected.fetch_add(2, Ordering::Relaxed);
        drop(err); // a key: opens the gate if `shutdown_now` has not dropped one already
        answered.recv().unwrap();

        self.progress.settled.fetch_add(holders.len() + queued.len(), Ordering::Relaxed);
        for (id, handle) in holders {
            assert!(handle.join().is_ok(), "task {id}: held a worker, then failed");
            produced.fates[id - first] |= JOINED_OK;
        }
        for (id, handle) in queued {
            let err = handle.join().err().unwrap_or_else(|| {
                panic!("task {id}: queued behind held workers, ran despite shutdown_now")
            });
            assert!(err.is_cancelled(), "task {id}: queued at shutdown_now, joined {err:?}");
            produced.fates[id - first] |= JOINED_CANCELLED;
        }
    }

    /// A task that counts its run, its closure's drop and its value's or panic payload's drop.
    fn task(
        &self,
        id: usize,
        panics: bool,
        counts_result: bool,
        role: Role,
    ) -> impl FnOnce() -> Output + Send {
        let counters = Arc::clone(&self.counters);
        let closure = counters.closures.make();
        move || {
            let _closure = closure; // dropped when the run ends, or unwinds
            counters.ran[id].fetch_add(1, Ordering::Relaxed);
            if let Role::Hold(started, gate) = &role {
                started.send(()).unwrap();
                gate.wait();
            }
            drop(role);
            if panics {
                counters.payloads_made.fetch_add(1, Ordering::SeqCst);
                panic::panic_any(Boom { id, _counted: counters.payloads.make() });
            }
            let counted = counts_result.then(|| {
                counters.results_made.fetch_add(1, Ordering::SeqCst);
                counters.results.make()
            });
            Output { id, _counted: counted }
        }
    }

    /// Ends a handle: 0 drops it, 1 and 2 join it, 3 and 4 try to cancel it first (then 3
    /// joins, 4 drops). Returns the fate seen.
    fn settle(
        &self,
        id: usize,
        panics: bool,
        handle: TaskHandle<Output>,
        rng: &mut SplitMix64,
        how: u64,
    ) -> u8 {
        self.progress.settled.fetch_add(1, Ordering::Relaxed);
        if how >= 3 && handle.cancel() {
            assert!(handle.is_finished(), "task {id}: cancelled but not finished");
            assert!(!handle.cancel(), "task {id}: cancelled twice");
            if how == 3 || rng.percent(50) {
                let err =
                    handle.join().err().unwrap_or_else(|| panic!("task {id}: ran after cancel"));
                assert!(err.is_cancelled(), "task {id}: cancelled, then joined {err:?}");
            }
            return CANCELLED;
        }
        if how == 0 || how == 4 {
            return DETACHED;
        }
        match handle.join() {
            Ok(output) => {
                assert!(!panics, "task {id}: should have panicked, returned");
                assert_eq!(output.id, id, "task {id}: joined another task's value");
                JOINED_OK
            }
            Err(err) if err.is_panic() => {
                assert!(panics, "task {id}: panicked unexpectedly");
                let boom = err
                    .into_panic()
                    .downcast::<Boom>()
                    .unwrap_or_else(|_| panic!("task {id}: a foreign panic payload"));
                assert_eq!(boom.id, id, "task {id}: joined another task's panic");
                JOINED_PANIC
            }
            Err(err) if err.is_cancelled() => JOINED_CANCELLED,
            Err(err) => panic!("task {id}: joined {err:?}"),
        }
    }
}
