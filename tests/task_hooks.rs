//! `Builder::before_task` and `after_task`: every task that runs calls each once, on the thread
//! that runs it, with the right worker index, queue wait, run time and panic flag; cancelled and
//! refused tasks call neither; a panicking hook is contained and counted, and changes no result.
//!
//! Each task is *tagged*: its closure first takes the `TaskInfo` that `before_task` left in a
//! thread-local (so a task that runs without its `before_task` is caught), then pushes its tag on
//! a thread-local stack that `after_task` pops (so each `after_task` is paired with its task,
//! nested inline runs included). The hooks check what they can and record a mismatch as an
//! error rather than panic, so that `hook_panics` counts only the panics a test asks for.

mod common;

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use bounded_executor::{BoundedExecutor, Builder, TaskHandle, TaskInfo, TaskSet};
use common::{Gate, Opener, SplitMix64, WATCHDOG_LIMIT};

thread_local! {
    /// What `before_task` told the task about to run on this thread.
    static PENDING: Cell<Option<TaskInfo>> = const { Cell::new(None) };
    /// Tags of the tasks running on this thread, innermost last.
    static RUNNING: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

/// What the hooks saw.
#[derive(Default)]
struct Log {
    before: Mutex<Vec<(u64, TaskInfo)>>,
    after: Mutex<Vec<(u64, TaskInfo)>>,
    errors: Mutex<Vec<String>>,
    before_calls: AtomicU64,
    after_calls: AtomicU64,
    /// Hook calls `k` (counted from 0) that panic: `k % n == r`, for `before` and `after`.
    panic_before: Option<(u64, u64)>,
    panic_after: Option<(u64, u64)>,
}

impl Log {
    fn error(&self, message: String) {
        self.errors.lock().unwrap().push(message);
    }

    /// Each tag's `before_task` and `after_task` infos, in the order seen.
    fn by_tag(&self) -> BTreeMap<u64, (Vec<TaskInfo>, Vec<TaskInfo>)> {
        let mut tags: BTreeMap<u64, (Vec<TaskInfo>, Vec<TaskInfo>)> = BTreeMap::new();
        for &(tag, info) in self.before.lock().unwrap().iter() {
            tags.entry(tag).or_default().0.push(info);
        }
        for &(tag, info) in self.after.lock().unwrap().iter() {
            tags.entry(tag).or_default().1.push(info);
        }
        tags
    }

    /// The one `after_task` info of `tag`; fails unless there is exactly one `before_task` and
    /// one `after_task` for it.
    fn once(&self, tag: u64) -> (TaskInfo, TaskInfo) {
        let tags = self.by_tag();
        match tags.get(&tag) {
            Some((before, after)) if before.len() == 1 && after.len() == 1 => (before[0], after[0]),
            other => panic!("task {tag}: expected one before and one after, got {other:?}"),
        }
    }

    fn assert_no_errors(&self) {
        let errors = self.errors.lock().unwrap();
        assert!(errors.is_empty(), "the hooks saw: {errors:#?}");
    }
}

/// Checks what a hook can check by itself: the index against the thread's name.
fn check_worker(log: &Log, info: &TaskInfo, prefix: &str, max_workers: usize) {
    let name = thread::current().name().map(str::to_owned);
    match info.worker() {
        Some(index) => {
            if index >= max_workers || name.as_deref() != Some(&format!("{prefix}-{index}")) {
                log.error(format!("worker {index} on thread {name:?} of max {max_workers}"));
            }
        }
        None => {
            if name.as_deref().is_some_and(|name| name.starts_with(&format!("{prefix}-"))) {
                log.error(format!("no worker index on worker thread {name:?}"));
            }
        }
    }
}

/// A builder with both hooks recording into `log`, threads named `prefix-<index>`.
fn recorded(log: &Arc<Log>, prefix: &'static str, max_workers: usize) -> Builder {
    let (before_log, after_log) = (Arc::clone(log), Arc::clone(log));
    BoundedExecutor::builder()
        .max_workers(max_workers)
        .thread_name(prefix)
        .before_task(move |info| {
            let log = &*before_log;
            let k = log.before_calls.fetch_add(1, Ordering::SeqCst);
            check_worker(log, info, prefix, max_workers);
            if info.run_time().is_some() || info.panicked() {
                log.error(format!("before_task told of an end: {info:?}"));
            }
            if PENDING.replace(Some(*info)).is_some() {
                log.error("before_task twice without its task in between".into());
            }
            if log.panic_before.is_some_and(|(n, r)| k % n == r) {
                panic!("before_task panics on call {k}");
            }
        })
        .after_task(move |info| {
            let log = &*after_log;
            let k = log.after_calls.fetch_add(1, Ordering::SeqCst);
            check_worker(log, info, prefix, max_workers);
            match RUNNING.with(|running| running.borrow_mut().pop()) {
                Some(tag) => log.after.lock().unwrap().push((tag, *info)),
                None => log.error(format!("after_task without a task: {info:?}")),
            }
            if info.run_time().is_none() {
                log.error(format!("after_task without a run time: {info:?}"));
            }
            if log.panic_after.is_some_and(|(n, r)| k % n == r) {
                panic!("after_task panics on call {k}");
            }
        })
}

/// The start of a tagged task's body, on the thread that runs it.
fn enter(log: &Log, tag: u64) {
    match PENDING.take() {
        Some(info) => log.before.lock().unwrap().push((tag, info)),
        None => log.error(format!("task {tag} ran without its before_task")),
    }
    RUNNING.with(|running| running.borrow_mut().push(tag));
}

/// `f` as task `tag`.
fn tagged<'a, T>(
    log: &Arc<Log>,
    tag: u64,
    f: impl FnOnce() -> T + Send + 'a,
) -> impl FnOnce() -> T + Send + 'a {
    let log = Arc::clone(log);
    move || {
        enter(&log, tag);
        f()
    }
}

