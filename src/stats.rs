//! Counters: [`Stats`], the snapshot users see, and the cache-padded counters behind it, split so
//! that producers and each worker write to lines of their own.

use std::time::Duration;

use crate::histogram::{AtomicHistogram, Timings};
use crate::sync::{AtomicU32, AtomicU64, AtomicUsize, Ordering};

/// A snapshot of an executor's counters, from [`BoundedExecutor::stats`](crate::BoundedExecutor::stats).
///
/// # Invariants
///
/// Counters are read one by one while tasks run, without stopping any, so a snapshot taken under
/// load is not one instant: a field read later may count tasks that a field read earlier did
/// not. They are read in an order that keeps these true in **every** snapshot, under any load,
/// resizes and shutdowns included (so `submitted - completed - cancelled` never wraps):
///
/// - `completed + cancelled <= submitted`;
/// - `panicked <= completed`, `inline <= completed` and `helped <= completed`;
/// - `peak_in_flight <=` the largest [`capacity()`](crate::BoundedExecutor::capacity) the
///   executor has had (after a shrink it may exceed the current one: tasks admitted before the
///   shrink still finish), and `peak_weight_in_flight <=`
///   [`weight_capacity()`](crate::BoundedExecutor::weight_capacity).
///
/// Once the executor is idle (or shut down) they add up exactly:
/// `submitted == completed + cancelled + in_flight()`.
///
/// # Examples
///
/// ```
/// use bounded_executor::BoundedExecutor;
///
/// let exec = BoundedExecutor::new(2);
/// exec.submit(|| ()).unwrap().join().unwrap();
/// exec.submit(|| panic!("oops")).unwrap().join().unwrap_err();
/// exec.shutdown();
/// let stats = exec.stats();
/// assert_eq!((stats.submitted, stats.completed, stats.panicked), (2, 2, 1));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Tasks accepted (including those run inline by a nested submit).
    pub submitted: u64,
    /// Tasks that ran to the end, whether they returned or panicked.
    pub completed: u64,
    /// Tasks that panicked (a subset of `completed`).
    pub panicked: u64,
    /// Tasks cancelled before they started, by a handle or by `shutdown_now`.
    pub cancelled: u64,
    /// Submissions refused: full (`try_submit`), timed out, shut down, forked, or too heavy
    /// for the whole weight capacity.
    pub rejected: u64,
    /// Tasks run on the submitting thread because the executor was full: by a worker that
    /// submitted to its own full executor (see the crate docs, `# Deadlocks`), or by
    /// [`submit_or_run`](crate::BoundedExecutor::submit_or_run) (caller-runs). A subset of
    /// `completed`, counted as each ends.
    pub inline: u64,
    /// Tasks a producer ran itself while it waited in a full executor's `submit` (a subset of
    /// `completed`; see [`Builder::producer_helps`](crate::Builder::producer_helps)).
    pub helped: u64,
    /// The most tasks ever in flight at once; never more than the largest `capacity()` the
    /// executor has had (see `# Invariants`).
    pub peak_in_flight: usize,
    /// The most weight units ever in flight at once (see
    /// [`submit_weighted`](crate::BoundedExecutor::submit_weighted)); never more than
    /// `weight_capacity()`. Plain submits weigh 1, so without weighted submits it is
    /// `peak_in_flight`.
    pub peak_weight_in_flight: u64,
    /// Total time producers spent waiting for a free slot (a `map` whose window is full, for
    /// a result: see [`Timings::submit_wait`]).
    pub submit_wait: Duration,
    /// Panics caught from the thread hooks ([`on_thread_start`](crate::Builder::on_thread_start),
    /// [`on_thread_stop`](crate::Builder::on_thread_stop)) and the per-task hooks
    /// ([`before_task`](crate::Builder::before_task), [`after_task`](crate::Builder::after_task)).
    /// Each was contained: the worker went on (or exited), and the task ran and ended, as if
    /// the hook had returned.
    pub hook_panics: u64,
    /// Worker threads started: at build, and later by a lazy executor
    /// ([`Builder::min_workers`](crate::Builder::min_workers)) or a resize
    /// ([`set_max_workers`](crate::BoundedExecutor::set_max_workers)).
    pub threads_started: u64,
    /// Worker threads that exited: retired after
    /// [`keep_alive`](crate::Builder::keep_alive) without work, retired by a shrink, or stopped
    /// by a shutdown. `threads_started - threads_exited` threads exist (some may be finishing
    /// their exit; [`workers()`](crate::BoundedExecutor::workers) counts those that still
    /// take tasks).
    pub threads_exited: u64,
    /// How long tasks waited in the queue and ran, and how long submits waited for a slot, as
    /// histograms with p50, p99 and the max (see [`Timings`]). The task histograms are
    /// sampled where tasks are short: their counts are estimates, outside the invariants
    /// above.
    pub timings: Timings,
}

/// Aligns its content to its own cache line pair, so counters written by different threads do
/// not share a line (128 bytes covers adjacent-line prefetching on x86_64).
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct Padded<T>(pub(crate) T);

