//! The one place that picks synchronisation primitives: std atomics, `parking_lot` and
//! `parking_lot_core` normally, and loom's models under `--cfg loom`.
//!
//! Everything the crate uses to synchronise its own state goes through this module, so that the
//! loom models (`src/loom_tests.rs`) check the same code that ships.

/// std's `Arc`, even under loom, for what loom need not or cannot model: the crate's one other
/// shared pointer. Used where the pointee's synchronisation is loom's anyway (a task's state word,
/// a scope's counter), where loom's `Arc` cannot go (coercion to a trait object; `std::task::Wake`
/// takes std's `Arc`), and for a map's shared function, which is immutable.
pub(crate) use std::sync::Arc as StdArc;

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
#[cfg(not(loom))]
pub(crate) use std::sync::Arc;

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
#[cfg(loom)]
pub(crate) use loom::sync::Arc;

pub(crate) use self::mutex::{Condvar, Mutex};
pub(crate) use self::park::{park, unpark_all, unpark_one, Parked};

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
    pub(crate) use parking_lot::{Condvar, Mutex};
}

#[cfg(loom)]
mod mutex {
    use std::ops::{Deref, DerefMut};
    use std::time::Instant;

    /// `parking_lot`'s API (a `lock` that cannot fail) over loom's mutex.
    #[derive(Debug, Default)]
    pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

    /// A guard a [`Condvar`] can wait on in place, as `parking_lot`'s can.
    pub(crate) struct MutexGuard<'a, T>(Option<loom::sync::MutexGuard<'a, T>>);

    impl<T> Mutex<T> {
        pub(crate) fn new(value: T) -> Self {
            Self(loom::sync::Mutex::new(value))
        }

        pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
            MutexGuard(Some(self.0.lock().unwrap()))
        }

        pub(crate) fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
            self.0.try_lock().ok().map(|guard| MutexGuard(Some(guard)))
        }
    }

    impl<T> Deref for MutexGuard<'_, T> {
        type Target = T;
        fn deref(&self) -> &T {
            self.0.as_ref().unwrap()
        }
    }

    impl<T> DerefMut for MutexGuard<'_, T> {
        fn deref_mut(&mut self) -> &mut T {
            self.0.as_mut().unwrap()
        }
    }

    /// `parking_lot`'s condition variable API over loom's (which has no time: no timeouts).
    #[derive(Debug, Default)]
    pub(crate) struct Condvar(loom::sync::Condvar);

    /// Whether a timed wait ended by timing out (never, under loom).
    pub(crate) struct WaitTimeoutResult;

    impl WaitTimeoutResult {
        pub(crate) fn timed_out(&self) -> bool {
            false
        }
    }

    impl Condvar {
        pub(crate) fn wait<T>(&self, guard: &mut MutexGuard<'_, T>) {
            let inner = guard.0.take().unwrap();
            guard.0 = Some(self.0.wait(inner).unwrap());
        }

        pub(crate) fn wait_until<T>(
            &self,
            guard: &mut MutexGuard<'_, T>,
            _deadline: Instant,
        ) -> WaitTimeoutResult {
            self.wait(guard);
            WaitTimeoutResult
        }

        pub(crate) fn notify_one(&self) {
            self.0.notify_one();
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

    /// Wakes one thread parked on `key`; `if_none_left` runs, under the lock `park`'s
    /// `should_park` runs under, when no other thread is left parked there.
    pub(crate) fn unpark_one(key: usize, if_none_left: impl FnOnce()) {
        // SAFETY: see `park`; the callback does not park or panic (it is an atomic RMW at every
        // call site).
        unsafe {
            parking_lot_core::unpark_one(key, |result| {
                if !result.have_more_threads {
                    if_none_left();
                }
                parking_lot_core::DEFAULT_UNPARK_TOKEN
            });
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

    /// Wakes every parked thread (they all look again, so "none left" is true for the caller).
    pub(crate) fn unpark_one(_key: usize, if_none_left: impl FnOnce()) {
        let _guard = LOT.0.lock().unwrap();
        if_none_left();
        LOT.1.notify_all();
    }
}

/// Threads: the workers are loom threads under loom.
pub(crate) mod thread {
    #[cfg(not(loom))]
    pub(crate) use std::thread::JoinHandle;

    #[cfg(loom)]
    pub(crate) use loom::thread::JoinHandle;

    /// Spawns a worker thread named `name`.
    pub(crate) fn spawn(
        name: String,
        stack_size: Option<usize>,
        body: impl FnOnce() + Send + 'static,
    ) -> std::io::Result<JoinHandle<()>> {
        #[cfg(not(loom))]
        {
            let mut builder = std::thread::Builder::new().name(name);
            if let Some(size) = stack_size {
                builder = builder.stack_size(size);
            }
            builder.spawn(body)
        }
        #[cfg(loom)]
        {
            let _ = (name, stack_size);
            Ok(loom::thread::spawn(body))
        }
    }
}

/// A busy-wait hint; under loom, a yield to the model's scheduler.
#[inline]
pub(crate) fn spin_loop() {
    #[cfg(not(loom))]
    std::hint::spin_loop();
    #[cfg(loom)]
    loom::hint::spin_loop();
}

/// Gives the processor to another thread.
pub(crate) fn yield_now() {
    #[cfg(not(loom))]
    std::thread::yield_now();
    #[cfg(loom)]
    loom::thread::yield_now();
}