/// Submits task `tag`, which waits on `gate`, and returns once it runs.
fn gated(exec: &BoundedExecutor, log: &Arc<Log>, tag: u64, gate: &Gate) -> TaskHandle<()> {
    let (started_tx, started) = mpsc::channel();
    let gate = gate.clone();
    let handle = exec
        .submit(tagged(log, tag, move || {
            started_tx.send(()).unwrap();
            gate.wait();
        }))
        .unwrap();
    started.recv_timeout(WATCHDOG_LIMIT).expect("the gated task starts");
    handle
}

#[test]
fn every_task_calls_each_hook_once_on_the_worker_that_runs_it() {
    let _watchdog = common::test_watchdog(
        "task_hooks::every_task_calls_each_hook_once_on_the_worker_that_runs_it",
    );
    let log = Arc::new(Log::default());
    let workers = 3;
    let exec = recorded(&log, "each", workers).producer_helps(false).build().unwrap();
    // Three tasks that meet at a barrier: one on each worker.
    let barrier = Arc::new(common::Barrier::new(workers, "one task per worker"));
    let together: Vec<_> = (0..workers as u64)
        .map(|tag| {
            let barrier = Arc::clone(&barrier);
            exec.submit(tagged(&log, tag, move || barrier.wait())).unwrap()
        })
        .collect();
    for (tag, handle) in together.into_iter().enumerate() {
        common::join_within(handle, "a task at the barrier").unwrap();
        // Joined: its after_task has returned.
        log.once(tag as u64);
    }
    let indices: std::collections::BTreeSet<_> =
        (0..workers as u64).map(|tag| log.once(tag).1.worker()).collect();
    assert_eq!(indices, (0..workers).map(Some).collect());
    for tag in 3..200 {
        let handle = exec.submit(tagged(&log, tag, move || tag * 2)).unwrap();
        assert_eq!(common::join_within(handle, "a task").unwrap(), tag * 2);
        let (before, after) = log.once(tag);
        assert!(before.worker().is_some(), "helping is off: every task runs on a worker");
        assert_eq!(before.worker(), after.worker());
        assert_eq!(before.queue_wait(), after.queue_wait());
        assert!(!after.panicked());
    }
    exec.shutdown();
    log.assert_no_errors();
    assert_eq!(log.by_tag().len(), 200);
    assert_eq!(log.before_calls.load(Ordering::SeqCst), 200);
    assert_eq!(log.after_calls.load(Ordering::SeqCst), 200);
    assert_eq!(exec.stats().hook_panics, 0);
}

