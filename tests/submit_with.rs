//! `submit_with` and `SubmitOptions` (issue 23): each set of options behaves as the named
//! shortcut it matches (the same refusal, the same closure handed back, the same placement
//! inline or on a worker, the same units held), the last way to wait set wins, `help(false)`
//! never runs a task on the producer, `help(true)` never turns helping on, and random option
//! sets against a full, weighted or shut-down pool account for every closure.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::{self, ThreadId};
use std::time::Duration;

use bounded_executor::{
    BoundedExecutor, SubmitError, SubmitErrorKind, SubmitOptions, SubmitTimeoutError, TaskHandle,
    TrySubmitError,
};
use common::{join_within, test_watchdog, watchdog, DropCounter, Gate, Opener, SplitMix64};
use common::{Counted, WATCHDOG_LIMIT};

/// A short timeout for submits into a pool that is gated full: they must time out.
const SHORT: Duration = Duration::from_millis(2);
const WEIGHT_CAPACITY: u64 = 10;

/// What a task reports: its token and the thread it ran on.
type Reply = (u64, ThreadId);

/// A task that counts its runs in `runs[token]` and reports where it ran; `drops` counts the
/// drop of the closure (run or not).
fn task(
    token: u64,
    runs: &Arc<Vec<AtomicUsize>>,
    drops: Counted,
) -> impl FnOnce() -> Reply + Send + 'static {
    let runs = Arc::clone(runs);
    move || {
        let _drops = drops;
        runs[token as usize].fetch_add(1, Ordering::SeqCst);
        (token, thread::current().id())
    }
}

/// How one submit turned out, in the terms every submit flavour shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Accepted; `here`: it ran on the submitting thread (inline), finished at return.
    Ran { here: bool },
    /// Refused, and the same closure came back unrun.
    Refused(SubmitErrorKind),
}

/// The three submission errors, seen alike.
trait Refusal<F> {
    fn kind(&self) -> SubmitErrorKind;
    fn into_inner(self) -> F;
}

macro_rules! refusal {
    ($($error:ident),*) => {$(
        impl<F> Refusal<F> for $error<F> {
            fn kind(&self) -> SubmitErrorKind {
                $error::kind(self)
            }
            fn into_inner(self) -> F {
                $error::into_inner(self)
            }
        }
    )*};
}
refusal!(SubmitError, TrySubmitError, SubmitTimeoutError);

/// Tokens and run counts for the closures of one test.
struct Tasks {
    runs: Arc<Vec<AtomicUsize>>,
    drops: DropCounter,
    next: u64,
}

impl Tasks {
    fn new(n: usize) -> Self {
        let runs = Arc::new((0..n).map(|_| AtomicUsize::new(0)).collect());
        Self { runs, drops: DropCounter::new(), next: 0 }
    }

    /// A fresh task and its token.
    fn next(&mut self) -> (u64, impl FnOnce() -> Reply + Send + 'static) {
        let token = self.next;
        self.next += 1;
        (token, task(token, &self.runs, self.drops.make()))
    }

    fn runs(&self, token: u64) -> usize {
        self.runs[token as usize].load(Ordering::SeqCst)
    }

    /// Settles one submit of the task `token`: joins it, or takes the closure back and proves it
    /// is the same one, unrun (then runs it, so that every token ends with exactly one run).
    fn settle<F, E>(&self, token: u64, result: Result<TaskHandle<Reply>, E>) -> Outcome
    where
        F: FnOnce() -> Reply,
        E: Refusal<F>,
    {
        let caller = thread::current().id();
        match result {
            Ok(handle) => {
                let finished = handle.is_finished();
                let (ran, on) = join_within(handle, "an accepted task").unwrap();
                assert_eq!(ran, token, "the handle is the submitted task's");
                let here = on == caller;
                assert!(!here || finished, "a task run by the caller is finished at return");
                assert_eq!(self.runs(token), 1, "an accepted task runs once");
                Outcome::Ran { here }
            }
            Err(err) => {
                let kind = err.kind();
                assert_eq!(self.runs(token), 0, "a refused closure has not run");
                let (back, _) = err.into_inner()();
                assert_eq!(back, token, "the refused closure came back");
                Outcome::Refused(kind)
            }
        }
    }
}

