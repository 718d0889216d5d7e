//! Worker threads: how many are alive, starting them (at build, then on demand), retiring idle
//! ones after the keep-alive, resizing, stopping and joining them.
//!
//! # The threads word
//!
//! One atomic word holds the live workers (low 32 bits), the idle ones among them (the next 31)
//! and `STOPPED`. Every change is a read-modify-write of this word, so the spawn decision, an
//! idle worker's retirement and a shrink's retirement are totally ordered.
//!
//! | field | raised by | lowered by |
//! |---|---|---|
//! | live | `reserve` (at build, a resize that raises `min_workers`, or a push that finds no worker idle), before the thread is spawned | a worker that exits (`Stop`, `Retire`, keep-alive), or a spawn that failed |
//! | idle | a worker of a lazy executor about to wait for a message | the same worker, once it has one or retires |
//! | `STOPPED` | `stop`, once the executor is shut down and every accepted task has run | never |
//!
//! # Lazy threads
//!
//! With `min_workers < max_workers` the executor is *lazy*: after every push, the pusher reads
//! the word with an RMW and, if no worker is idle and fewer than `max_workers` are alive,
//! reserves one more and spawns it. A worker that finds the queue empty counts itself idle and
//! waits at most `keep_alive`; then, if more than `min_workers` are alive, it retires (lowers
//! live and idle in one RMW). The race to close: a push that counted on a worker being idle,
//! and that worker retiring without seeing the pushed task. The retiring RMW is ordered after
//! the pusher's (or before it, and the pusher saw the worker gone and spawned): in the first
//! case it acquires the pusher's release, so the retiring worker's last `try_pop` sees the task,
//! and it takes its place back (or, if the pool filled up meanwhile, pushes the task again,
//! which makes a fresh spawn decision). Modelled in `loom_tests.rs`.
//!
//! # Stopping and shrinking
//!
//! `Stop` and `Retire` travel as a relay: at most one of each is queued. The worker that takes
//! a `Stop` exits and, if workers are left, pushes the next `Stop`; one that takes a `Retire`
//! exits if more than `max_workers` are alive, and pushes the next `Retire` while that is still
//! so. So neither ever needs more room in the queue than one message, whatever the number of
//! workers, and a `Retire` left over from an earlier shrink is simply dropped.

use std::time::{Duration, Instant};

use super::{worker, Shared};
use crate::builder::Hooks;
use crate::queue::Message;
use crate::stats::bump;
use crate::sync::thread::{self, JoinHandle};
use crate::sync::{self, Arc, AtomicBool, AtomicU64, AtomicUsize, Mutex, Ordering, Parked};

const LIVE: u64 = 1;
const LIVE_MASK: u64 = (1 << 32) - 1;
const IDLE: u64 = 1 << 32;
const IDLE_MASK: u64 = ((1 << 31) - 1) << 32;
const STOPPED: u64 = 1 << 63;

fn live(word: u64) -> usize {
    (word & LIVE_MASK) as usize
}

fn idle(word: u64) -> usize {
    ((word & IDLE_MASK) >> 32) as usize
}

/// How an executor's threads are started and how many there may be.
pub(crate) struct ThreadsConfig {
    pub(crate) max_workers: usize,
    /// `None`: follows `max_workers` (every thread started at once, never retired).
    pub(crate) min_workers: Option<usize>,
    pub(crate) keep_alive: Duration,
    pub(crate) name: String,
    pub(crate) stack_size: Option<usize>,
    pub(crate) hooks: Hooks,
}

/// The workers' join handles, by worker index.
#[derive(Default)]
struct Pool {
    /// `Some` from the spawn of the thread at that index until it is joined (at shutdown, or
    /// when a new thread takes the index of one that exited).
    handles: Vec<Option<JoinHandle<()>>>,
    /// Whether the index belongs to a live thread.
    in_use: Vec<bool>,
}

/// An executor's worker threads (see the module docs).
pub(crate) struct Threads {
    word: AtomicU64,
    max: AtomicUsize,
    /// The effective `min_workers`: never above `max`.
    min: AtomicUsize,
    /// `min < max`: workers wait at most `keep_alive`, and a push may spawn one.
    lazy: AtomicBool,
    /// A `Retire` is queued (or in the hands of a thread that will queue it again): at most one
    /// is, however many resizes there are.
    retire_queued: AtomicBool,
    /// `min_workers` as configured (`None`: follows `max_workers`).
    min_config: Option<usize>,
    keep_alive: Duration,
    name: String,
    stack_size: Option<usize>,
    pub(super) hooks: Hooks,
    pool: Mutex<Pool>,
    /// Held by whoever joins the threads, so that concurrent shutdowns all return once they are
    /// joined.
    joining: Mutex<()>,
    pub(super) started: AtomicU64,
    pub(super) exited: AtomicU64,
}

