//! [`Shared`]: the state an executor's workers, handles and producers share, and what happens
//! at each end of a task. Its rooms:
//!
//! - `slots.rs`, the bound: the slot word, taking a slot and giving it back. The one file to
//!   read to understand why `in_flight() <= capacity()`.
//! - `waiting.rs`: producers that find no room (helping, spinning, parking, async waiters,
//!   `wait_idle`) and who a release wakes (batched wake-ups, the idle guard).
//! - `tasks.rs`: a task's start and end (queued or inline, run, cancel, husks, joins off the
//!   queue) and the helping scopes.
//! - this file: the shared state, shutdown and counters.
//! - `worker.rs`: the worker loop and the thread-local that tells a thread which executor it
//!   serves.
//! - `threads.rs`: the worker threads themselves: how many are alive, starting them (at build
//!   and on demand), retiring idle ones; `threads/exit.rs`: resizing, stopping and joining them.
//!
//! Handles are built in `handle.rs`, on top of [`Shared::enqueue`].
//!
//! # Husks
//!
//! A queue entry keeps its slot until a worker (or `shutdown_now`) pops it. A task cancelled by
//! its handle, or run by a worker that joins it, leaves a *husk* in the queue: its slot is given
//! back by whichever comes second of the task's end and the entry's pop (the task's `DONE` and
//! `POPPED` bits decide), so the queue never holds more than `capacity` allocations and a task
//! still running off the queue keeps its slot (and its weight units). `husks` and `husk_units`
//! count the ended-but-unpopped entries and their units, so that `in_flight()` and
//! `weight_in_flight()` report only queued and running tasks.
//!
//! # Stopping
//!
//! Whoever takes the count to zero after `SHUTDOWN` (or the shutdown itself, if it finds zero)
//! starts the `Stop` relay (see `threads/exit.rs`): every accepted task has run by then.

use std::time::{Duration, Instant};

pub(crate) use crate::error::Refusal;
use crate::fork;
use crate::histogram::{TaskTimings, SAMPLE_STRIDE, TIME_EVERY_TASK_FROM};
use crate::hooks::TaskHooks;
use crate::queue::{JobRef, Message, Queue};
use crate::stats::{bump, Padded, ProducerCounters, Stats, WorkerCounters};
use crate::sync::{Arc, AtomicBool, AtomicU64, AtomicUsize, Mutex, Ordering};
use crate::task::{Claim, Ended, Job};
use crate::unwind::LatePanic;

mod slots;
mod tasks;
mod threads;
mod waiting;
pub(crate) mod worker;

use self::slots::{units, COUNT, SHUTDOWN};
pub(crate) use self::slots::{MAX_CAPACITY, MAX_WEIGHT_CAPACITY};
pub(crate) use self::threads::{Seat, Threads, ThreadsConfig};
use self::waiting::AsyncWaiters;

/// The worker index of helping producers and `submit_or_run` callers (see `helper_index`).
const HELPER: usize = usize::MAX;

/// Timing shards for workers (see `Shared::timings`): beyond this many workers, they share.
const TIMING_SHARDS: usize = 8;

/// Spreads submit counts over the `u64` range for sampling (see `Shared::times_task`): odd, and
/// 2^64 over the golden ratio, so consecutive counts land far apart and any arithmetic
/// subsequence of them (one kind of task in a repeating mix) is spread as evenly.
const SAMPLE_SPREAD: u64 = 0x9E37_79B9_7F4A_7C15;
/// `timing_threshold` when every task is timed.
const TIME_EVERY_TASK: u64 = u64::MAX;
/// `timing_threshold` when one task in `SAMPLE_STRIDE` is.
const TIME_ONE_IN_STRIDE: u64 = u64::MAX / SAMPLE_STRIDE as u64;

/// How a task got in: with a slot and its weight in units, or to run inline on worker `index`
/// of its own full executor (holding neither).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Admission {
    Slot(u64),
    Inline(usize),
}

impl Admission {
    /// The units this admission holds, which the task gives back as it ends.
    pub(crate) fn weight(self) -> u64 {
        match self {
            Admission::Slot(weight) => weight,
            Admission::Inline(_) => 0,
        }
    }
}

