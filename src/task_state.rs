//! A task's state word: its bits, its reference count, and the [`Header`] that holds it, apart
//! from the task's types so that [`TaskRef`](crate::task_ref::TaskRef) (which counts in it) and
//! [`Task`](crate::task::Task) (which runs on it) both build on it without importing each other.
//!
//! # The state word
//!
//! | bit | set by | cleared | means |
//! |---|---|---|---|
//! | `CLAIMED` | the one thread that takes the closure out: to run it (`run`) or to drop it (`cancel`) | never | the stage belongs to the claimer until `DONE` |
//! | `DONE` | the claimer, with `Release`, after the outcome is written | never | the outcome is readable (after an `Acquire` load) |
//! | `CANCELLED` | `cancel`, in the same RMW as `DONE` | never | the outcome is "cancelled"; the stage is empty |
//! | `PARKED` | a thread about to park on the word's address | never | `publish` must unpark |
//! | `WAKER` | `register_waker`, after storing the waker | never | `publish` must take the stored waker and wake it |
//! | `DETACHED` | dropping the handle (or born with it: `execute`) | never | nobody will read the outcome |
//! | `POPPED` | a worker that popped the queue entry of a task claimed elsewhere | never | the entry is gone: whoever ends the task second gives the slot back |
//! | from `REF` up | the count of [`TaskRef`]s: set at allocation, raised by a clone, lowered by a drop (the handle's, in the same RMW as `DETACHED`) | | the last one frees the task |
//!
//! Until `DONE`, only the claimer touches the stage. From then on only the handle's owner, which
//! has `&mut` or owns it, reads the stage, until it drops the handle: whichever of `DONE` and
//! `DETACHED` comes second drops what is left in the stage, so a detached result does not wait
//! for the last reference.
//!

use std::ptr::NonNull;
use std::task::Waker;
use std::time::Instant;

use crate::sync::{self, AtomicUsize, Mutex, Ordering, Parked};
use crate::unwind::LatePanic;

pub(crate) const CLAIMED: usize = 1;
pub(crate) const DONE: usize = 1 << 1;
pub(crate) const CANCELLED: usize = 1 << 2;
pub(crate) const PARKED: usize = 1 << 3;
pub(crate) const WAKER: usize = 1 << 4;
pub(crate) const DETACHED: usize = 1 << 5;
pub(crate) const POPPED: usize = 1 << 6;
/// One [`TaskRef`] in the count, which takes the bits from here up.
pub(crate) const REF: usize = 1 << 8;
/// The state of a task fresh from [`Task::allocate`]: its handle's reference and its queue
/// entry's, nothing else.
pub(crate) const FRESH_PAIR: usize = 2 * REF;

/// The number of references counted in `state`.
#[inline]
pub(crate) const fn refs(state: usize) -> usize {
    state / REF
}

/// The part of a task that does not depend on its types: its state, its waiters and its
/// weight.
#[derive(Debug)]
pub(crate) struct Header {
    pub(crate) state: AtomicUsize,
    pub(crate) waker: Mutex<Option<Waker>>,
    /// The weight units the task holds in its executor's bound while it is in flight (see
    /// `shared/slots.rs`), set at creation and never changed: whoever gives the task's slot
    /// back reads it here.
    pub(crate) weight: u64,
}

impl Header {
    pub(crate) fn new(state: usize, weight: u64) -> Self {
        Self { state: AtomicUsize::new(state), waker: Mutex::new(None), weight }
    }

    /// The weight units the task holds while in flight.
    #[inline]
    pub(crate) fn weight(&self) -> u64 {
        self.weight
    }

    /// The key threads park on: the address of the state word.
    pub(crate) fn key(&self) -> usize {
        &self.state as *const AtomicUsize as usize
    }

    /// True once the outcome (a value, a panic or a cancellation) is published.
    #[inline]
    pub(crate) fn is_done(&self) -> bool {
        // ORDERING: Acquire pairs with the Release in `publish`, so the stage's outcome is visible.
        self.state.load(Ordering::Acquire) & DONE != 0
    }

    /// The state word of the header at `header`, reached without a reference to the header.
    ///
    /// The reference counting below works on this alone (see `task_ref.rs`, "No reference
    /// across a release"): once a count goes down, another thread may free the task, and a
    /// `&Header` held across that (say, as the `&self` of a method) would cover freed memory.
    /// A `&AtomicUsize` covers only the atomic, whose bytes are interior-mutable, as in std's
    /// `Arc::drop`.
    ///
    /// # Safety
    ///
    /// `header` points to a live header, and the caller holds a counted reference to its task
    /// until it is done with the returned one, except across the one RMW that gives it up.
    #[inline]
    pub(crate) unsafe fn state_of<'a>(header: NonNull<Header>) -> &'a AtomicUsize {
        // SAFETY: the header is live (the caller's contract); `addr_of!` makes no reference to
        // the header itself, only to its state word.
        unsafe { &*std::ptr::addr_of!((*header.as_ptr()).state) }
    }

    /// Counts one more reference (a clone of one the caller holds) in `state`.
    #[inline]
    pub(crate) fn add_ref(state: &AtomicUsize) {
        // ORDERING: Relaxed, as `Arc::clone`: the caller's own reference keeps the task alive,
        // and handing the new one to another thread synchronises on its own.
        state.fetch_add(REF, Ordering::Relaxed);
    }

