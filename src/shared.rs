//! [`Shared`]: the state an executor's workers, handles and producers share. It owns the slot
//! word that bounds tasks in flight, the producers waiting for a slot, and the bookkeeping of
//! every task's end.
//!
//! # The slot word
//!
//! One atomic word holds the number of slots taken (low bits), `WAITING` (a thread is parked for
//! a slot), `ASYNC_WAITING` (a `SubmitFuture` waits for one) and `SHUTDOWN`. A submit takes a slot
//! with a CAS that refuses when the count is `capacity` or `SHUTDOWN` is set, so the bound is
//! exact under any number of producers; only then is the task pushed.
//!
//! A queue entry keeps its slot until a worker (or `shutdown_now`) pops it. A task cancelled by
//! its handle, or run by a worker that joins it, leaves a *husk* in the queue: its slot is given
//! back by whichever comes second of the task's end and the entry's pop (the task's `DONE` and
//! `POPPED` bits decide), so the queue never holds more than `capacity` allocations and a task
//! still running off the queue keeps its slot. `husks` counts the ended-but-unpopped entries so
//! that `in_flight()` reports only queued and running tasks.
//!
//! # Waking producers
//!
//! A producer that finds no slot spins briefly, yields, then parks on the word's address. Every
//! release that sees `WAITING` unparks one thread; the unpark callback clears `WAITING` under the
//! parking lot's bucket lock once no thread is left, and a parker sets it under that same lock, so
//! no wake-up is lost. `ASYNC_WAITING` works the same way under the async waiters' mutex. A woken
//! producer that does not use its slot passes the wake-up on (see `SubmitFuture`'s `Drop`).
//!
//! # Stopping
//!
//! Whoever takes the count to zero after `SHUTDOWN` (or the shutdown itself, if it finds zero)
//! pushes one `Stop` per worker: every accepted task has run by then.

use std::task::Waker;
use std::time::{Duration, Instant};

use crate::handle::TaskHandle;
use crate::queue::{JobRef, Message, Queue};
use crate::stats::{bump, Padded, ProducerCounters, Stats, WorkerCounters};
use crate::sync::{
    self, Arc, AtomicBool, AtomicU64, AtomicUsize, Mutex, Ordering, Parked, TaskArc,
};
use crate::task::{Claim, Completion, Ended, Job, Task};
use crate::unwind::LatePanic;
use crate::{fork, worker};

const SHUTDOWN: usize = 1 << (usize::BITS - 1);
const WAITING: usize = 1 << (usize::BITS - 2);
const ASYNC_WAITING: usize = 1 << (usize::BITS - 3);
const COUNT: usize = ASYNC_WAITING - 1;

/// Spin rounds (of 1, 2, 4, ... `spin_loop` hints) a producer makes before yielding (none under
/// loom, where spinning only multiplies the states to explore).
const SPIN_STEPS: u32 = if cfg!(loom) { 0 } else { 7 };
/// `yield_now` rounds before parking.
const YIELD_STEPS: u32 = if cfg!(loom) { 0 } else { 3 };

/// The most `spin_score` can reach: after that many failed spins in a row, at most, producers
/// park at once.
const SPIN_SCORE_MAX: u32 = 8;
/// While spinning does not pay, one wait in this many still tries it, to notice when tasks get
/// short again.
const SPIN_PROBE_EVERY: u32 = 32;

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

/// How a task got in: with a slot, or to run inline on worker `index` of its own full executor.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Admission {
    Slot,
    Inline(usize),
}

/// Who handles a job popped from the queue.
#[derive(Debug, Clone, Copy)]
pub(crate) enum PoppedBy {
    /// Worker `index`, which runs it (or cancels it once `shutdown_now` began).
    Worker(usize),
    /// A producer waiting for a slot, which runs it as a worker would (see
    /// `Shared::help_while_full`).
    Producer,
    /// `shutdown_now`'s drain, which cancels it.
    Drain,
}

/// How long a submit may wait for a slot.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Wait {
    No,
    Forever,
    Until(Instant),
}

/// Wakers of pending `SubmitFuture`s, oldest first, each under an id so that a dropped future
/// can take its own out.
#[derive(Debug, Default)]
struct AsyncWaiters {
    next_id: u64,
    wakers: std::collections::VecDeque<(u64, Waker)>,
}