/// A pool of 2 workers, capacity 2, weight capacity 10.
fn pool(helps: bool) -> BoundedExecutor {
    BoundedExecutor::builder()
        .max_workers(2)
        .capacity(2)
        .weight_capacity(WEIGHT_CAPACITY)
        .producer_helps(helps)
        .build()
        .unwrap()
}

/// Starts a task of `weight` that waits on `gate`, and returns once it runs.
fn start_blocker(exec: &BoundedExecutor, weight: u64, gate: &Gate) -> TaskHandle<()> {
    let (started_tx, started) = mpsc::channel();
    let gate = gate.clone();
    let handle = exec
        .submit_weighted(weight, move || {
            started_tx.send(()).unwrap();
            gate.wait();
        })
        .unwrap();
    started.recv_timeout(WATCHDOG_LIMIT).expect("a gated task starts");
    handle
}

/// The states the shortcuts are compared in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Free,
    /// Both slots held by running tasks.
    SlotsFull,
    /// One running task holds 8 of the 10 units; a slot is free.
    UnitsFull,
    ShutDown,
}

/// Compares, in `state`, each shortcut with the options that match it, for `weight`; returns
/// nothing, asserting both give the same outcome, and that outcome is the one expected.
fn compare_in(state: State, weight: u64) {
    let _watchdog =
        watchdog(format!("the shortcuts and submit_with in {state:?}, weight {weight}"));
    let mut tasks = Tasks::new(64);
    let exec = pool(true);
    let gate = Opener::new();
    let blockers = match state {
        State::Free => vec![],
        State::SlotsFull => vec![start_blocker(&exec, 1, &gate), start_blocker(&exec, 1, &gate)],
        State::UnitsFull => vec![start_blocker(&exec, 8, &gate)],
        State::ShutDown => {
            exec.shutdown();
            vec![]
        }
    };
    let held = blockers.len() as u64 * if state == State::UnitsFull { 8 } else { 1 };
    let fits = match state {
        State::Free => weight <= WEIGHT_CAPACITY,
        State::SlotsFull | State::ShutDown => false,
        State::UnitsFull => weight.saturating_add(8) <= WEIGHT_CAPACITY,
    };
    let refusal = |no_room| {
        if state == State::ShutDown {
            Outcome::Refused(SubmitErrorKind::Shutdown)
        } else if weight > WEIGHT_CAPACITY {
            Outcome::Refused(SubmitErrorKind::TooHeavy)
        } else if fits {
            Outcome::Ran { here: false }
        } else {
            no_room
        }
    };
    let opts = SubmitOptions::new().weight(weight);

    // Never waiting.
    let (t, f) = tasks.next();
    let short = tasks.settle(t, exec.try_submit_weighted(weight, f));
    let (t, f) = tasks.next();
    let with = tasks.settle(t, exec.submit_with(opts.no_wait(), f));
    assert_eq!((short, with), (refusal(Outcome::Refused(SubmitErrorKind::Full)), short));

    // Waiting up to a timeout, helping or not.
    let (t, f) = tasks.next();
    let short = tasks.settle(t, exec.submit_weighted_timeout(weight, f, SHORT));
    for help in [true, false] {
        let (t, f) = tasks.next();
        let with = tasks.settle(t, exec.submit_with(opts.timeout(SHORT).help(help), f));
        assert_eq!((short, with), (refusal(Outcome::Refused(SubmitErrorKind::Timeout)), short));
    }

    // Caller-runs: the shortcut weighs 1; a weighted one runs here if it does not fit.
    let inline = refusal(Outcome::Ran { here: true });
    let (t, f) = tasks.next();
    let with = tasks.settle(t, exec.submit_with(opts.or_run(), f));
    assert_eq!(with, inline, "weighted caller-runs");
    if weight == 1 {
        let (t, f) = tasks.next();
        let short = tasks.settle(t, exec.submit_or_run(f));
        assert_eq!(short, with);
    }

    // Waiting forever: only where it returns (the task fits, or is refused at once).
    if fits || state == State::ShutDown || weight > WEIGHT_CAPACITY {
        let never = Outcome::Refused(SubmitErrorKind::Full); // not expected: see `refusal`
        let (t, f) = tasks.next();
        let short = tasks.settle(t, exec.submit_weighted(weight, f));
        assert_eq!(short, refusal(never));
        for help in [true, false] {
            let (t, f) = tasks.next();
            assert_eq!(tasks.settle(t, exec.submit_with(opts.help(help), f)), short);
        }
        if weight == 1 {
            let (t, f) = tasks.next();
            assert_eq!(tasks.settle(t, exec.submit(f)), short);
            let (t, f) = tasks.next();
            assert_eq!(tasks.settle(t, exec.submit_with(SubmitOptions::new(), f)), short);
            let (t, f) = tasks.next();
            assert_eq!(tasks.settle(t, exec.try_submit(f)), refusal(never));
            let (t, f) = tasks.next();
            assert_eq!(tasks.settle(t, exec.submit_timeout(f, SHORT)), refusal(never));
        }
    }

    // Nothing held but the blockers' slots and units; every closure dropped once.
    assert_eq!(exec.weight_in_flight(), held);
    gate.open();
    for blocker in blockers {
        join_within(blocker, "a gated task").unwrap();
    }
    exec.shutdown();
    assert_eq!(tasks.drops.dropped() as u64, tasks.next);
    assert!((0..tasks.next).all(|t| tasks.runs(t) == 1));
}

