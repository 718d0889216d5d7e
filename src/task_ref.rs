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

use std::mem::ManuallyDrop;
use std::ops::Deref;
use std::ptr::NonNull;

use crate::task::{Completion, Header, Job};
use crate::unwind::LatePanic;

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

    /// The task's header: the first field of every task.
    #[inline]
    fn header(&self) -> &Header {
        // SAFETY: `from_raw`'s contract: the pointee is a live `repr(C)` task whose first field
        // is its header, and our reference keeps it alive.
        unsafe { self.ptr.cast::<Header>().as_ref() }
    }

    /// Frees the task.
    ///
    /// # Safety
    ///
    /// No other reference is left, and `self` is not used again.
    unsafe fn free(&mut self) {
        // SAFETY: the task came from `Box::into_raw` (`from_raw`'s contract) and nobody else
        // refers to it (the caller's).
        drop(unsafe { Box::from_raw(self.ptr.as_ptr()) });
    }
}

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
        let last = match this.header().detach_and_release() {
            Ok(last) => last,
            // Published already: the outcome is ours to drop, through the vtable.
            Err(()) => {
                let mut late_panic = LatePanic::default();
                // SAFETY: we are the task's only handle, going away, and have seen `DONE`.
                let last = unsafe { this.drop_outcome(&mut late_panic) };
                if last {
                    // SAFETY: the handle was the last reference, and `this` is not used again.
                    unsafe { this.free() };
                }
                return late_panic.resume();
            }
        };
        if last {
            // SAFETY: as above.
            unsafe { this.free() };
        }
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
        self.header().add_ref();
        Self { ptr: self.ptr }
    }
}

impl<D: ?Sized> Drop for TaskRef<D> {
    #[inline]
    fn drop(&mut self) {
        if self.header().release_ref() {
            // SAFETY: ours was the last reference, and `self` is going away.
            unsafe { self.free() };
        }
    }
}

/// A queued task.
pub(crate) type JobRef = TaskRef<dyn Job>;