impl<T> std::ops::Deref for Padded<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// Written by submitting threads.
#[derive(Debug, Default)]
pub(crate) struct ProducerCounters {
    pub(crate) submitted: AtomicU64,
    pub(crate) rejected: AtomicU64,
    pub(crate) submit_wait_nanos: AtomicU64,
    /// Each wait of `submit_wait_nanos`, as a histogram.
    pub(crate) submit_waits: AtomicHistogram,
    pub(crate) peak_in_flight: AtomicUsize,
    pub(crate) peak_weight_in_flight: AtomicU64,
    /// Whether waiting producers should spin before parking (see `Shared::spin_for_slot`).
    pub(crate) spin_score: AtomicU32,
    pub(crate) waits_without_spin: AtomicU32,
}

/// Written by one worker thread (and read by `stats`).
#[derive(Debug, Default)]
pub(crate) struct WorkerCounters {
    /// Tasks holding a slot that began to run here (inline runs hold none and are not counted):
    /// with `completed - inline`, what `running()` is made of.
    pub(crate) started: AtomicU64,
    pub(crate) completed: AtomicU64,
    pub(crate) panicked: AtomicU64,
    /// Counted as the task ends, right after `completed`, so that `completed - inline` counts
    /// only the tasks that held a slot.
    pub(crate) inline: AtomicU64,
}

impl WorkerCounters {
    /// Counts a task holding a slot as running, before it is claimed: the only work `running()`
    /// adds to a task's path, one Relaxed RMW on this worker's own line.
    #[inline]
    pub(crate) fn start(&self) {
        // ORDERING: Relaxed; a statistic that guards no data. A reader that joined the task
        // (Acquire on its outcome) sees it, since it precedes the task's publication.
        self.started.fetch_add(1, Ordering::Relaxed);
    }

    /// Takes back a `start` whose claim was lost (the task was cancelled or run elsewhere).
    #[cold]
    pub(crate) fn unstart(&self) {
        // ORDERING: Relaxed, as in `start`.
        self.started.fetch_sub(1, Ordering::Relaxed);
    }

    /// Tasks counted by `start` and not yet finished, as of these loads: may be off by the
    /// tasks that start or end meanwhile, and wraps below zero for an instant (the caller reads
    /// it as signed).
    pub(crate) fn running(&self) -> u64 {
        // ORDERING: Relaxed loads, one after another: exact only when no task starts or ends
        // meanwhile (see `BoundedExecutor::running`). `completed` before `started`, since a
        // task's `start` precedes its end on the writer's side.
        let completed = self.completed.load(Ordering::Relaxed);
        let inline = self.inline.load(Ordering::Relaxed);
        let started = self.started.load(Ordering::Relaxed);
        started.wrapping_sub(completed.wrapping_sub(inline))
    }

    /// Counts one finished task. Only this worker writes: a load and a store would do, but the
    /// RMW keeps loom and readers honest at no measurable cost on an uncontended line.
    #[inline]
    pub(crate) fn finished(&self, panicked: bool) {
        // ORDERING: Release, for `Shared::stats`: a snapshot that acquires this count also sees
        // the `submitted` count of every task it includes (each task's submit happens before
        // its run), so `completed <= submitted` in every snapshot. Every update is an RMW, so
        // each one continues the release sequence of those before it. On x86_64 this is the
        // same `lock xadd` as Relaxed; elsewhere a release RMW on a line only this worker writes.
        self.completed.fetch_add(1, Ordering::Release);
        if panicked {
            // ORDERING: Release, after `completed`: a snapshot that acquires it sees this
            // task's `completed` too, so `panicked <= completed`.
            self.panicked.fetch_add(1, Ordering::Release);
        }
    }

    /// Counts one finished inline task, after `finished`.
    #[cold]
    pub(crate) fn finished_inline(&self) {
        // ORDERING: Release, after `completed`, as `panicked` in `finished`: `inline <= completed`
        // in every snapshot (and `helped` never wraps).
        self.inline.fetch_add(1, Ordering::Release);
    }

    /// Adds this worker's counts to `stats`, each read after the counts that precede it on the
    /// writer's side (see `Shared::stats`): first `panicked` and `inline`, then `completed`.
    /// Returns this worker's `inline`.
    pub(crate) fn read_panicked_and_inline(&self, stats: &mut Stats) -> u64 {
        // ORDERING: Acquire, paired with the Release increments in `finished` and
        // `finished_inline`.
        stats.panicked += self.panicked.load(Ordering::Acquire);
        let inline = self.inline.load(Ordering::Acquire);
        stats.inline += inline;
        inline
    }

    /// This worker's `completed`, read after `read_panicked_and_inline`.
    pub(crate) fn read_completed(&self) -> u64 {
        // ORDERING: Acquire, paired with the Release in `finished`: the caller reads `submitted`
        // afterwards and sees the submit of every task this count includes.
        self.completed.load(Ordering::Acquire)
    }
}

/// Adds `n` to a counter (all counters are statistics: Relaxed).
#[inline]
pub(crate) fn bump(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}