#[test]
fn each_option_set_behaves_as_its_shortcut_in_every_state() {
    let _watchdog = test_watchdog("submit_with::each_option_set_behaves_as_its_shortcut");
    for state in [State::Free, State::SlotsFull, State::UnitsFull, State::ShutDown] {
        for weight in [0, 1, 2, 5, WEIGHT_CAPACITY, WEIGHT_CAPACITY + 1, u64::MAX] {
            compare_in(state, weight);
        }
    }
}

/// On the only worker of a full executor: submits that wait run inline, `no_wait` is refused,
/// caller-runs runs here, as the shortcuts do.
#[test]
fn on_a_worker_of_a_full_executor_options_place_the_task_as_the_shortcuts_do() {
    let _watchdog = test_watchdog("submit_with::on_a_worker_of_a_full_executor");
    let exec = Arc::new(
        BoundedExecutor::builder()
            .max_workers(1)
            .capacity(1)
            .weight_capacity(WEIGHT_CAPACITY)
            .build()
            .unwrap(),
    );
    let outcomes = {
        let exec = Arc::clone(&exec);
        exec.clone()
            .submit(move || {
                let mut tasks = Tasks::new(64);
                let mut pairs = Vec::new();
                for weight in [0, 1, 3, WEIGHT_CAPACITY + 1] {
                    let opts = SubmitOptions::new().weight(weight);
                    let mut pair = |a: Outcome, b: Outcome| pairs.push((weight, a, b));
                    let (t, f) = tasks.next();
                    let a = tasks.settle(t, exec.submit_weighted(weight, f));
                    for help in [true, false] {
                        let (t, f) = tasks.next();
                        pair(a, tasks.settle(t, exec.submit_with(opts.help(help), f)));
                    }
                    let (t, f) = tasks.next();
                    let a = tasks.settle(t, exec.try_submit_weighted(weight, f));
                    let (t, f) = tasks.next();
                    pair(a, tasks.settle(t, exec.submit_with(opts.no_wait(), f)));
                    let (t, f) = tasks.next();
                    let a = tasks.settle(t, exec.submit_weighted_timeout(weight, f, SHORT));
                    let (t, f) = tasks.next();
                    pair(a, tasks.settle(t, exec.submit_with(opts.timeout(SHORT), f)));
                    if weight == 1 {
                        let (t, f) = tasks.next();
                        let a = tasks.settle(t, exec.submit_or_run(f));
                        let (t, f) = tasks.next();
                        pair(a, tasks.settle(t, exec.submit_with(opts.or_run(), f)));
                    }
                }
                pairs
            })
            .unwrap()
    };
    let pairs = join_within(outcomes, "the worker comparing the submits").unwrap();
    let here = Outcome::Ran { here: true };
    let full = Outcome::Refused(SubmitErrorKind::Full);
    let heavy = Outcome::Refused(SubmitErrorKind::TooHeavy);
    let expected: Vec<Outcome> = [0, 1, 3, WEIGHT_CAPACITY + 1]
        .into_iter()
        .flat_map(|weight| {
            let run = if weight > WEIGHT_CAPACITY { heavy } else { here };
            let no_wait = if weight > WEIGHT_CAPACITY { heavy } else { full };
            let mut all = vec![run, run, no_wait, run];
            if weight == 1 {
                all.push(run);
            }
            all
        })
        .collect();
    assert_eq!(pairs.iter().map(|&(_, a, _)| a).collect::<Vec<_>>(), expected);
    for (weight, shortcut, with) in pairs {
        assert_eq!(shortcut, with, "weight {weight}");
    }
    assert_eq!(exec.in_flight(), 0);
}

