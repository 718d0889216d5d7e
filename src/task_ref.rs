//! [`TaskRef`]: a counted reference to a task, as an `Arc` would be, but counted in the task's
//! own state word (see `task.rs`) instead of a word of its own.
//!
//! Two things pay for the difference, both on every task:
//!
//! - A handle and a queue entry are born together with a count of two: no clone.
//! - A reference that finds itself the only one (a task nobody else holds, as when the handle was
//!   dropped before a worker popped it, or `execute` made none) is dropped without an atomic
//!   read-modify-write, and a task run through it skips its claim and its publication (see
//!   `Task::run`). Counting in the state word is what makes that check one load: the count and
//!   the `DETACHED` bit are read together.
//!
//! Like an `Arc`, a `TaskRef` gives shared access (`Deref`), may be cloned, and frees the task
//! when the last one is dropped, on whichever thread that is.
//!
//! # No reference across a release
//!
//! The rule every operation on a task (and on the executor's `Shared`, behind its `Arc`) keeps:
//! **a thread that does an RMW after which another thread may free the allocation holds no
//! reference to the allocation across that RMW**, only a reference to the atomic itself (or a
//! raw pointer). Giving up a reference is such an RMW (`release_ref`, and the handle's
//! `detach_and_release`): the moment the count goes down, the last holder may free the task on
//! its own thread. A `&Header` or `&Task` still alive then, for instance as the `&self` of the
//! method that did the decrement, would point into freed memory: undefined behaviour, which
//! Miri reports (a function's reference arguments are protected for the whole call, and LLVM
//! may treat them as dereferenceable throughout). So a `TaskRef` reaches the state word from its
//! raw pointer with [`Header::state_of`] (a `&AtomicUsize` covers only interior-mutable bytes,
//! as in std's `Arc::drop`), and whatever the handle still has to do with the task (drop a
//! published outcome) is done *before* it gives up its reference, in a borrow that has ended.
//!
//! The other RMWs on the state word hand something over but never the allocation: `claim` the
//! closure, `publish` the outcome (the handle then reads it through its own reference, which
//! keeps the task alive; the publisher still holds its own), `mark_popped` the slot. They run
//! with a counted reference held by the caller, before and after, so a `&self` is sound there.
//! `Shared` lives in an `Arc` that every thread touching it holds for as long as it does
//! (workers, handles, maps, sets, scopes, futures): nothing frees it under a `&Shared`.

use std::ops::Deref;
use std::ptr::NonNull;

use crate::sync::AtomicUsize;
use crate::task_state::Header;

/// A counted reference to a task, seen as `D` (`dyn Job` or `dyn Completion<T>`).
pub(crate) struct TaskRef<D: ?Sized> {
    ptr: NonNull<D>,
}

// SAFETY: as for `Arc<D>`: a `TaskRef` hands out `&D` on any thread and may drop the `D` on any
// thread, so both need `D: Send + Sync`.
unsafe impl<D: ?Sized + Send + Sync> Send for TaskRef<D> {}
// SAFETY: as above.
unsafe impl<D: ?Sized + Send + Sync> Sync for TaskRef<D> {}

impl<D: ?Sized> TaskRef<D> {
    /// Takes over one counted reference to a task.
    ///
    /// # Safety
    ///
    /// `ptr` comes from `Box::into_raw` of a `Task` (whose `Header` is its first field, under
    /// `repr(C)`), and the task's state word counts this reference.
    pub(crate) unsafe fn from_raw(ptr: NonNull<D>) -> Self {
        Self { ptr }
    }

    /// The task's state word, where our reference is counted. Used only while our reference
    /// is, and for the one RMW that gives it up (see "No reference across a release").
    #[inline]
    pub(crate) fn state(&self) -> &AtomicUsize {
        // SAFETY: `from_raw`'s contract: the pointee is a live `repr(C)` task whose first field
        // is its header, and our counted reference keeps it alive.
        unsafe { Header::state_of(self.ptr.cast::<Header>()) }
    }

    /// Frees the task.
    ///
    /// # Safety
    ///
    /// No other reference is left, and `self` is not used again.
    pub(crate) unsafe fn free(&mut self) {
        // SAFETY: the task came from `Box::into_raw` (`from_raw`'s contract) and nobody else
        // refers to it (the caller's).
        drop(unsafe { Box::from_raw(self.ptr.as_ptr()) });
    }
}

impl<D: ?Sized> Deref for TaskRef<D> {
    type Target = D;

    #[inline]
    fn deref(&self) -> &D {
        // SAFETY: our counted reference keeps the task alive.
        unsafe { self.ptr.as_ref() }
    }
}

impl<D: ?Sized> Clone for TaskRef<D> {
    fn clone(&self) -> Self {
        Header::add_ref(self.state());
        Self { ptr: self.ptr }
    }
}

impl<D: ?Sized> Drop for TaskRef<D> {
    #[inline]
    fn drop(&mut self) {
        if Header::release_ref(self.state()) {
            // SAFETY: ours was the last reference, and `self` is going away.
            unsafe { self.free() };
        }
    }
}
