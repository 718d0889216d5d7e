//! Tasks run with the pool's configuration, or the user asked otherwise: a pool that sets
//! `stack_size`, `on_thread_start` or `on_thread_stop` does not let blocked producers help (run
//! its tasks on their own threads) unless `producer_helps(true)` is called (issue 19, item 8).
//! A helped task had run a deep task of a 64 MiB-stack pool on a producer's small stack (the
//! process aborted) and tasks of a pool with a start hook without what the hook set up.

mod common;

use std::cell::Cell;
use std::hint::black_box;
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

use bounded_executor::{BoundedExecutor, Builder, TaskHandle};
use common::{join_within, start_gated, watchdog, Gate};

thread_local! {
    static SET_UP: Cell<bool> = const { Cell::new(false) };
}

/// Recursion about 8 KiB a frame (kept by `black_box`): `depth` 2048 needs some 16 MiB of stack,
/// far past a 1 MiB producer thread, well within 64 MiB.
fn deep(depth: u32) -> u64 {
    let frame = black_box([depth as u8; 8192]);
    if depth == 0 {
        return u64::from(frame[0]);
    }
    deep(depth - 1) + u64::from(black_box(frame[4096]))
}

/// Fills `exec` (one worker, capacity 2): a gated task on the worker and `queued` behind it.
fn full<T: Send + 'static>(
    exec: &BoundedExecutor,
    queued: impl FnOnce() -> T + Send + 'static,
) -> (Gate, TaskHandle<()>, TaskHandle<T>) {
    assert_eq!((exec.max_workers(), exec.capacity()), (1, 2));
    let gate = Gate::new();
    let busy = start_gated(exec, 1, &gate).pop().unwrap();
    let queued = exec.submit(queued).unwrap();
    (gate, busy, queued)
}

/// A producer thread (1 MiB of stack) submits into the full executor: it must wait, not help,
/// so it cannot return before the gate opens.
fn producer_waits_for_a_worker<T: Send + 'static>(
    exec: &Arc<BoundedExecutor>,
    task: impl FnOnce() -> T + Send + 'static,
) -> thread::JoinHandle<T> {
    let (returned_tx, returned) = mpsc::channel();
    let producer = {
        let exec = Arc::clone(exec);
        thread::Builder::new()
            .stack_size(1 << 20)
            .spawn(move || {
                let handle = exec.submit(task).unwrap();
                // Nobody listens any more once the check below is over.
                let _ = returned_tx.send(());
                join_within(handle, "the producer's task").unwrap()
            })
            .unwrap()
    };
    assert!(
        returned.recv_timeout(Duration::from_millis(200)).is_err(),
        "the producer's submit returned while the executor was full: it ran a queued task"
    );
    producer
}

#[test]
fn a_deep_task_of_a_big_stack_pool_runs_on_a_worker_when_the_pool_is_full() {
    let _watchdog = common::test_watchdog(
        "where_tasks_run::a_deep_task_of_a_big_stack_pool_runs_on_a_worker_when_the_pool_is_full",
    );
    let _watchdog = watchdog("a deep task of a 64 MiB-stack pool");
    let exec = Arc::new(
        Builder::new()
            .max_workers(1)
            .capacity(2)
            .stack_size(64 << 20)
            .thread_name("deep")
            .build()
            .unwrap(),
    );
    let (gate, busy, queued) =
        full(&exec, || (deep(2048), thread::current().name().map(str::to_owned)));
    let producer = producer_waits_for_a_worker(&exec, || ());
    gate.open();
    join_within(busy, "the gated task").unwrap();
    let (sum, ran_on) = join_within(queued, "the deep task").unwrap();
    // Each frame adds its depth's low byte.
    assert_eq!(sum, (1..=2048u32).map(|depth| u64::from(depth as u8)).sum::<u64>());
    assert_eq!(ran_on.as_deref(), Some("deep-0"));
    producer.join().unwrap();
    assert_eq!(exec.stats().helped, 0);
}

