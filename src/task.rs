//! One task in one allocation: its state word (see `task_state.rs`), its closure, and the slot its result is written
//! to. The queue sees it as a [`Job`], its [`TaskHandle`](crate::TaskHandle) as a
//! [`Completion<T>`]; both are [`TaskRef`]s to the same allocation, counted in its state word.
//!
//! # A task held by one reference alone
//!
//! A reference that finds the count at one (an `Acquire` load) knows that nobody else can reach
//! the task: another reference is needed to touch it, and only a holder can make one. So it
//! drops the task without an RMW, and a run through it with `DETACHED` set (no handle will ever
//! look) skips the claim and the publication: the closure's result is dropped where it is made.
//! That is the common case of `execute`, and of a `submit` whose handle was dropped before a
//! worker popped the task.
//!
//! # User code after the outcome is published
//!
//! Publishing can run user code: a stored `Waker`, the `Drop` of a detached result or of a
//! cancelled closure. None of it runs before the outcome is published, and a panic from it is
//! caught and handed back in [`Ended::late_panic`], so that the caller settles the task's slot
//! before raising it again.

use std::mem;
use std::panic::{self, AssertUnwindSafe};
use std::ptr::NonNull;

use crate::error::TaskError;
use crate::sync::{Ordering, UnsafeCell};
use std::mem::ManuallyDrop;

use crate::task_ref::TaskRef;
pub(crate) use crate::task_state::Header;
use crate::task_state::*;
use crate::unwind::LatePanic;
pub(crate) use crate::unwind::Panic;

/// What a call to [`Job::run`] or [`Job::cancel`] did.
#[derive(Debug)]
pub(crate) enum Claim {
    /// Someone else had claimed the task first: this call changed nothing.
    Lost,
    /// This call ended the task.
    Won(Ended),
}

#[cfg(all(loom, test))]
impl Claim {
    /// True if this call ended the task; a late panic is raised at once.
    pub(crate) fn won(self) -> bool {
        match self {
            Claim::Lost => false,
            Claim::Won(ended) => {
                ended.late_panic.resume();
                true
            }
        }
    }
}

/// What is left to do after a call ended a task.
#[derive(Debug)]
pub(crate) struct Ended {
    /// The task's queue entry was popped, and passed over, before the task ended (see
    /// [`Header::mark_popped`]): the slot is the caller's to give back.
    pub(crate) entry_popped: bool,
    /// A panic from user code that ran after the outcome was published (a waker, or the `Drop`
    /// of a detached result or a cancelled closure): the caller raises it again once its
    /// bookkeeping is done.
    pub(crate) late_panic: LatePanic,
}

/// What the queue runs: a task seen without its closure and result types.
pub(crate) trait Job: Send + Sync {
    /// Runs the task unless it was already claimed. `done(panicked, weight)` is called after
    /// the closure returned and before the outcome is published, so that the executor's
    /// bookkeeping is complete by the time a `join` returns; `weight` is the task's (handed
    /// over so that the caller needs no second call through the vtable). Never unwinds from
    /// user code: see [`Ended`].
    fn run(&self, done: &mut dyn FnMut(bool, u64)) -> Claim;

    /// Cancels the task unless it was already claimed: `done(weight)` is called, the outcome is
    /// published as cancelled, and the closure is dropped. Returns as `run` does.
    fn cancel(&self, done: &mut dyn FnMut(u64)) -> Claim;

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

    /// Called as the task's only handle is dropped after [`Header::detach_and_release`] found
    /// the outcome published: drops it (a panic from its `Drop` is kept in `late`). The caller
    /// gives up its reference afterwards, once this borrow of the task has ended.
    ///
    /// # Safety
    ///
    /// The caller is the task's only handle, going away, and has seen `DONE`.
    unsafe fn drop_outcome(&self, late: &mut LatePanic);
}

enum Stage<F, T> {
    Pending(F),
    Finished(Result<T, Panic>),
    Empty,
}