#[test]
fn queue_wait_and_run_time_cover_the_waits_forced_on_them() {
    let _watchdog =
        common::test_watchdog("task_hooks::queue_wait_and_run_time_cover_the_waits_forced_on_them");
    let log = Arc::new(Log::default());
    let exec = recorded(&log, "wait", 1).producer_helps(false).capacity(4).build().unwrap();
    let gate = Opener::new();
    let held = gated(&exec, &log, 0, &gate);
    // Queued behind the gated task on the only worker, for at least `forced`.
    let since = Instant::now();
    let queued = exec.submit(tagged(&log, 1, || ())).unwrap();
    let forced = Duration::from_millis(50);
    thread::sleep(forced);
    gate.open();
    common::join_within(held, "the gated task").unwrap();
    common::join_within(queued, "the queued task").unwrap();
    let (before, after) = log.once(1);
    assert!(before.queue_wait() >= forced, "queued {forced:?}, told {:?}", before.queue_wait());
    assert!(before.queue_wait() <= since.elapsed(), "admitted after `since`, started before now");
    assert_eq!(before.queue_wait(), after.queue_wait());
    // The gated task ran at least as long as the gate stayed shut.
    assert!(log.once(0).1.run_time().unwrap() >= forced);
    // A task that runs for a known time.
    let run = Duration::from_millis(30);
    let sleeper = exec.submit(tagged(&log, 2, move || thread::sleep(run))).unwrap();
    common::join_within(sleeper, "the sleeping task").unwrap();
    assert!(log.once(2).1.run_time().unwrap() >= run);
    log.assert_no_errors();
    assert_eq!(exec.stats().hook_panics, 0);
}

#[test]
fn panicked_tells_whether_the_task_panicked_and_join_still_gets_the_panic() {
    let _watchdog = common::test_watchdog(
        "task_hooks::panicked_tells_whether_the_task_panicked_and_join_still_gets_the_panic",
    );
    let log = Arc::new(Log::default());
    let exec = recorded(&log, "panicky", 2).build().unwrap();
    let handles: Vec<_> = (0..40u64)
        .map(|tag| {
            let f = move || {
                if tag % 3 == 0 {
                    panic!("task {tag} panics");
                }
                tag
            };
            (tag, exec.submit(tagged(&log, tag, f)).unwrap())
        })
        .collect();
    for (tag, handle) in handles {
        let result = common::join_within(handle, "a task that may panic");
        assert_eq!(result.is_err(), tag % 3 == 0);
        if let Err(err) = result {
            assert!(err.is_panic());
        }
        assert_eq!(log.once(tag).1.panicked(), tag % 3 == 0, "task {tag}");
    }
    let stats = exec.stats();
    assert_eq!((stats.completed, stats.panicked, stats.hook_panics), (40, 14, 0));
    log.assert_no_errors();
}

/// A panic payload whose `Drop` panics too.
struct Bomb;

impl Drop for Bomb {
    fn drop(&mut self) {
        panic!("the payload's Drop panics");
    }
}

