//! Producers that wait for the slot word (see `slots.rs`): helping, spinning and parking for a
//! slot, async producers' wakers, `wait_idle`, and who a release wakes. Methods of [`Shared`]
//! that touch nothing but the slot word, the queue and the waiters live here.
//!
//! # Waiting producers
//!
//! A producer that finds no slot first **helps** if it may (a blocking `submit` with
//! `producer_helps`; never a timed or async one): it pops queued tasks and runs them as a worker
//! would, until its slot and units fit. Each queued task already holds its slot, so the bound is
//! untouched. It takes over the slot of a task it ran only if that task weighs what it wants (its
//! units are then exactly the producer's); otherwise the run gives slot and units back and the
//! producer tries again. Once the queue is empty (every task in flight is running), it spins
//! briefly while spinning pays off, yields, then parks on the word's address, with its weight as
//! its park token.
//!
//! Every release that sees `WAITING` wakes **every parked producer that now fits**
//! (`wake_producers_that_fit`): it reads the room the word shows after its release (free slots,
//! free units), walks the parked producers oldest first, and wakes each whose weight fits in what
//! is left, counting it against the room as if it had taken its slot; it passes over one that
//! does not fit and stops once no slot is left. So a release of 10 units with two producers of
//! weight 1 parked behind it wakes both, and an unweighted release of one slot wakes one
//! producer, as before. The unpark callback clears `WAITING` under the parking lot's bucket lock
//! once no parked thread is left, and a parker sets it under that same lock, so no wake-up is
//! lost. A woken producer that finds its room taken meanwhile (by a producer that did not sleep)
//! parks again: that room is not free, and its release will wake again. `ASYNC_WAITING` works
//! the same way under the async waiters' mutex: the release wakes as many async producers
//! (weight 1) as the room left after the parked ones holds, and a woken async producer that does
//! not use its slot passes the wake-up on (see `SubmitFuture`'s `Drop`).
//!
//! # Batched wake-ups
//!
//! Where producers do not help and no weight capacity is set, a release wakes the parked
//! producers only once half the capacity is free (`wake_batch`, never more than the capacity
//! beyond one task per worker), or at once if the queue is empty. While it waits, the tasks
//! still queued keep the workers busy, and the producer, once woken, refills the batch in one
//! go: one wake-up and its two context switches per batch instead of per task, which is what a
//! producer sharing a core with the workers pays most for. The *idle guard* keeps this from ever
//! costing a worker its work: a worker that finds the queue empty, before it waits, wakes the
//! producers if any slot is free (`before_worker_waits`). So no worker idles while a producer
//! sleeps beside a free slot. A producer that helps, and a weighted one, are woken as below,
//! at once.
//!
//! The price is latency, never a lost wake-up: a parked producer may sleep beside up to half
//! the capacity while tasks are queued. A task that waits for a task its producer has yet to
//! submit waits until the queue drains (see the crate docs, `# Deadlocks`).
//!
//! So no producer sleeps beside a slot and units it would fit in, but for that batch. There is
//! no order among
//! producers beyond that, though: a producer that arrives as room frees may take it before a
//! parked one, and under a steady stream of light tasks a heavy one can wait long (the lighter
//! ones behind it are woken past it).

use std::collections::VecDeque;
use std::task::Waker;
use std::time::{Duration, Instant};

use super::slots::{units, ASYNC_WAITING, COUNT, MAX_WEIGHT_CAPACITY, SHUTDOWN, WAITING};
use super::{Refusal, Shared};
use crate::queue::Message;
use crate::stats::bump;
use crate::sync::{self, Filter, Ordering, Parked};
use crate::unwind::LatePanic;

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

/// What a parked producer of `weight` parks with: its weight, or, where a `usize` cannot hold
/// it (32-bit targets), the most a `usize` holds but one, a lower bound the waker treats as the
/// weight.
#[inline]
fn park_token(weight: u64) -> usize {
    usize::try_from(weight).unwrap_or(IDLE_TOKEN - 1)
}

/// What a thread in `wait_idle` parks with on the slot word's address, beside the producers: a
/// release wakes it once no slot is taken. No producer's token is this (see `park_token`:
/// weights are under 2^37).
const IDLE_TOKEN: usize = usize::MAX;