/// A task: header, closure and result slot, allocated once, reached through [`TaskRef`]s.
///
/// `repr(C)` with the header first: a `TaskRef` finds the header (and its count) at the start
/// of the allocation, whatever the task's types.
#[repr(C)]
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
    /// A task of `weight` units (what its admission took; 0 for one run inline) whose state
    /// word starts at `state`.
    fn with_state(f: F, weight: u64, state: usize) -> Self {
        Self { header: Header::new(state, weight), stage: UnsafeCell::new(Stage::Pending(f)) }
    }

    /// A task with no reference counted: for tests of the state machine alone, which never
    /// run it alone.
    #[cfg(all(test, not(loom)))]
    pub(crate) fn new(f: F, weight: u64) -> Self {
        Self::with_state(f, weight, 0)
    }

    /// Moves the task to the heap, where [`TaskRef`]s reach it.
    fn leak(self) -> NonNull<Self> {
        NonNull::from(Box::leak(Box::new(self)))
    }

    /// Allocates a task of `weight` units, with its handle's reference and its queue entry's.
    pub(crate) fn allocate<'a>(
        f: F,
        weight: u64,
    ) -> (TaskRef<dyn Completion<T> + 'a>, TaskRef<dyn Job + 'a>)
    where
        F: Send + 'a,
        T: Send + 'a,
    {
        let ptr = Self::with_state(f, weight, FRESH_PAIR).leak();
        // SAFETY: a task from `Box::into_raw` (`leak`), counting these two references.
        unsafe { (TaskRef::from_raw(ptr), TaskRef::from_raw(ptr)) }
    }

    /// Allocates a task no handle will ever see (`BoundedExecutor::execute`), with its queue
    /// entry's reference alone: born `DETACHED`, so its outcome is dropped as soon as it is made.
    pub(crate) fn allocate_detached(f: F, weight: u64) -> JobRef
    where
        F: Send + 'static,
        T: Send + 'static,
    {
        let ptr = Self::with_state(f, weight, DETACHED | REF).leak();
        // SAFETY: a task from `Box::into_raw` (`leak`), counting this one reference.
        unsafe { TaskRef::from_raw(ptr) }
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

    /// Runs the task through the caller's reference, the only one, with no handle to see the
    /// outcome (see the module docs): nothing to claim against and nobody to publish to.
    #[inline]
    fn run_alone(&self, done: &mut dyn FnMut(bool, u64)) -> Claim {
        // SAFETY: nobody else holds the task: the stage is ours.
        let f = unsafe { self.take_closure() };
        let outcome = panic::catch_unwind(AssertUnwindSafe(f));
        done(outcome.is_err(), self.header.weight);
        let mut late_panic = LatePanic::default();
        late_panic.catch(|| drop(outcome));
        Claim::Won(Ended { entry_popped: false, late_panic })
    }
}

impl<F, T> Job for Task<F, T>
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    fn run(&self, done: &mut dyn FnMut(bool, u64)) -> Claim {
        // ORDERING: Acquire, as in `release_ref`: alone, the other holders' uses are behind us.
        let current = self.header.state.load(Ordering::Acquire);
        if current & (CLAIMED | DETACHED) == DETACHED && refs(current) == 1 {
            return self.run_alone(done);
        }
        if !self.header.claim() {
            return Claim::Lost;
        }
        // SAFETY: we won the claim and publish below.
        let f = unsafe { self.take_closure() };
        let outcome = panic::catch_unwind(AssertUnwindSafe(f));
        done(outcome.is_err(), self.header.weight);
        // SAFETY: still the claimer, before `publish`: nobody else reads or writes the stage.
        // (What the assignment drops is `Stage::Empty`: no user code.)
        self.stage.with_mut(|stage| unsafe { *stage = Stage::Finished(outcome) });
        let mut late_panic = LatePanic::default();
        let prev = self.header.publish(0, &mut late_panic);
        if prev & DETACHED != 0 {
            // SAFETY: the handle is gone and the outcome published: the stage is ours alone.
            late_panic.catch(|| unsafe { self.clear_stage() });
        }
        Claim::Won(Ended { entry_popped: prev & POPPED != 0, late_panic })
    }

    fn cancel(&self, done: &mut dyn FnMut(u64)) -> Claim {
        if !self.header.claim() {
            return Claim::Lost;
        }
        // SAFETY: we won the claim and publish below.
        let f = unsafe { self.take_closure() };
        done(self.header.weight);
        // The stage is empty: nothing to drop if the handle is gone.
        let mut late_panic = LatePanic::default();
        let prev = self.header.publish(CANCELLED, &mut late_panic);
        // Dropped last, and caught: the caller settles the slot before the panic goes on.
        late_panic.catch(|| drop(f));
        Claim::Won(Ended { entry_popped: prev & POPPED != 0, late_panic })
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

    unsafe fn drop_outcome(&self, late: &mut LatePanic) {
        // SAFETY: the outcome is published and its handle, the only other party, is going away
        // (the caller's contract): the stage is ours alone.
        late.catch(|| unsafe { self.clear_stage() });
    }
}