/// A weighted task holds its units from admission until it ends, whichever way it came in; one
/// run by its caller holds none.
#[test]
fn weight_units_are_held_while_the_task_runs() {
    let _watchdog = test_watchdog("submit_with::weight_units_are_held_while_the_task_runs");
    let exec = Arc::new(pool(true));
    let (started_tx, started) = mpsc::channel();
    let gated = |gate: &Gate| {
        let (gate, started_tx) = (gate.clone(), started_tx.clone());
        move || {
            started_tx.send(()).unwrap();
            gate.wait();
        }
    };
    let options = [
        SubmitOptions::new().weight(3),
        SubmitOptions::new().weight(3).no_wait(),
        SubmitOptions::new().weight(3).timeout(WATCHDOG_LIMIT),
        SubmitOptions::new().weight(3).or_run(),
        SubmitOptions::new().weight(3).help(false),
    ];
    for opts in options {
        let gate = Opener::new();
        let shortcut = exec.submit_weighted(3, gated(&gate)).unwrap();
        let with = exec.submit_with(opts, gated(&gate)).unwrap();
        for _ in 0..2 {
            started.recv_timeout(WATCHDOG_LIMIT).expect("both gated tasks start");
        }
        assert_eq!((exec.running(), exec.weight_in_flight()), (2, 6), "{opts:?}");
        gate.open();
        join_within(shortcut, "the shortcut's task").unwrap();
        join_within(with, "the submit_with task").unwrap();
        assert_eq!(exec.weight_in_flight(), 0);
    }
    // Caller-runs when the units do not fit: the task run here holds nothing.
    let gate = Opener::new();
    let heavy = {
        let gate = gate.clone();
        exec.submit_weighted(8, move || gate.wait()).unwrap()
    };
    let seen = {
        let exec = Arc::clone(&exec);
        let opts = SubmitOptions::new().weight(5).or_run();
        exec.clone().submit_with(opts, move || exec.weight_in_flight()).unwrap()
    };
    assert!(seen.is_finished(), "8 + 5 > 10: run by the caller");
    assert_eq!(seen.join().unwrap(), 8, "only the heavy task's units are held meanwhile");
    assert_eq!(exec.stats().inline, 1);
    gate.open();
    join_within(heavy, "the heavy task").unwrap();
}

/// The last way to wait set wins; the weight and `help` are kept across it.
#[test]
fn the_last_way_to_wait_set_wins() {
    let _watchdog = test_watchdog("submit_with::the_last_way_to_wait_set_wins");
    let d = Duration::from_millis(5);
    let new = SubmitOptions::new;
    assert_eq!(new().no_wait().timeout(d), new().timeout(d));
    assert_eq!(new().timeout(d).no_wait(), new().no_wait());
    assert_eq!(new().or_run().no_wait(), new().no_wait());
    assert_eq!(new().no_wait().or_run(), new().or_run());
    assert_eq!(new().timeout(d).or_run().timeout(SHORT), new().timeout(SHORT));
    assert_eq!(new().weight(3).no_wait().help(false), new().help(false).no_wait().weight(3));
    assert_eq!(new().help(false).help(true), new());
    assert_eq!(new().weight(7).weight(1), SubmitOptions::default());
    assert_ne!(new().timeout(d), new().timeout(SHORT));

    // And on a full executor the submit does what the last one says.
    let mut tasks = Tasks::new(16);
    let exec = BoundedExecutor::builder().max_workers(1).capacity(1).build().unwrap();
    let gate = Opener::new();
    let busy = start_blocker(&exec, 1, &gate);
    let cases = [
        (new().no_wait().timeout(SHORT), Outcome::Refused(SubmitErrorKind::Timeout)),
        (new().timeout(SHORT).no_wait(), Outcome::Refused(SubmitErrorKind::Full)),
        (new().or_run().no_wait(), Outcome::Refused(SubmitErrorKind::Full)),
        (new().no_wait().or_run(), Outcome::Ran { here: true }),
        (new().timeout(SHORT).or_run(), Outcome::Ran { here: true }),
        (new().or_run().timeout(SHORT), Outcome::Refused(SubmitErrorKind::Timeout)),
        (new().weight(2).no_wait(), Outcome::Refused(SubmitErrorKind::Full)),
    ];
    for (opts, expected) in cases {
        let (t, f) = tasks.next();
        assert_eq!(tasks.settle(t, exec.submit_with(opts, f)), expected, "{opts:?}");
    }
    gate.open();
    join_within(busy, "the gated task").unwrap();
}