#[test]
fn panicking_hooks_are_contained_counted_and_change_no_result() {
    let _watchdog = common::test_watchdog(
        "task_hooks::panicking_hooks_are_contained_counted_and_change_no_result",
    );
    let after_calls = Arc::new(AtomicU64::new(0));
    let calls = Arc::clone(&after_calls);
    let exec = BoundedExecutor::builder()
        .max_workers(2)
        .before_task(|_| {
            std::panic::panic_any(Bomb);
        })
        .after_task(move |info| {
            calls.fetch_add(1, Ordering::SeqCst);
            panic!("after_task panics; the task panicked: {}", info.panicked());
        })
        .build()
        .unwrap();
    for round in 0..3u64 {
        let handles: Vec<_> = (0..20u64).map(|i| exec.submit(move || i + round).unwrap()).collect();
        for (i, handle) in handles.into_iter().enumerate() {
            let value = common::join_within(handle, "a task with panicking hooks").unwrap();
            assert_eq!(value, i as u64 + round);
        }
        let failing = exec.submit(|| -> u64 { panic!("the task's own panic") }).unwrap();
        let err = common::join_within(failing, "a panicking task").unwrap_err();
        assert_eq!(*err.into_panic().downcast::<&str>().unwrap(), "the task's own panic");
        // The pool still has both workers: two tasks meet.
        common::run_together(&exec, 2);
    }
    // Per round: 20 + 1 + 2 tasks, each with two panicking hooks.
    exec.wait_idle();
    assert_eq!(after_calls.load(Ordering::SeqCst), 3 * 23);
    let stats = exec.stats();
    assert_eq!(stats.hook_panics, 2 * 3 * 23);
    assert_eq!((stats.completed, stats.panicked), (3 * 23, 3));
    assert_eq!(exec.workers(), 2);
}

#[test]
fn tasks_off_the_workers_have_no_index_and_inline_runs_on_a_worker_have_its_own() {
    let _watchdog = common::test_watchdog(
        "task_hooks::tasks_off_the_workers_have_no_index_and_inline_runs_on_a_worker_have_its_own",
    );
    let main = thread::current().id();
    // Task hooks leave producer helping on (the default): a producer that finds the executor
    // full runs a queued task itself, and its hooks say so.
    let log = Arc::new(Log::default());
    let exec = recorded(&log, "off", 1).capacity(2).build().unwrap();
    let gate = Opener::new();
    let held = gated(&exec, &log, 0, &gate); // the only worker, one slot
    let queued = exec.submit(tagged(&log, 1, move || thread::current().id())).unwrap();
    // Full: this submit runs task 1 here before it gets a slot.
    let after_help = exec.submit(tagged(&log, 2, || ())).unwrap();
    assert!(queued.is_finished());
    assert_eq!(common::join_within(queued, "the helped task").unwrap(), main);
    assert_eq!(log.once(1).0.worker(), None);
    assert_eq!(log.once(1).1.worker(), None);
    assert_eq!(exec.stats().helped, 1);
    // Full again (tasks 0 and 2): caller-runs, here.
    let ran_here = exec.submit_or_run(tagged(&log, 3, move || thread::current().id())).unwrap();
    assert!(ran_here.is_finished());
    assert_eq!(ran_here.join().unwrap(), main);
    assert_eq!(log.once(3).1.worker(), None);
    assert!(log.once(3).0.queue_wait() < Duration::from_secs(1));
    gate.open();
    common::join_within(held, "the gated task").unwrap();
    common::join_within(after_help, "the task after the help").unwrap();
    assert_eq!(log.once(2).1.worker(), Some(0));

    // A nested submit to the full executor runs inline on the worker, and a join of a task that
    // has not started runs it there too: both under the worker's index.
    let exec = Arc::new(recorded(&log, "off", 1).capacity(1).build().unwrap());
    let (inner_exec, inner_log) = (Arc::clone(&exec), Arc::clone(&log));
    let nested = exec
        .submit(tagged(&log, 10, move || {
            let child = inner_exec.submit(tagged(&inner_log, 11, || 11)).unwrap();
            assert!(child.is_finished(), "full: the child ran inline");
            child.join().unwrap()
        }))
        .unwrap();
    assert_eq!(common::join_within(nested, "the nesting task").unwrap(), 11);
    assert_eq!(log.once(11).1.worker(), Some(0));
    assert_eq!(log.once(10).1.worker(), Some(0));
    exec.set_capacity(2).unwrap();
    let (inner_exec, inner_log) = (Arc::clone(&exec), Arc::clone(&log));
    let joining = exec
        .submit(tagged(&log, 12, move || {
            // Room for it: queued, and not started, since the only worker runs this task.
            let child = inner_exec.submit(tagged(&inner_log, 13, || 13)).unwrap();
            child.join().unwrap()
        }))
        .unwrap();
    assert_eq!(common::join_within(joining, "the joining task").unwrap(), 13);
    exec.wait_idle(); // the child's husk is popped: it must not run its hooks again
    assert_eq!(log.once(13).1.worker(), Some(0));
    log.assert_no_errors();
    assert_eq!(exec.stats().hook_panics, 0);
}