/// The state machine alone, on one thread: each transition and what it hands back.
impl<'a, T> TaskRef<dyn Completion<T> + 'a> {
    /// Gives up the handle's reference, marking the task `DETACHED` (its outcome will be
    /// dropped as soon as it exists), or dropping the outcome here if it already does.
    ///
    /// # Panics
    ///
    /// With a panic from the outcome's `Drop`, once the reference is given up.
    #[inline]
    pub(crate) fn detach(self) {
        let mut this = ManuallyDrop::new(self);
        match Header::detach_and_release(this.state()) {
            Ok(true) => {
                // SAFETY: the handle was the last reference, and `this` is not used again.
                unsafe { this.free() };
            }
            // Another holder frees the task: nothing of it may be touched from here on.
            Ok(false) => {}
            // Published already: the outcome is ours to drop, through the vtable, while our
            // reference still holds the task; then the reference goes as any other does.
            Err(()) => {
                let mut late_panic = LatePanic::default();
                // SAFETY: we are the task's only handle, going away, and have seen `DONE`.
                unsafe { this.drop_outcome(&mut late_panic) };
                // SAFETY: `this` is not used after this drop.
                unsafe { ManuallyDrop::drop(&mut this) };
                late_panic.resume();
            }
        }
    }
}

/// A queued task.
pub(crate) type JobRef = TaskRef<dyn Job>;