/// The state workers, handles and producers share.
pub(crate) struct Shared {
    slots: Padded<AtomicUsize>,
    capacity: usize,
    /// Queue entries whose task already ended elsewhere (cancelled, or run by a joining worker):
    /// they hold a slot until popped but are not in flight. May dip below zero for an instant
    /// (wrapping), when a pop overtakes the claimer's count; readers clamp.
    husks: AtomicUsize,
    pub(crate) queue: Queue,
    fork_generation: usize,
    /// Set by `shutdown_now`: queued tasks are cancelled instead of run.
    cancelling: AtomicBool,
    live_workers: AtomicUsize,
    producers: Padded<ProducerCounters>,
    workers: Box<[Padded<WorkerCounters>]>,
    /// Whether a blocking `submit` that finds the executor full runs queued tasks itself.
    producer_helps: bool,
    /// Tasks run by producers while they helped (any number of threads write).
    helpers: Padded<WorkerCounters>,
    cancelled: AtomicU64,
    cancelled_by_shutdown: AtomicU64,
    async_waiters: Mutex<AsyncWaiters>,
}

impl Shared {
    pub(crate) fn new(max_workers: usize, capacity: usize) -> Self {
        Self {
            slots: Padded(AtomicUsize::new(0)),
            capacity,
            husks: AtomicUsize::new(0),
            queue: Queue::new(capacity, max_workers),
            fork_generation: fork::register(),
            cancelling: AtomicBool::new(false),
            live_workers: AtomicUsize::new(max_workers),
            producers: Padded::default(),
            workers: (0..max_workers).map(|_| Padded::default()).collect(),
            producer_helps: false,
            helpers: Padded::default(),
            cancelled: AtomicU64::new(0),
            cancelled_by_shutdown: AtomicU64::new(0),
            async_waiters: Mutex::new(AsyncWaiters::default()),
        }
    }

    /// The worker index a helping producer runs under: one past the real workers, so that its
    /// counts go to `helpers`.
    fn helper_index(&self) -> usize {
        self.workers.len()
    }

    /// The counters of worker `index` (of the helping producers for `helper_index`).
    #[inline]
    fn counters(&self, index: usize) -> &WorkerCounters {
        self.workers.get(index).map_or(&*self.helpers, |counters| &**counters)
    }

    /// Sets whether blocking producers run queued tasks while the executor is full.
    pub(crate) fn with_producer_helps(mut self, helps: bool) -> Self {
        self.producer_helps = helps;
        self
    }

    fn slots_key(&self) -> usize {
        &*self.slots as *const AtomicUsize as usize
    }

