//! Panic everywhere: a randomized test of user code that panics at the wrong moment. Closures,
//! results and wakers that panic (in `Drop`, in the task, in `wake`) at random, across
//! `submit`, `try_submit`, their weighted forms, `execute`, `submit_async`, `cancel`, `scope` (on a worker
//! and off it), `TaskSet`, `map`, `map_weighted` and `shutdown_now`, under a random weight
//! capacity (random weights, some too heavy for it), with exact accounting at the end of every
//! round:
//!
//! - every slot is back: `capacity()` submits succeed and one more is refused;
//! - every unit is back: `weight_in_flight()` is 0, a task of the whole `weight_capacity()` gets
//!   in and one unit more is refused;
//! - `shutdown_timeout` returns true (no worker died, no shutdown hangs);
//! - the stats add up: `submitted == completed + cancelled`, and `panicked` is the number of
//!   task bodies that panicked;
//! - every value made was dropped exactly once.
//!
//! Bounded in count and time. CI runs the defaults (a fixed seed); by hand, for longer:
//! `PANIC_EVERYWHERE_SEED=7 PANIC_EVERYWHERE_ROUNDS=100000 PANIC_EVERYWHERE_SECS=600
//! cargo test --release --test panic_everywhere`. To chase a failure,
//! `PANIC_EVERYWHERE_TRACE=1` prints every operation and `PANIC_EVERYWHERE_OPS=5,9` keeps only
//! the listed ones (the numbers of the `match` below).

mod common;

use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Wake, Waker};
use std::time::{Duration, Instant};

use bounded_executor::{BoundedExecutor, TaskHandle, TaskSet, TrySubmitError};
use common::{assert_every_slot_is_back, assert_every_unit_is_back, WATCHDOG};

/// The messages of the panics this test makes on purpose (kept out of the output).
const OURS: [&str; 4] =
    ["bomb", "task body", "waker", "a scoped task panicked and its handle was not joined"];

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// xorshift64*: small, seedable, good enough to pick among a few choices.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// True one time in `n`.
    fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }
}

/// What was made and dropped, and how many task bodies panicked.
#[derive(Default)]
struct Ledger {
    made: AtomicUsize,
    dropped: AtomicUsize,
    task_panics: AtomicUsize,
}

/// A value that may panic when dropped (never while its thread unwinds: that aborts any Rust
/// program, ours or not).
struct Bomb {
    ledger: Arc<Ledger>,
    armed: bool,
}

impl Bomb {
    fn new(ledger: &Arc<Ledger>, armed: bool) -> Self {
        ledger.made.fetch_add(1, Ordering::SeqCst);
        Self { ledger: Arc::clone(ledger), armed }
    }
}

impl Drop for Bomb {
    fn drop(&mut self) {
        self.ledger.dropped.fetch_add(1, Ordering::SeqCst);
        if self.armed && !std::thread::panicking() {
            panic!("bomb");
        }
    }
}

struct PanickingWaker;

impl Wake for PanickingWaker {
    fn wake(self: Arc<Self>) {
        panic!("waker");
    }
}

/// How a task behaves: decided by the producer, so the test knows what to expect.
#[derive(Clone, Copy)]
struct Plan {
    capture_armed: bool,
    body_panics: bool,
    result_armed: bool,
    /// For weighted submits: 0 to `MAX_WEIGHT`, so sometimes over the round's weight capacity.
    weight: u64,
}

/// The largest weight a plan has; weight capacities are 1 to `MAX_WEIGHT - 1`.
const MAX_WEIGHT: u64 = 8;

impl Plan {
    fn random(rng: &mut Rng) -> Self {
        Self {
            capture_armed: rng.one_in(3),
            body_panics: rng.one_in(5),
            result_armed: rng.one_in(3),
            weight: rng.below(MAX_WEIGHT + 1),
        }
    }

