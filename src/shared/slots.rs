//! The bound: the slot word, taking a slot and giving it back. Methods of [`Shared`] that touch
//! nothing else live here, so this file reads alone; the producers that wait are in `waiting.rs`.
//!
//! # The slot word
//!
//! One 64-bit atomic word holds both bounds: the number of slots taken (bits 0..24), the weight
//! units those tasks hold (bits 24..61), `ASYNC_WAITING` (a `SubmitFuture` waits for a slot),
//! `WAITING` (a thread is parked for one) and `SHUTDOWN`. A submit of weight `w` takes a slot and
//! `w` units with one CAS that refuses when the count is `capacity`, when `w` more units would
//! pass `weight_capacity`, or when `SHUTDOWN` is set, so both bounds are exact under any number
//! of producers; only then is the task pushed. The task ends by giving both back with one
//! `fetch_sub` of `1 | w << 24` (its weight is in its header). A queue entry keeps its slot and
//! units until it is popped (see the module above, `# Husks`). Plain submits weigh 1; without
//! `Builder::weight_capacity` the weight capacity is the most the units can count, so it never
//! binds for them (their units never outnumber their slots, at most `MAX_CAPACITY`). A task
//! heavier than the whole weight capacity is refused (`TooHeavy`) before any wait.
//!
//! | bits | set by | cleared by |
//! |---|---|---|
//! | 0..24 count | `try_acquire` (CAS, never past `capacity`) | `release` |
//! | 24..61 units | `try_acquire`, in the same CAS (never past `weight_capacity`) | `release`, in the same `fetch_sub` |
//! | 61 `ASYNC_WAITING` | `register_async_waiter`, under the async waiters' mutex | whoever empties that list, under the same mutex |
//! | 62 `WAITING` | a producer about to park, under the parking lot's bucket lock | the unpark callback, under that lock, once no parked thread is left |
//! | 63 `SHUTDOWN` | `begin_shutdown` | never |

use super::{worker, Admission, Refusal, Shared, Wait};
use crate::stats::bump;
use crate::sync::{self, AtomicU64, Ordering};

pub(super) const SHUTDOWN: u64 = 1 << 63;
pub(super) const WAITING: u64 = 1 << 62;
pub(super) const ASYNC_WAITING: u64 = 1 << 61;
/// Where the units start: above the count.
const UNITS_SHIFT: u32 = 24;
/// Slots taken.
pub(super) const COUNT: u64 = (1 << UNITS_SHIFT) - 1;
/// Weight units held, shifted by `UNITS_SHIFT`: everything between the count and the flags.
pub(super) const UNITS: u64 = (ASYNC_WAITING - 1) & !COUNT;

/// The largest capacity the slot word can count: 2^24 - 1.
pub(crate) const MAX_CAPACITY: usize = COUNT as usize;

/// The largest weight capacity the slot word can count: 2^37 - 1. Also the weight capacity of
/// an executor built without one.
pub(crate) const MAX_WEIGHT_CAPACITY: u64 = UNITS >> UNITS_SHIFT;

/// What a task of `weight` adds to the slot word, and its release takes away.
#[inline]
const fn slot_and_units(weight: u64) -> u64 {
    1 | weight << UNITS_SHIFT
}

/// The units held, as of the word `current`.
#[inline]
pub(super) const fn units(current: u64) -> u64 {
    (current & UNITS) >> UNITS_SHIFT
}

impl Shared {
    pub(super) fn slots_key(&self) -> usize {
        &*self.slots as *const AtomicU64 as usize
    }

    // ---- taking a slot -------------------------------------------------------------------

    /// True if, as of the word `current`, a task of `weight` fits under both bounds.
    #[inline]
    pub(super) fn fits(&self, current: u64, weight: u64) -> bool {
        // `weight_capacity - units` cannot wrap: the units never pass the weight capacity.
        current & COUNT < self.capacity() as u64 && weight <= self.weight_capacity - units(current)
    }

