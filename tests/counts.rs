//! `queued()` and `running()`: where each task in flight is counted, and that they add up to
//! `in_flight()` whenever no task starts or ends.

mod common;

use std::sync::{mpsc, Arc};
use std::thread;

use bounded_executor::BoundedExecutor;
use common::Gate;

fn counts(exec: &BoundedExecutor) -> (usize, usize, usize) {
    (exec.running(), exec.queued(), exec.in_flight())
}

#[test]
fn blocked_tasks_are_running_and_the_rest_are_queued() {
    let _watchdog =
        common::test_watchdog("counts::blocked_tasks_are_running_and_the_rest_are_queued");
    let exec = BoundedExecutor::builder()
        .max_workers(2)
        .capacity(5)
        .producer_helps(false)
        .build()
        .unwrap();
    assert_eq!(counts(&exec), (0, 0, 0));
    let gate = Gate::new();
    let (started_tx, started) = mpsc::channel();
    let mut handles = Vec::new();
    for _ in 0..2 {
        let (gate, started_tx) = (gate.clone(), started_tx.clone());
        handles.push(
            exec.submit(move || {
                started_tx.send(()).unwrap();
                gate.wait();
            })
            .unwrap(),
        );
    }
    started
        .recv_timeout(common::WATCHDOG_LIMIT)
        .expect("timed out waiting for the first worker to start its gated task");
    started
        .recv_timeout(common::WATCHDOG_LIMIT)
        .expect("timed out waiting for the second worker to start its gated task"); // both workers are inside a task
    assert_eq!(counts(&exec), (2, 0, 2));
    for _ in 0..3 {
        handles.push(exec.submit(|| ()).unwrap());
    }
    assert_eq!(counts(&exec), (2, 3, 5));
    // A cancelled task stops counting as queued at once.
    let last = handles.pop().unwrap();
    assert!(last.cancel());
    assert_eq!(counts(&exec), (2, 2, 4));
    gate.open();
    for handle in handles {
        handle.join().unwrap();
    }
    exec.shutdown();
    assert_eq!(counts(&exec), (0, 0, 0));
}

#[test]
fn a_task_run_by_a_helping_producer_counts_as_running() {
    let _watchdog =
        common::test_watchdog("counts::a_task_run_by_a_helping_producer_counts_as_running");
    let exec = Arc::new(BoundedExecutor::builder().max_workers(1).capacity(2).build().unwrap());
    let (on_worker, helped) = (Gate::new(), Gate::new());
    let (started_tx, started) = mpsc::channel();
    let first = {
        let (gate, tx) = (on_worker.clone(), started_tx.clone());
        exec.submit(move || {
            tx.send("worker").unwrap();
            gate.wait();
        })
        .unwrap()
    };
    assert_eq!(
        started
            .recv_timeout(common::WATCHDOG_LIMIT)
            .expect("timed out waiting for the only worker to start its gated task"),
        "worker"
    );
    // Queued behind the blocked worker: only a helping producer can pop it.
    let second = {
        let (gate, tx) = (helped.clone(), started_tx.clone());
        exec.submit(move || {
            tx.send("helper").unwrap();
            gate.wait();
        })
        .unwrap()
    };
    assert_eq!(counts(&exec), (1, 1, 2));
    // The executor is full: this producer helps, running `second` on its own thread.
    let producer = {
        let exec = Arc::clone(&exec);
        thread::spawn(move || exec.submit(|| ()).unwrap().join().unwrap())
    };
    assert_eq!(
        started
            .recv_timeout(common::WATCHDOG_LIMIT)
            .expect("timed out waiting for the producer to help, running the queued task"),
        "helper"
    );
    assert_eq!(counts(&exec), (2, 0, 2));
    helped.open();
    on_worker.open();
    producer.join().unwrap();
    first.join().unwrap();
    second.join().unwrap();
    assert_eq!(exec.stats().helped, 1);
    assert_eq!(counts(&exec), (0, 0, 0));
}

#[test]
fn a_worker_joining_a_queued_task_counts_both_as_running() {
    let _watchdog =
        common::test_watchdog("counts::a_worker_joining_a_queued_task_counts_both_as_running");
    let exec = Arc::new(BoundedExecutor::builder().max_workers(1).capacity(2).build().unwrap());
    let inner_exec = Arc::clone(&exec);
    let seen = exec
        .submit(move || {
            let exec = Arc::clone(&inner_exec);
            // Room for it: queued, behind the only worker, which is us.
            let child = inner_exec.submit(move || counts(&exec)).unwrap();
            let before = counts(&inner_exec);
            // Joined from the worker: it runs here, while its parent still runs too.
            (before, child.join().unwrap())
        })
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(seen, ((1, 1, 2), (2, 0, 2)));
    assert_eq!(counts(&exec), (0, 0, 0));
}

#[test]
fn an_inline_task_holds_no_slot_and_is_not_counted() {
    let _watchdog =
        common::test_watchdog("counts::an_inline_task_holds_no_slot_and_is_not_counted");
    let exec = Arc::new(BoundedExecutor::builder().max_workers(1).capacity(1).build().unwrap());
    let inner_exec = Arc::clone(&exec);
    let seen = exec
        .submit(move || {
            let exec = Arc::clone(&inner_exec);
            // Full (we hold the only slot), so the nested submit runs inline, right here.
            inner_exec.submit(move || counts(&exec)).unwrap().join().unwrap()
        })
        .unwrap()
        .join()
        .unwrap();
    // Only the outer task: running, in flight, holding the slot.
    assert_eq!(seen, (1, 0, 1));
    assert_eq!(exec.stats().inline, 1);
    assert_eq!(counts(&exec), (0, 0, 0));
}

#[test]
fn counts_add_up_at_rest_after_a_burst() {
    let _watchdog = common::test_watchdog("counts::counts_add_up_at_rest_after_a_burst");
    let exec = BoundedExecutor::new(2);
    let handles: Vec<_> = (0..1000u64).map(|i| exec.submit(move || i).unwrap()).collect();
    let sum: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(sum, 499_500);
    // Every task was joined: none is counted anywhere, including the ones a producer helped.
    assert_eq!(counts(&exec), (0, 0, 0));
    exec.submit(|| panic!("counted as ended too")).unwrap().join().unwrap_err();
    assert_eq!(counts(&exec), (0, 0, 0));
}