    fn live_workers_key(&self) -> usize {
        &self.live_workers as *const AtomicUsize as usize
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// True in a forked child of the process that built the executor.
    #[inline]
    pub(crate) fn is_forked(&self) -> bool {
        fork::generation() != self.fork_generation
    }

    /// Queued plus running tasks (husks excluded).
    pub(crate) fn in_flight(&self) -> usize {
        let taken = self.slots.load(Ordering::Relaxed) & COUNT;
        let husks = self.husks.load(Ordering::Relaxed) as isize;
        (taken as isize - husks).clamp(0, taken as isize) as usize
    }

    /// Slots taken, husks included: what the loom models check comes back to zero.
    #[cfg(loom)]
    pub(crate) fn slots_taken(&self) -> usize {
        self.slots.load(Ordering::Relaxed) & COUNT
    }

    pub(crate) fn is_shutdown(&self) -> bool {
        // ORDERING: Acquire pairs with the Release in `begin_shutdown`: whoever sees SHUTDOWN also
        // sees the `cancelling` flag `shutdown_now` set before it.
        self.slots.load(Ordering::Acquire) & SHUTDOWN != 0
    }

    // ---- taking a slot -------------------------------------------------------------------

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

    /// True if a try is worth making: a slot is free or the answer is no longer "full".
    #[inline]
    fn may_admit(&self) -> bool {
        let current = self.slots.load(Ordering::Relaxed);
        current & SHUTDOWN != 0 || current & COUNT < self.capacity || self.is_forked()
    }

    /// Waits for a slot until `deadline` (forever if `None`).
    #[cold]
    fn acquire_slow(&self, deadline: Option<Instant>) -> Result<(), Refusal> {
        if self.producer_helps && deadline.is_none() {
            if let Some(result) = self.help_while_full() {
                return result;
            }
        }
        let started = Instant::now();
        let result = match self.spin_for_slot() {
            Some(result) => result,
            None => self.park_for_slot(deadline),
        };
        self.add_submit_wait(started.elapsed());
        result
    }

    /// Spins, then yields, for a slot, if spinning has been paying off: `None` if it did not
    /// find one (or was not worth trying).
    ///
    /// Short tasks free a slot within a few hundred nanoseconds, and a spin saves a sleep and a
    /// wake-up (two system calls). Long tasks do not, and then a spinning producer only takes a
    /// core from the workers (measured on 2 cores: 10 µs tasks at ratio 2 kept the workers 68%
    /// busy with a fixed spin, 81% without). So `spin_score` rises with each spin that found a
    /// slot before yielding, falls with one found only after yielding, and falls faster with one
    /// that found none; at zero the producer parks at once, and tries spinning again every
    /// `SPIN_PROBE_EVERY` waits.
    fn spin_for_slot(&self) -> Option<Result<(), Refusal>> {
        let score = &self.producers.spin_score;
        let current = score.load(Ordering::Relaxed);
        if current == 0 {
            let probe = self.producers.waits_without_spin.fetch_add(1, Ordering::Relaxed);
            if probe % SPIN_PROBE_EVERY != 0 {
                return None;
            }
        }
        let found = 'spin: {
            for step in 0..SPIN_STEPS + YIELD_STEPS {
                if step < SPIN_STEPS {
                    for _ in 0..1u32 << step {
                        sync::spin_loop();
                    }
                } else {
                    sync::yield_now();
                }
                if self.may_admit() {
                    match self.try_acquire() {
                        Err(Refusal::Full) => {}
                        other => break 'spin Some((other, step < SPIN_STEPS)),
                    }
                }
            }
            None
        };
        // ORDERING: Relaxed; a heuristic, races only blur it. Only a slot found while spinning
        // raises the score: one found after yielding the core says tasks are not that short.
        let next = match found {
            Some((_, true)) => (current + 1).min(SPIN_SCORE_MAX),
            Some((_, false)) => current.saturating_sub(1),
            None => current.saturating_sub(2),
        };
        let found = found.map(|(result, _)| result);
        score.store(next, Ordering::Relaxed);
        found
    }

    /// A producer that finds the executor full runs queued tasks itself, as a worker would,
    /// until it gets a slot: `None` once the queue is empty (every task in flight is running),
    /// and the producer waits as usual.
    ///
    /// Every queued task already holds its slot, so the bound is untouched; what changes is
    /// that no core idles while work is queued and the producer sleeps, and that a slot freed
    /// by the producer's own run is taken without a wake-up. A panic from user code after a
    /// helped task's outcome is published is contained here, as a worker contains it.
    fn help_while_full(&self) -> Option<Result<(), Refusal>> {
        worker::as_worker(self, self.helper_index(), || loop {
            match self.queue.try_pop()? {
                Message::Run(job) => {
                    let mut late = LatePanic::default();
                    late.catch(|| self.execute(&*job, PoppedBy::Producer));
                    let _ = late.discard();
                }
                Message::Stop => {
                    // Only pushed once the count reached zero after `SHUTDOWN`: hand it back to
                    // the workers; the next try is refused.
                    self.queue.push(Message::Stop);
                    return None;
                }
            }
            match self.try_acquire() {
                Err(Refusal::Full) => {}
                other => return Some(other),
            }
        })
    }