    /// Takes a slot and `weight` units if both are free.
    #[inline]
    pub(super) fn try_acquire(&self, weight: u64) -> Result<(), Refusal> {
        if self.is_forked() {
            return Err(Refusal::Forked);
        }
        // ORDERING (whole function): Relaxed. The slot word guards no data: tasks reach workers
        // through the queue, which synchronises on its own. Both bounds and the shutdown
        // handshake are decided on the values the RMWs read, and RMWs always read the latest
        // value.
        let mut current = self.slots.load(Ordering::Relaxed);
        loop {
            if current & SHUTDOWN != 0 {
                return Err(Refusal::Shutdown);
            }
            if !self.fits(current, weight) {
                return Err(Refusal::Full);
            }
            // No carry out of the units: `fits` kept them within the weight capacity.
            match self.slots.compare_exchange_weak(
                current,
                current + slot_and_units(weight),
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    self.note_in_flight(current + slot_and_units(weight));
                    return Ok(());
                }
                Err(actual) => current = actual,
            }
        }
    }

    /// Raises the peaks to the word `now` holds.
    #[inline]
    fn note_in_flight(&self, now: u64) {
        // ORDERING: Relaxed; statistics.
        let count = (now & COUNT) as usize;
        let peak = &self.producers.peak_in_flight;
        if count > peak.load(Ordering::Relaxed) {
            peak.fetch_max(count, Ordering::Relaxed);
        }
        let units = units(now);
        let peak = &self.producers.peak_weight_in_flight;
        if units > peak.load(Ordering::Relaxed) {
            peak.fetch_max(units, Ordering::Relaxed);
        }
    }

    /// True if a try for `weight` is worth making: it fits, or the answer is no longer "full".
    #[inline]
    pub(super) fn may_admit(&self, weight: u64) -> bool {
        let current = self.slots.load(Ordering::Relaxed);
        current & SHUTDOWN != 0 || self.fits(current, weight) || self.is_forked()
    }

    /// The refusal for a task of `weight` that did not fit: `TooHeavy` if it never can.
    #[inline]
    fn full_or_too_heavy(&self, weight: u64) -> Refusal {
        if weight > self.weight_capacity {
            Refusal::TooHeavy
        } else {
            Refusal::Full
        }
    }

    /// Takes a slot and `weight` units if they are free right now (never inline).
    pub(crate) fn try_admit(&self, weight: u64) -> Result<Admission, Refusal> {
        match self.try_acquire(weight) {
            Ok(()) => Ok(Admission::Slot(weight)),
            Err(Refusal::Full) => Err(self.full_or_too_heavy(weight)),
            Err(refusal) => Err(refusal),
        }
    }

    /// Takes a slot (weight 1) if one is free; if the executor is full, the right to run the
    /// task right here instead (caller-runs): under this thread's worker index on a worker of
    /// this executor, under the helping producers' index anywhere else. Never waits.
    pub(crate) fn admit_or_run(&self) -> Result<Admission, Refusal> {
        match self.try_acquire(1) {
            Ok(()) => Ok(Admission::Slot(1)),
            Err(Refusal::Full) => {
                let index = worker::index_in(self).unwrap_or(self.helper_index());
                Ok(Admission::Inline(index))
            }
            Err(refusal) => Err(refusal),
        }
    }

    /// Admits one task of `weight`: a slot and its units, or, on a worker of this executor
    /// that would have to wait, the right to run it inline (see the crate docs,
    /// `# Deadlocks`). A task heavier than the whole weight capacity is refused at once.
    #[inline]
    pub(crate) fn admit(&self, weight: u64, wait: Wait) -> Result<Admission, Refusal> {
        match self.try_acquire(weight) {
            Ok(()) => Ok(Admission::Slot(weight)),
            Err(refusal) => self.admit_slow(refusal, weight, wait),
        }
    }

    #[cold]
    fn admit_slow(&self, refusal: Refusal, weight: u64, wait: Wait) -> Result<Admission, Refusal> {
        // The common case first (a blocking submit that found the executor full): a helping
        // producer comes here once per task it submits.
        if let (Refusal::Full, Wait::Forever) = (refusal, wait) {
            if weight <= self.weight_capacity {
                if let Some(index) = worker::index_in(self) {
                    return Ok(Admission::Inline(index));
                }
                return self.acquire_slow(weight, None, true).map(|()| Admission::Slot(weight));
            }
        }
        let refusal = match refusal {
            Refusal::Full => self.full_or_too_heavy(weight),
            refusal => refusal,
        };
        // Only a blocking submit may help: a timed one never does, whatever its deadline.
        let (deadline, may_help) = match (refusal, wait) {
            (Refusal::Full, Wait::Forever) => (None, true),
            (Refusal::Full, Wait::Until(deadline)) => (deadline, false),
            (refusal, _) => return Err(refusal),
        };
        if let Some(index) = worker::index_in(self) {
            return Ok(Admission::Inline(index));
        }
        self.acquire_slow(weight, deadline, may_help).map(|()| Admission::Slot(weight))
    }

    /// Gives back an admission that was not used.
    pub(crate) fn unadmit(&self, admission: Admission) {
        if let Admission::Slot(weight) = admission {
            self.release(weight);
        }
    }

    /// Counts a refused submission.
    pub(crate) fn reject(&self) {
        bump(&self.producers.rejected, 1);
    }

    /// Sets the capacity (a resize). Submits racing it may be admitted under either value.
    /// Tasks in flight beyond a lowered capacity are not touched: they finish, and submits
    /// wait until the count is under the new bound. A raise wakes every waiting producer to
    /// try again.
    pub(crate) fn set_capacity(&self, capacity: usize) {
        // ORDERING: Relaxed, see `capacity`. A parked producer checks the capacity under the
        // parking lot's bucket lock, which `wake_all_producers` takes after this store: it
        // either sees the new value or is woken.
        let previous = self.capacity.swap(capacity, Ordering::Relaxed);
        if capacity > previous {
            self.wake_all_producers();
        }
    }

    // ---- giving a slot back --------------------------------------------------------------

    /// Gives back a slot and the `weight` units of the task that held it, in one RMW.
    #[inline]
    pub(crate) fn release(&self, weight: u64) {
        // ORDERING: Release, for the shutdown: whoever takes the count to zero after `SHUTDOWN`
        // acquires every release before it (the slot word is only ever changed by RMWs, so
        // they all continue each release's sequence), so that what the thread giving a slot
        // back did first, registering as a helper among it, happens before the workers stop
        // (see `Threads::enter_helper`). Otherwise as `try_acquire`: the word guards no data.
        let previous = self.slots.fetch_sub(slot_and_units(weight), Ordering::Release);
        if previous & (WAITING | ASYNC_WAITING | SHUTDOWN) != 0 {
            self.release_slow(previous);
        }
    }

    #[cold]
    fn release_slow(&self, previous: u64) {
        if previous & (WAITING | ASYNC_WAITING) != 0 {
            self.wake_producers_that_fit(previous);
        }
        if previous & SHUTDOWN != 0 && previous & COUNT == 1 {
            // ORDERING: Acquire, paired with every earlier `release` (see there).
            sync::fence(Ordering::Acquire);
            self.stop_workers();
        }
    }
}