/// Who handles a job popped from the queue.
#[derive(Debug, Clone, Copy)]
pub(crate) enum PoppedBy {
    /// Worker `index`, which runs it (or cancels it once `shutdown_now` began).
    Worker(usize),
    /// `shutdown_now`'s drain, which cancels it.
    Drain,
}

/// How long a submit may wait for a slot, and whether it may help meanwhile.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Wait {
    /// Never waits (`try_submit` and its family).
    No,
    /// Waits as long as it takes (a blocking `submit`): the only wait that may help (see
    /// `Shared::help_while_full`).
    Forever,
    /// Waits at most until the deadline, `None` if it is further than an `Instant` can hold
    /// (`submit_timeout(f, Duration::MAX)`). Never helps, whatever the deadline: a caller that
    /// gives a timeout wants to be back by then, not to be running someone else's task.
    Until(Option<Instant>),
}

impl Wait {
    /// A wait of at most `timeout` from now.
    pub(crate) fn timeout(timeout: Duration) -> Self {
        Wait::Until(Instant::now().checked_add(timeout))
    }
}

/// The state workers, handles and producers share.
pub(crate) struct Shared {
    slots: Padded<AtomicU64>,
    /// Read on every submit, written only by a resize.
    capacity: AtomicUsize,
    /// The per-task hooks, if any is set (fixed at build): tested on every submit. Boxed: one
    /// word, so that adding it moved no other field of this struct.
    task_hooks: Option<Box<TaskHooks>>,
    /// A task is timed if its hashed submit count is at most this (see `times_task`): read on
    /// every submit, written when the tasks' run times cross `TIME_EVERY_TASK_FROM`.
    timing_threshold: AtomicU64,
    /// The most weight units in flight (`MAX_WEIGHT_CAPACITY` unless the builder set one).
    weight_capacity: u64,
    /// Queue entries whose task already ended elsewhere (cancelled, or run by a joining worker):
    /// they hold a slot until popped but are not in flight. May dip below zero for an instant
    /// (wrapping), when a pop overtakes the claimer's count; readers clamp.
    husks: AtomicUsize,
    /// The weight units those husks hold; may dip below zero the same way.
    husk_units: AtomicU64,
    pub(crate) queue: Queue,
    fork_generation: usize,
    /// Set by `shutdown_now`: queued tasks are cancelled instead of run.
    cancelling: AtomicBool,
    pub(crate) threads: Threads,
    producers: Padded<ProducerCounters>,
    workers: Box<[Padded<WorkerCounters>]>,
    /// Whether a blocking `submit` that finds the executor full runs queued tasks itself.
    producer_helps: bool,
    /// Tasks run by producers while they helped (any number of threads write).
    helpers: Padded<WorkerCounters>,
    /// The timed tasks' queue waits and run times: one shard per worker (workers past
    /// `TIMING_SHARDS` share, by index), and the last for every thread that is not a worker.
    timings: Box<[Padded<TaskTimings>]>,
    cancelled: AtomicU64,
    cancelled_by_shutdown: AtomicU64,
    /// Panics caught from the thread hooks and the per-task hooks.
    hook_panics: AtomicU64,
    async_waiters: Mutex<AsyncWaiters>,
}

impl Shared {
    pub(crate) fn new(max_workers: usize, capacity: usize) -> Self {
        Self {
            slots: Padded(AtomicU64::new(0)),
            capacity: AtomicUsize::new(capacity),
            task_hooks: None,
            weight_capacity: MAX_WEIGHT_CAPACITY,
            husks: AtomicUsize::new(0),
            husk_units: AtomicU64::new(0),
            queue: Queue::new(capacity),
            fork_generation: fork::register(),
            cancelling: AtomicBool::new(false),
            threads: Threads::external(max_workers),
            producers: Padded::default(),
            workers: (0..max_workers).map(|_| Padded::default()).collect(),
            producer_helps: false,
            helpers: Padded::default(),
            timing_threshold: AtomicU64::new(TIME_EVERY_TASK),
            timings: (0..max_workers.min(TIMING_SHARDS) + 1).map(|_| Padded::default()).collect(),
            cancelled: AtomicU64::new(0),
            cancelled_by_shutdown: AtomicU64::new(0),
            hook_panics: AtomicU64::new(0),
            async_waiters: Mutex::new(AsyncWaiters::default()),
        }
    }