#[test]
fn what_a_start_hook_sets_up_is_there_for_every_task() {
    let _watchdog =
        common::test_watchdog("where_tasks_run::what_a_start_hook_sets_up_is_there_for_every_task");
    let _watchdog = watchdog("tasks of a pool with a start hook");
    let exec = Arc::new(
        Builder::new()
            .max_workers(1)
            .capacity(2)
            .on_thread_start(|_| SET_UP.with(|s| s.set(true)))
            .build()
            .unwrap(),
    );
    let (gate, busy, queued) = full(&exec, || SET_UP.with(Cell::get));
    let producer = producer_waits_for_a_worker(&exec, || SET_UP.with(Cell::get));
    gate.open();
    join_within(busy, "the gated task").unwrap();
    assert!(join_within(queued, "the queued task").unwrap(), "ran without the start hook");
    assert!(producer.join().unwrap(), "the producer's task ran without the start hook");
    // Many producers at once into a small pool: every task sees the hook's thread-local.
    let producers: Vec<_> = (0..3)
        .map(|_| {
            let exec = Arc::clone(&exec);
            thread::spawn(move || {
                let handles: Vec<_> =
                    (0..200).map(|_| exec.submit(|| SET_UP.with(Cell::get)).unwrap()).collect();
                handles.into_iter().all(|h| join_within(h, "a task").unwrap())
            })
        })
        .collect();
    for producer in producers {
        assert!(producer.join().unwrap(), "a task ran without the start hook");
    }
    assert_eq!(exec.stats().helped, 0);
}

#[test]
fn a_stop_hook_alone_keeps_tasks_on_the_workers_too() {
    let _watchdog =
        common::test_watchdog("where_tasks_run::a_stop_hook_alone_keeps_tasks_on_the_workers_too");
    let _watchdog = watchdog("tasks of a pool with a stop hook");
    let exec =
        Arc::new(Builder::new().max_workers(1).capacity(2).on_thread_stop(|_| ()).build().unwrap());
    let (gate, busy, queued) = full(&exec, || thread::current().name().map(str::to_owned));
    let producer = producer_waits_for_a_worker(&exec, || ());
    gate.open();
    join_within(busy, "the gated task").unwrap();
    let ran_on = join_within(queued, "the queued task").unwrap();
    assert_eq!(ran_on.as_deref(), Some("bounded-executor-0"));
    producer.join().unwrap();
    assert_eq!(exec.stats().helped, 0);
}

/// The user asked: `producer_helps(true)` with hooks and a stack size, in either order, helps.
#[test]
fn producer_helps_true_turns_helping_on_with_a_configured_pool_in_any_order() {
    let _watchdog = common::test_watchdog(
        "where_tasks_run::producer_helps_true_turns_helping_on_with_a_configured_pool_in_any_order",
    );
    let _watchdog = watchdog("an explicit producer_helps(true)");
    let builders = [
        Builder::new().producer_helps(true).stack_size(4 << 20).on_thread_start(|_| ()),
        Builder::new().stack_size(4 << 20).on_thread_start(|_| ()).producer_helps(true),
    ];
    for builder in builders {
        let exec = builder.max_workers(1).capacity(2).build().unwrap();
        let (gate, busy, queued) = full(&exec, || thread::current().id());
        // Full: this submit runs the queued task here, then takes over its slot; back with the
        // gate still closed.
        let mine = exec.submit(|| ()).unwrap();
        assert_eq!(join_within(queued, "the helped task").unwrap(), thread::current().id());
        assert_eq!(exec.stats().helped, 1);
        gate.open();
        join_within(busy, "the gated task").unwrap();
        join_within(mine, "the producer's task").unwrap();
    }
}

/// The defaults are unchanged where nothing about the threads is configured: producers help.
#[test]
fn an_unconfigured_pool_still_helps_by_default_and_false_turns_it_off() {
    let _watchdog = common::test_watchdog(
        "where_tasks_run::an_unconfigured_pool_still_helps_by_default_and_false_turns_it_off",
    );
    let _watchdog = watchdog("the default pool's helping");
    let exec = Builder::new().max_workers(1).capacity(2).thread_name("plain").build().unwrap();
    let (gate, busy, queued) = full(&exec, || thread::current().id());
    let mine = exec.submit(|| ()).unwrap();
    assert_eq!(join_within(queued, "the helped task").unwrap(), thread::current().id());
    gate.open();
    join_within(busy, "the gated task").unwrap();
    join_within(mine, "the producer's task").unwrap();
    let exec =
        Arc::new(Builder::new().max_workers(1).capacity(2).producer_helps(false).build().unwrap());
    let (gate, busy, queued) = full(&exec, || thread::current().id());
    let producer = producer_waits_for_a_worker(&exec, || ());
    gate.open();
    join_within(busy, "the gated task").unwrap();
    assert_ne!(join_within(queued, "the queued task").unwrap(), thread::current().id());
    producer.join().unwrap();
}