impl Threads {
    /// Threads not started yet; `BoundedExecutor::start` starts `min_workers` of them.
    pub(crate) fn new(config: ThreadsConfig) -> Self {
        let max = config.max_workers;
        let min = config.min_workers.map_or(max, |min| min.min(max));
        Self {
            word: AtomicU64::new(0),
            max: AtomicUsize::new(max),
            min: AtomicUsize::new(min),
            lazy: AtomicBool::new(min < max),
            retire_queued: AtomicBool::new(false),
            min_config: config.min_workers,
            keep_alive: config.keep_alive,
            name: config.name,
            stack_size: config.stack_size,
            hooks: config.hooks,
            pool: Mutex::new(Pool::default()),
            joining: Mutex::new(()),
            started: AtomicU64::new(0),
            exited: AtomicU64::new(0),
        }
    }

    /// `workers` threads run by the caller (tests and loom models drive `Shared` by hand): they
    /// count as live, so that a shutdown sends them a `Stop`.
    pub(crate) fn external(workers: usize) -> Self {
        let threads = Self::new(ThreadsConfig {
            max_workers: workers,
            min_workers: None,
            keep_alive: Duration::ZERO,
            name: String::new(),
            stack_size: None,
            hooks: Hooks::default(),
        });
        threads.word.store(workers as u64, Ordering::Relaxed);
        threads
    }

    fn key(&self) -> usize {
        &self.word as *const AtomicU64 as usize
    }

    pub(crate) fn max(&self) -> usize {
        self.max.load(Ordering::Relaxed)
    }

    /// Live worker threads (started and not exited, or reserved and about to start).
    pub(crate) fn live(&self) -> usize {
        live(self.word.load(Ordering::Relaxed))
    }

    /// True if a push may have to start a thread.
    #[inline]
    pub(super) fn is_lazy(&self) -> bool {
        self.lazy.load(Ordering::Relaxed)
    }

    // ---- starting ------------------------------------------------------------------------

    /// Counts one more live thread, which the caller then spawns: if `when` holds for the word.
    fn reserve(&self, when: impl Fn(u64) -> bool) -> bool {
        // ORDERING: AcqRel, and an RMW even when nothing changes: a push's decision must be
        // ordered with an idle worker's retirement (see the module docs).
        let mut current = self.word.load(Ordering::Relaxed);
        loop {
            let spawn = current & STOPPED == 0 && when(current);
            let next = if spawn { current + LIVE } else { current };
            match self.word.compare_exchange_weak(
                current,
                next,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return spawn,
                Err(actual) => current = actual,
            }
        }
    }

    /// Takes back a reservation whose thread did not start; true if no thread is left.
    fn unreserve(&self) -> bool {
        let previous = self.word.fetch_sub(LIVE, Ordering::AcqRel);
        self.exited_from(previous)
    }

    /// After a push on a lazy executor: starts a worker if none is idle and fewer than
    /// `max_workers` are alive.
    pub(super) fn after_push(&self, shared: &Arc<Shared>) {
        let max = self.max();
        if self.reserve(|word| idle(word) == 0 && live(word) < max) {
            // A refused thread is handled there; the task waits for the threads alive.
            let _ = self.spawn_reserved(shared);
        }
    }

    /// Starts threads until `min_workers` are alive: at build, and after a resize.
    pub(crate) fn fill_to_min(&self, shared: &Arc<Shared>) -> std::io::Result<()> {
        loop {
            let min = self.min.load(Ordering::Relaxed);
            if !self.reserve(|word| live(word) < min) {
                return Ok(());
            }
            self.spawn_reserved(shared)?;
        }
    }