#[cfg(all(test, not(loom)))]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};
    use std::sync::Arc as StdArc;
    use std::task::{Wake, Waker};

    use super::*;

    struct Counted(StdArc<AtomicUsize>);

    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, AtomicOrdering::SeqCst);
        }
    }

    struct CountWakes(AtomicUsize);

    impl Wake for CountWakes {
        fn wake(self: StdArc<Self>) {
            self.0.fetch_add(1, AtomicOrdering::SeqCst);
        }
    }

    fn ended_ok(claim: Claim) {
        ended(claim).late_panic.resume();
    }

    fn ended(claim: Claim) -> Ended {
        match claim {
            Claim::Won(ended) => ended,
            Claim::Lost => panic!("expected this call to end the task"),
        }
    }

    #[test]
    fn the_closure_is_claimed_exactly_once() {
        let task = Task::new(|| 1, 1);
        let run = ended(task.run(&mut |panicked, _| assert!(!panicked)));
        assert!(!run.entry_popped);
        assert!(matches!(task.run(&mut |_, _| unreachable!()), Claim::Lost));
        assert!(matches!(task.cancel(&mut |_| unreachable!()), Claim::Lost));
        assert!(task.header().is_done() && task.header().is_claimed());
        // SAFETY: published, and this test is the only reader.
        assert_eq!(unsafe { task.take_outcome() }.unwrap(), 1);
    }

    #[test]
    fn cancel_publishes_cancelled_and_drops_the_closure_once() {
        let drops = StdArc::new(AtomicUsize::new(0));
        let captured = Counted(StdArc::clone(&drops));
        let task = Task::new(move || drop(captured), 1);
        let mut done_calls = 0;
        ended(task.cancel(&mut |_| done_calls += 1)).late_panic.resume();
        assert_eq!((done_calls, drops.load(AtomicOrdering::SeqCst)), (1, 1));
        // SAFETY: published, and this test is the only reader.
        assert!(unsafe { task.take_outcome() }.unwrap_err().is_cancelled());
    }

    #[test]
    fn a_detached_result_is_dropped_by_whichever_comes_second() {
        for detach_first in [true, false] {
            let drops = StdArc::new(AtomicUsize::new(0));
            let result = Counted(StdArc::clone(&drops));
            let (handle, job) = Task::allocate(move || result, 1);
            if detach_first {
                handle.detach();
                assert_eq!(drops.load(AtomicOrdering::SeqCst), 0);
                ended(job.run(&mut |_, _| {})).late_panic.resume();
            } else {
                ended(job.run(&mut |_, _| {})).late_panic.resume();
                assert_eq!(drops.load(AtomicOrdering::SeqCst), 0);
                handle.detach();
            }
            assert_eq!(drops.load(AtomicOrdering::SeqCst), 1, "detach first: {detach_first}");
            drop(job);
        }
    }

    #[test]
    fn a_task_held_alone_runs_without_claim_or_publication_and_is_freed_once() {
        let drops = StdArc::new(AtomicUsize::new(0));
        let (result, closure) = (Counted(StdArc::clone(&drops)), Counted(StdArc::clone(&drops)));
        let job = Task::allocate_detached(
            move || {
                drop(closure);
                drop(result);
            },
            1,
        );
        let mut done = 0;
        ended(job.run(&mut |_, _| done += 1)).late_panic.resume();
        assert_eq!((done, drops.load(AtomicOrdering::SeqCst)), (1, 2));
        assert!(!job.header().is_claimed(), "run alone: no claim");
        drop(job);
        // A handle that outlives the run keeps the usual path: claimed and published.
        let (handle, job) = Task::allocate(|| 5, 1);
        ended(job.run(&mut |_, _| {})).late_panic.resume();
        drop(job);
        assert!(handle.header().is_done());
        // SAFETY: published, and this test holds the only handle.
        assert_eq!(unsafe { handle.take_outcome() }.unwrap(), 5);
        handle.detach();
        // A clone keeps a detached task from running alone.
        let job = Task::allocate_detached(|| (), 1);
        let other = job.clone();
        ended(job.run(&mut |_, _| {})).late_panic.resume();
        assert!(other.header().is_done() && other.header().is_claimed());
    }

    #[test]
    fn a_popped_entry_is_reported_to_the_one_that_ends_the_task() {
        let task = Task::new(|| (), 1);
        assert!(task.header().claim());
        assert!(!task.header().mark_popped(), "not done: the ender settles");
        // A second claim (the run that lost) changes nothing.
        assert!(matches!(task.run(&mut |_, _| unreachable!()), Claim::Lost));
        let task = Task::new(|| (), 1);
        assert!(!task.header().mark_popped());
        assert!(ended(task.run(&mut |_, _| {})).entry_popped);
        let task = Task::new(|| (), 1);
        ended(task.run(&mut |_, _| {})).late_panic.resume();
        assert!(task.header().mark_popped(), "done: the popper settles");
    }

    #[test]
    fn a_waker_is_woken_once_whether_it_registers_before_or_after_publication() {
        let wakes = StdArc::new(CountWakes(AtomicUsize::new(0)));
        let waker = Waker::from(StdArc::clone(&wakes));
        let before = Task::new(|| (), 1);
        assert!(!before.header().register_waker(&waker));
        ended(before.run(&mut |_, _| {})).late_panic.resume();
        assert_eq!(wakes.0.load(AtomicOrdering::SeqCst), 1, "woken by publish");
        let after = Task::new(|| (), 1);
        ended(after.run(&mut |_, _| {})).late_panic.resume();
        assert!(after.header().register_waker(&waker), "published: the caller acts");
        assert_eq!(wakes.0.load(AtomicOrdering::SeqCst), 1, "not woken by registration");
    }

    #[test]
    fn a_panic_after_publication_is_handed_back_not_raised() {
        struct Bomb;
        impl Drop for Bomb {
            fn drop(&mut self) {
                panic!("bomb");
            }
        }
        let (handle, job) = Task::allocate(|| Bomb, 1);
        handle.detach();
        let ended = ended(job.run(&mut |_, _| {}));
        assert!(ended.late_panic.discard(), "the result's Drop panic is kept for the caller");
        // Published first, then detached: the handle's drop raises it.
        let (handle, job) = Task::allocate(|| Bomb, 1);
        ended_ok(job.run(&mut |_, _| {}));
        let caught = panic::catch_unwind(AssertUnwindSafe(|| handle.detach()));
        assert!(caught.is_err(), "the result's Drop panic comes out of the handle's drop");
        drop(job);
    }
}