    /// The worker index a helping producer (or a `submit_or_run` caller running its task) runs
    /// under, so that its counts go to `helpers`.
    fn helper_index(&self) -> usize {
        HELPER
    }

    /// The counters of worker `index` (of the helping producers for `helper_index`). Workers
    /// started past the count the executor was built with (by `set_max_workers`) share the
    /// counters of a lower index: every update is an RMW, so the sums stay exact.
    #[inline]
    fn counters(&self, index: usize) -> &WorkerCounters {
        if index == HELPER {
            &self.helpers
        } else {
            &self.workers[index % self.workers.len()]
        }
    }

    /// Whether the task being allocated is timed (see `histogram.rs`, `# Sampling`):
    /// `Some(weight)`, the tasks its timing stands for. Every task is timed where per-task
    /// hooks are set (or spans are wanted); otherwise one in `SAMPLE_STRIDE` while tasks are
    /// short, picked by the count of submits before it, spread by a multiplicative hash so
    /// that a workload that repeats with any period has each of its kinds sampled. No write:
    /// a load of the count the submit is about to raise (its line is this producer's next
    /// write anyway), a load of the threshold, a multiply and a branch. Producers racing may
    /// both see one count, or skip one: over many submits each count is seen once on average.
    #[inline]
    pub(crate) fn times_task(&self) -> Option<u32> {
        if self.has_task_hooks() {
            return Some(1);
        }
        // A span per task, while a subscriber wants them: every task is wrapped, and timed.
        #[cfg(feature = "tracing")]
        if crate::task_span::wanted() {
            return Some(1);
        }
        // Loom models leave sampling out: its atomics would only multiply their states.
        if cfg!(loom) {
            return None;
        }
        // ORDERING: Relaxed; a heuristic over statistics.
        let threshold = self.timing_threshold.load(Ordering::Relaxed);
        let count = self.producers.submitted.load(Ordering::Relaxed);
        if count.wrapping_mul(SAMPLE_SPREAD) > threshold {
            None
        } else if threshold == TIME_EVERY_TASK {
            Some(1)
        } else {
            Some(SAMPLE_STRIDE)
        }
    }

    /// Records a timed task's queue wait and run time (standing for `weight` tasks), on the
    /// shard of the thread that ran it, and sets the stride for the tasks submitted next.
    pub(crate) fn record_task_timing(&self, queue_wait: Duration, run_time: Duration, weight: u32) {
        let shard = match self.worker_index_here() {
            Some(index) => &self.timings[index % (self.timings.len() - 1)],
            None => &self.timings[self.timings.len() - 1],
        };
        shard.queue_wait.record(queue_wait, u64::from(weight));
        shard.run_time.record(run_time, u64::from(weight));
        // Loom models never sample (`times_task`), and a branch on a measured time would not
        // replay.
        if cfg!(loom) {
            return;
        }
        let threshold =
            if run_time >= TIME_EVERY_TASK_FROM { TIME_EVERY_TASK } else { TIME_ONE_IN_STRIDE };
        // ORDERING: Relaxed; a heuristic. Written only when it changes: every submit reads it.
        if self.timing_threshold.load(Ordering::Relaxed) != threshold {
            self.timing_threshold.store(threshold, Ordering::Relaxed);
        }
    }

    /// Sets the per-task hooks (`None` if neither is set).
    pub(crate) fn with_task_hooks(mut self, hooks: Option<TaskHooks>) -> Self {
        self.task_hooks = hooks.map(Box::new);
        self
    }

    /// Whether tasks are to be wrapped in their hooks (see `task_hooks.rs`): the one branch a
    /// submit pays for them.
    #[inline]
    pub(crate) fn has_task_hooks(&self) -> bool {
        self.task_hooks.is_some()
    }

    /// The per-task hooks, if any is set.
    pub(crate) fn task_hooks(&self) -> Option<&TaskHooks> {
        self.task_hooks.as_deref()
    }

    /// The calling thread's index among this executor's worker threads, `None` if it is not one
    /// of them (a helping producer or caller-runs caller, or a thread with no tie to it).
    pub(crate) fn worker_index_here(&self) -> Option<usize> {
        worker::index_in(self).filter(|&index| index != HELPER)
    }

    /// Sets whether blocking producers run queued tasks while the executor is full.
    pub(crate) fn with_producer_helps(mut self, helps: bool) -> Self {
        self.producer_helps = helps;
        self
    }