    /// Spawns the thread a `reserve` counted, at the lowest free index. If the OS refuses it, the
    /// reservation is taken back; should no worker be left while tasks are queued, the caller
    /// runs them itself, so that none waits for a thread that will not come.
    fn spawn_reserved(&self, shared: &Arc<Shared>) -> std::io::Result<()> {
        let mut pool = self.pool.lock();
        let index = pool.in_use.iter().position(|used| !used).unwrap_or(pool.in_use.len());
        if index == pool.in_use.len() {
            pool.in_use.push(false);
            pool.handles.push(None);
        }
        // The thread that last had this index has exited (it frees the index as its last step
        // under this lock): reap it.
        if let Some(old) = pool.handles[index].take() {
            let _ = old.join();
        }
        let name = format!("{}-{index}", self.name);
        let for_thread = Arc::clone(shared);
        match thread::spawn(name, self.stack_size, move || worker::main(for_thread, index)) {
            Ok(handle) => {
                pool.in_use[index] = true;
                pool.handles[index] = Some(handle);
                bump(&self.started, 1);
                Ok(())
            }
            Err(err) => {
                drop(pool);
                if self.unreserve() {
                    shared.run_queued_here();
                }
                Err(err)
            }
        }
    }

    // ---- waiting for work ----------------------------------------------------------------

    /// A worker's next message, or `None` if it retired after `keep_alive` without one.
    pub(super) fn next_message(&self, shared: &Arc<Shared>) -> Option<Message> {
        let queue = &shared.queue;
        if !self.is_lazy() {
            return Some(queue.pop());
        }
        if let Some(message) = queue.try_pop() {
            return Some(message);
        }
        // ORDERING: AcqRel, see `reserve`.
        self.word.fetch_add(IDLE, Ordering::AcqRel);
        let message = match queue.pop_timeout(self.keep_alive) {
            Some(message) => message,
            None => {
                if self.retire_idle() {
                    return self.after_retiring(shared);
                }
                // `min_workers` are alive: this one stays, and waits as long as it takes.
                queue.pop()
            }
        };
        self.word.fetch_sub(IDLE, Ordering::AcqRel);
        Some(message)
    }

    /// An idle worker whose keep-alive ran out leaves, if more than `min_workers` are alive.
    fn retire_idle(&self) -> bool {
        let min = self.min.load(Ordering::Relaxed);
        let mut current = self.word.load(Ordering::Relaxed);
        loop {
            if live(current) <= min || current & STOPPED != 0 {
                return false;
            }
            // ORDERING: AcqRel: acquires every push whose spawn decision counted this worker
            // idle (see the module docs).
            match self.word.compare_exchange_weak(
                current,
                current - LIVE - IDLE,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(previous) => {
                    self.exited_from(previous);
                    return true;
                }
                Err(actual) => current = actual,
            }
        }
    }

    /// Right after `retire_idle`: a push that counted on this worker is visible now. Takes the
    /// worker's place back for it if there is room (`Some`: the worker goes on with it), or
    /// hands it on.
    fn after_retiring(&self, shared: &Arc<Shared>) -> Option<Message> {
        match shared.queue.try_pop()? {
            Message::Run(job) => {
                let max = self.max();
                if self.reserve(|word| live(word) < max) {
                    return Some(Message::Run(job));
                }
                // `max_workers` are alive, or were: pushed again with a fresh spawn decision,
                // ordered with their own retirements as the first push was with ours.
                Shared::push_task(shared, Message::Run(job));
            }
            // Meant for the workers still alive (a `Stop` is only sent while some are).
            Message::Stop => shared.queue.push(Message::Stop),
            Message::Retire => {
                self.retire_taken();
                self.pass_retire_on(shared);
            }
        }
        None
    }

    // ---- exiting -------------------------------------------------------------------------

    /// A worker that took `Retire`: true if it is to exit (more than `max_workers` alive), in
    /// which case it is no longer counted live and has passed the relay on.
    pub(super) fn retire_over_max(&self, shared: &Shared) -> bool {
        self.retire_taken();
        let mut current = self.word.load(Ordering::Relaxed);
        loop {
            if live(current) <= self.max() {
                return false;
            }
            match self.word.compare_exchange_weak(
                current,
                current - LIVE,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(previous) => {
                    self.exited_from(previous);
                    self.pass_retire_on(shared);
                    return true;
                }
                Err(actual) => current = actual,
            }
        }
    }

    /// Sends a `Retire` while more than `max_workers` are alive, unless one is queued.
    fn pass_retire_on(&self, shared: &Shared) {
        // ORDERING: Relaxed; the flag only keeps `Retire`s from piling up. A worker clears it
        // before it reads the live count, so a shrink that finds it set has one coming.
        if self.live() > self.max() && !self.retire_queued.swap(true, Ordering::Relaxed) {
            shared.queue.push(Message::Retire);
        }
    }