/// What happened when a producer thread submitted into a full executor (its one worker gated,
/// one task queued): where the queued task and the producer's ran, and whether the producer
/// came back while the executor was still full.
struct FullPoolRun {
    worker: ThreadId,
    producer: ThreadId,
    queued_ran_on: ThreadId,
    submitted_ran_on: ThreadId,
    returned_while_full: bool,
    helped: u64,
}

/// `helps` is the pool's setting; `expect_help` whether the submit should help, so come back
/// with the gate still closed.
fn submit_into_a_full_pool(
    helps: bool,
    expect_help: bool,
    submit: impl FnOnce(&BoundedExecutor) -> TaskHandle<ThreadId> + Send + 'static,
) -> FullPoolRun {
    let _watchdog = watchdog("a submit into a full executor");
    let exec = Arc::new(
        BoundedExecutor::builder()
            .max_workers(1)
            .capacity(2)
            .producer_helps(helps)
            .build()
            .unwrap(),
    );
    let gate = Opener::new();
    let (started_tx, started) = mpsc::channel();
    let busy = {
        let gate = gate.clone();
        exec.submit(move || {
            started_tx.send(thread::current().id()).unwrap();
            gate.wait();
        })
        .unwrap()
    };
    let worker = started.recv_timeout(WATCHDOG_LIMIT).expect("the gated task starts");
    let queued = exec.submit(|| thread::current().id()).unwrap();
    assert_eq!(exec.in_flight(), exec.capacity(), "full: one task runs, one is queued");

    let (returned_tx, returned) = mpsc::channel::<ThreadId>();
    let producer = {
        let exec = Arc::clone(&exec);
        thread::spawn(move || {
            let handle = submit(&exec);
            returned_tx.send(thread::current().id()).unwrap();
            handle
        })
    };
    // A producer that helps runs the queued task at once and takes its slot: back with the gate
    // still closed. One that does not cannot come back before the gate opens (no slot frees), so
    // this bounded wait can only pass it by; the thread ids below are the proof.
    let limit = if expect_help { WATCHDOG_LIMIT } else { Duration::from_millis(200) };
    let early = returned.recv_timeout(limit).ok();
    gate.open();
    let producer_id = match early {
        Some(id) => id,
        None => returned.recv_timeout(WATCHDOG_LIMIT).expect("the submit returns"),
    };
    let handle = producer.join().unwrap();
    join_within(busy, "the gated task").unwrap();
    FullPoolRun {
        worker,
        producer: producer_id,
        queued_ran_on: join_within(queued, "the queued task").unwrap(),
        submitted_ran_on: join_within(handle, "the producer's task").unwrap(),
        returned_while_full: early.is_some(),
        helped: exec.stats().helped,
    }
}

#[test]
fn help_false_on_a_helping_pool_never_runs_a_task_on_the_producer() {
    let _watchdog = test_watchdog("submit_with::help_false_never_runs_a_task_on_the_producer");
    // The contrast first: on this pool, `submit` (and the default options) help.
    for with in [false, true] {
        let run = submit_into_a_full_pool(true, true, move |exec| {
            let f = || thread::current().id();
            if with {
                exec.submit_with(SubmitOptions::new(), f).unwrap()
            } else {
                exec.submit(f).unwrap()
            }
        });
        assert!(run.returned_while_full, "a helping submit comes back with the gate closed");
        assert_eq!(run.queued_ran_on, run.producer, "it ran the queued task itself");
        assert_eq!(run.submitted_ran_on, run.worker);
        assert_eq!(run.helped, 1);
    }
    for opts in [SubmitOptions::new().help(false), SubmitOptions::new().weight(1).help(false)] {
        let run = submit_into_a_full_pool(true, false, move |exec| {
            exec.submit_with(opts, || thread::current().id()).unwrap()
        });
        assert!(!run.returned_while_full, "{opts:?} came back while the executor was full");
        assert_eq!(run.queued_ran_on, run.worker, "{opts:?} ran the queued task");
        assert_eq!(run.submitted_ran_on, run.worker);
        assert_ne!(run.producer, run.worker);
        assert_eq!(run.helped, 0);
    }
}

