//! The one place that picks synchronisation primitives: std atomics, `parking_lot` and
//! `parking_lot_core` normally, and loom's models under `--cfg loom`.
//!
//! Everything the crate uses to synchronise its own state goes through this module, so that the
//! loom models (`src/loom_tests/`) check the same code that ships.

/// std's `Arc`, even under loom, for what loom need not or cannot model: the crate's one other
/// shared pointer. Used where the pointee's synchronisation is loom's anyway (a task's state word,
/// a scope's counter), where loom's `Arc` cannot go (coercion to a trait object; `std::task::Wake`
/// takes std's `Arc`), and for a map's shared function, which is immutable.
pub(crate) use std::sync::Arc as StdArc;

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{
    fence, AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering,
};
#[cfg(not(loom))]
pub(crate) use std::sync::Arc;

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{
    fence, AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering,
};
#[cfg(loom)]
pub(crate) use loom::sync::Arc;

pub(crate) use self::mutex::{Condvar, Mutex};
pub(crate) use self::park::{park, park_with_token, unpark_all, unpark_filter, Filter, Parked};

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
        pub(crate) fn new() -> Self {
            Self(loom::sync::Condvar::new())
        }

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

        pub(crate) fn notify_all(&self) {
            self.0.notify_all();
        }
    }
}

/// Address-keyed parking: a thread waits "on" the address of an atomic, and whoever changes that
/// atomic wakes the threads waiting on it (all of them, or those a filter picks by the token
/// each parked with). `should_park` runs under the parking lot's bucket lock, which the unparks
/// also take: a thread that registers interest inside `should_park` and then sleeps cannot miss
/// an unpark issued after the registration.
#[cfg(not(loom))]
mod park {
    use std::time::Instant;

    use parking_lot_core::{FilterOp, ParkToken};

