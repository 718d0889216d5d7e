//! Result handles: join, is_finished, wait_timeout, detaching on drop, and awaiting.

mod common;

use std::sync::mpsc;
use std::time::Duration;

use bounded_executor::{BoundedExecutor, TaskError, TaskHandle};
use common::{block_on, occupy_workers, DropCounter, Gate};

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn public_types_are_send_and_sync() {
    let _watchdog = common::test_watchdog("handles::public_types_are_send_and_sync");
    assert_send_sync::<BoundedExecutor>();
    assert_send_sync::<TaskHandle<String>>();
    assert_send_sync::<TaskError>();
}

#[test]
fn join_returns_the_value() {
    let _watchdog = common::test_watchdog("handles::join_returns_the_value");
    let exec = BoundedExecutor::new(2);
    let handles: Vec<_> = (0..100).map(|i| exec.submit(move || i * 2).unwrap()).collect();
    let values: Vec<i32> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(values, (0..100).map(|i| i * 2).collect::<Vec<_>>());
}

#[test]
fn is_finished_and_wait_timeout_track_the_task() {
    let _watchdog = common::test_watchdog("handles::is_finished_and_wait_timeout_track_the_task");
    let exec = BoundedExecutor::new(1);
    let gate = Gate::new();
    let (started_tx, started) = mpsc::channel();
    let handle = {
        let gate = gate.clone();
        exec.submit(move || {
            started_tx.send(()).unwrap();
            gate.wait();
            "done"
        })
        .unwrap()
    };
    started
        .recv_timeout(common::WATCHDOG_LIMIT)
        .expect("timed out waiting for the gated task to start");
    assert!(!handle.is_finished());
    assert!(!handle.wait_timeout(Duration::from_millis(10)));
    gate.open();
    assert!(handle.wait_timeout(Duration::from_secs(60)));
    assert!(handle.is_finished());
    assert_eq!(handle.join().unwrap(), "done");
}

#[test]
fn waiting_from_many_threads_on_one_handle() {
    let _watchdog = common::test_watchdog("handles::waiting_from_many_threads_on_one_handle");
    let exec = BoundedExecutor::new(1);
    let (gate, held) = occupy_workers(&exec);
    let handle = exec.submit(|| 3).unwrap();
    std::thread::scope(|s| {
        let waiters: Vec<_> =
            (0..4).map(|_| s.spawn(|| handle.wait_timeout(Duration::from_secs(60)))).collect();
        gate.open();
        assert!(waiters.into_iter().all(|w| w.join().unwrap()));
    });
    assert_eq!(handle.join().unwrap(), 3);
    held.into_iter().for_each(|h| h.join().unwrap());
}

#[test]
fn dropping_a_handle_detaches_the_task() {
    let _watchdog = common::test_watchdog("handles::dropping_a_handle_detaches_the_task");
    let exec = BoundedExecutor::new(2);
    let (tx, rx) = mpsc::channel();
    for i in 0..10 {
        let tx = tx.clone();
        drop(exec.submit(move || tx.send(i).unwrap()).unwrap());
    }
    let mut got: Vec<i32> = (0..10)
        .map(|_| {
            rx.recv_timeout(common::WATCHDOG_LIMIT)
                .expect("timed out waiting for the detached tasks to run")
        })
        .collect();
    got.sort();
    assert_eq!(got, (0..10).collect::<Vec<_>>());
}

#[test]
fn an_unjoined_result_is_dropped_exactly_once() {
    let _watchdog = common::test_watchdog("handles::an_unjoined_result_is_dropped_exactly_once");
    let results = DropCounter::new();
    let exec = BoundedExecutor::new(2);
    for _ in 0..50 {
        let results = results.clone();
        drop(exec.submit(move || results.make()).unwrap());
    }
    exec.shutdown();
    assert_eq!(results.dropped(), 50);
}

#[test]
fn a_joined_result_is_moved_out_not_dropped() {
    let _watchdog = common::test_watchdog("handles::a_joined_result_is_moved_out_not_dropped");
    let results = DropCounter::new();
    let exec = BoundedExecutor::new(1);
    let value = {
        let results = results.clone();
        exec.submit(move || results.make()).unwrap().join().unwrap()
    };
    assert_eq!(results.dropped(), 0);
    drop(value);
    assert_eq!(results.dropped(), 1);
}

#[test]
fn awaiting_a_handle_parks_until_the_task_finishes() {
    let _watchdog =
        common::test_watchdog("handles::awaiting_a_handle_parks_until_the_task_finishes");
    let exec = BoundedExecutor::new(1);
    let gate = Gate::new();
    let handle = {
        let gate = gate.clone();
        exec.submit(move || {
            gate.wait();
            11
        })
        .unwrap()
    };
    let opener = std::thread::spawn(move || gate.open());
    assert_eq!(block_on(handle).unwrap(), 11);
    opener.join().unwrap();
}

#[test]
fn awaiting_many_handles_in_one_future() {
    let _watchdog = common::test_watchdog("handles::awaiting_many_handles_in_one_future");
    let exec = BoundedExecutor::new(2);
    let handles: Vec<_> = (0..50u64).map(|i| exec.submit(move || i).unwrap()).collect();
    let sum = block_on(async {
        let mut sum = 0;
        for handle in handles {
            sum += handle.await.unwrap();
        }
        sum
    });
    assert_eq!(sum, (0..50).sum::<u64>());
}

#[test]
fn handle_debug_says_whether_finished() {
    let _watchdog = common::test_watchdog("handles::handle_debug_says_whether_finished");
    let exec = BoundedExecutor::new(1);
    let handle = exec.submit(|| ()).unwrap();
    assert!(handle.wait_timeout(Duration::from_secs(60)));
    assert_eq!(format!("{handle:?}"), "TaskHandle { finished: true }");
}