#[test]
fn help_true_never_turns_helping_on() {
    let _watchdog = test_watchdog("submit_with::help_true_never_turns_helping_on");
    let run = submit_into_a_full_pool(false, false, |exec| {
        exec.submit_with(SubmitOptions::new().help(true), || thread::current().id()).unwrap()
    });
    assert!(!run.returned_while_full);
    assert_eq!((run.queued_ran_on, run.submitted_ran_on), (run.worker, run.worker));
    assert_eq!(run.helped, 0);
}

/// How a random option set should end, on the model of the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Room,
    Nothing,
    Timeout,
    OrRun,
}

/// Random option sets (several setters in a row, conflicting ones included) against a pool
/// whose running tasks hold random slots and units, now and then shut down. Each outcome is
/// the model's, and at the end every closure ran once (by the pool, or by the test after it
/// came back), was dropped once, and the counts add up.
#[test]
fn random_option_sets_account_for_every_closure() {
    let _watchdog = test_watchdog("submit_with::random_option_sets_account_for_every_closure");
    const SEEDS: u64 = 12;
    const OPS: usize = 80;
    let mut seen = Vec::new();
    for seed in 0..SEEDS {
        let mut rng = SplitMix64(0x5eed_0023 ^ seed);
        // As many workers as slots, so that a task that fits beside the gated ones runs at once.
        let capacity = 2 + rng.below(2) as usize;
        let helps = rng.percent(50);
        let exec = BoundedExecutor::builder()
            .max_workers(capacity)
            .capacity(capacity)
            .weight_capacity(WEIGHT_CAPACITY)
            .producer_helps(helps)
            .build()
            .unwrap();
        let mut tasks = Tasks::new(OPS);
        let mut gate = Opener::new();
        let mut blockers: Vec<(u64, TaskHandle<()>)> = Vec::new();
        let (mut accepted, mut refused, mut inline) = (0u64, 0u64, 0u64);
        let mut shut = false;
        let release = |blockers: &mut Vec<(u64, TaskHandle<()>)>, gate: &mut Opener| {
            gate.open();
            for (_, blocker) in blockers.drain(..) {
                join_within(blocker, "a gated task").unwrap();
            }
            *gate = Opener::new();
        };
        for _ in 0..OPS {
            let held_units: u64 = blockers.iter().map(|&(w, _)| w).sum();
            let roll = rng.below(100);
            if roll < 15 && !shut && blockers.len() < capacity {
                let weight = rng.below(9);
                if held_units + weight <= WEIGHT_CAPACITY {
                    blockers.push((weight, start_blocker(&exec, weight, &gate)));
                }
                continue;
            }
            if roll < 22 {
                release(&mut blockers, &mut gate);
                continue;
            }
            if roll < 24 && !shut {
                release(&mut blockers, &mut gate);
                let _shutdown = watchdog("the shutdown of the random pool");
                exec.shutdown();
                shut = true;
                continue;
            }
            // A random option set, built with one to three setters, the last way to wait winning.
            let weight =
                [0, 1, 2, 3, 5, 8, WEIGHT_CAPACITY, WEIGHT_CAPACITY + 1][rng.below(8) as usize];
            let mut opts = SubmitOptions::new();
            let mut mode = Mode::Room;
            for _ in 0..=rng.below(3) {
                (opts, mode) = match rng.below(4) {
                    0 => (opts, mode),
                    1 => (opts.no_wait(), Mode::Nothing),
                    2 => (opts.timeout(Duration::from_millis(1)), Mode::Timeout),
                    _ => (opts.or_run(), Mode::OrRun),
                };
            }
            opts = opts.weight(weight).help(rng.percent(50));
            let fits = |blockers: &Vec<(u64, TaskHandle<()>)>| {
                let units: u64 = blockers.iter().map(|&(w, _)| w).sum();
                blockers.len() < capacity && units + weight <= WEIGHT_CAPACITY
            };
            if mode == Mode::Room && !shut && weight <= WEIGHT_CAPACITY && !fits(&blockers) {
                release(&mut blockers, &mut gate); // so that the wait for room ends
            }
            let expected = if shut {
                Outcome::Refused(SubmitErrorKind::Shutdown)
            } else if weight > WEIGHT_CAPACITY {
                Outcome::Refused(SubmitErrorKind::TooHeavy)
            } else if fits(&blockers) {
                Outcome::Ran { here: false }
            } else {
                match mode {
                    Mode::Room => unreachable!("released above"),
                    Mode::Nothing => Outcome::Refused(SubmitErrorKind::Full),
                    Mode::Timeout => Outcome::Refused(SubmitErrorKind::Timeout),
                    Mode::OrRun => Outcome::Ran { here: true },
                }
            };
            let (t, f) = tasks.next();
            let outcome = tasks.settle(t, exec.submit_with(opts, f));
            assert_eq!(outcome, expected, "seed {seed}, {opts:?}, blockers {}", blockers.len());
            if !seen.contains(&outcome) {
                seen.push(outcome);
            }
            match outcome {
                Outcome::Ran { here } => {
                    accepted += 1;
                    inline += u64::from(here);
                }
                Outcome::Refused(_) => refused += 1,
            }
            let units: u64 = blockers.iter().map(|&(w, _)| w).sum();
            assert_eq!(exec.weight_in_flight(), units, "seed {seed}: only the blockers hold units");
        }
        release(&mut blockers, &mut gate);
        if !shut {
            common::assert_every_slot_is_back(&exec);
            common::assert_every_unit_is_back(&exec);
        }
        let _shutdown = watchdog("the final shutdown of the random pool");
        exec.shutdown();
        let stats = exec.stats();
        let submitted = tasks.next;
        assert_eq!(accepted + refused, submitted);
        assert!(
            (0..submitted).all(|t| tasks.runs(t) == 1),
            "seed {seed}: a closure ran twice or never"
        );
        assert_eq!(
            tasks.drops.dropped() as u64,
            submitted,
            "seed {seed}: every closure dropped once"
        );
        assert_eq!(stats.inline, inline, "seed {seed}");
        assert_eq!(stats.helped, 0, "seed {seed}: no submit here waits beside queued tasks");
        assert_eq!((exec.in_flight(), exec.weight_in_flight()), (0, 0));
        // The blockers and the slot checks are the other submits the pool counted.
        assert!(stats.rejected >= refused, "seed {seed}");
    }
    // The seeds reach every outcome (a model that only ever expects one would prove nothing).
    let kinds = [SubmitErrorKind::Full, SubmitErrorKind::Timeout, SubmitErrorKind::Shutdown];
    for expected in kinds.map(Outcome::Refused).into_iter().chain([
        Outcome::Refused(SubmitErrorKind::TooHeavy),
        Outcome::Ran { here: false },
        Outcome::Ran { here: true },
    ]) {
        assert!(seen.contains(&expected), "no seed reached {expected:?}");
    }
}

