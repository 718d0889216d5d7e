//! [`BoundedExecutor`]: the slot count that bounds tasks in flight, the submit family, shutdown
//! and `Drop`.
//!
//! # The slot word
//!
//! One atomic word holds the number of tasks in flight (low bits), `WAITING` (a producer sleeps
//! for a slot) and `SHUTDOWN`. A submit takes a slot with a CAS that refuses when the count is
//! `capacity` or `SHUTDOWN` is set, so the bound is exact under any number of producers; only then
//! is the task pushed. A task gives its slot back when it has run or was cancelled. Producers
//! sleep on the word's address; a worker that gives a slot back wakes them only when the count
//! falls to the low-water mark (half the capacity), so busy workers do not pay a wake-up per task
//! and still have queued work when the producer refills. Whoever takes the count to zero after
//! `SHUTDOWN` (or `shutdown` itself, if it finds it at zero) tells the workers to stop: every
//! accepted task has run by then.

use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::builder::Config;
use crate::error::{BuildError, BuildErrorKind, SubmitError, SubmitTimeoutError, TrySubmitError};
use crate::handle::TaskHandle;
use crate::queue::{Message, Queue};
use crate::stats::{bump, Padded, ProducerCounters, Stats, WorkerCounters};
use crate::sync::{self, Arc, AtomicBool, AtomicU64, AtomicUsize, Mutex, Ordering, Parked};
use crate::task::{Job, Task};
use crate::{fork, worker, Builder};

const SHUTDOWN: usize = 1 << (usize::BITS - 1);
const WAITING: usize = 1 << (usize::BITS - 2);
const COUNT: usize = WAITING - 1;

/// Spin rounds (of 1, 2, 4, ... `spin_loop` hints) a producer makes before yielding.
const SPIN_STEPS: u32 = 7;
/// `yield_now` rounds before parking.
const YIELD_STEPS: u32 = 3;

/// The largest capacity the slot word can count.
pub(crate) const MAX_CAPACITY: usize = COUNT;

/// Why a slot was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    Full,
    Timeout,
    Shutdown,
    Forked,
}

/// How long a submit may wait for a slot.
#[derive(Clone, Copy)]
enum Wait {
    No,
    Forever,
    Until(Instant),
}

/// The state workers and handles share with the executor.
pub(crate) struct Shared {
    slots: Padded<AtomicUsize>,
    capacity: usize,
    low_water: usize,
    pub(crate) queue: Queue,
    fork_generation: usize,
    /// Set by `shutdown_now`: workers cancel what they pop instead of running it.
    cancelling: AtomicBool,
    live_workers: AtomicUsize,
    producers: Padded<ProducerCounters>,
    workers: Box<[Padded<WorkerCounters>]>,
    cancelled: AtomicU64,
    cancelled_by_shutdown: AtomicU64,
}

impl Shared {
    fn slots_key(&self) -> usize {
        &*self.slots as *const AtomicUsize as usize
    }

    fn live_workers_key(&self) -> usize {
        &self.live_workers as *const AtomicUsize as usize
    }

    pub(crate) fn fork_generation(&self) -> usize {
        self.fork_generation
    }

    /// True in a forked child of the process that built the executor.
    #[inline]
    fn is_forked(&self) -> bool {
        fork::generation() != self.fork_generation
    }

