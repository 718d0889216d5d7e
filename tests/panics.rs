//! Panics are captured into handles and never kill a worker or the pool.

mod common;

use std::panic;
use std::sync::mpsc;

use bounded_executor::BoundedExecutor;

#[test]
fn a_panic_reaches_the_handle_with_its_payload() {
    let _watchdog = common::test_watchdog("panics::a_panic_reaches_the_handle_with_its_payload");
    let exec = BoundedExecutor::new(1);
    let n = std::hint::black_box(3);
    let err = exec.submit(move || -> u32 { panic!("bad input {n}") }).unwrap().join().unwrap_err();
    assert!(err.is_panic());
    assert!(!err.is_cancelled());
    assert_eq!(err.to_string(), "task panicked: bad input 3");
    assert_eq!(*err.into_panic().downcast::<String>().unwrap(), "bad input 3");
}

#[test]
fn a_non_string_payload_survives() {
    let _watchdog = common::test_watchdog("panics::a_non_string_payload_survives");
    let exec = BoundedExecutor::new(1);
    let err = exec.submit(|| panic::panic_any(42u8)).unwrap().join().unwrap_err();
    assert_eq!(err.to_string(), "task panicked");
    assert_eq!(*err.into_panic().downcast::<u8>().unwrap(), 42);
}

#[test]
fn the_only_worker_survives_many_panics() {
    let _watchdog = common::test_watchdog("panics::the_only_worker_survives_many_panics");
    let exec = BoundedExecutor::new(1);
    let worker = exec.submit(|| std::thread::current().id()).unwrap().join().unwrap();
    for i in 0..100 {
        let err = exec.submit(move || panic!("panic {i}")).unwrap().join().unwrap_err();
        assert!(err.is_panic());
    }
    // Same thread: the worker was never replaced, it survived.
    assert_eq!(exec.submit(|| std::thread::current().id()).unwrap().join().unwrap(), worker);
    let stats = exec.stats();
    assert_eq!((stats.completed, stats.panicked), (102, 100));
}

#[test]
fn a_panic_in_a_detached_results_drop_does_not_kill_the_worker() {
    let _watchdog = common::test_watchdog(
        "panics::a_panic_in_a_detached_results_drop_does_not_kill_the_worker",
    );
    struct PanicOnDrop;
    impl Drop for PanicOnDrop {
        fn drop(&mut self) {
            panic!("drop");
        }
    }
    let exec = BoundedExecutor::new(1);
    // The handle is dropped at once, so the worker drops the result and its panic.
    drop(exec.submit(|| PanicOnDrop).unwrap());
    let (tx, rx) = mpsc::channel();
    exec.submit(move || tx.send("alive").unwrap()).unwrap();
    assert_eq!(
        rx.recv_timeout(common::WATCHDOG_LIMIT).expect(
            "timed out waiting for a task on the worker whose detached result panicked in its Drop"
        ),
        "alive"
    );
}

#[test]
fn resume_unwind_propagates_the_original_panic() {
    let _watchdog = common::test_watchdog("panics::resume_unwind_propagates_the_original_panic");
    let exec = BoundedExecutor::new(1);
    let err = exec.submit(|| panic!("original")).unwrap().join().unwrap_err();
    let caught = panic::catch_unwind(|| panic::resume_unwind(err.into_panic())).unwrap_err();
    assert_eq!(*caught.downcast::<&str>().unwrap(), "original");
}

#[test]
#[should_panic(expected = "non-panic error")]
fn into_panic_on_a_cancellation_panics() {
    let _watchdog = common::test_watchdog("panics::into_panic_on_a_cancellation_panics");
    let exec = BoundedExecutor::new(1);
    let (gate, held) = common::occupy_workers(&exec);
    let queued = exec.submit(|| ()).unwrap();
    assert!(queued.cancel());
    gate.open();
    held.into_iter().for_each(|h| h.join().unwrap());
    let _ = queued.join().unwrap_err().into_panic();
}
