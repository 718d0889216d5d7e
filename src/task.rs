//! One task in one allocation: its state word, its closure, and the slot its result is written
//! to. The queue sees it as a [`Job`], its [`TaskHandle`](crate::TaskHandle) as a
//! [`Completion<T>`]; both are the same `Arc`.
//!
//! # The state word
//!
//! `CLAIMED` is set exactly once, by whoever takes the closure out: the thread that runs it, or
//! the one that cancels it. Until `DONE` is set, only that thread touches the stage. `DONE` is set
//! with `Release` after the outcome is written; from then on only the handle's owner, which has
//! `&mut` or owns it, reads the stage (after an `Acquire` load sees `DONE`), until it drops the
//! handle: that sets `DETACHED`, and whichever of `DONE` and `DETACHED` comes second drops what
//! is left in the stage, so a detached result does not wait for the last `Arc`. `PARKED` and `WAKER`
//! say that a thread sleeps on this task or that an async waker is stored, so that publishing
//! costs no wake-up when nobody waits.

use std::any::Any;
use std::mem;
use std::panic::{self, AssertUnwindSafe};
use std::task::Waker;
use std::time::Instant;

use crate::error::TaskError;
use crate::sync::{self, AtomicUsize, Mutex, Ordering, Parked, UnsafeCell};

const CLAIMED: usize = 1;
const DONE: usize = 1 << 1;
const CANCELLED: usize = 1 << 2;
const PARKED: usize = 1 << 3;
const WAKER: usize = 1 << 4;
const DETACHED: usize = 1 << 5;
const POPPED: usize = 1 << 6;

/// A panic payload, as `catch_unwind` gives it.
pub(crate) type Panic = Box<dyn Any + Send>;

/// The part of a task that does not depend on its types: its state and its waiters.
#[derive(Debug)]
pub(crate) struct Header {
    state: AtomicUsize,
    waker: Mutex<Option<Waker>>,
}

impl Header {
    fn new(state: usize) -> Self {
        Self { state: AtomicUsize::new(state), waker: Mutex::new(None) }
    }

    /// The key threads park on: the address of the state word.
    fn key(&self) -> usize {
        &self.state as *const AtomicUsize as usize
    }

    /// True once the outcome (a value, a panic or a cancellation) is published.
    #[inline]
    pub(crate) fn is_done(&self) -> bool {
        // ORDERING: Acquire pairs with the Release in `publish`, so the stage's outcome is visible.
        self.state.load(Ordering::Acquire) & DONE != 0
    }

    /// True once someone has taken the closure (to run or to cancel it).
    pub(crate) fn is_claimed(&self) -> bool {
        self.state.load(Ordering::Relaxed) & CLAIMED != 0
    }

    /// Takes the right to the closure; true for exactly one caller.
    #[inline]
    fn claim(&self) -> bool {
        // ORDERING: Acquire pairs with whatever handed us the task (the queue or the handle), so
        // the closure written at creation is visible; the RMW makes exactly one claimer win.
        self.state.fetch_or(CLAIMED, Ordering::Acquire) & CLAIMED == 0
    }