    /// Takes a slot if one is free.
    #[inline]
    fn try_acquire(&self) -> Result<(), Refusal> {
        if self.is_forked() {
            return Err(Refusal::Forked);
        }
        // ORDERING (whole function): Relaxed. The slot count guards no data: tasks reach workers
        // through the queue, which synchronises on its own. The bound and the shutdown handshake
        // are decided on the values the RMWs read, and RMWs always read the latest value.
        let mut current = self.slots.load(Ordering::Relaxed);
        loop {
            if current & SHUTDOWN != 0 {
                return Err(Refusal::Shutdown);
            }
            let count = current & COUNT;
            if count >= self.capacity {
                return Err(Refusal::Full);
            }
            match self.slots.compare_exchange_weak(
                current,
                current + 1,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    self.note_in_flight(count + 1);
                    return Ok(());
                }
                Err(actual) => current = actual,
            }
        }
    }

    #[inline]
    fn note_in_flight(&self, count: usize) {
        let peak = &self.producers.peak_in_flight;
        if count > peak.load(Ordering::Relaxed) {
            peak.fetch_max(count, Ordering::Relaxed);
        }
    }

    /// Waits for a slot until `deadline` (forever if `None`).
    #[cold]
    fn acquire_slow(&self, deadline: Option<Instant>) -> Result<(), Refusal> {
        let started = Instant::now();
        let result = 'wait: {
            // A slot usually frees within a task's run time: spin a little before paying for a
            // sleep and a wake-up (two system calls), then yield, then park.
            for step in 0..SPIN_STEPS + YIELD_STEPS {
                if step < SPIN_STEPS {
                    for _ in 0..1u32 << step {
                        std::hint::spin_loop();
                    }
                } else {
                    std::thread::yield_now();
                }
                if self.slots.load(Ordering::Relaxed) & COUNT < self.capacity {
                    match self.try_acquire() {
                        Err(Refusal::Full) => {}
                        other => break 'wait other,
                    }
                }
            }
            self.park_for_slot(deadline)
        };
        let waited = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        bump(&self.producers.submit_wait_nanos, waited);
        result
    }

    fn park_for_slot(&self, deadline: Option<Instant>) -> Result<(), Refusal> {
        loop {
            match self.try_acquire() {
                Err(Refusal::Full) => {}
                other => break other,
            }
            let should_park = || {
                // ORDERING: Relaxed; the parking lot's bucket lock orders this registration
                // against the `unpark_all` in `wake_producers`, and the RMW is in the slot word's
                // modification order with `release`: either it sees a free slot, or the release
                // that frees one sees WAITING.
                let current = self.slots.fetch_or(WAITING, Ordering::Relaxed);
                current & SHUTDOWN == 0 && current & COUNT >= self.capacity
            };
            if sync::park(self.slots_key(), should_park, deadline) == Parked::TimedOut {
                return match self.try_acquire() {
                    Err(Refusal::Full) => Err(Refusal::Timeout),
                    other => other,
                };
            }
        }
    }

    /// Gives a slot back.
    #[inline]
    pub(crate) fn release(&self) {
        // ORDERING: Relaxed, see `try_acquire`.
        let previous = self.slots.fetch_sub(1, Ordering::Relaxed);
        if previous & (WAITING | SHUTDOWN) != 0 {
            self.release_slow(previous);
        }
    }

    #[cold]
    fn release_slow(&self, previous: usize) {
        let count = (previous & COUNT) - 1;
        if previous & WAITING != 0 && count <= self.low_water {
            // Clear first: a producer that registers after this sets it again, and is then woken
            // by a later release (its registration saw a full executor, so more releases come).
            self.slots.fetch_and(!WAITING, Ordering::Relaxed);
            self.wake_producers();
        }
        if previous & SHUTDOWN != 0 && count == 0 {
            self.stop_workers();
        }
    }

    fn wake_producers(&self) {
        sync::unpark_all(self.slots_key());
    }

    fn stop_workers(&self) {
        for _ in 0..self.workers.len() {
            self.queue.push(Message::Stop);
        }
    }

    /// Stops accepting tasks; idempotent.
    fn begin_shutdown(&self) {
        // ORDERING: Release, so that a thread that sees SHUTDOWN with Acquire (`is_shutdown`)
        // also sees the `cancelling` flag `shutdown_now` stored before it.
        let previous = self.slots.fetch_or(SHUTDOWN, Ordering::Release);
        if previous & SHUTDOWN == 0 {
            if previous & COUNT == 0 {
                self.stop_workers();
            }
            self.wake_producers();
        }
    }

    /// Runs (or, during `shutdown_now`, cancels) a popped job on worker `index`.
    #[inline]
    pub(crate) fn execute(&self, job: &dyn Job, index: usize) {
        // ORDERING: Relaxed; a job popped just as `shutdown_now` begins may still start, which is
        // what "not yet started" means for it.
        if self.cancelling.load(Ordering::Relaxed) {
            job.cancel(&mut || self.cancelled_one(true));
        } else {
            job.run(&mut |panicked| self.finished(index, panicked));
        }
    }

    /// Bookkeeping for a task that ran on worker `index`, before its outcome is published.
    #[inline]
    pub(crate) fn finished(&self, index: usize, panicked: bool) {
        self.workers[index].finished(panicked);
        self.release();
    }

    /// Bookkeeping for a task cancelled before it started.
    pub(crate) fn cancelled_one(&self, by_shutdown: bool) {
        bump(&self.cancelled, 1);
        if by_shutdown {
            bump(&self.cancelled_by_shutdown, 1);
        }
        self.release();
    }

    pub(crate) fn worker_exited(&self) {
        // ORDERING: Release so that a `shutdown_timeout` that sees zero (Acquire) sees every
        // task's effects; AcqRel makes the count itself a chain.
        if self.live_workers.fetch_sub(1, Ordering::AcqRel) == 1 {
            sync::unpark_all(self.live_workers_key());
        }
    }

    /// Waits until every worker has exited, or `deadline`; true if they all did.
    fn wait_workers_exited(&self, deadline: Option<Instant>) -> bool {
        loop {
            // ORDERING: Acquire pairs with `worker_exited`.
            if self.live_workers.load(Ordering::Acquire) == 0 {
                return true;
            }
            let should_park = || self.live_workers.load(Ordering::Relaxed) != 0;
            if sync::park(self.live_workers_key(), should_park, deadline) == Parked::TimedOut {
                return self.live_workers.load(Ordering::Acquire) == 0;
            }
        }
    }

    fn stats(&self) -> Stats {
        let mut stats = Stats {
            submitted: self.producers.submitted.load(Ordering::Relaxed),
            rejected: self.producers.rejected.load(Ordering::Relaxed),
            submit_wait: Duration::from_nanos(
                self.producers.submit_wait_nanos.load(Ordering::Relaxed),
            ),
            peak_in_flight: self.producers.peak_in_flight.load(Ordering::Relaxed),
            cancelled: self.cancelled.load(Ordering::Relaxed),
            ..Stats::default()
        };
        for counters in self.workers.iter() {
            stats.completed += counters.completed.load(Ordering::Relaxed);
            stats.panicked += counters.panicked.load(Ordering::Relaxed);
            stats.inline += counters.inline.load(Ordering::Relaxed);
        }
        stats
    }
}

