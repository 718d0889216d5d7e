//! The bound: the slot word and the producers that wait on it. Methods of [`Shared`] that touch
//! nothing else live here, so this file reads alone.
//!
//! # The slot word
//!
//! One atomic word holds the number of slots taken (low bits), `WAITING` (a thread is parked for
//! a slot), `ASYNC_WAITING` (a `SubmitFuture` waits for one) and `SHUTDOWN`. A submit takes a slot
//! with a CAS that refuses when the count is `capacity` or `SHUTDOWN` is set, so the bound is
//! exact under any number of producers; only then is the task pushed. A queue entry keeps its
//! slot until it is popped (see the module above, `# Husks`).
//!
//! | bit | set by | cleared by |
//! |---|---|---|
//! | count (low bits) | `try_acquire` (CAS, never past `capacity`) | `release` |
//! | `WAITING` | a producer about to park, under the parking lot's bucket lock | the unpark callback, under that lock, once no parked thread is left |
//! | `ASYNC_WAITING` | `register_async_waiter`, under the async waiters' mutex | whoever empties that list, under the same mutex |
//! | `SHUTDOWN` | `begin_shutdown` | never |
//!
//! # Waiting producers
//!
//! A producer that finds no slot first **helps** if it may (a blocking `submit` with
//! `producer_helps`): it pops queued tasks and runs them as a worker would, until a slot frees.
//! Each queued task already holds its slot, so the bound is untouched. Once the queue is empty
//! (every task in flight is running), it spins briefly while spinning pays off, yields, then
//! parks on the word's address. Every release that sees `WAITING` unparks one thread; the unpark
//! callback clears `WAITING` under the parking lot's bucket lock once no thread is left, and a
//! parker sets it under that same lock, so no wake-up is lost. `ASYNC_WAITING` works the same
//! way under the async waiters' mutex. A woken producer that does not use its slot passes the
//! wake-up on (see `SubmitFuture`'s `Drop`).

use std::task::Waker;
use std::time::{Duration, Instant};

use super::{worker, Admission, Refusal, Shared, Wait};
use crate::queue::Message;
use crate::stats::bump;
use crate::sync::{self, AtomicUsize, Ordering, Parked};
use crate::unwind::LatePanic;

pub(super) const SHUTDOWN: usize = 1 << (usize::BITS - 1);
const WAITING: usize = 1 << (usize::BITS - 2);
const ASYNC_WAITING: usize = 1 << (usize::BITS - 3);
pub(super) const COUNT: usize = ASYNC_WAITING - 1;

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

/// Wakers of pending `SubmitFuture`s, oldest first, each under an id so that a dropped future
/// can take its own out.
#[derive(Debug, Default)]
pub(super) struct AsyncWaiters {
    next_id: u64,
    wakers: std::collections::VecDeque<(u64, Waker)>,
}