    fn park_for_slot(&self, deadline: Option<Instant>) -> Result<(), Refusal> {
        loop {
            match self.try_acquire() {
                Err(Refusal::Full) => {}
                other => return other,
            }
            let should_park = || {
                // ORDERING: Relaxed; the parking lot's bucket lock orders this registration
                // against the unpark in `release_slow`, and the RMW is in the slot word's
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

    /// Adds time a producer spent waiting for a slot.
    pub(crate) fn add_submit_wait(&self, waited: Duration) {
        let nanos = u64::try_from(waited.as_nanos()).unwrap_or(u64::MAX);
        bump(&self.producers.submit_wait_nanos, nanos);
    }

    /// Takes a slot if one is free right now (never inline).
    pub(crate) fn try_admit(&self) -> Result<Admission, Refusal> {
        self.try_acquire().map(|()| Admission::Slot)
    }

    /// Admits one task: a slot, or, on a worker of this executor that would have to wait, the
    /// right to run it inline (see the crate docs, `# Deadlocks`).
    #[inline]
    pub(crate) fn admit(&self, wait: Wait) -> Result<Admission, Refusal> {
        match self.try_acquire() {
            Ok(()) => Ok(Admission::Slot),
            Err(refusal) => self.admit_slow(refusal, wait),
        }
    }

    #[cold]
    fn admit_slow(&self, refusal: Refusal, wait: Wait) -> Result<Admission, Refusal> {
        let deadline = match (refusal, wait) {
            (Refusal::Full, Wait::Forever) => None,
            (Refusal::Full, Wait::Until(deadline)) => Some(deadline),
            (refusal, _) => return Err(refusal),
        };
        if let Some(index) = worker::index_in(self) {
            return Ok(Admission::Inline(index));
        }
        self.acquire_slow(deadline).map(|()| Admission::Slot)
    }

    /// Gives back an admission that was not used.
    pub(crate) fn unadmit(&self, admission: Admission) {
        if let Admission::Slot = admission {
            self.release();
        }
    }

    /// Counts a refused submission.
    pub(crate) fn reject(&self) {
        bump(&self.producers.rejected, 1);
    }

    // ---- async producers -----------------------------------------------------------------

    /// Registers (or refreshes) an async producer's waker under `*id`, then marks the slot word
    /// `ASYNC_WAITING`. Returns true if trying again may succeed now, so the caller must not
    /// sleep.
    pub(crate) fn register_async_waiter(&self, id: &mut Option<u64>, waker: &Waker) -> bool {
        let mut waiters = self.async_waiters.lock();
        let existing = id.and_then(|id| waiters.wakers.iter_mut().find(|(i, _)| *i == id));
        match existing {
            Some((_, old)) => old.clone_from(waker),
            None => {
                let new_id = waiters.next_id;
                waiters.next_id += 1;
                waiters.wakers.push_back((new_id, waker.clone()));
                *id = Some(new_id);
            }
        }
        // ORDERING: Relaxed; set under the waiters' lock, which `wake_one_async` also holds when
        // it clears the bit, so the bit is set whenever the list is not empty. A release that
        // reads the bit from this RMW, or a later one, takes the lock after us and finds us.
        let current = self.slots.fetch_or(ASYNC_WAITING, Ordering::Relaxed);
        drop(waiters);
        current & SHUTDOWN != 0 || current & COUNT < self.capacity || self.is_forked()
    }

    /// Removes the waker registered under `id`. Returns false if a release had already taken
    /// it to wake it (the caller then owes the wake-up to someone else if it does not submit).
    pub(crate) fn deregister_async_waiter(&self, id: u64) -> bool {
        let mut waiters = self.async_waiters.lock();
        let before = waiters.wakers.len();
        waiters.wakers.retain(|(i, _)| *i != id);
        let removed = waiters.wakers.len() != before;
        if waiters.wakers.is_empty() {
            self.slots.fetch_and(!ASYNC_WAITING, Ordering::Relaxed);
        }
        removed
    }

    /// Wakes the oldest async producer, if any.
    ///
    /// A waker is user code (the async runtime's), and this runs in the middle of a task's
    /// bookkeeping on whatever thread freed the slot, so a panic from it is contained: the
    /// panic is discarded, and the next producer is woken in its place, since the panicking
    /// one may not have been.
    pub(crate) fn wake_one_async(&self) {
        loop {
            let waker = {
                let mut waiters = self.async_waiters.lock();
                let next = waiters.wakers.pop_front();
                if waiters.wakers.is_empty() {
                    self.slots.fetch_and(!ASYNC_WAITING, Ordering::Relaxed);
                }
                next
            };
            let Some((_, waker)) = waker else { return };
            let mut late = LatePanic::default();
            late.catch(|| waker.wake());
            if !late.discard() {
                return;
            }
        }
    }

    /// True if a slot is free now: a woken async producer that gives up passes the wake-up on.
    pub(crate) fn has_free_slot(&self) -> bool {
        self.slots.load(Ordering::Relaxed) & COUNT < self.capacity
    }

    // ---- giving a slot back --------------------------------------------------------------

    /// Gives a slot back.
    #[inline]
    pub(crate) fn release(&self) {
        // ORDERING: Relaxed, see `try_acquire`.
        let previous = self.slots.fetch_sub(1, Ordering::Relaxed);
        if previous & (WAITING | ASYNC_WAITING | SHUTDOWN) != 0 {
            self.release_slow(previous);
        }
    }

    #[cold]
    fn release_slow(&self, previous: usize) {
        if previous & WAITING != 0 {
            sync::unpark_one(self.slots_key(), || {
                // ORDERING: Relaxed, under the lock a parker sets it under.
                self.slots.fetch_and(!WAITING, Ordering::Relaxed);
            });
        }
        if previous & ASYNC_WAITING != 0 {
            self.wake_one_async();
        }
        if previous & SHUTDOWN != 0 && previous & COUNT == 1 {
            self.stop_workers();
        }
    }

    /// Wakes every waiting producer (at shutdown: they all get their error). A panicking
    /// waker is contained, as in `wake_one_async`, and the others are still woken.
    fn wake_all_producers(&self) {
        sync::unpark_all(self.slots_key());
        let wakers = std::mem::take(&mut self.async_waiters.lock().wakers);
        for (_, waker) in wakers {
            let mut late = LatePanic::default();
            late.catch(|| waker.wake());
            let _ = late.discard();
        }
    }

    // ---- starting and ending tasks -------------------------------------------------------

    /// Submits `f`, waiting as `wait` allows.
    #[inline]
    pub(crate) fn submit<F, T>(
        this: &Arc<Self>,
        f: F,
        wait: Wait,
    ) -> Result<TaskHandle<T>, (Refusal, F)>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        match this.admit(wait) {
            Ok(admission) => Ok(Self::start_new(this, admission, f)),
            Err(refusal) => {
                this.reject();
                Err((refusal, f))
            }
        }
    }

    /// Starts `f` under `admission`.
    #[inline]
    pub(crate) fn start_new<F, T>(this: &Arc<Self>, admission: Admission, f: F) -> TaskHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let task = TaskArc::new(Task::new(f));
        let job: JobRef = task.clone();
        Self::start(this, admission, task, job)
    }

    /// Starts an admitted task (`task` and `job` are the same allocation): queues it, or runs it
    /// right here for an inline admission.
    #[inline]
    pub(crate) fn start<T>(
        this: &Arc<Self>,
        admission: Admission,
        task: TaskArc<dyn Completion<T>>,
        job: JobRef,
    ) -> TaskHandle<T> {
        // Counted before the task can finish, so `completed` never runs ahead of `submitted`.
        bump(&this.producers.submitted, 1);
        match admission {
            Admission::Slot => this.queue.push(Message::Run(job)),
            Admission::Inline(index) => {
                let counters = this.counters(index);
                bump(&counters.inline, 1);
                // Never queued, so never popped: nothing to settle afterwards. (Nothing is
                // detached or awaited yet either, so no user code runs after the closure.)
                if let Claim::Won(ended) = job.run(&mut |panicked| counters.finished(panicked)) {
                    ended.late_panic.resume();
                }
            }
        }
        TaskHandle::new(task, Arc::clone(this))
    }

    /// Handles a job popped from the queue: runs it, or cancels it during `shutdown_now`; a husk
    /// just gives its slot back.
    ///
    /// # Panics
    ///
    /// With a panic from user code that ran after the task's outcome was published (see
    /// [`Ended::late_panic`]), once the slot is settled.
    #[inline]
    pub(crate) fn execute(&self, job: &dyn Job, by: PoppedBy) {
        // ORDERING: Relaxed; a job popped just as `shutdown_now` begins may still start, which is
        // what "not yet started" means for it. (`shutdown_now` drains the queue itself too.)
        let counters = match by {
            PoppedBy::Worker(index) => Some(self.counters(index)),
            PoppedBy::Producer => Some(&*self.helpers),
            PoppedBy::Drain => None,
        };
        let claim = match counters {
            Some(counters) if !self.cancelling.load(Ordering::Relaxed) => {
                job.run(&mut |panicked| {
                    counters.finished(panicked);
                    self.release();
                })
            }
            _ => job.cancel(&mut || {
                self.count_cancel(true);
                self.release();
            }),
        };
        match claim {
            // Popped by us, so nobody else could have: the slot was given back in `done`.
            Claim::Won(ended) => ended.late_panic.resume(),
            // Claimed by a canceller or a joining worker: if it is done, this entry was the last
            // thing holding its slot; if not, whoever finishes it gives the slot back.
            Claim::Lost => {
                if job.header().mark_popped() {
                    self.settle_husk();
                }
            }
        }
    }

    /// Gives back the slot of a task that ended off the queue, once its entry is popped too.
    fn settle_husk(&self) {
        // ORDERING: Relaxed; a statistic (see `in_flight`), counted before the task's DONE was
        // published, so never taken below zero here.
        self.husks.fetch_sub(1, Ordering::Relaxed);
        self.release();
    }

    /// After a run or cancel off the queue: settles the slot if the entry was popped meanwhile,
    /// then raises a late panic. Returns true if this call ended the task.
    fn settle_off_queue(&self, claim: Claim) -> bool {
        match claim {
            Claim::Lost => false,
            Claim::Won(Ended { entry_popped, late_panic }) => {
                if entry_popped {
                    self.settle_husk();
                }
                late_panic.resume();
                true
            }
        }
    }

    /// Ends `job` on worker `index` of this executor, off the queue (a worker joining a task
    /// that has not started), unless it was claimed already: runs it, or, once `shutdown_now`
    /// began, cancels it, as the drain would have. Its queue entry becomes a husk. Returns true
    /// if this call ended it.
    ///
    /// Cancelling here is what lets `shutdown_now` finish when a task is pushed after its drain
    /// (by a producer that took its slot before the shutdown) and the only worker that could
    /// pop it is the one joining it.
    ///
    /// # Panics
    ///
    /// As [`execute`](Self::execute).
    pub(crate) fn run_off_queue(&self, job: &dyn Job, index: usize) -> bool {
        if self.cancelling.load(Ordering::Relaxed) {
            return self.cancel_off_queue_by(job, true);
        }
        let counters = self.counters(index);
        let claim = job.run(&mut |panicked| {
            counters.finished(panicked);
            self.husks.fetch_add(1, Ordering::Relaxed);
        });
        self.settle_off_queue(claim)
    }

    /// Cancels `job` through its handle, unless it was claimed already. Its queue entry becomes
    /// a husk, which gives the slot back when a worker passes over it.
    ///
    /// # Panics
    ///
    /// If dropping the closure panics, once the slot is settled.
    pub(crate) fn cancel_off_queue(&self, job: &dyn Job) -> bool {
        self.cancel_off_queue_by(job, false)
    }

    fn cancel_off_queue_by(&self, job: &dyn Job, by_shutdown: bool) -> bool {
        let claim = job.cancel(&mut || {
            self.count_cancel(by_shutdown);
            self.husks.fetch_add(1, Ordering::Relaxed);
        });
        self.settle_off_queue(claim)
    }

    fn count_cancel(&self, by_shutdown: bool) {
        bump(&self.cancelled, 1);
        if by_shutdown {
            bump(&self.cancelled_by_shutdown, 1);
        }
    }

    // ---- shutdown ------------------------------------------------------------------------

    fn stop_workers(&self) {
        for _ in 0..self.workers.len() {
            self.queue.push(Message::Stop);
        }
    }

    /// Stops accepting tasks; idempotent.
    pub(crate) fn begin_shutdown(&self) {
        // ORDERING: Release, paired with `is_shutdown`.
        let previous = self.slots.fetch_or(SHUTDOWN, Ordering::Release);
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
        let mut stops = 0;
        while let Some(message) = self.queue.try_pop() {
            match message {
                Message::Run(job) => late.catch(|| self.execute(&*job, PoppedBy::Drain)),
                Message::Stop => stops += 1,
            }
        }
        for _ in 0..stops {
            self.queue.push(Message::Stop);
        }
        late
    }

    /// Tasks cancelled by `shutdown_now` (its drain, and workers after it) that no call has
    /// reported yet: each is reported once.
    pub(crate) fn take_cancelled_by_shutdown(&self) -> u64 {
        self.cancelled_by_shutdown.swap(0, Ordering::Relaxed)
    }

    pub(crate) fn worker_exited(&self) {
        // ORDERING: Release so that a `shutdown_timeout` that sees zero (Acquire) sees every
        // task's effects; AcqRel makes the count itself a chain.
        if self.live_workers.fetch_sub(1, Ordering::AcqRel) == 1 {
            sync::unpark_all(self.live_workers_key());
        }
    }

    /// Waits until every worker has exited, or `deadline`; true if they all did.
    pub(crate) fn wait_workers_exited(&self, deadline: Option<Instant>) -> bool {
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

    pub(crate) fn stats(&self) -> Stats {
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
        stats.inline += self.helpers.inline.load(Ordering::Relaxed);
        stats.helped = self.helpers.completed.load(Ordering::Relaxed);
        stats.completed += stats.helped;
        stats.panicked += self.helpers.panicked.load(Ordering::Relaxed);
        stats
    }
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").field("capacity", &self.capacity).finish_non_exhaustive()
    }
}