#[test]
fn cancelled_tasks_call_no_hooks() {
    let _watchdog = common::test_watchdog("task_hooks::cancelled_tasks_call_no_hooks");
    let log = Arc::new(Log::default());
    let exec = Arc::new(recorded(&log, "cancel", 1).capacity(8).build().unwrap());
    let gate = Opener::new();
    let (inner_exec, inner_gate) = (Arc::clone(&exec), gate.clone());
    // On the only worker: waits for the gate, then cancels what is queued behind it.
    let shutdown_now = exec
        .submit(tagged(&log, 0, move || {
            inner_gate.wait();
            inner_exec.shutdown_now()
        }))
        .unwrap();
    let by_handle = exec.submit(tagged(&log, 1, || ())).unwrap();
    assert!(by_handle.cancel());
    let queued: Vec<_> = (2..5).map(|tag| exec.submit(tagged(&log, tag, || ())).unwrap()).collect();
    let mut set = TaskSet::new(&exec);
    set.submit(tagged(&log, 5, || ())).unwrap();
    assert_eq!(set.cancel_all(), 1);
    drop(set);
    gate.open();
    assert_eq!(common::join_within(shutdown_now, "the task that shuts down").unwrap(), 3);
    for handle in queued {
        assert!(common::join_within(handle, "a cancelled task").unwrap_err().is_cancelled());
    }
    exec.shutdown();
    assert_eq!(log.by_tag().keys().copied().collect::<Vec<_>>(), [0]);
    log.once(0);
    assert_eq!(exec.stats().cancelled, 5);
    log.assert_no_errors();
}