    /// Sets how the executor's threads start, retire and are named; `BoundedExecutor::start`
    /// then starts them.
    pub(crate) fn with_threads(mut self, config: ThreadsConfig) -> Self {
        self.threads = Threads::new(config);
        self
    }

    /// Sets the most weight units in flight (at most `MAX_WEIGHT_CAPACITY`, checked by the
    /// builder).
    pub(crate) fn with_weight_capacity(mut self, weight_capacity: u64) -> Self {
        debug_assert!((1..=MAX_WEIGHT_CAPACITY).contains(&weight_capacity));
        self.weight_capacity = weight_capacity;
        self
    }

    #[inline]
    pub(crate) fn capacity(&self) -> usize {
        // ORDERING: Relaxed; a resize is not ordered with the submits racing it, which may be
        // admitted under either value (see `set_capacity`).
        self.capacity.load(Ordering::Relaxed)
    }

    pub(crate) fn weight_capacity(&self) -> u64 {
        self.weight_capacity
    }

    /// True in a forked child of the process that built the executor.
    #[inline]
    pub(crate) fn is_forked(&self) -> bool {
        fork::generation() != self.fork_generation
    }

    /// Queued plus running tasks (husks excluded).
    pub(crate) fn in_flight(&self) -> usize {
        // ORDERING: Relaxed loads; statistics, exact at rest (see `BoundedExecutor::in_flight`).
        let taken = (self.slots.load(Ordering::Relaxed) & COUNT) as isize;
        let husks = self.husks.load(Ordering::Relaxed) as isize;
        (taken - husks).clamp(0, taken) as usize
    }

    /// Weight units held by queued and running tasks (husks excluded).
    pub(crate) fn weight_in_flight(&self) -> u64 {
        // ORDERING: Relaxed loads, as in `in_flight`.
        let taken = units(self.slots.load(Ordering::Relaxed)) as i64;
        let husk_units = self.husk_units.load(Ordering::Relaxed) as i64;
        (taken - husk_units).clamp(0, taken) as u64
    }

    /// Tasks holding a slot that are running (on a worker, a helping producer, or a worker
    /// joining them), never more than `in_flight()`; see `BoundedExecutor::running`.
    pub(crate) fn running(&self) -> usize {
        let running = self
            .workers
            .iter()
            .chain(std::iter::once(&self.helpers))
            .fold(0u64, |sum, counters| sum.wrapping_add(counters.running()));
        // Below zero for an instant if a task ended between the loads: clamp.
        let running = usize::try_from(running as i64).unwrap_or(0);
        running.min(self.in_flight())
    }

    /// Slots taken, husks included: what the loom models check comes back to zero.
    #[cfg(all(loom, test))]
    pub(crate) fn slots_taken(&self) -> usize {
        (self.slots.load(Ordering::Relaxed) & COUNT) as usize
    }

    /// Weight units taken, husks included.
    #[cfg(all(loom, test))]
    pub(crate) fn units_taken(&self) -> u64 {
        units(self.slots.load(Ordering::Relaxed))
    }

    pub(crate) fn is_shutdown(&self) -> bool {
        // ORDERING: Acquire pairs with the Release in `begin_shutdown`: whoever sees SHUTDOWN also
        // sees the `cancelling` flag `shutdown_now` set before it.
        self.slots.load(Ordering::Acquire) & SHUTDOWN != 0
    }

    // ---- shutdown ------------------------------------------------------------------------

    fn stop_workers(&self) {
        self.threads.stop(self);
    }

    /// Stops accepting tasks; idempotent.
    pub(crate) fn begin_shutdown(&self) {
        // ORDERING: Release, paired with `is_shutdown`. Acquire: finding the count at zero, it
        // stops the workers itself, so it acquires every release before, as `release_slow`
        // does (see `Threads::enter_helper`).
        let previous = self.slots.fetch_or(SHUTDOWN, Ordering::AcqRel);
        if previous & SHUTDOWN == 0 {
            if previous & COUNT == 0 {
                self.stop_workers();
            }
            self.wake_all_producers();
        }
    }

