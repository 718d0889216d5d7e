//! The one place that picks synchronisation primitives: std atomics, `parking_lot` and
//! `parking_lot_core` normally, and loom's models under `--cfg loom`.
//!
//! Everything the crate uses to synchronise its own state goes through this module, so that the
//! loom suite (`tests/loom.rs`) checks the same code that ships.

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
#[cfg(not(loom))]
pub(crate) use std::sync::Arc;

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
#[cfg(loom)]
pub(crate) use loom::sync::Arc;

pub(crate) use self::mutex::Mutex;
pub(crate) use self::park::{park, unpark_all, Parked};

/// An `UnsafeCell` with loom's closure-based API, so that loom can track every access.
#[derive(Debug)]
pub(crate) struct UnsafeCell<T>(
    #[cfg(not(loom))] std::cell::UnsafeCell<T>,
    #[cfg(loom)] loom::cell::UnsafeCell<T>,
);

impl<T> UnsafeCell<T> {
    pub(crate) fn new(value: T) -> Self {
        #[cfg(not(loom))]
        return Self(std::cell::UnsafeCell::new(value));
        #[cfg(loom)]
        return Self(loom::cell::UnsafeCell::new(value));
    }

    /// Gives `f` a mutable pointer to the value; the caller proves exclusive access.
    #[inline]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        #[cfg(not(loom))]
        return f(self.0.get());
        #[cfg(loom)]
        return self.0.with_mut(f);
    }
}

#[cfg(not(loom))]
mod mutex {
    pub(crate) use parking_lot::Mutex;
}

/// Condition variables serve the collection types (`TaskSet`, the maps), which the loom suite
/// does not model.
#[cfg(not(loom))]
pub(crate) use parking_lot::Condvar;

#[cfg(loom)]
mod mutex {
    /// `parking_lot`'s API (a `lock` that cannot fail) over loom's mutex.
    #[derive(Debug, Default)]
    pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

    impl<T> Mutex<T> {
        pub(crate) fn new(value: T) -> Self {
            Self(loom::sync::Mutex::new(value))
        }

        pub(crate) fn lock(&self) -> loom::sync::MutexGuard<'_, T> {
            self.0.lock().unwrap()
        }
    }
}

/// Address-keyed parking: a thread waits "on" the address of an atomic, and whoever changes that
/// atomic wakes every thread waiting on it. `should_park` runs under the parking lot's bucket lock,
/// which `unpark_all` also takes: a thread that registers interest inside `should_park` and then
/// sleeps cannot miss an `unpark_all` issued after the registration.
#[cfg(not(loom))]
mod park {
    use std::time::Instant;

    /// How a [`park`] ended.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(crate) enum Parked {
        /// Woken, or `should_park` said no: look at the state again.
        Retry,
        /// The deadline passed.
        TimedOut,
    }

    /// Sleeps on `key` while `should_park()` is true, until woken or `deadline`.
    pub(crate) fn park(
        key: usize,
        should_park: impl FnOnce() -> bool,
        deadline: Option<Instant>,
    ) -> Parked {
        // SAFETY: `key` is the address of an atomic owned by the caller's live object, which no
        // other kind of parking in this process uses; `should_park` does not park or panic, and
        // the two callbacks below do nothing.
        let result = unsafe {
            parking_lot_core::park(
                key,
                should_park,
                || {},
                |_, _| {},
                parking_lot_core::DEFAULT_PARK_TOKEN,
                deadline,
            )
        };
        match result {
            parking_lot_core::ParkResult::TimedOut => Parked::TimedOut,
            _ => Parked::Retry,
        }
    }

    /// Wakes every thread parked on `key`.
    pub(crate) fn unpark_all(key: usize) {
        // SAFETY: see `park`; waking threads has no other precondition.
        unsafe {
            parking_lot_core::unpark_all(key, parking_lot_core::DEFAULT_UNPARK_TOKEN);
        }
    }
}

/// Under loom: one global lock and condition variable stand in for the parking lot. Keys are
/// ignored, so a wake-up may be spurious, which every caller tolerates by looping.
#[cfg(loom)]
mod park {
    use std::time::Instant;

    /// How a [`park`] ended.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(crate) enum Parked {
        /// Woken, or `should_park` said no: look at the state again.
        Retry,
        /// The deadline passed (loom has no time: never returned).
        #[allow(dead_code)]
        TimedOut,
    }

    loom::lazy_static! {
        static ref LOT: (loom::sync::Mutex<()>, loom::sync::Condvar) =
            (loom::sync::Mutex::new(()), loom::sync::Condvar::new());
    }

    pub(crate) fn park(
        _key: usize,
        should_park: impl FnOnce() -> bool,
        _deadline: Option<Instant>,
    ) -> Parked {
        let guard = LOT.0.lock().unwrap();
        if should_park() {
            drop(LOT.1.wait(guard).unwrap());
        }
        Parked::Retry
    }

    pub(crate) fn unpark_all(_key: usize) {
        let _guard = LOT.0.lock().unwrap();
        LOT.1.notify_all();
    }
}
