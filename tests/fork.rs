//! A forked child gets errors, not hangs. Each child reports through its exit code, and touches
//! nothing that another test thread could have left locked (no printing, no allocation needed).
#![cfg(unix)]

mod common;

use std::time::Duration;

use bounded_executor::BoundedExecutor;
use common::occupy_workers;

/// Forks; the child runs `child` and exits with its result, the parent returns the child's
/// exit code. In the parent, `child` is dropped unrun, so it must only borrow.
fn in_child(child: impl FnOnce() -> i32) -> i32 {
    // SAFETY: the child only runs `child`, which sticks to atomics and our own types' fork
    // checks, then leaves with `_exit` (no atexit handlers, no unwinding into the test harness).
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(child)).unwrap_or(101);
        // SAFETY: ends the child process at once.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: waits for the child we just forked.
    let waited = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(waited, pid);
    assert!(libc::WIFEXITED(status), "child did not exit normally: {status}");
    libc::WEXITSTATUS(status)
}

#[test]
fn a_forked_child_gets_errors_instead_of_hangs() {
    let _watchdog = common::test_watchdog("fork::a_forked_child_gets_errors_instead_of_hangs");
    let exec = BoundedExecutor::new(1);
    assert_eq!(exec.submit(|| 1).unwrap().join().unwrap(), 1);
    let (gate, mut held) = occupy_workers(&exec);
    let running = held.pop().unwrap();
    let queued = std::sync::Mutex::new(Some(exec.submit(|| 2).unwrap()));

    // The child takes the executor out to drop it; the parent's copy stays where it is.
    let slot = std::sync::Mutex::new(Some(exec));
    let code = in_child(|| {
        let exec = slot.lock().unwrap().take().unwrap();
        let mut failures = 0;
        match exec.submit(|| 3) {
            Err(err) if err.is_forked() => {}
            _ => failures |= 1,
        }
        match exec.try_submit(|| 3) {
            Err(err) if err.is_forked() => {}
            _ => failures |= 2,
        }
        match exec.submit_timeout(|| 3, Duration::from_secs(60)) {
            Err(err) if err.is_forked() => {}
            _ => failures |= 4,
        }
        if running.wait_timeout(Duration::from_secs(60)) {
            failures |= 8;
        }
        match queued.lock().unwrap().take().unwrap().join() {
            Err(err) if err.is_forked() => {}
            _ => failures |= 16,
        }
        if exec.shutdown_timeout(Duration::from_secs(60)) {
            failures |= 32;
        }
        exec.shutdown();
        drop(exec); // returns at once instead of joining threads that do not exist here
        failures
    });
    assert_eq!(code, 0, "failed checks (bit mask): {code:#b}");

    // The parent is untouched.
    gate.open();
    running.join().unwrap();
    assert_eq!(queued.lock().unwrap().take().unwrap().join().unwrap(), 2);
    let exec = slot.lock().unwrap().take().unwrap();
    assert_eq!(exec.submit(|| 4).unwrap().join().unwrap(), 4);
}

#[test]
fn the_parent_keeps_working_after_a_fork() {
    let _watchdog = common::test_watchdog("fork::the_parent_keeps_working_after_a_fork");
    let exec = BoundedExecutor::new(2);
    assert_eq!(in_child(|| 0), 0);
    assert_eq!(exec.submit(|| 5).unwrap().join().unwrap(), 5);
}