    /// Gives up one reference counted in `state`; true if it was the last, and the caller frees
    /// the task. After a false, another thread may free the task at any time: `state` must not
    /// be used again.
    #[inline]
    pub(crate) fn release_ref(state: &AtomicUsize) -> bool {
        // ORDERING: Acquire pairs with the Release of every other reference's release, so that
        // their uses of the task happen before our free. Alone, nobody can add a reference (that
        // takes one), so no RMW is needed.
        if refs(state.load(Ordering::Acquire)) == 1 {
            return true;
        }
        // ORDERING: Release so that our uses of the task happen before the last holder's free;
        // Acquire in case that holder is us after all (the others released meanwhile).
        refs(state.fetch_sub(REF, Ordering::AcqRel)) == 1
    }

    /// True once someone has taken the closure (to run or to cancel it).
    pub(crate) fn is_claimed(&self) -> bool {
        self.state.load(Ordering::Relaxed) & CLAIMED != 0
    }

    /// Takes the right to the closure; true for exactly one caller.
    #[inline]
    pub(crate) fn claim(&self) -> bool {
        // ORDERING: Acquire pairs with whatever handed us the task (the queue or the handle), so
        // the closure written at creation is visible; the RMW makes exactly one claimer win.
        self.state.fetch_or(CLAIMED, Ordering::Acquire) & CLAIMED == 0
    }

    /// Marks the outcome as written and wakes whoever waits; a panic from a waker is kept in
    /// `late`. Returns the state before: with `DETACHED` the handle is gone and the caller drops
    /// the outcome; with `POPPED` the queue entry was already passed over and the caller gives
    /// the task's slot back.
    #[inline]
    pub(crate) fn publish(&self, extra: usize, late: &mut LatePanic) -> usize {
        // ORDERING: Release makes the stage write visible to the Acquire in `is_done`; Acquire
        // pairs with waiters' registration so a stored waker is seen, and with `detach` and
        // `mark_popped`.
        let prev = self.state.fetch_or(DONE | extra, Ordering::AcqRel);
        if prev & (PARKED | WAKER) != 0 {
            self.wake(prev, late);
        }
        prev
    }

    /// Marks the task's queue entry as popped by a worker that found it claimed by someone else
    /// (a canceller, or a worker joining it). Whichever of this and `publish` comes second gives
    /// the slot back: true if that is the caller (the task is already done).
    pub(crate) fn mark_popped(&self) -> bool {
        // ORDERING: AcqRel, paired with `publish`: exactly one side sees the other's bit.
        self.state.fetch_or(POPPED, Ordering::AcqRel) & DONE != 0
    }

    /// Marks the handle as gone and gives up its reference, in one RMW of `state`, unless the
    /// outcome is already published. Returns `Ok(last)` if it did (`last`: that was the last
    /// reference; if not, another thread may free the task at any time, and `state` must not be
    /// used again); `Err(())` if the outcome is published: the caller, which still holds its
    /// reference, owns the stage and drops what is left in it.
    #[inline]
    pub(crate) fn detach_and_release(state: &AtomicUsize) -> Result<bool, ()> {
        // First guess: the state of a task nobody touched since `allocate` (the handle is
        // mostly dropped right after its submit). The CAS checks the guess, and a wrong one
        // fails with the real state: one access to a line a worker may hold, not a load and then
        // a CAS.
        let mut current = FRESH_PAIR;
        loop {
            if current & DONE != 0 {
                return Err(());
            }
            // `DETACHED` is clear (only the one handle sets it) and our reference is counted, so
            // adding `DETACHED - REF` sets the one and drops the other.
            // ORDERING: AcqRel: Release hands the stage over to `publish` (which will clear it)
            // and our uses of the task to the last holder. Acquire on failure too: a `DONE` seen
            // there makes the outcome `publish` wrote visible (the stage is then ours).
            match state.compare_exchange_weak(
                current,
                current + DETACHED - REF,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Ok(refs(current) == 1),
                Err(actual) => current = actual,
            }
        }
    }

    #[cold]
    pub(crate) fn wake(&self, prev: usize, late: &mut LatePanic) {
        if prev & PARKED != 0 {
            sync::unpark_all(self.key());
        }
        if prev & WAKER != 0 {
            let waker = self.waker.lock().take();
            if let Some(waker) = waker {
                late.catch(|| waker.wake());
            }
        }
    }

    /// Blocks until the outcome is published or `deadline` passes; true if it was published.
    pub(crate) fn wait(&self, deadline: Option<Instant>) -> bool {
        loop {
            if self.is_done() {
                return true;
            }
            let should_park = || {
                // ORDERING: Relaxed is enough: the parking lot's bucket lock orders this against
                // `unpark_all`, and the RMW sits in the state's single modification order with
                // `publish`, so either we see DONE or `publish` sees PARKED.
                self.state.fetch_or(PARKED, Ordering::Relaxed) & DONE == 0
            };
            if sync::park(self.key(), should_park, deadline) == Parked::TimedOut {
                return self.is_done();
            }
        }
    }

    /// Stores `waker` to be woken on publication. Returns true if the outcome is already
    /// published and `waker` will not be woken for it: the caller acts on it itself. Either way,
    /// a publication wakes the waker at most once, never both here and in `publish`.
    pub(crate) fn register_waker(&self, waker: &Waker) -> bool {
        {
            let mut slot = self.waker.lock();
            match &*slot {
                Some(old) if old.will_wake(waker) => {}
                _ => *slot = Some(waker.clone()),
            }
        }
        // ORDERING: AcqRel: the waker was stored (under the lock) before this RMW, and a
        // `publish` ordered after it will see WAKER and take the lock to find it.
        if self.state.fetch_or(WAKER, Ordering::AcqRel) & DONE == 0 {
            return false;
        }
        // Already published. If the publisher saw `WAKER` (set by an earlier registration), it
        // takes whatever waker is stored, ours now, and wakes it: then it is gone from the slot
        // and the caller must not act a second time. Otherwise take it back.
        let taken_back = self.waker.lock().take();
        taken_back.is_some()
    }
}