/// Free slots and units, as a release sizes its wake-up.
struct Room {
    slots: usize,
    units: u64,
}

/// Wakers of pending `SubmitFuture`s, oldest first, each under an id so that a dropped future
/// can take its own out.
#[derive(Debug, Default)]
pub(super) struct AsyncWaiters {
    next_id: u64,
    wakers: VecDeque<(u64, Waker)>,
}

impl Shared {
    /// Waits for a slot and `weight` units until `deadline` (forever if `None`), helping
    /// meanwhile if `may_help` (a blocking submit) and the executor lets producers help.
    ///
    /// Small on purpose: a helping producer passes here once per task it submits to a full
    /// executor, so the waiting below is kept out of line (a smaller frame to set up).
    pub(super) fn acquire_slow(
        &self,
        weight: u64,
        deadline: Option<Instant>,
        may_help: bool,
    ) -> Result<(), Refusal> {
        if may_help && self.producer_helps {
            if let Some(result) = self.help_while_full(weight) {
                return result;
            }
        }
        self.wait_for_slot(weight, deadline)
    }

    /// Spins, yields, then parks for a slot and `weight` units, counting the time in
    /// `submit_wait`.
    #[cold]
    #[inline(never)]
    fn wait_for_slot(&self, weight: u64, deadline: Option<Instant>) -> Result<(), Refusal> {
        let started = Instant::now();
        let result = match self.spin_for_slot(weight) {
            Some(result) => result,
            None => self.park_for_slot(weight, deadline),
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
    fn spin_for_slot(&self, weight: u64) -> Option<Result<(), Refusal>> {
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
                if self.may_admit(weight) {
                    match self.try_acquire(weight) {
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
    /// until it gets a slot and `weight` units: `None` once the queue is empty (every task in
    /// flight is running), and the producer waits as usual.
    ///
    /// Every queued task already holds its slot, so the bound is untouched; what changes is
    /// that no core idles while work is queued and the producer sleeps, and that a slot freed
    /// by the producer's own run is taken without a wake-up. A panic from user code after a
    /// helped task's outcome is published is contained here, as a worker contains it.
    fn help_while_full(&self, weight: u64) -> Option<Result<(), Refusal>> {
        self.helping(|| loop {
            match self.queue.try_pop()? {
                Message::Run(job) => {
                    // A slot freed by a task this call ends is handed over, not given back: two
                    // read-modify-writes of the contended slot word saved per helped task. Only
                    // when the helped task weighs what we want, so that its units are exactly
                    // ours; otherwise its run gives back its slot and units, and we try again.
                    let (late_panic, keep_slot) =
                        self.end_popped(job, Some(&self.helpers), Some(weight));
                    // Contained, as a worker contains it, and only after the slot is settled
                    // (the job's reference is dropped inside `end_popped`, too).
                    let _ = late_panic.discard();
                    // ORDERING: Relaxed, as in `try_acquire`. After `SHUTDOWN` a slot must
                    // not be reused: give it back as the run would have (the last one stops
                    // the workers), and let `try_acquire` refuse. Nor past a capacity a
                    // resize lowered below the count, which the held slot is part of.
                    if keep_slot {
                        let current = self.slots.load(Ordering::Relaxed);
                        let within = (current & COUNT) as usize <= self.capacity();
                        if current & SHUTDOWN == 0 && within && !self.is_forked() {
                            return Some(Ok(()));
                        }
                        self.release(weight);
                    }
                }
                Message::Stop => {
                    // Only pushed once the count reached zero after `SHUTDOWN`: hand it back to
                    // the workers; the next try is refused.
                    self.queue.push(Message::Stop);
                    return None;
                }
                Message::Retire => {
                    // For a worker (the pool was shrunk): hand it back, and wait as usual.
                    self.queue.push(Message::Retire);
                    return None;
                }
            }
            match self.try_acquire(weight) {
                Err(Refusal::Full) => {}
                other => return Some(other),
            }
        })
    }

    fn park_for_slot(&self, weight: u64, deadline: Option<Instant>) -> Result<(), Refusal> {
        loop {
            match self.try_acquire(weight) {
                Err(Refusal::Full) => {}
                other => return other,
            }
            let should_park = || {
                // ORDERING: Relaxed; the parking lot's bucket lock orders this registration
                // against the unpark in `release_slow`, and the RMW is in the slot word's
                // modification order with `release`: either it sees room for `weight`, or the
                // release that makes room sees WAITING.
                let current = self.slots.fetch_or(WAITING, Ordering::Relaxed);
                current & SHUTDOWN == 0 && !self.fits(current, weight)
            };
            // Parked with its weight: a release wakes the producers that fit, by their tokens.
            let token = park_token(weight);
            if sync::park_with_token(self.slots_key(), token, should_park, deadline)
                == Parked::TimedOut
            {
                return match self.try_acquire(weight) {
                    Err(Refusal::Full) => Err(Refusal::Timeout),
                    other => other,
                };
            }
        }
    }

    /// Waits until no slot is taken (nothing queued or running, no husk left in the queue), or
    /// until `deadline`: true once idle. The executor stays as it is.
    ///
    /// It parks on the slot word as a producer does, with `IDLE_TOKEN`, so the release that
    /// takes the count to zero wakes it (`wake_producers_that_fit`); the hot path of `release`
    /// is unchanged. Setting `WAITING` in the same RMW that reads the count means either it sees
    /// zero, or the release that makes it zero sees `WAITING`.
    pub(crate) fn wait_idle(&self, deadline: Option<Instant>) -> bool {
        // ORDERING: Acquire, paired with each `release`'s Release: what the tasks did happens
        // before the caller goes on.
        let is_idle = || self.slots.load(Ordering::Acquire) & COUNT == 0;
        loop {
            if is_idle() {
                return true;
            }
            let should_park = || {
                // ORDERING: Relaxed, as in `park_for_slot`: the bucket lock orders it against
                // the unpark, and the RMW is in the word's modification order with `release`.
                self.slots.fetch_or(WAITING, Ordering::Relaxed) & COUNT != 0
            };
            if sync::park_with_token(self.slots_key(), IDLE_TOKEN, should_park, deadline)
                == Parked::TimedOut
            {
                return is_idle();
            }
        }
    }

    /// Adds time a producer spent waiting for a slot.
    pub(crate) fn add_submit_wait(&self, waited: Duration) {
        let nanos = u64::try_from(waited.as_nanos()).unwrap_or(u64::MAX);
        bump(&self.producers.submit_wait_nanos, nanos);
        self.producers.submit_waits.record(waited, 1);
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
        // Async producers weigh 1.
        current & SHUTDOWN != 0 || self.fits(current, 1) || self.is_forked()
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
    pub(crate) fn wake_one_async(&self) {
        self.wake_async(1);
    }

    /// Wakes the `n` oldest async producers (fewer if fewer wait).
    ///
    /// A waker is user code (the async runtime's), and this runs in the middle of a task's
    /// bookkeeping on whatever thread freed the slot, so a panic from it is contained: the
    /// panic is discarded, and the next producer is woken in its place, since the panicking
    /// one may not have been.
    fn wake_async(&self, mut n: usize) {
        while n > 0 {
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
                n -= 1;
            }
        }
    }

    /// True if a slot (and a unit, async producers weigh 1) is free now: a woken async
    /// producer that gives up passes the wake-up on.
    pub(crate) fn has_free_slot(&self) -> bool {
        self.fits(self.slots.load(Ordering::Relaxed), 1)
    }

    /// After a release that saw producers waiting (`WAITING` or `ASYNC_WAITING` in `previous`):
    /// wakes every one whose task fits in the room the slot word shows now. Parked producers
    /// first, oldest first, each counted against the room as if it had taken its slot and its
    /// units (its weight is its park token); one that does not fit is passed over, not woken,
    /// and the walk stops once no slot is left. Then as many async producers (weight 1) as the
    /// rest of the room holds.
    ///
    /// A woken producer that finds the room taken after all (a producer that did not sleep got
    /// there first) parks again: that room is not free. So no producer sleeps beside a slot and
    /// units it would fit in, which a release that woke one producer could not promise (the
    /// one woken could be a heavy one that does not fit, or one of several that do).
    ///
    /// This is the one place that decides who is woken and when, so that a policy that wakes
    /// later, to batch wake-ups while workers have work, changes it alone.
    #[cold]
    pub(super) fn wake_producers_that_fit(&self, previous: u64) {
        // ORDERING: Relaxed, as `try_acquire`: it only sizes the wake-up. It reads our own
        // release or later (same thread, same word), and anything it misses is a release that
        // wakes for itself.
        let current = self.slots.load(Ordering::Relaxed);
        let idle = current & COUNT == 0;
        let mut room = Room {
            slots: self.capacity().saturating_sub((current & COUNT) as usize),
            units: self.weight_capacity.saturating_sub(units(current)),
        };
        if self.defers_wake(room.slots) {
            return;
        }
        if previous & WAITING != 0 {
            sync::unpark_filter(
                self.slots_key(),
                |token| {
                    if token == IDLE_TOKEN {
                        // A `wait_idle`: woken once no slot is taken, passed over otherwise.
                        return if idle { Filter::Unpark } else { Filter::Skip };
                    }
                    if room.slots == 0 {
                        // With no slot taken, an idle waiter may still be parked further on.
                        return if idle { Filter::Skip } else { Filter::Stop };
                    }
                    // The token is the weight, or a lower bound of it (see `park_token`): at
                    // worst one more producer is woken than fits.
                    let weight = token as u64;
                    if weight > room.units {
                        return Filter::Skip;
                    }
                    room.slots -= 1;
                    room.units -= weight;
                    Filter::Unpark
                },
                || {
                    // ORDERING: Relaxed, under the lock a parker sets it under.
                    self.slots.fetch_and(!WAITING, Ordering::Relaxed);
                },
            );
        }
        if previous & ASYNC_WAITING != 0 {
            let async_room = room.slots.min(usize::try_from(room.units).unwrap_or(usize::MAX));
            self.wake_async(async_room);
        }
    }

    /// True if a release that leaves `free` slots may leave the waiting producers asleep for
    /// now (see `# Batched wake-ups`): only where producers do not help and tasks have no
    /// weight capacity, only while fewer than the batch are free, and only while tasks are
    /// queued, so the workers have work until the wake-up that comes.
    #[inline]
    fn defers_wake(&self, free: usize) -> bool {
        self.batches_wakes() && free < self.wake_batch() && self.queue.len() != 0
    }

    /// Whether releases batch their wake-ups: a producer that helps would rather be woken to
    /// run queued tasks, and weighted producers are woken as soon as they fit (issue 19's
    /// rule), so both keep waking at once.
    #[inline]
    fn batches_wakes(&self) -> bool {
        !self.producer_helps && self.weight_capacity == MAX_WEIGHT_CAPACITY
    }

    /// The free slots a release waits for before it wakes the producers: half the capacity, and
    /// never more than the capacity beyond one task per worker, so that by the time the queue
    /// runs empty (every task in flight running), the next release wakes them.
    #[inline]
    fn wake_batch(&self) -> usize {
        let capacity = self.capacity();
        (capacity / 2).min(capacity.saturating_sub(self.threads.max())).max(1)
    }

    /// The idle guard of batched wake-ups: a worker about to wait for a task (the queue is
    /// empty) wakes the producers a release left asleep, so that no worker idles while a
    /// producer sleeps beside a free slot.
    #[inline]
    pub(crate) fn before_worker_waits(&self) {
        // ORDERING: Relaxed; as in `release`: a producer sets `WAITING` with an RMW before it
        // parks, and parks only if it saw no room; a release after that RMW sees it. This load
        // is after our own last release on this thread, so it sees `WAITING` if a producer
        // parked before that release, and the room is what `wake_producers_that_fit` reads.
        if self.batches_wakes() {
            let current = self.slots.load(Ordering::Relaxed);
            if current & (WAITING | ASYNC_WAITING) != 0 && self.fits(current, 1) {
                // The queue is empty (the caller found it so), so `defers_wake` lets it
                // through unless a task was pushed meanwhile, and then that task is the
                // workers' runway.
                self.wake_producers_that_fit(current);
            }
        }
    }

    /// Wakes every waiting producer (at shutdown: they all get their error). A panicking
    /// waker is contained, as in `wake_one_async`, and the others are still woken.
    pub(super) fn wake_all_producers(&self) {
        sync::unpark_all(self.slots_key());
        let wakers = std::mem::take(&mut self.async_waiters.lock().wakers);
        for (_, waker) in wakers {
            let mut late = LatePanic::default();
            late.catch(|| waker.wake());
            let _ = late.discard();
        }
    }
}