    /// The task's closure: owns a bomb, may panic, returns a bomb.
    fn task(self, ledger: &Arc<Ledger>) -> impl FnOnce() -> Bomb + Send + 'static {
        let captured = Bomb::new(ledger, self.capture_armed);
        let ledger = Arc::clone(ledger);
        move || {
            // Any panic of the body counts, the captured bomb's included (dropped first here).
            let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
                drop(captured);
                if self.body_panics {
                    panic!("task body");
                }
                Bomb::new(&ledger, self.result_armed)
            }));
            outcome.unwrap_or_else(|payload| {
                ledger.task_panics.fetch_add(1, Ordering::SeqCst);
                panic::resume_unwind(payload)
            })
        }
    }
}

std::thread_local! {
    /// Inside `quietly`: our own panics are expected here.
    static QUIET: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f`; a panic is expected to be possible and is swallowed.
fn quietly<R>(f: impl FnOnce() -> R) -> Option<R> {
    let outer = QUIET.with(|q| q.replace(true));
    let result = panic::catch_unwind(AssertUnwindSafe(f)).ok();
    QUIET.with(|q| q.set(outer));
    result
}

fn poll_once<F: Future + Unpin>(future: &mut F, waker: &Waker) -> Option<F::Output> {
    match Pin::new(future).poll(&mut Context::from_waker(waker)) {
        std::task::Poll::Ready(value) => Some(value),
        std::task::Poll::Pending => None,
    }
}

/// One round: a fresh executor and a random sequence of operations, then the accounting.
fn round(rng: &mut Rng, ledger: &Arc<Ledger>) {
    let task_panics_before = ledger.task_panics.load(Ordering::SeqCst);
    let workers = 1 + rng.below(3) as usize;
    let capacity = 1 + rng.below(6) as usize;
    // Sometimes under the capacity, so that the units bind plain tasks too.
    let weight_capacity = 1 + rng.below(MAX_WEIGHT - 1);
    let exec = Arc::new(
        BoundedExecutor::builder()
            .max_workers(workers)
            .capacity(capacity)
            .weight_capacity(weight_capacity)
            .build()
            .unwrap(),
    );
    let bad_waker = Waker::from(Arc::new(PanickingWaker));
    let mut kept: Vec<TaskHandle<Bomb>> = Vec::new();
    let mut shut_down_now = false;
    for _ in 0..10 + rng.below(30) {
        let op = rng.below(10);
        if let Ok(only) = std::env::var("PANIC_EVERYWHERE_OPS") {
            if !only.split(',').any(|o| o == op.to_string()) {
                continue;
            }
        }
        if std::env::var_os("PANIC_EVERYWHERE_TRACE").is_some() {
            eprintln!(
                "op {op}, in flight {} ({} units), kept {}, {workers} workers, capacity \
                 {capacity}, weight capacity {weight_capacity}",
                exec.in_flight(),
                exec.weight_in_flight(),
                kept.len()
            );
        }
        match op {
            0 => {
                let mut plan = Plan::random(rng);
                if rng.one_in(4) {
                    // No handle: a result that panics when dropped would panic in the task
                    // itself, which the ledger does not count as the body's.
                    plan.result_armed = false;
                    let task = plan.task(ledger);
                    exec.execute(move || drop(task())).unwrap_or_else(|_| unreachable!());
                    continue;
                }
                let handle = if rng.one_in(2) {
                    exec.submit(plan.task(ledger)).unwrap()
                } else {
                    match exec.submit_weighted(plan.weight, plan.task(ledger)) {
                        Ok(handle) => handle,
                        Err(err) => {
                            assert!(err.is_too_heavy() && plan.weight > weight_capacity, "{err:?}");
                            let _ = quietly(move || drop(err));
                            continue;
                        }
                    }
                };
                match rng.below(4) {
                    0 => {
                        let _ = quietly(|| drop(handle));
                    }
                    1 => {
                        let _ = quietly(move || {
                            let _ = handle.cancel();
                            drop(handle);
                        });
                    }
                    2 => {
                        let mut handle = handle;
                        // Registers a waker that panics when the task publishes (on a worker).
                        if let Some(Some(result)) = quietly(|| poll_once(&mut handle, &bad_waker)) {
                            let _ = quietly(|| drop(result));
                            continue;
                        }
                        kept.push(handle);
                        continue;
                    }
                    _ => kept.push(handle),
                }
            }
            1 => {
                let plan = Plan::random(rng);
                let submitted = if rng.one_in(2) {
                    exec.try_submit(plan.task(ledger))
                } else {
                    exec.try_submit_weighted(plan.weight, plan.task(ledger))
                };
                match submitted {
                    Ok(handle) => kept.push(handle),
                    Err(TrySubmitError::Full(f)) => {
                        let _ = quietly(|| drop(f));
                    }
                    Err(TrySubmitError::TooHeavy(f)) if plan.weight > weight_capacity => {
                        let _ = quietly(|| drop(f));
                    }
                    Err(other) => panic!("try_submit: {other:?}"),
                }
            }
            2 => {
                if !kept.is_empty() {
                    let i = rng.below(kept.len() as u64) as usize;
                    let _ = quietly(|| kept[i].cancel());
                }
            }
            3 => {
                if !kept.is_empty() {
                    let handle = kept.swap_remove(rng.below(kept.len() as u64) as usize);
                    let _ = quietly(move || handle.join().map(drop));
                }
            }
            4 => {
                let plans: Vec<Plan> = (0..rng.below(4)).map(|_| Plan::random(rng)).collect();
                let join_mask = rng.next();
                let _ = quietly(|| {
                    exec.scope(|s| {
                        for (i, plan) in plans.iter().enumerate() {
                            let handle = s.submit(plan.task(ledger));
                            if join_mask >> i & 1 == 1 {
                                let _ = quietly(move || handle.join().map(drop));
                            }
                        }
                    })
                });
            }
            5 => {
                // A scope on a worker: its end runs its own queued tasks.
                let plans: Vec<Plan> = (0..rng.below(4)).map(|_| Plan::random(rng)).collect();
                let (exec2, ledger2) = (Arc::clone(&exec), Arc::clone(ledger));
                let outer = Plan {
                    capture_armed: false,
                    body_panics: false,
                    result_armed: false,
                    weight: 1,
                };
                let outer_task = outer.task(ledger);
                let handle = exec.submit(move || {
                    // The scope raises what its tasks raised: count that as this body's panic.
                    let scoped = quietly(|| {
                        exec2.scope(|s| {
                            for plan in &plans {
                                let _ = s.submit(plan.task(&ledger2));
                            }
                        })
                    });
                    if scoped.is_none() {
                        ledger2.task_panics.fetch_add(1, Ordering::SeqCst);
                        panic!("task body");
                    }
                    outer_task()
                });
                kept.push(handle.unwrap());
            }
            6 => {
                let mut set = TaskSet::new(&exec);
                for _ in 0..rng.below(5) {
                    if rng.one_in(2) {
                        // Refused (`Full`) once the set holds `capacity()` results: the
                        // closure comes back, and its drop may panic.
                        if let Err(refused) = set.submit(Plan::random(rng).task(ledger)) {
                            let _ = quietly(move || drop(refused));
                        }
                    } else {
                        match exec.try_submit(Plan::random(rng).task(ledger)) {
                            Ok(handle) => {
                                let _ = set.push(handle);
                            }
                            Err(refused) => {
                                let _ = quietly(move || drop(refused));
                            }
                        }
                    }
                }
                for _ in 0..rng.below(3) {
                    if let Some(None) = quietly(|| set.join_next().map(|r| r.map(drop))) {
                        break;
                    }
                }
                let _ = quietly(move || drop(set));
            }
            7 => {
                let plans: Vec<Plan> = (0..rng.below(8)).map(|_| Plan::random(rng)).collect();
                let take = rng.below(4) as usize;
                let ledger2 = Arc::clone(ledger);
                let (unordered, weighted) = (rng.one_in(3), rng.one_in(2));
                let _ = quietly(|| {
                    let f = move |plan: Plan| plan.task(&ledger2)();
                    if weighted {
                        // A too-heavy item is an error in its place; its bomb is never made.
                        let mut results = exec.map_weighted(plans, |plan| plan.weight, f);
                        for _ in 0..take {
                            if quietly(|| results.next().map(|r| r.map(drop))).flatten().is_none() {
                                break;
                            }
                        }
                        let _ = quietly(move || drop(results));
                    } else if unordered {
                        let mut results = exec.map_unordered(plans, f);
                        for _ in 0..take {
                            if quietly(|| results.next().map(|r| r.map(drop))).flatten().is_none() {
                                break;
                            }
                        }
                        let _ = quietly(move || drop(results));
                    } else {
                        let mut results = exec.map(plans, f);
                        for _ in 0..take {
                            if quietly(|| results.next().map(|r| r.map(drop))).flatten().is_none() {
                                break;
                            }
                        }
                        let _ = quietly(move || drop(results));
                    }
                });
            }
            8 => {
                // An async producer, polled first with a waker that panics when woken.
                let mut future = exec.submit_async(Plan::random(rng).task(ledger));
                match quietly(|| poll_once(&mut future, &bad_waker)).flatten() {
                    Some(result) => kept.push(result.unwrap()),
                    None if rng.one_in(2) => {
                        let _ = quietly(move || drop(future));
                    }
                    None => kept.push(common::block_on(future).unwrap()),
                }
            }
            _ => {
                if rng.one_in(6) {
                    let _ = quietly(|| exec.shutdown_now());
                    shut_down_now = true;
                    break;
                }
            }
        }
    }
    // Joined, not dropped: a task still running could leave a husk (a scope on a worker runs
    // its own queued tasks) behind the gated tasks of the check below, which holds its slot
    // until a worker pops it, and the workers would be busy with those gated tasks.
    for handle in kept {
        let _ = quietly(move || handle.join().map(drop));
    }
    if !shut_down_now {
        assert_every_slot_is_back(&exec);
        assert_every_unit_is_back(&exec);
        assert_eq!(exec.in_flight(), 0);
    }
    assert!(exec.shutdown_timeout(WATCHDOG), "a shutdown hung, or a worker died");
    let stats = exec.stats();
    assert_eq!(stats.submitted, stats.completed + stats.cancelled, "{stats:?}");
    let task_panics = ledger.task_panics.load(Ordering::SeqCst) - task_panics_before;
    assert_eq!(stats.panicked, task_panics as u64, "{stats:?}");
    assert!(stats.peak_weight_in_flight <= weight_capacity, "{stats:?}");
    assert_eq!((exec.in_flight(), exec.weight_in_flight()), (0, 0));
}

#[test]
fn panic_everywhere() {
    let _watchdog = common::test_watchdog("panic_everywhere::panic_everywhere");
    let seed = env_or("PANIC_EVERYWHERE_SEED", 0x5EED_u64);
    let rounds = env_or("PANIC_EVERYWHERE_ROUNDS", 300_u64);
    let budget = Duration::from_secs(env_or("PANIC_EVERYWHERE_SECS", 20));
    // Our own panics are expected by the thousand: keep them out of the output, not others.
    let default_hook = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| info.payload().downcast_ref::<String>().map(String::as_str));
        let expected_here = QUIET.with(|q| q.get())
            || std::thread::current().name().is_some_and(|n| n.starts_with("bounded-executor"));
        if !(expected_here && message.is_some_and(|m| OURS.contains(&m))) {
            default_hook(info);
        }
    }));
    let ledger = Arc::new(Ledger::default());
    let mut rng = Rng(seed | 1);
    let started = Instant::now();
    let mut done = 0;
    while done < rounds && started.elapsed() < budget {
        round(&mut rng, &ledger);
        done += 1;
        // Every value made so far was dropped exactly once (the round's executor is gone).
        assert_eq!(
            ledger.made.load(Ordering::SeqCst),
            ledger.dropped.load(Ordering::SeqCst),
            "round {done} (seed {seed}): a value leaked or was dropped twice"
        );
    }
    assert!(done > 0);
    eprintln!("panic_everywhere: seed {seed}, {done} rounds in {:?}", started.elapsed());
}