#[test]
fn every_way_of_submitting_runs_the_hooks() {
    let _watchdog = common::test_watchdog("task_hooks::every_way_of_submitting_runs_the_hooks");
    let log = Arc::new(Log::default());
    let exec = recorded(&log, "ways", 2).weight_capacity(10).build().unwrap();
    let mut expected = Vec::new();
    let mut tag = 0;
    let mut next = || {
        tag += 1;
        tag
    };
    let t = next();
    exec.execute(tagged(&log, t, || ())).unwrap();
    expected.push(t);
    let t = next();
    // try_submit may find the executor full (then nothing runs): count it only if it got in.
    if let Ok(handle) = exec.try_submit(tagged(&log, t, || ())) {
        handle.join().unwrap();
        expected.push(t);
    }
    let t2 = next();
    exec.submit_timeout(tagged(&log, t2, || ()), WATCHDOG_LIMIT).unwrap().join().unwrap();
    let t3 = next();
    exec.submit_weighted(3, tagged(&log, t3, || ())).unwrap().join().unwrap();
    let t4 = next();
    common::block_on(exec.submit_async(tagged(&log, t4, || ()))).unwrap().join().unwrap();
    expected.extend([t2, t3, t4]);
    let map_log = Arc::clone(&log);
    let mapped: Vec<u64> = exec
        .map(100..110u64, move |i| {
            enter(&map_log, i);
            i
        })
        .map(Result::unwrap)
        .collect();
    assert_eq!(mapped, (100..110).collect::<Vec<_>>());
    let map_log = Arc::clone(&log);
    let unordered = exec
        .map_unordered(200..210u64, move |i| {
            enter(&map_log, i);
            i
        })
        .count();
    assert_eq!(unordered, 10);
    expected.extend(100..110);
    expected.extend(200..210);
    let mut set = TaskSet::new(&exec);
    let mut joined = 0;
    for t in 300..310 {
        if set.len() == exec.capacity() {
            set.join_next().unwrap().unwrap(); // a set holds at most capacity() results
            joined += 1;
        }
        set.submit(tagged(&log, t, move || t)).unwrap();
        expected.push(t);
    }
    while let Some(result) = set.join_next() {
        result.unwrap();
        joined += 1;
    }
    assert_eq!(joined, 10);
    let mut data = [5, 4, 3, 2, 1];
    exec.scope(|s| {
        for (i, x) in data.iter_mut().enumerate() {
            let t = 400 + i as u64;
            expected.push(t);
            let _ = s.submit(tagged(&log, t, move || *x *= 10));
        }
        // A scoped task that panics, joined: its after_task ran before the scope ended.
        expected.push(450);
        let failing = s.submit(tagged(&log, 450, || panic!("a scoped task panics")));
        assert!(failing.join().unwrap_err().is_panic());
    });
    assert_eq!(data, [50, 40, 30, 20, 10]);
    assert!(log.once(450).1.panicked());
    for i in 0..5 {
        log.once(400 + i); // the scope has ended: every one of its tasks' after_task returned
    }
    exec.shutdown();
    expected.sort_unstable();
    assert_eq!(log.by_tag().keys().copied().collect::<Vec<_>>(), expected);
    for &t in &expected {
        log.once(t);
    }
    log.assert_no_errors();
    assert_eq!(exec.stats().hook_panics, 0);
}

#[test]
fn builder_debug_shows_the_task_hooks() {
    let builder = BoundedExecutor::builder().after_task(|_| ());
    let debug = format!("{builder:?}");
    assert!(debug.contains("before_task: None"), "{debug}");
    assert!(debug.contains("after_task: Some(<closure>)"), "{debug}");
}

/// How many of the calls `0..calls` panic, for a hook that panics on `k % n == r`.
fn panicking_calls(calls: u64, (n, r): (u64, u64)) -> u64 {
    (0..calls).filter(|k| k % n == r).count() as u64
}