    /// `shutdown_now`'s first half: stop accepting, then cancel every queued task at once.
    ///
    /// The drain always finishes: a panic from a cancelled closure's `Drop` is caught and
    /// returned (the first one; later ones are discarded), for the caller to raise once the
    /// workers are joined.
    pub(crate) fn cancel_queued(&self) -> LatePanic {
        self.cancelling.store(true, Ordering::Relaxed);
        self.begin_shutdown();
        let mut late = LatePanic::default();
        let mut relays = Vec::new();
        while let Some(message) = self.queue.try_pop() {
            match message {
                Message::Run(job) => late.catch(|| self.execute(job, PoppedBy::Drain)),
                relay => relays.push(relay),
            }
        }
        for relay in relays {
            self.queue.push(relay);
        }
        late
    }

    /// Tasks cancelled by `shutdown_now` (its drain, and workers after it) that no call has
    /// reported yet: each is reported once.
    pub(crate) fn take_cancelled_by_shutdown(&self) -> u64 {
        self.cancelled_by_shutdown.swap(0, Ordering::Relaxed)
    }

    /// Counts a panic caught from a thread hook or a per-task hook.
    pub(crate) fn count_hook_panic(&self) {
        bump(&self.hook_panics, 1);
    }

    /// Waits until every worker has exited, or `deadline`; true if they all did.
    pub(crate) fn wait_workers_exited(&self, deadline: Option<Instant>) -> bool {
        self.threads.wait_exited(deadline)
    }

    /// A snapshot of the counters, read in the order that makes each invariant of [`Stats`]
    /// hold in every snapshot, under load too. A count is read after every count its writer
    /// updates after it, and the increments it depends on are made visible by Acquire loads of
    /// Release increments (nothing on a task's path becomes slower than a Relaxed RMW on x86_64):
    ///
    /// 1. `panicked` and `inline` of every worker and of the helpers, before
    /// 2. `completed` (a task's `completed` is counted before its `panicked` and `inline`), and
    ///    `cancelled`, before
    /// 3. `submitted` (a task's submit is counted before it can run or be cancelled).
    ///
    /// Reading a count late only makes it larger, so each "<=" holds: the later count includes
    /// at least every task the earlier one does.
    pub(crate) fn stats(&self) -> Stats {
        let mut stats = Stats::default();
        let all = || self.workers.iter().map(|counters| &**counters);
        for counters in all() {
            counters.read_panicked_and_inline(&mut stats);
        }
        // The helpers' inline runs (caller-runs, and nested submits inside a helped task) are
        // in their `completed` too, but they are `inline`, not `helped`.
        let helpers_inline = self.helpers.read_panicked_and_inline(&mut stats);
        for counters in all() {
            stats.completed += counters.read_completed();
        }
        let helpers_completed = self.helpers.read_completed();
        stats.helped = helpers_completed.saturating_sub(helpers_inline);
        stats.completed += helpers_completed;
        // ORDERING: Acquire, paired with the Release in `count_cancel`, before `submitted`.
        stats.cancelled = self.cancelled.load(Ordering::Acquire);
        // ORDERING: Relaxed; read after the Acquire loads above, so it includes every submit
        // that happened before a run or cancel they count.
        stats.submitted = self.producers.submitted.load(Ordering::Relaxed);
        stats.rejected = self.producers.rejected.load(Ordering::Relaxed);
        stats.submit_wait =
            Duration::from_nanos(self.producers.submit_wait_nanos.load(Ordering::Relaxed));
        stats.peak_in_flight = self.producers.peak_in_flight.load(Ordering::Relaxed);
        stats.peak_weight_in_flight = self.producers.peak_weight_in_flight.load(Ordering::Relaxed);
        stats.hook_panics = self.hook_panics.load(Ordering::Relaxed);
        stats.threads_started = self.threads.started.load(Ordering::Relaxed);
        stats.threads_exited = self.threads.exited.load(Ordering::Relaxed);
        // Not under loom: no model samples (see `times_task`), and its loads would only
        // multiply the states.
        #[cfg(not(loom))]
        {
            for shard in self.timings.iter() {
                shard.queue_wait.read_into(&mut stats.timings.queue_wait);
                shard.run_time.read_into(&mut stats.timings.run_time);
            }
            self.producers.submit_waits.read_into(&mut stats.timings.submit_wait);
        }
        stats
    }
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("capacity", &self.capacity())
            .field("weight_capacity", &self.weight_capacity)
            .field("threads", &self.threads)
            .finish_non_exhaustive()
    }
}
