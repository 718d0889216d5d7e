//! Helpers shared by the integration tests: a gate that holds tasks until opened, a drop counter,
//! and a minimal `block_on`.
#![allow(dead_code, unreachable_pub)]

use std::future::Future;
use std::io::Write;
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

    /// Blocks until opened; fails (a panic) after [`WATCHDOG_LIMIT`].
    pub fn wait(&self) {
        self.wait_at_most(WATCHDOG_LIMIT);
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
        started.recv_timeout(WATCHDOG_LIMIT).expect("every worker starts a gated task");
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
            exec.submit_weighted_timeout(0, move || gate.wait(), WATCHDOG)
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
        exec.submit_weighted_timeout(exec.weight_capacity(), move || gate.wait(), WATCHDOG)
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

/// `n` rounds, or `under_miri` when the test runs under Miri (about a thousand times slower):
/// a loop that races many rounds runs a handful there, enough for Miri to check each path.
pub const fn rounds(n: u64, under_miri: u64) -> u64 {
    if cfg!(miri) {
        under_miri
    } else {
        n
    }
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
/// returns only if `n` threads of `exec` ran them at once. Fails (names the barrier and how many
/// arrived) if they do not meet within [`WATCHDOG_LIMIT`].
pub fn run_together(exec: &BoundedExecutor, n: usize) {
    let barrier = Arc::new(Barrier::new(n + 1, "run_together"));
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
    handles.into_iter().for_each(|h| join_within(h, "a run_together task").unwrap());
}

/// The longest any blocking wait in a test may take before the test fails with a message: far
/// beyond what a passing test needs on a loaded 2-core machine, far below CI's budget.
pub const WATCHDOG_LIMIT: Duration = Duration::from_secs(45);

/// How long [`test_watchdog`] lets a whole test run before it aborts the binary: past
/// [`WATCHDOG_LIMIT`], so that a bounded wait (a barrier, a gate, a receive) fails first, as a
/// test failure with its own message while the binary's other tests go on, and the abort is left
/// to the waits that have no bound of their own (a join, a shutdown, an executor's `Drop`).
pub const TEST_LIMIT: Duration = Duration::from_secs(60);

/// Fails the whole test binary, naming `what` it waited for, unless dropped within
/// [`WATCHDOG_LIMIT`]. For waits that cannot time out by themselves (a `join`, a `shutdown`, a
/// `Drop` that joins workers): `let _watchdog = watchdog("the shutdown after ...");`.
///
/// A hang cannot be unwound from another thread, so the watchdog prints its message and aborts
/// the process: the test binary fails at once, with the message, instead of eating CI's budget.
#[must_use = "the watchdog stops watching when dropped"]
pub struct Watchdog {
    done: Option<mpsc::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

/// Starts a [`Watchdog`] over `what`.
pub fn watchdog(what: impl Into<String>) -> Watchdog {
    watchdog_for(what, WATCHDOG_LIMIT)
}

/// The [`Watchdog`] a test starts on its first line, `let _watchdog = test_watchdog("file::test");`,
/// so that everything it blocks on (its joins, channels, barriers, shutdowns and, last, the
/// executors' `Drop`, since the guard is dropped after them) fails the binary, naming the test,
/// instead of hanging, once the test has run for [`TEST_LIMIT`].
pub fn test_watchdog(test: &str) -> Watchdog {
    watchdog_for(
        format!("test {test} (its joins, receives, shutdowns and executors' Drop)"),
        TEST_LIMIT,
    )
}

/// A [`Watchdog`] with its own limit (a test that asserts something happens within a bound).
pub fn watchdog_for(what: impl Into<String>, limit: Duration) -> Watchdog {
    let what = what.into();
    let (done, done_rx) = mpsc::channel::<()>();
    let (started_tx, started) = mpsc::channel::<()>();
    let thread = thread::Builder::new()
        .name("test-watchdog".into())
        .spawn(move || {
            // Block once before the test goes on: the channel's first blocking wait allocates
            // this thread's waiting context, and a test that counts the heap (task_refs) must
            // not see it arrive in the middle of a round.
            let _ = done_rx.recv_timeout(Duration::from_millis(1));
            let _ = started_tx.send(());
            if let Err(mpsc::RecvTimeoutError::Timeout) = done_rx.recv_timeout(limit) {
                // Straight to the file descriptor: `eprintln!` in a thread spawned by a test
                // goes to the test's captured output, which the abort would throw away.
                let _ = writeln!(
                    std::io::stderr(),
                    "\nwatchdog: still waiting for {what} after {limit:?}: a hang (lost wake-up, \
                     stranded task or deadlock). Aborting the test binary."
                );
                std::process::abort();
            }
        })
        .expect("spawn the watchdog thread");
    let _ = started.recv();
    Watchdog { done: Some(done), thread: Some(thread) }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        drop(self.done.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Joins `handle`, failing the test (a panic naming `what`) if it has not finished within
/// [`WATCHDOG_LIMIT`].
pub fn join_within<T>(handle: TaskHandle<T>, what: &str) -> Result<T, bounded_executor::TaskError> {
    assert!(
        handle.wait_timeout(WATCHDOG_LIMIT),
        "{what} did not finish within {WATCHDOG_LIMIT:?}: a hang"
    );
    handle.join()
}

/// `std::sync::Barrier` whose `wait` fails (a panic naming the barrier and how many arrived)
/// instead of waiting past [`WATCHDOG_LIMIT`]: a test that can hang in a barrier is a defect.
///
/// A barrier that timed out is broken, as Java's `CyclicBarrier` is: every party waiting in it,
/// and every one that arrives later, fails at once too, instead of each waiting out a limit of
/// its own (tasks that arrive late would otherwise keep the executor's `Drop` waiting).
pub struct Barrier {
    n: usize,
    name: &'static str,
    state: Mutex<BarrierState>,
    cv: Condvar,
}

struct BarrierState {
    arrived: usize,
    generation: u64,
    broken: bool,
}

impl Barrier {
    pub fn new(n: usize, name: &'static str) -> Self {
        let state = BarrierState { arrived: 0, generation: 0, broken: false };
        Self { n, name, state: Mutex::new(state), cv: Condvar::new() }
    }

    /// Waits for the other parties; fails after [`WATCHDOG_LIMIT`], or at once if the barrier
    /// is broken.
    pub fn wait(&self) {
        self.wait_at_most(WATCHDOG_LIMIT);
    }

    /// Waits at most `limit` for the other parties. A timeout breaks the barrier and panics,
    /// naming it and how many arrived.
    pub fn wait_at_most(&self, limit: Duration) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        assert!(!state.broken, "barrier `{}` is broken: another party timed out", self.name);
        let generation = state.generation;
        state.arrived += 1;
        if state.arrived == self.n {
            state.arrived = 0;
            state.generation += 1;
            self.cv.notify_all();
            return;
        }
        let (mut state, timeout) = self
            .cv
            .wait_timeout_while(state, limit, |s| s.generation == generation && !s.broken)
            .unwrap_or_else(|e| e.into_inner());
        if state.generation != generation {
            return;
        }
        let arrived = state.arrived;
        state.broken = true;
        drop(state);
        self.cv.notify_all();
        assert!(
            !timeout.timed_out(),
            "barrier `{}`: only {arrived} of {} arrived within {limit:?}: a hang",
            self.name,
            self.n
        );
        panic!("barrier `{}` is broken: another party timed out", self.name);
    }
}

impl Opener {
    /// A closed gate that opens when dropped. Declare it after the executor whose tasks wait on
    /// it, so that it opens before the executor's `Drop` waits for them.
    pub fn new() -> Self {
        Self(Gate::new())
    }
}

impl Default for Opener {
    fn default() -> Self {
        Self::new()
    }
}

/// Submits `n` tasks that wait on `gate`, and returns their handles once all of them are
/// running (each has told so on a channel): `n` threads of `exec` are held until the gate opens.
/// Fails, naming how many started, if they do not all start within [`WATCHDOG_LIMIT`].
pub fn start_gated(exec: &BoundedExecutor, n: usize, gate: &Gate) -> Vec<TaskHandle<()>> {
    let (started_tx, started) = mpsc::channel();
    let handles = (0..n)
        .map(|_| {
            let (gate, started_tx) = (gate.clone(), started_tx.clone());
            exec.submit(move || {
                started_tx.send(()).unwrap();
                gate.wait();
            })
            .unwrap()
        })
        .collect();
    for i in 0..n {
        started
            .recv_timeout(WATCHDOG_LIMIT)
            .unwrap_or_else(|_| panic!("timed out waiting for gated task {i} of {n} to start"));
    }
    handles
}