#[test]
fn randomized_mix_runs_the_hooks_of_exactly_the_tasks_that_run() {
    let _watchdog = common::test_watchdog(
        "task_hooks::randomized_mix_runs_the_hooks_of_exactly_the_tasks_that_run",
    );
    let mut rng = SplitMix64(0x7a5c_600c_u64 ^ 24);
    for round in 0..common::rounds(200, 3) {
        let workers = 1 + rng.below(3) as usize;
        let panic_before = Some((2 + rng.below(6), rng.below(2)));
        let panic_after = Some((2 + rng.below(6), rng.below(2)));
        let log = Arc::new(Log { panic_before, panic_after, ..Log::default() });
        let exec = Arc::new(
            recorded(&log, "mix", workers)
                .capacity(1 + rng.below(6) as usize)
                .producer_helps(rng.percent(50))
                .build()
                .unwrap(),
        );
        let mut ran: BTreeMap<u64, bool> = BTreeMap::new(); // tag -> panics
        let mut tag = 0u64;
        let mut handles = Vec::new();
        for _ in 0..30 + rng.below(40) {
            tag += 1;
            let panics = rng.percent(20);
            let body = move || {
                if panics {
                    panic!("a planned panic");
                }
            };
            match rng.below(8) {
                0 => {
                    handles.push(exec.submit(tagged(&log, tag, body)).unwrap());
                    ran.insert(tag, panics);
                }
                1 => {
                    if let Ok(handle) = exec.try_submit(tagged(&log, tag, body)) {
                        handles.push(handle);
                        ran.insert(tag, panics);
                    }
                }
                2 => {
                    exec.execute(tagged(&log, tag, body)).unwrap();
                    ran.insert(tag, panics);
                }
                3 => {
                    handles.push(exec.submit_or_run(tagged(&log, tag, body)).unwrap());
                    ran.insert(tag, panics);
                }
                4 => {
                    let (first, map_log) = (tag * 1000, Arc::clone(&log));
                    let n = rng.below(5);
                    let results: Vec<_> = exec
                        .map(0..n, move |i| {
                            enter(&map_log, first + i);
                            if panics && i == 0 {
                                panic!("a planned panic in a map");
                            }
                        })
                        .collect();
                    assert_eq!(results.len() as u64, n);
                    for i in 0..n {
                        assert_eq!(results[i as usize].is_err(), panics && i == 0);
                        ran.insert(first + i, panics && i == 0);
                    }
                }
                5 => {
                    let mut set = TaskSet::new(&exec);
                    for i in 0..rng.below(4) {
                        if set.len() == exec.capacity() {
                            assert_eq!(set.join_next().unwrap().is_err(), panics);
                        }
                        let t = tag * 1000 + i;
                        set.submit(tagged(&log, t, body)).unwrap();
                        ran.insert(t, panics);
                    }
                    while let Some(result) = set.join_next() {
                        assert_eq!(result.is_err(), panics);
                    }
                }
                6 => {
                    // A task that submits a child to its own executor (inline when full).
                    let (child_exec, child_log, child) =
                        (Arc::clone(&exec), Arc::clone(&log), tag * 1000);
                    let parent = move || {
                        let handle = child_exec.submit(tagged(&child_log, child, || 7)).unwrap();
                        assert_eq!(handle.join().unwrap(), 7);
                        body();
                    };
                    handles.push(exec.submit(tagged(&log, tag, parent)).unwrap());
                    ran.insert(tag, panics);
                    ran.insert(child, false);
                }
                _ => {
                    let handle = exec.submit(tagged(&log, tag, body)).unwrap();
                    if !handle.cancel() {
                        ran.insert(tag, panics); // it had started: it runs to the end
                    }
                    handles.push(handle);
                }
            }
        }
        for handle in handles {
            let _ = common::join_within(handle, "a task of the mix");
        }
        exec.shutdown(); // every task's after_task has returned
        let tags = log.by_tag();
        assert_eq!(
            tags.keys().copied().collect::<Vec<_>>(),
            ran.keys().copied().collect::<Vec<_>>(),
            "round {round}: the tasks with hooks are the tasks that ran"
        );
        for (t, &panics) in &ran {
            let (before, after) = log.once(*t);
            assert_eq!(after.panicked(), panics, "round {round}, task {t}");
            assert_eq!(before.worker(), after.worker(), "round {round}, task {t}");
            assert!(before.run_time().is_none() && after.run_time().is_some());
        }
        let runs = ran.len() as u64;
        assert_eq!(log.before_calls.load(Ordering::SeqCst), runs);
        assert_eq!(log.after_calls.load(Ordering::SeqCst), runs);
        let stats = exec.stats();
        let hook_panics = panicking_calls(runs, log.panic_before.unwrap())
            + panicking_calls(runs, log.panic_after.unwrap());
        assert_eq!(stats.hook_panics, hook_panics, "round {round}");
        assert_eq!(stats.completed, runs, "round {round}");
        assert_eq!(stats.panicked, ran.values().filter(|&&p| p).count() as u64, "round {round}");
        assert_eq!(stats.submitted, stats.completed + stats.cancelled, "round {round}");
        log.assert_no_errors();
    }
}