/// The slot word alone, on one thread.
#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::queue::Message;

    #[test]
    fn slots_are_taken_up_to_capacity_and_given_back() {
        let shared = Shared::new(1, 3);
        for _ in 0..3 {
            assert_eq!(shared.try_acquire(1), Ok(()));
        }
        assert_eq!(shared.try_acquire(1), Err(Refusal::Full));
        assert_eq!(shared.in_flight(), 3);
        assert!(!shared.has_free_slot());
        shared.release(1);
        assert!(shared.has_free_slot());
        assert_eq!(shared.try_acquire(1), Ok(()));
        assert_eq!(shared.stats().peak_in_flight, 3);
    }

    #[test]
    fn the_word_layout_leaves_no_gap_and_no_overlap() {
        assert_eq!(COUNT, 0xFF_FFFF, "the count is bits 0..24");
        assert_eq!(UNITS, ((1 << 37) - 1) << 24, "the units are bits 24..61");
        assert_eq!(COUNT | UNITS | ASYNC_WAITING | WAITING | SHUTDOWN, u64::MAX);
        for (a, b) in [(COUNT, UNITS), (UNITS, ASYNC_WAITING), (ASYNC_WAITING, WAITING)] {
            assert_eq!(a & b, 0);
        }
        assert_eq!(WAITING & SHUTDOWN, 0);
        assert_eq!(MAX_CAPACITY, 16_777_215);
        assert_eq!(MAX_WEIGHT_CAPACITY, 137_438_953_471);
        assert_eq!(slot_and_units(0), 1);
        assert_eq!(slot_and_units(5), 1 | 5 << 24);
        assert_eq!(units(slot_and_units(MAX_WEIGHT_CAPACITY)), MAX_WEIGHT_CAPACITY);
    }

    #[test]
    fn both_bounds_hold_and_a_release_gives_back_the_slot_and_the_units() {
        let shared = Shared::new(1, 3).with_weight_capacity(10);
        assert_eq!(shared.try_acquire(6), Ok(()));
        assert_eq!(shared.try_acquire(5), Err(Refusal::Full), "6 + 5 > 10, with slots free");
        assert_eq!(shared.try_acquire(4), Ok(()));
        assert_eq!(shared.weight_in_flight(), 10);
        assert_eq!(shared.try_acquire(0), Ok(()), "weight 0 needs a slot, not a unit");
        assert_eq!(shared.try_acquire(0), Err(Refusal::Full), "no slot left");
        assert_eq!((shared.in_flight(), shared.weight_in_flight()), (3, 10));
        shared.release(6);
        assert_eq!((shared.in_flight(), shared.weight_in_flight()), (2, 4));
        assert!(shared.has_free_slot());
        shared.release(4);
        shared.release(0);
        assert_eq!(shared.slots.load(Ordering::Relaxed), 0, "nothing left in the word");
        let stats = shared.stats();
        assert_eq!((stats.peak_in_flight, stats.peak_weight_in_flight), (3, 10));
    }

    #[test]
    fn units_full_to_the_last_bit_never_carry_into_the_flags() {
        let shared = Shared::new(1, 2).with_weight_capacity(MAX_WEIGHT_CAPACITY);
        assert_eq!(shared.try_acquire(MAX_WEIGHT_CAPACITY), Ok(()));
        let word = shared.slots.load(Ordering::Relaxed);
        assert_eq!(word & (ASYNC_WAITING | WAITING | SHUTDOWN), 0);
        assert_eq!((word & COUNT, units(word)), (1, MAX_WEIGHT_CAPACITY));
        assert_eq!(shared.try_acquire(1), Err(Refusal::Full));
        assert_eq!(shared.try_acquire(u64::MAX), Err(Refusal::Full), "no overflow in the check");
        assert_eq!(shared.try_acquire(0), Ok(()));
        shared.release(0);
        shared.release(MAX_WEIGHT_CAPACITY);
        assert_eq!(shared.slots.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_task_heavier_than_the_weight_capacity_is_refused_at_once() {
        let shared = Shared::new(1, 2).with_weight_capacity(10);
        assert_eq!(shared.try_admit(11).err(), Some(Refusal::TooHeavy));
        // Even a waiting admission does not wait, and a worker does not run it inline.
        assert_eq!(shared.admit(11, Wait::Forever).err(), Some(Refusal::TooHeavy));
        worker::as_worker(&shared, 0, || {
            assert_eq!(shared.admit(u64::MAX, Wait::Forever).err(), Some(Refusal::TooHeavy));
        });
        // Just fitting is not too heavy, and a full executor answers Full for what could fit.
        assert!(matches!(shared.try_admit(10), Ok(Admission::Slot(10))));
        assert_eq!(shared.try_admit(1).err(), Some(Refusal::Full));
        assert_eq!(shared.slots.load(Ordering::Relaxed), slot_and_units(10));
    }

    #[test]
    fn units_are_released_only_once_a_husk_is_popped() {
        let shared = crate::sync::Arc::new(Shared::new(1, 2).with_weight_capacity(10));
        let admission = shared.try_admit(7).unwrap();
        let (task, job) = crate::task::Task::allocate(|| (), admission.weight());
        Shared::enqueue(&shared, admission, job);
        // Cancelled by its handle: out of flight at once, but its entry holds slot and units.
        assert!(shared.cancel_off_queue(&*task));
        assert_eq!((shared.in_flight(), shared.weight_in_flight()), (0, 0));
        assert_eq!(shared.try_acquire(4), Err(Refusal::Full), "the husk still holds 7 units");
        match shared.queue.try_pop() {
            Some(Message::Run(job)) => shared.execute(job, super::super::PoppedBy::Worker(0)),
            _ => panic!("the husk is queued"),
        }
        assert_eq!(shared.slots.load(Ordering::Relaxed), 0, "slot and units came back once");
    }

    #[test]
    fn shutdown_refuses_and_the_last_release_starts_the_stop_relay() {
        let shared = Shared::new(2, 2);
        shared.try_acquire(3).unwrap();
        shared.begin_shutdown();
        assert!(shared.is_shutdown());
        assert_eq!(shared.try_acquire(1), Err(Refusal::Shutdown));
        assert!(shared.queue.try_pop().is_none(), "a slot is still taken: no Stop yet");
        shared.release(3);
        // One `Stop`: each worker that takes it passes it on (see `threads/exit.rs`).
        let stops = std::iter::from_fn(|| shared.queue.try_pop())
            .filter(|m| matches!(m, Message::Stop))
            .count();
        assert_eq!(stops, 1);
    }

    #[test]
    fn try_admit_never_runs_inline_and_admit_forever_waits_or_inlines() {
        let shared = Shared::new(1, 1);
        assert!(matches!(shared.try_admit(1), Ok(Admission::Slot(1))));
        assert_eq!(shared.try_admit(1).err(), Some(Refusal::Full));
        // Not a worker: `Wait::No` is refused; inline admission needs a worker of this executor.
        assert_eq!(shared.admit(1, Wait::No).err(), Some(Refusal::Full));
        worker::as_worker(&shared, 0, || {
            assert!(matches!(shared.admit(1, Wait::Forever), Ok(Admission::Inline(0))));
        });
    }
}