/// A thread pool that never holds more than [`capacity()`](Self::capacity) tasks in flight
/// (queued or running): [`submit`](Self::submit) waits while it is full, so memory stays flat
/// however many tasks a producer offers.
///
/// Share it between threads with an `Arc` (it is `Send + Sync`). Dropping it shuts it down
/// gracefully: every accepted task runs, then the workers are joined.
///
/// # Examples
///
/// ```
/// use bounded_executor::BoundedExecutor;
///
/// let exec = BoundedExecutor::new(2); // 2 workers, at most 4 tasks in flight
/// let handles: Vec<_> = (0..10u64).map(|i| exec.submit(move || i * i).unwrap()).collect();
/// let sum: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
/// assert_eq!(sum, 285);
/// ```
pub struct BoundedExecutor {
    shared: Arc<Shared>,
    max_workers: usize,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl BoundedExecutor {
    /// An executor with `max_workers` threads and room for `2 * max_workers` tasks in flight.
    ///
    /// # Panics
    ///
    /// If `max_workers` is 0, or a thread cannot be spawned. [`Builder::build`] reports both as
    /// errors instead.
    ///
    /// # Examples
    ///
    /// ```
    /// let exec = bounded_executor::BoundedExecutor::new(3);
    /// assert_eq!((exec.max_workers(), exec.capacity()), (3, 6));
    /// ```
    pub fn new(max_workers: usize) -> Self {
        match Self::builder().max_workers(max_workers).build() {
            Ok(exec) => exec,
            Err(err) => panic!("BoundedExecutor::new({max_workers}): {err}"),
        }
    }

    /// A [`Builder`] to configure workers, capacity, thread names and stack size.
    ///
    /// # Examples
    ///
    /// ```
    /// let exec = bounded_executor::BoundedExecutor::builder()
    ///     .max_workers(2)
    ///     .queue_ratio(8)
    ///     .thread_name("crunch")
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(exec.capacity(), 16);
    /// ```
    pub fn builder() -> Builder {
        Builder::new()
    }

    pub(crate) fn start(config: Config) -> Result<Self, BuildError> {
        let shared = Arc::new(Shared {
            slots: Padded(AtomicUsize::new(0)),
            capacity: config.capacity,
            low_water: config.capacity / 2,
            queue: Queue::new(),
            fork_generation: fork::register(),
            cancelling: AtomicBool::new(false),
            live_workers: AtomicUsize::new(config.max_workers),
            producers: Padded::default(),
            workers: (0..config.max_workers).map(|_| Padded::default()).collect(),
            cancelled: AtomicU64::new(0),
            cancelled_by_shutdown: AtomicU64::new(0),
        });
        let exec = Self {
            shared,
            max_workers: config.max_workers,
            threads: Mutex::new(Vec::with_capacity(config.max_workers)),
        };
        for index in 0..config.max_workers {
            let mut thread =
                std::thread::Builder::new().name(format!("{}-{index}", config.thread_name));
            if let Some(size) = config.stack_size {
                thread = thread.stack_size(size);
            }
            let shared = Arc::clone(&exec.shared);
            match thread.spawn(move || worker::main(shared, index)) {
                Ok(handle) => exec.threads.lock().push(handle),
                Err(err) => {
                    // The workers that never started must not be waited for.
                    let missing = config.max_workers - index;
                    for _ in 0..missing {
                        exec.shared.worker_exited();
                    }
                    drop(exec); // stops and joins the ones that did start
                    return Err(BuildError::new(BuildErrorKind::Spawn(err)));
                }
            }
        }
        Ok(exec)
    }

    /// Submits `f`, waiting while [`capacity()`](Self::capacity) tasks are in flight, and returns
    /// a handle to its result.
    ///
    /// # Errors
    ///
    /// [`SubmitError::Shutdown`] once the executor is shut down (also when the shutdown happens
    /// while this call waits), [`SubmitError::Forked`] in a forked child. Either way the closure
    /// comes back unrun.
    ///
    /// # Deadlocks
    ///
    /// Called from one of this executor's own workers while it is full, `submit` does not wait
    /// (only that worker might free the slot): it runs `f` right there and returns an
    /// already-finished handle. See the crate docs, `# Deadlocks`.
    ///
    /// # Examples
    ///
    /// ```
    /// let exec = bounded_executor::BoundedExecutor::new(2);
    /// let handle = exec.submit(|| "hello".len()).unwrap();
    /// assert_eq!(handle.join().unwrap(), 5);
    /// ```
    #[inline]
    pub fn submit<F, T>(&self, f: F) -> Result<TaskHandle<T>, SubmitError<F>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.submit_with(f, Wait::Forever).map_err(|(refusal, f)| match refusal {
            Refusal::Forked => SubmitError::Forked(f),
            _ => SubmitError::Shutdown(f),
        })
    }