    /// Marks the outcome as written and wakes whoever waits. Returns the state before: with
    /// `DETACHED` the handle is gone and the caller drops the outcome; with `POPPED` the queue
    /// entry was already passed over and the caller gives the task's slot back.
    #[inline]
    fn publish(&self, extra: usize) -> usize {
        // ORDERING: Release makes the stage write visible to the Acquire in `is_done`; Acquire
        // pairs with waiters' registration so a stored waker is seen, and with `detach` and
        // `mark_popped`.
        let prev = self.state.fetch_or(DONE | extra, Ordering::AcqRel);
        if prev & (PARKED | WAKER) != 0 {
            self.wake(prev);
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

    /// Marks the handle as gone. Returns true if the outcome is already published: the caller
    /// then owns the stage and drops what is left in it.
    fn detach(&self) -> bool {
        // ORDERING: AcqRel: Acquire to see the outcome `publish` wrote, Release to hand the
        // stage over if `publish` comes second.
        self.state.fetch_or(DETACHED, Ordering::AcqRel) & DONE != 0
    }

    #[cold]
    fn wake(&self, prev: usize) {
        if prev & PARKED != 0 {
            sync::unpark_all(self.key());
        }
        if prev & WAKER != 0 {
            let waker = self.waker.lock().take();
            if let Some(waker) = waker {
                waker.wake();
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

    /// Stores `waker` to be woken on publication; true if the outcome is already published.
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
        self.state.fetch_or(WAKER, Ordering::AcqRel) & DONE != 0
    }
}

/// What the queue runs: a task seen without its closure and result types.
pub(crate) trait Job: Send + Sync {
    /// Runs the task unless it was already claimed. `done(panicked)` is called after the closure
    /// returned and before the outcome is published, so that the executor's bookkeeping is
    /// complete by the time a `join` returns. Returns `None` if someone else had claimed it,
    /// else whether its queue entry had been popped meanwhile (see [`Header::mark_popped`]).
    fn run(&self, done: &mut dyn FnMut(bool)) -> Option<bool>;

    /// Cancels the task unless it was already claimed: `done()` is called, the outcome is
    /// published as cancelled, and the closure is dropped. Returns as `run` does.
    fn cancel(&self, done: &mut dyn FnMut()) -> Option<bool>;

    /// The task's state and waiters.
    fn header(&self) -> &Header;
}

/// What a handle sees: a task that will produce a `T`.
pub(crate) trait Completion<T>: Job {
    /// Takes the published outcome.
    ///
    /// # Safety
    ///
    /// The caller has seen `DONE` (through [`Header::is_done`] or a call that returned after it)
    /// and is the task's only handle, which no other thread can use at the same time (it owns
    /// the handle or has it by `&mut`); it calls this at most once.
    unsafe fn take_outcome(&self) -> Result<T, TaskError>;

    /// Called when the task's only handle is dropped: from then on the outcome is dropped as
    /// soon as it exists.
    fn detach(&self);
}

enum Stage<F, T> {
    Pending(F),
    Finished(Result<T, Panic>),
    Empty,
}

/// A task: header, closure and result slot, allocated once behind an `Arc`.
pub(crate) struct Task<F, T> {
    header: Header,
    stage: UnsafeCell<Stage<F, T>>,
}

// SAFETY: the stage is reached by one thread at a time: the single claimer between `claim` and
// `publish`, and afterwards the single handle owner (see the module docs). Moving `F` or `T`
// between those threads needs them to be `Send`, which the bounds require.
unsafe impl<F: Send, T: Send> Sync for Task<F, T> {}

impl<F, T> Task<F, T>
where
    F: FnOnce() -> T,
{
    /// A queued task.
    pub(crate) fn new(f: F) -> Self {
        Self { header: Header::new(0), stage: UnsafeCell::new(Stage::Pending(f)) }
    }

    /// Drops whatever the stage holds.
    ///
    /// # Safety
    ///
    /// The caller has the stage to itself (see the module docs).
    unsafe fn clear_stage(&self) {
        // SAFETY: the caller's contract.
        let stage = self.stage.with_mut(|stage| unsafe { mem::replace(&mut *stage, Stage::Empty) });
        drop(stage);
    }

    /// Takes the closure out.
    ///
    /// # Safety
    ///
    /// The caller won `claim`, and has not published yet.
    unsafe fn take_closure(&self) -> F {
        // SAFETY: the claimer has the stage to itself until it publishes (the caller's contract).
        let stage = self.stage.with_mut(|stage| unsafe { mem::replace(&mut *stage, Stage::Empty) });
        match stage {
            Stage::Pending(f) => f,
            _ => unreachable!("a claimed task still holds its closure"),
        }
    }
}

impl<F, T> Job for Task<F, T>
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    fn run(&self, done: &mut dyn FnMut(bool)) -> Option<bool> {
        if !self.header.claim() {
            return None;
        }
        // SAFETY: we won the claim and publish below.
        let f = unsafe { self.take_closure() };
        let outcome = panic::catch_unwind(AssertUnwindSafe(f));
        done(outcome.is_err());
        // SAFETY: still the claimer, before `publish`: nobody else reads or writes the stage.
        self.stage.with_mut(|stage| unsafe { *stage = Stage::Finished(outcome) });
        let prev = self.header.publish(0);
        if prev & DETACHED != 0 {
            // SAFETY: the handle is gone and the outcome published: the stage is ours alone.
            unsafe { self.clear_stage() };
        }
        Some(prev & POPPED != 0)
    }

    fn cancel(&self, done: &mut dyn FnMut()) -> Option<bool> {
        if !self.header.claim() {
            return None;
        }
        // SAFETY: we won the claim and publish below.
        let f = unsafe { self.take_closure() };
        done();
        // The stage is empty: nothing to drop if the handle is gone.
        let prev = self.header.publish(CANCELLED);
        // Dropped last: if the closure's destructor panics, the task is already settled.
        drop(f);
        Some(prev & POPPED != 0)
    }

    fn header(&self) -> &Header {
        &self.header
    }
}

impl<F, T> Completion<T> for Task<F, T>
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    unsafe fn take_outcome(&self) -> Result<T, TaskError> {
        // ORDERING: Acquire, as in `is_done`, which the caller has also done.
        if self.header.state.load(Ordering::Acquire) & CANCELLED != 0 {
            return Err(TaskError::cancelled());
        }
        // SAFETY: DONE is published and the caller is the only reader (the function's contract).
        let stage = self.stage.with_mut(|stage| unsafe { mem::replace(&mut *stage, Stage::Empty) });
        match stage {
            Stage::Finished(Ok(value)) => Ok(value),
            Stage::Finished(Err(payload)) => Err(TaskError::panic(payload)),
            _ => panic!(
                "a task's outcome was taken twice (a `TaskHandle` polled after it completed?)"
            ),
        }
    }

    fn detach(&self) {
        if self.header.detach() {
            // SAFETY: the outcome is published and its handle, the only other party, is going
            // away: the stage is ours alone.
            unsafe { self.clear_stage() };
        }
    }
}