    /// How a [`park`] ended.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(crate) enum Parked {
        /// Woken, or `should_park` said no: look at the state again.
        Retry,
        /// The deadline passed.
        TimedOut,
    }

    /// What [`unpark_filter`] does with one parked thread.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(crate) enum Filter {
        /// Wake it.
        Unpark,
        /// Leave it parked and look at the next.
        Skip,
        /// Leave it and every later one parked.
        Stop,
    }

    /// Sleeps on `key` while `should_park()` is true, until woken or `deadline`.
    pub(crate) fn park(
        key: usize,
        should_park: impl FnOnce() -> bool,
        deadline: Option<Instant>,
    ) -> Parked {
        park_with_token(key, 0, should_park, deadline)
    }

    /// As [`park`], parked with `token` for [`unpark_filter`] to see.
    pub(crate) fn park_with_token(
        key: usize,
        token: usize,
        should_park: impl FnOnce() -> bool,
        deadline: Option<Instant>,
    ) -> Parked {
        // SAFETY: `key` is the address of an atomic owned by the caller's live object, which no
        // other kind of parking in this process uses; `should_park` does not park or panic, and
        // the two callbacks below do nothing.
        let result = unsafe {
            parking_lot_core::park(key, should_park, || {}, |_, _| {}, ParkToken(token), deadline)
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

    /// Walks the threads parked on `key`, oldest first, and wakes those `filter` picks by their
    /// token; `if_none_left` runs, under the lock `park`'s `should_park` runs under, when no
    /// thread is left parked there.
    pub(crate) fn unpark_filter(
        key: usize,
        mut filter: impl FnMut(usize) -> Filter,
        if_none_left: impl FnOnce(),
    ) {
        // SAFETY: see `park`; neither callback parks or panics (the filter is arithmetic on
        // the token, the other an atomic RMW at every call site).
        unsafe {
            parking_lot_core::unpark_filter(
                key,
                |ParkToken(token)| match filter(token) {
                    Filter::Unpark => FilterOp::Unpark,
                    Filter::Skip => FilterOp::Skip,
                    Filter::Stop => FilterOp::Stop,
                },
                |result| {
                    if !result.have_more_threads {
                        if_none_left();
                    }
                    parking_lot_core::DEFAULT_UNPARK_TOKEN
                },
            );
        }
    }
}

/// Under loom: the parking lot itself, on one loom mutex and condition variable: a FIFO list of
/// parked threads, each with its key, its token and whether it was woken, so that the filter
/// and "none left" are modelled as `parking_lot_core` does them (a wake-up missed by the
/// filter is a deadlock loom reports). A woken thread is only ever one that was picked, but
/// every parked thread looks when anyone is woken. No time: nothing times out.
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

    /// What [`unpark_filter`] does with one parked thread.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(crate) enum Filter {
        Unpark,
        Skip,
        Stop,
    }

    struct Waiter {
        id: usize,
        key: usize,
        token: usize,
        woken: bool,
    }

    #[derive(Default)]
    struct Lot {
        next_id: usize,
        /// Oldest first.
        waiters: Vec<Waiter>,
    }

    loom::lazy_static! {
        static ref LOT: (loom::sync::Mutex<Lot>, loom::sync::Condvar) =
            (loom::sync::Mutex::new(Lot::default()), loom::sync::Condvar::new());
    }

    pub(crate) fn park(
        key: usize,
        should_park: impl FnOnce() -> bool,
        deadline: Option<Instant>,
    ) -> Parked {
        park_with_token(key, 0, should_park, deadline)
    }

    pub(crate) fn park_with_token(
        key: usize,
        token: usize,
        should_park: impl FnOnce() -> bool,
        _deadline: Option<Instant>,
    ) -> Parked {
        let mut lot = LOT.0.lock().unwrap();
        if !should_park() {
            return Parked::Retry;
        }
        let id = lot.next_id;
        lot.next_id += 1;
        lot.waiters.push(Waiter { id, key, token, woken: false });
        loop {
            lot = LOT.1.wait(lot).unwrap();
            let mine = lot.waiters.iter().position(|w| w.id == id).expect("still listed");
            if lot.waiters[mine].woken {
                lot.waiters.remove(mine);
                return Parked::Retry;
            }
        }
    }

    pub(crate) fn unpark_all(key: usize) {
        let mut lot = LOT.0.lock().unwrap();
        for waiter in lot.waiters.iter_mut().filter(|w| w.key == key) {
            waiter.woken = true;
        }
        LOT.1.notify_all();
    }

    pub(crate) fn unpark_filter(
        key: usize,
        mut filter: impl FnMut(usize) -> Filter,
        if_none_left: impl FnOnce(),
    ) {
        let mut lot = LOT.0.lock().unwrap();
        for waiter in lot.waiters.iter_mut().filter(|w| w.key == key && !w.woken) {
            match filter(waiter.token) {
                Filter::Unpark => waiter.woken = true,
                Filter::Skip => {}
                Filter::Stop => break,
            }
        }
        if !lot.waiters.iter().any(|w| w.key == key && !w.woken) {
            if_none_left();
        }
        LOT.1.notify_all();
    }
}

/// Threads: the workers are loom threads under loom.
pub(crate) mod thread {
    #[cfg(not(loom))]
    pub(crate) use std::thread::JoinHandle;

    #[cfg(loom)]
    pub(crate) use loom::thread::JoinHandle;

    /// True if the thread has returned from its body (never under loom, whose handles cannot
    /// tell).
    pub(crate) fn is_finished(handle: &JoinHandle<()>) -> bool {
        #[cfg(not(loom))]
        return handle.is_finished();
        #[cfg(loom)]
        {
            let _ = handle;
            false
        }
    }

    /// Spawns a worker thread named `name`. A spawn the standard library panics in (it
    /// asserts on some of the OS's answers, for example a stack size the OS refuses) is an
    /// error like any refused spawn: the caller may be a worker in the middle of its
    /// bookkeeping, which a panic would cut short.
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
            let spawn = std::panic::AssertUnwindSafe(|| builder.spawn(body));
            match std::panic::catch_unwind(spawn) {
                Ok(spawned) => spawned,
                Err(payload) => {
                    crate::unwind::discard(payload);
                    Err(std::io::Error::other("the standard library panicked spawning a thread"))
                }
            }
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