/// A shutdown while a `help(false)` submit waits refuses it with the closure, and a weighted
/// caller-run task that panics comes back through `join`, holding no unit: nothing lost.
#[test]
fn a_waiting_help_false_submit_gets_its_closure_back_at_shutdown_and_inline_panics_are_contained() {
    let _watchdog = test_watchdog("submit_with::shutdown_and_panics");
    let exec = Arc::new(
        BoundedExecutor::builder()
            .max_workers(1)
            .capacity(1)
            .weight_capacity(WEIGHT_CAPACITY)
            .build()
            .unwrap(),
    );
    let gate = Opener::new();
    let busy = start_blocker(&exec, 6, &gate);

    let panicked = exec
        .submit_with(SubmitOptions::new().weight(5).or_run(), || -> u8 { panic!("inline boom") })
        .unwrap();
    assert!(panicked.join().unwrap_err().is_panic());
    assert_eq!(exec.weight_in_flight(), 6, "the inline run held no unit");

    let counter = DropCounter::new();
    let waiting = {
        let exec = Arc::clone(&exec);
        let counted = counter.make();
        thread::spawn(move || {
            let opts = SubmitOptions::new().help(false);
            match exec.submit_with(opts, move || drop(counted)) {
                Err(SubmitError::Shutdown(f)) => f,
                other => panic!("expected Shutdown, got {:?}", other.map(|_| ())),
            }
        })
    };
    // Whether it parked before the shutdown or arrives after it, it is refused the same way.
    exec.shutdown_background();
    let f = waiting.join().expect("the waiting submit returns its closure");
    assert_eq!(counter.dropped(), 0, "the closure came back whole");
    f();
    assert_eq!(counter.dropped(), 1);
    gate.open();
    join_within(busy, "the gated task").unwrap();
}