impl Shared {
    pub(super) fn slots_key(&self) -> usize {
        &*self.slots as *const AtomicUsize as usize
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
            if count >= self.capacity() {
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
        current & SHUTDOWN != 0 || current & COUNT < self.capacity() || self.is_forked()
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
                    // A slot freed by a task this call ends is handed over, not given back: two
                    // read-modify-writes of the contended slot word saved per helped task.
                    if let Some(late_panic) = self.end_popped(&*job, Some(&self.helpers), true) {
                        // Contained, as a worker contains it.
                        let _ = late_panic.discard();
                        // ORDERING: Relaxed, as in `try_acquire`. After `SHUTDOWN` a slot must
                        // not be reused: give it back as the run would have (the last one stops
                        // the workers), and let `try_acquire` refuse.
                        if self.slots.load(Ordering::Relaxed) & SHUTDOWN == 0 && !self.is_forked() {
                            return Some(Ok(()));
                        }
                        self.release();
                    }
                }
                Message::Stop => {
                    // Only pushed once the count reached zero after `SHUTDOWN`: hand it back to
                    // the workers; the next try is refused.
                    self.push(Message::Stop);
                    return None;
                }
                Message::Retire => {
                    // For a worker (the pool was shrunk): hand it back, and wait as usual.
                    self.push(Message::Retire);
                    return None;
                }
                Message::Wake => {}
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
                current & SHUTDOWN == 0 && current & COUNT >= self.capacity()
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

    /// Takes a slot if one is free; if the executor is full, the right to run the task right
    /// here instead (caller-runs): under this thread's worker index on a worker of this
    /// executor, under the helping producers' index anywhere else. Never waits.
    pub(crate) fn admit_or_run(&self) -> Result<Admission, Refusal> {
        match self.try_acquire() {
            Ok(()) => Ok(Admission::Slot),
            Err(Refusal::Full) => {
                let index = worker::index_in(self).unwrap_or(self.helper_index());
                Ok(Admission::Inline(index))
            }
            Err(refusal) => Err(refusal),
        }
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
        current & SHUTDOWN != 0 || current & COUNT < self.capacity() || self.is_forked()
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
        self.slots.load(Ordering::Relaxed) & COUNT < self.capacity()
    }

    /// Sets the capacity (a resize). Submits racing it may be admitted under either value.
    /// Tasks in flight beyond a lowered capacity are not touched: they finish, and submits
    /// wait until the count is under the new bound. A raise wakes every waiting producer to
    /// try again.
    pub(crate) fn set_capacity(&self, capacity: usize) {
        // Spilling first: the queue must take more than its array before anyone is admitted
        // under the new capacity.
        if capacity > self.queue.room() {
            self.queue.spill(self.threads.live());
        }
        // ORDERING: Release, see `capacity`. A parked producer checks the capacity under the
        // parking lot's bucket lock, which `wake_all_producers` takes after this store: it
        // either sees the new value or is woken.
        let previous = self.capacity.swap(capacity, Ordering::Release);
        if capacity > previous {
            self.wake_all_producers();
        }
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

/// The slot counter alone, on one thread.
#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::queue::Message;

    #[test]
    fn slots_are_taken_up_to_capacity_and_given_back() {
        let shared = Shared::new(1, 3);
        for _ in 0..3 {
            assert_eq!(shared.try_acquire(), Ok(()));
        }
        assert_eq!(shared.try_acquire(), Err(Refusal::Full));
        assert_eq!(shared.in_flight(), 3);
        assert!(!shared.has_free_slot());
        shared.release();
        assert!(shared.has_free_slot());
        assert_eq!(shared.try_acquire(), Ok(()));
        assert_eq!(shared.stats().peak_in_flight, 3);
    }

    #[test]
    fn shutdown_refuses_and_the_last_release_starts_the_stop_relay() {
        let shared = Shared::new(2, 2);
        shared.try_acquire().unwrap();
        shared.begin_shutdown();
        assert!(shared.is_shutdown());
        assert_eq!(shared.try_acquire(), Err(Refusal::Shutdown));
        assert!(shared.queue.try_pop().is_none(), "a slot is still taken: no Stop yet");
        shared.release();
        // One `Stop`: each worker that takes it passes it on (see `threads.rs`).
        let stops = std::iter::from_fn(|| shared.queue.try_pop())
            .filter(|m| matches!(m, Message::Stop))
            .count();
        assert_eq!(stops, 1);
    }

    #[test]
    fn try_admit_never_runs_inline_and_admit_forever_waits_or_inlines() {
        let shared = Shared::new(1, 1);
        assert!(matches!(shared.try_admit(), Ok(Admission::Slot)));
        assert_eq!(shared.try_admit().err(), Some(Refusal::Full));
        // Not a worker: `Wait::No` is refused; inline admission needs a worker of this executor.
        assert_eq!(shared.admit(Wait::No).err(), Some(Refusal::Full));
        worker::as_worker(&shared, 0, || {
            assert!(matches!(shared.admit(Wait::Forever), Ok(Admission::Inline(0))));
        });
    }
}
