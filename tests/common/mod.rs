//! Helpers shared by the integration tests: a gate that holds tasks until opened, a drop counter,
//! and a minimal `block_on`.
#![allow(dead_code, unreachable_pub)]

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::Duration;

use bounded_executor::{BoundedExecutor, TaskHandle, TrySubmitError};

/// A one-shot latch: tasks `wait` on it until the test `open`s it.
#[derive(Clone, Default)]
pub struct Gate(Arc<(Mutex<bool>, Condvar)>);

impl Gate {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn wait(&self) {
        let (open, cv) = &*self.0;
        let mut open = open.lock().unwrap();
        while !*open {
            open = cv.wait(open).unwrap();
        }
    }

    /// Blocks until opened, and panics if `timeout` passes first: a test that never opens its
    /// gate fails instead of wedging a worker forever.
    pub fn wait_at_most(&self, timeout: Duration) {
        let (open, cv) = &*self.0;
        let open = open.lock().unwrap();
        let (_open, res) = cv.wait_timeout_while(open, timeout, |open| !*open).unwrap();
        assert!(!res.timed_out(), "gate was never opened");
    }

    pub fn open(&self) {
        let (open, cv) = &*self.0;
        *open.lock().unwrap() = true;
        cv.notify_all();
    }
}

/// A gate that opens when dropped: a failing test unblocks its tasks, so the executor's `Drop`
/// (which waits for them) cannot turn the failure into a hang.
pub struct Opener(Gate);

impl std::ops::Deref for Opener {
    type Target = Gate;
    fn deref(&self) -> &Gate {
        &self.0
    }
}

impl Drop for Opener {
    fn drop(&mut self) {
        self.0.open();
    }
}

/// Occupies every worker of `exec` with a task that waits on the returned gate, and returns once
/// all of them are running.
pub fn occupy_workers(exec: &BoundedExecutor) -> (Opener, Vec<TaskHandle<()>>) {
    let gate = Opener(Gate::new());
    let (started_tx, started) = mpsc::channel();
    let handles = (0..exec.max_workers())
        .map(|_| {
            let gate = gate.clone();
            let started_tx = started_tx.clone();
            exec.submit(move || {
                started_tx.send(()).unwrap();
                gate.wait();
            })
            .unwrap()
        })
        .collect();
    for _ in 0..exec.max_workers() {
        started.recv().unwrap();
    }
    (gate, handles)
}

/// Counts drops of the values it makes: proves a closure or result is dropped exactly once.
#[derive(Clone, Default)]
pub struct DropCounter(Arc<AtomicUsize>);

pub struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

impl DropCounter {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn make(&self) -> Counted {
        Counted(Arc::clone(&self.0))
    }

    pub fn dropped(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

struct ThreadWaker(Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Runs a future to completion on this thread, parking between polls (no busy loop).
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let waker = Waker::from(Arc::new(ThreadWaker(thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(value) = future.as_mut().poll(&mut cx) {
            return value;
        }
        thread::park();
    }
}

/// How long a test waits for something that only a leaked slot or a lost wake-up would delay.
pub const WATCHDOG: std::time::Duration = std::time::Duration::from_secs(30);

/// Asserts that exactly `capacity()` slots are free: `capacity()` submits succeed (a leaked slot
/// makes one time out after [`WATCHDOG`]) and one more is refused (a slot given back twice lets
/// it in). The tasks weigh 0, so that the weight bound, if any, does not stand in the way. Call
/// it once no task can still leave a husk behind the gated tasks it queues.
pub fn assert_every_slot_is_back(exec: &BoundedExecutor) {
    let gate = Gate::new();
    let held: Vec<_> = (0..exec.capacity())
        .map(|i| {
            let gate = gate.clone();
            exec.submit_weighted_timeout(0, WATCHDOG, move || gate.wait())
                .unwrap_or_else(|_| panic!("slot {i} of {} never came back", exec.capacity()))
        })
        .collect();
    assert!(
        matches!(exec.try_submit_weighted(0, || ()), Err(TrySubmitError::Full(_))),
        "more than capacity() slots were free"
    );
    gate.open();
    for handle in held {
        handle.join().unwrap();
    }
}

/// Asserts that exactly `weight_capacity()` units are free: `weight_in_flight()` is 0, a task of
/// the whole weight capacity gets in (a leaked unit makes it time out after [`WATCHDOG`]), and
/// while it holds them, one unit more is refused (a unit given back twice lets it in). Call it
/// as [`assert_every_slot_is_back`].
pub fn assert_every_unit_is_back(exec: &BoundedExecutor) {
    assert_eq!(exec.weight_in_flight(), 0);
    let gate = Gate::new();
    let all = {
        let gate = gate.clone();
        exec.submit_weighted_timeout(exec.weight_capacity(), WATCHDOG, move || gate.wait())
            .unwrap_or_else(|err| {
                panic!("the {} units never all came back: {err}", exec.weight_capacity())
            })
    };
    assert!(
        matches!(exec.try_submit_weighted(1, || ()), Err(TrySubmitError::Full(_))),
        "more than weight_capacity() units were free"
    );
    gate.open();
    all.join().unwrap();
    assert_eq!(exec.weight_in_flight(), 0);
}

/// splitmix64 (Steele, Lea, Flood 2014): small, fast, and good enough to pick a mix.
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    pub fn percent(&mut self, p: u64) -> bool {
        self.below(100) < p
    }
}

/// Submits `n` tasks that can only finish together, with this thread, and joins them: it
/// returns only if `n` threads of `exec` ran them at once.
pub fn run_together(exec: &BoundedExecutor, n: usize) {
    let barrier = Arc::new(std::sync::Barrier::new(n + 1));
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let barrier = Arc::clone(&barrier);
            exec.submit(move || {
                barrier.wait();
            })
            .unwrap()
        })
        .collect();
    barrier.wait();
    handles.into_iter().for_each(|h| h.join().unwrap());
}