    /// A `Retire` was taken off the queue (by a worker, or dropped for want of one).
    pub(super) fn retire_taken(&self) {
        self.retire_queued.store(false, Ordering::Relaxed);
    }

    /// A worker that took `Stop` leaves, and passes it on to the next one, if any.
    pub(super) fn exit_on_stop(&self, shared: &Shared) {
        let previous = self.word.fetch_sub(LIVE, Ordering::AcqRel);
        if !self.exited_from(previous) {
            shared.queue.push(Message::Stop);
        }
    }

    /// A worker that left its loop, before its stop hook runs: counted in
    /// `Stats::threads_exited`.
    pub(super) fn count_exit(&self) {
        bump(&self.exited, 1);
    }

    /// A worker thread's last step: frees its index (its handle stays, to be joined).
    pub(super) fn release_index(&self, index: usize) {
        self.pool.lock().in_use[index] = false;
    }

    /// After live went down from `previous`: wakes the shutdown if that was the last thread.
    fn exited_from(&self, previous: u64) -> bool {
        let none_left = live(previous) == 1;
        if none_left && previous & STOPPED != 0 {
            sync::unpark_all(self.key());
        }
        none_left
    }

    /// Once shut down with nothing in flight: marks the threads stopped and starts the `Stop`
    /// relay.
    pub(super) fn stop(&self, shared: &Shared) {
        let previous = self.word.fetch_or(STOPPED, Ordering::AcqRel);
        if previous & STOPPED != 0 {
            return;
        }
        if live(previous) == 0 {
            sync::unpark_all(self.key());
        } else {
            shared.queue.push(Message::Stop);
        }
    }

    /// Waits until the threads are stopped and every one has exited, or `deadline`; true if so.
    pub(crate) fn wait_exited(&self, deadline: Option<Instant>) -> bool {
        let done = |word: u64| word & STOPPED != 0 && live(word) == 0;
        loop {
            // ORDERING: Acquire pairs with the exits' AcqRel: a shutdown that sees no thread
            // left sees every task's effects.
            if done(self.word.load(Ordering::Acquire)) {
                return true;
            }
            let should_park = || !done(self.word.load(Ordering::Relaxed));
            if sync::park(self.key(), should_park, deadline) == Parked::TimedOut {
                return done(self.word.load(Ordering::Acquire));
            }
        }
    }

    /// Joins every thread started so far (after `wait_exited`, they have all left their loop).
    pub(crate) fn join_all(&self) {
        let _joining = self.joining.lock();
        let handles: Vec<_> =
            self.pool.lock().handles.iter_mut().filter_map(Option::take).collect();
        for handle in handles {
            // Workers catch every panic of user code, so join only fails if the runtime aborted
            // the thread in a way we cannot do anything about.
            let _ = handle.join();
        }
    }

    /// In a forked child: forgets the parent's threads (they do not exist here) without ever
    /// blocking on a lock another thread may have held at the fork.
    pub(crate) fn forget_all(&self) {
        if let Some(mut pool) = self.pool.try_lock() {
            std::mem::forget(std::mem::take(&mut pool.handles));
        }
    }

    // ---- resizing ------------------------------------------------------------------------

    /// Sets `max_workers` (and `min_workers`, if it follows it or is above it): the caller has
    /// validated `max`. Starts threads up to the new minimum; sends the `Retire` relay if more
    /// than `max` are alive.
    pub(crate) fn set_max(&self, shared: &Arc<Shared>, max: usize) -> std::io::Result<()> {
        {
            // Under the pool lock, so that concurrent resizes apply in one order.
            let _pool = self.pool.lock();
            let min = self.min_config.map_or(max, |min| min.min(max));
            self.max.store(max, Ordering::Relaxed);
            self.min.store(min, Ordering::Relaxed);
            self.lazy.store(min < max, Ordering::Relaxed);
        }
        self.pass_retire_on(shared);
        self.fill_to_min(shared)
    }
}

impl std::fmt::Debug for Threads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let word = self.word.load(Ordering::Relaxed);
        f.debug_struct("Threads")
            .field("live", &live(word))
            .field("idle", &idle(word))
            .field("max", &self.max())
            .finish_non_exhaustive()
    }
}