    /// Submits `f` if a slot is free right now.
    ///
    /// # Errors
    ///
    /// [`TrySubmitError::Full`] when `capacity()` tasks are in flight (also from a worker of this
    /// executor: nothing runs inline here), [`TrySubmitError::Shutdown`] after shutdown,
    /// [`TrySubmitError::Forked`] in a forked child. The closure comes back unrun.
    ///
    /// # Examples
    ///
    /// ```
    /// let exec = bounded_executor::BoundedExecutor::new(1);
    /// match exec.try_submit(|| 1 + 1) {
    ///     Ok(handle) => assert_eq!(handle.join().unwrap(), 2),
    ///     Err(err) => assert!(err.is_full()), // keep the closure: err.into_inner()
    /// }
    /// ```
    #[inline]
    pub fn try_submit<F, T>(&self, f: F) -> Result<TaskHandle<T>, TrySubmitError<F>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.submit_with(f, Wait::No).map_err(|(refusal, f)| match refusal {
            Refusal::Full | Refusal::Timeout => TrySubmitError::Full(f),
            Refusal::Shutdown => TrySubmitError::Shutdown(f),
            Refusal::Forked => TrySubmitError::Forked(f),
        })
    }

    /// Submits `f`, waiting at most `timeout` for a free slot.
    ///
    /// # Errors
    ///
    /// [`SubmitTimeoutError::Timeout`] if no slot freed up in time, `Shutdown` after shutdown,
    /// `Forked` in a forked child. The closure comes back unrun.
    ///
    /// # Deadlocks
    ///
    /// As [`submit`](Self::submit): from one of this executor's workers, a full executor runs `f`
    /// inline instead of waiting.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let exec = bounded_executor::BoundedExecutor::new(1);
    /// let handle = exec.submit_timeout(|| 42, Duration::from_secs(1)).unwrap();
    /// assert_eq!(handle.join().unwrap(), 42);
    /// ```
    pub fn submit_timeout<F, T>(
        &self,
        f: F,
        timeout: Duration,
    ) -> Result<TaskHandle<T>, SubmitTimeoutError<F>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let wait = Instant::now().checked_add(timeout).map_or(Wait::Forever, Wait::Until);
        self.submit_with(f, wait).map_err(|(refusal, f)| match refusal {
            Refusal::Full | Refusal::Timeout => SubmitTimeoutError::Timeout(f),
            Refusal::Shutdown => SubmitTimeoutError::Shutdown(f),
            Refusal::Forked => SubmitTimeoutError::Forked(f),
        })
    }

    #[inline]
    fn submit_with<F, T>(&self, f: F, wait: Wait) -> Result<TaskHandle<T>, (Refusal, F)>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        match self.shared.try_acquire() {
            Ok(()) => Ok(self.enqueue(f)),
            Err(refusal) => self.submit_refused(f, refusal, wait),
        }
    }

    #[cold]
    fn submit_refused<F, T>(
        &self,
        f: F,
        refusal: Refusal,
        wait: Wait,
    ) -> Result<TaskHandle<T>, (Refusal, F)>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let refusal = match (refusal, wait) {
            (Refusal::Full, Wait::Forever | Wait::Until(_)) => {
                if let Some(index) = worker::index_in(Arc::as_ptr(&self.shared)) {
                    return Ok(self.run_inline(f, index));
                }
                let deadline = match wait {
                    Wait::Until(deadline) => Some(deadline),
                    _ => None,
                };
                match self.shared.acquire_slow(deadline) {
                    Ok(()) => return Ok(self.enqueue(f)),
                    Err(refusal) => refusal,
                }
            }
            (refusal, _) => refusal,
        };
        bump(&self.shared.producers.rejected, 1);
        Err((refusal, f))
    }

    /// Pushes `f`, for which a slot is held.
    #[inline]
    fn enqueue<F, T>(&self, f: F) -> TaskHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let task = Arc::new(Task::new(f));
        // Counted before the push, so `completed` never runs ahead of `submitted`.
        bump(&self.shared.producers.submitted, 1);
        self.shared.queue.push(Message::Run(task.clone()));
        TaskHandle::new(task, &self.shared)
    }

    /// Runs `f` on the calling worker (`index`) of this full executor: caller-runs.
    #[cold]
    fn run_inline<F, T>(&self, f: F, index: usize) -> TaskHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        bump(&self.shared.producers.submitted, 1);
        let outcome = panic::catch_unwind(AssertUnwindSafe(f));
        let counters = &self.shared.workers[index];
        bump(&counters.inline, 1);
        counters.finished(outcome.is_err());
        TaskHandle::new(Arc::new(Task::<F, T>::finished(outcome)), &self.shared)
    }

    /// The number of worker threads.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(bounded_executor::BoundedExecutor::new(2).max_workers(), 2);
    /// ```
    pub fn max_workers(&self) -> usize {
        self.max_workers
    }

    /// The most tasks that can be in flight (queued or running) at once.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(bounded_executor::BoundedExecutor::new(2).capacity(), 4);
    /// ```
    pub fn capacity(&self) -> usize {
        self.shared.capacity
    }

    /// Tasks submitted and not yet finished or cancelled: queued plus running. By the time a
    /// task's `join` returns, it no longer counts.
    ///
    /// # Examples
    ///
    /// ```
    /// let exec = bounded_executor::BoundedExecutor::new(2);
    /// exec.submit(|| ()).unwrap().join().unwrap();
    /// assert_eq!(exec.in_flight(), 0);
    /// ```
    pub fn in_flight(&self) -> usize {
        self.shared.slots.load(Ordering::Relaxed) & COUNT
    }

    /// True once [`shutdown`](Self::shutdown) (or a variant) has been called.
    ///
    /// # Examples
    ///
    /// ```
    /// let exec = bounded_executor::BoundedExecutor::new(1);
    /// exec.shutdown();
    /// assert!(exec.is_shutdown());
    /// ```
    pub fn is_shutdown(&self) -> bool {
        // ORDERING: Acquire pairs with the Release in `begin_shutdown`.
        self.shared.slots.load(Ordering::Acquire) & SHUTDOWN != 0
    }

    /// A snapshot of the counters; see [`Stats`].
    ///
    /// # Examples
    ///
    /// ```
    /// let exec = bounded_executor::BoundedExecutor::new(1);
    /// exec.submit(|| ()).unwrap().join().unwrap();
    /// assert_eq!(exec.stats().completed, 1);
    /// ```
    pub fn stats(&self) -> Stats {
        self.shared.stats()
    }

    /// Stops accepting tasks, lets every accepted task run, and joins the workers. Idempotent;
    /// concurrent callers all return once the workers are gone. Producers waiting in `submit`
    /// get [`SubmitError::Shutdown`].
    ///
    /// # Deadlocks
    ///
    /// Called from one of this executor's own workers (a task shutting down its own executor),
    /// it cannot wait for itself: it stops accepting and returns at once; the workers exit once
    /// the accepted tasks have run. In a forked child it returns at once (there are no workers to
    /// wait for). It waits for tasks that never finish, like any graceful shutdown.
    ///
    /// # Examples
    ///
    /// ```
    /// let exec = bounded_executor::BoundedExecutor::new(2);
    /// let handle = exec.submit(|| 1).unwrap();
    /// exec.shutdown();
    /// assert!(handle.is_finished());
    /// assert!(exec.submit(|| 2).is_err());
    /// ```
    pub fn shutdown(&self) {
        if self.shared.is_forked() {
            return;
        }
        self.shared.begin_shutdown();
        self.join_workers();
    }

    /// Stops accepting tasks, cancels every task that has not started (their handles report
    /// [`TaskError::is_cancelled`](crate::TaskError::is_cancelled)), waits for the running ones
    /// and joins the workers. Returns how many tasks this shutdown cancelled.
    ///
    /// # Deadlocks
    ///
    /// As [`shutdown`](Self::shutdown): from a worker of this executor it returns without
    /// waiting (with the count so far).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::mpsc;
    ///
    /// let exec = bounded_executor::BoundedExecutor::builder()
    ///     .max_workers(1).capacity(3).build().unwrap();
    /// let (started_tx, started) = mpsc::channel();
    /// let (release, gate) = mpsc::channel::<()>();
    /// let running = exec.submit(move || { started_tx.send(()).unwrap(); gate.recv().unwrap() }).unwrap();
    /// let queued = [exec.submit(|| ()).unwrap(), exec.submit(|| ()).unwrap()];
    /// started.recv().unwrap(); // the first task runs; the other two wait in the queue
    /// release.send(()).unwrap();
    /// assert!(exec.shutdown_now() <= 2);
    /// assert!(running.join().is_ok());
    /// ```
    pub fn shutdown_now(&self) -> usize {
        if !self.shared.is_forked() {
            self.shared.cancelling.store(true, Ordering::Relaxed);
        }
        self.shutdown();
        self.shared.cancelled_by_shutdown.load(Ordering::Relaxed) as usize
    }

    /// Stops accepting tasks and waits at most `timeout` for the accepted ones to finish.
    /// Returns true if they all did (the workers are then joined); false if time ran out, in
    /// which case the workers go on with the remaining tasks and `Drop` joins them.
    ///
    /// # Deadlocks
    ///
    /// From one of this executor's workers, or in a forked child, it returns false at once.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let exec = bounded_executor::BoundedExecutor::new(2);
    /// exec.submit(|| ()).unwrap();
    /// assert!(exec.shutdown_timeout(Duration::from_secs(10)));
    /// ```
    pub fn shutdown_timeout(&self, timeout: Duration) -> bool {
        if self.shared.is_forked() {
            return false;
        }
        self.shared.begin_shutdown();
        if worker::index_in(Arc::as_ptr(&self.shared)).is_some() {
            return false;
        }
        let deadline = Instant::now().checked_add(timeout);
        if !self.shared.wait_workers_exited(deadline) {
            return false;
        }
        self.join_workers();
        true
    }

    fn join_workers(&self) {
        if worker::index_in(Arc::as_ptr(&self.shared)).is_some() {
            return;
        }
        // Held while joining, so that a concurrent caller returns only once the workers are gone.
        let mut threads = self.threads.lock();
        for thread in threads.drain(..) {
            // Workers catch every panic of user code, so join only fails if the runtime aborted
            // the thread in a way we cannot do anything about.
            let _ = thread.join();
        }
    }
}

impl Drop for BoundedExecutor {
    /// Same as [`shutdown`](BoundedExecutor::shutdown). In a forked child it only forgets the
    /// parent's threads (which do not exist here) and leaks the shared state they would free.
    fn drop(&mut self) {
        if self.shared.is_forked() {
            std::mem::forget(std::mem::take(&mut *self.threads.lock()));
            std::mem::forget(Arc::clone(&self.shared));
            return;
        }
        self.shutdown();
    }
}

impl fmt::Debug for BoundedExecutor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoundedExecutor")
            .field("max_workers", &self.max_workers)
            .field("capacity", &self.capacity())
            .field("in_flight", &self.in_flight())
            .field("shutdown", &self.is_shutdown())
            .finish()
    }
}
