//! A thread's worker identity is a stack: a worker of E1 that helps a full E2 (or runs a task of
//! E2 with `submit_or_run`) is still E1's worker inside that task, so a submit to its own full
//! E1 runs inline and a join of an E1 task that has not started runs it, instead of waiting for
//! the one thread that could (issue 19, item 3).

mod common;

use std::sync::{mpsc, Arc};

use bounded_executor::{BoundedExecutor, TaskHandle};
use common::{join_within, watchdog, Gate, WATCHDOG_LIMIT};

/// One worker; `capacity` slots; helping asked for explicitly.
fn single(capacity: usize) -> Arc<BoundedExecutor> {
    Arc::new(
        BoundedExecutor::builder()
            .max_workers(1)
            .capacity(capacity)
            .producer_helps(true)
            .build()
            .unwrap(),
    )
}

/// Occupies `exec`'s only worker with a task that waits on the returned gate, and returns once it
/// runs.
fn occupy(exec: &BoundedExecutor) -> (Gate, TaskHandle<()>) {
    let gate = Gate::new();
    let (started_tx, started) = mpsc::channel();
    let inner = gate.clone();
    let busy = exec
        .submit(move || {
            started_tx.send(()).unwrap();
            inner.wait();
        })
        .unwrap();
    started.recv_timeout(WATCHDOG_LIMIT).expect("the gated task starts");
    (gate, busy)
}

/// E1's only worker runs a task that makes E2 full (its worker gated, `queued` waiting behind
/// it) and then submits to E2: it helps, and the helped task calls `inside` on E1 from E1's own
/// worker thread.
/// `inside` returns 5; `e1_inline` is how many of E1's tasks it ran inline.
fn help_e2_from_e1s_worker(
    e1_inline: u64,
    inside: impl FnOnce(Arc<BoundedExecutor>) -> u64 + Send + 'static,
) {
    let e1 = single(1);
    let e2 = single(2);
    let (e1_in, e2_in) = (Arc::clone(&e1), Arc::clone(&e2));
    let outer = e1
        .submit(move || {
            let (gate, busy) = occupy(&e2_in);
            let queued = e2_in.submit(move || inside(e1_in)).unwrap();
            // E2 is full (the gated task runs, `queued` waits): this submit helps with `queued`
            // on E1's worker thread, then takes over its slot.
            let mine = e2_in.submit(|| 1).unwrap();
            assert_eq!(e2_in.stats().helped, 1, "the submit helped with the queued task");
            assert!(queued.is_finished());
            gate.open();
            join_within(busy, "E2's gated task").unwrap();
            join_within(queued, "the helped task").unwrap()
                + join_within(mine, "E2's task").unwrap()
        })
        .unwrap();
    assert_eq!(join_within(outer, "E1's task").unwrap(), 6);
    assert_eq!(e1.stats().inline, e1_inline, "the nested submits to E1 ran inline");
}

#[test]
fn a_task_helped_on_e1s_worker_submits_to_full_e1_and_runs_inline() {
    let _watchdog = common::test_watchdog(
        "worker_identity::a_task_helped_on_e1s_worker_submits_to_full_e1_and_runs_inline",
    );
    let _watchdog = watchdog("a submit to E1 from a task E1's worker helped E2 with");
    help_e2_from_e1s_worker(1, |e1| {
        // E1 is full: its only slot is held by the task this thread is running.
        assert_eq!(e1.in_flight(), e1.capacity());
        e1.submit(|| 5).unwrap().join().unwrap()
    });
}

#[test]
fn submit_or_run_for_e2_on_e1s_worker_keeps_e1s_identity() {
    let _watchdog = common::test_watchdog(
        "worker_identity::submit_or_run_for_e2_on_e1s_worker_keeps_e1s_identity",
    );
    let _watchdog = watchdog("a submit to E1 from a task E1's worker ran for E2");
    let e1 = single(1);
    let e2 = single(1);
    let (e1_in, e2_in) = (Arc::clone(&e1), Arc::clone(&e2));
    let outer = e1
        .submit(move || {
            let (gate, busy) = occupy(&e2_in); // E2 full
            let ran = e2_in
                .submit_or_run(move || {
                    // Run here for E2, on E1's only worker: a submit to full E1 runs inline.
                    e1_in.submit(|| 5).unwrap().join().unwrap()
                })
                .unwrap();
            assert!(ran.is_finished(), "E2 was full: submit_or_run ran the task here");
            gate.open();
            join_within(busy, "E2's gated task").unwrap();
            join_within(ran, "the caller-run task").unwrap()
        })
        .unwrap();
    assert_eq!(join_within(outer, "E1's task").unwrap(), 5);
    assert_eq!(e1.stats().inline, 1);
    assert_eq!(e2.stats().inline, 1);
}

#[test]
fn a_task_helped_on_e1s_worker_joins_a_queued_e1_task_by_running_it() {
    let _watchdog = common::test_watchdog(
        "worker_identity::a_task_helped_on_e1s_worker_joins_a_queued_e1_task_by_running_it",
    );
    let _watchdog = watchdog("a join of an E1 task from a task E1's worker helped E2 with");
    let e1 = single(2);
    let e2 = single(2);
    let (e1_in, e2_in) = (Arc::clone(&e1), Arc::clone(&e2));
    let outer = e1
        .submit(move || {
            // Queued behind this task, on E1's only worker: only this thread can run it.
            let waiting = e1_in.submit(|| 5).unwrap();
            let (gate, busy) = occupy(&e2_in);
            let queued = e2_in.submit(move || waiting.join().unwrap()).unwrap();
            let mine = e2_in.submit(|| 1).unwrap(); // full: helps with `queued`
            gate.open();
            join_within(busy, "E2's gated task").unwrap();
            join_within(queued, "the helped task").unwrap()
                + join_within(mine, "E2's task").unwrap()
        })
        .unwrap();
    assert_eq!(join_within(outer, "E1's task").unwrap(), 6);
}

/// Identities nest: E1's worker helps E2, whose helped task runs a task of E1 with
/// `submit_or_run` on full E1 (inline, as E1's worker), which submits to full E1 again (inline
/// too).
#[test]
fn identities_nest_and_each_is_found_at_any_depth() {
    let _watchdog =
        common::test_watchdog("worker_identity::identities_nest_and_each_is_found_at_any_depth");
    let _watchdog = watchdog("nested identities");
    help_e2_from_e1s_worker(2, |e1| {
        let e1_inner = Arc::clone(&e1);
        let ran =
            e1.submit_or_run(move || e1_inner.submit(|| 2).unwrap().join().unwrap() + 3).unwrap();
        assert!(ran.is_finished());
        ran.join().unwrap()
    });
}
