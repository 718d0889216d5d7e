//! Panics from user code that runs inside the executor's own bookkeeping: the `Drop` of a
//! closure, a result or a panic payload, and `Waker::wake`. Such a panic must never cut a
//! protocol short (a slot not given back, a shutdown half done), so it is caught where it
//! happens, kept, and raised again once the bookkeeping is complete ([`LatePanic::resume`]).

use std::any::Any;
use std::mem;
use std::panic::{self, AssertUnwindSafe};

/// A panic payload, as `catch_unwind` gives it.
pub(crate) type Panic = Box<dyn Any + Send>;

/// The first panic caught from user code, to be raised again later.
#[must_use = "a caught panic must be resumed or discarded"]
#[derive(Default)]
pub(crate) struct LatePanic(Option<Panic>);

impl LatePanic {
    /// Runs `f`; if it panics, keeps the panic (the first one; later ones are discarded).
    #[inline]
    pub(crate) fn catch(&mut self, f: impl FnOnce()) {
        if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(f)) {
            self.keep(payload);
        }
    }

    /// Keeps `payload` unless a panic is kept already.
    pub(crate) fn keep(&mut self, payload: Panic) {
        match self.0 {
            None => self.0 = Some(payload),
            Some(_) => discard(payload),
        }
    }

    /// Keeps the other's panic unless one is kept already.
    pub(crate) fn merge(&mut self, other: LatePanic) {
        if let Some(payload) = other.0 {
            self.keep(payload);
        }
    }

    /// Raises the kept panic again, if any.
    #[inline]
    pub(crate) fn resume(self) {
        if let Some(payload) = self.0 {
            panic::resume_unwind(payload);
        }
    }

    /// Drops the kept panic, if any, where nobody will see it (the payload's own `Drop` is
    /// contained too). True if there was one.
    pub(crate) fn discard(self) -> bool {
        match self.0 {
            Some(payload) => {
                discard(payload);
                true
            }
            None => false,
        }
    }

    /// Raises the kept panic again, unless this thread is already unwinding (a second panic
    /// would abort the process): then it is discarded.
    pub(crate) fn resume_unless_panicking(self) {
        if std::thread::panicking() {
            if let Some(payload) = self.0 {
                discard(payload);
            }
        } else {
            self.resume();
        }
    }
}

impl std::fmt::Debug for LatePanic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("LatePanic").field(&self.0.is_some()).finish()
    }
}

/// Drops a panic payload that nobody will see. Its `Drop` is user code too: if that panics, the
/// second payload is leaked rather than risk a third.
pub(crate) fn discard(payload: Panic) {
    if let Err(inner) = panic::catch_unwind(AssertUnwindSafe(move || drop(payload))) {
        mem::forget(inner);
    }
}
