//! Scoped tasks: borrowing, waiting for every task (even on panic), panic propagation, bounds.

mod common;

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bounded_executor::BoundedExecutor;
use common::Gate;

#[test]
fn tasks_borrow_and_mutate_disjoint_chunks() {
    let _watchdog = common::test_watchdog("scope::tasks_borrow_and_mutate_disjoint_chunks");
    let exec = BoundedExecutor::new(2);
    let mut data: Vec<u64> = (0..10_000).collect();
    exec.scope(|s| {
        for chunk in data.chunks_mut(100) {
            let _ = s.submit(move || chunk.iter_mut().for_each(|x| *x *= 2));
        }
    });
    assert!(data.iter().enumerate().all(|(i, &x)| x == 2 * i as u64));
}

#[test]
fn every_task_finishes_before_scope_returns_even_when_the_closure_panics() {
    let _watchdog = common::test_watchdog(
        "scope::every_task_finishes_before_scope_returns_even_when_the_closure_panics",
    );
    let exec = BoundedExecutor::new(2);
    let done = AtomicUsize::new(0);
    let result = panic::catch_unwind(AssertUnwindSafe(|| {
        exec.scope(|s| {
            for _ in 0..100 {
                let _ = s.submit(|| done.fetch_add(1, Ordering::SeqCst));
            }
            panic!("the scope's own closure");
        })
    }));
    assert_eq!(*result.unwrap_err().downcast::<&str>().unwrap(), "the scope's own closure");
    assert_eq!(done.load(Ordering::SeqCst), 100);
}

#[test]
fn an_unjoined_panic_is_propagated_when_the_scope_ends() {
    let _watchdog =
        common::test_watchdog("scope::an_unjoined_panic_is_propagated_when_the_scope_ends");
    let exec = BoundedExecutor::new(2);
    let finished = AtomicUsize::new(0);
    let result = panic::catch_unwind(AssertUnwindSafe(|| {
        exec.scope(|s| {
            let _ = s.submit(|| panic!("lost"));
            let _ = s.submit(|| finished.fetch_add(1, Ordering::SeqCst));
        })
    }));
    let payload = result.unwrap_err();
    assert_eq!(
        *payload.downcast::<&str>().unwrap(),
        "a scoped task panicked and its handle was not joined"
    );
    assert_eq!(finished.load(Ordering::SeqCst), 1);
}

#[test]
fn a_joined_panic_is_not_propagated() {
    let _watchdog = common::test_watchdog("scope::a_joined_panic_is_not_propagated");
    let exec = BoundedExecutor::new(2);
    let caught = exec.scope(|s| s.submit(|| panic!("seen")).join().unwrap_err().is_panic());
    assert!(caught);
}

#[test]
fn scoped_submission_is_bounded() {
    let _watchdog = common::test_watchdog("scope::scoped_submission_is_bounded");
    let exec = BoundedExecutor::builder().max_workers(2).capacity(3).build().unwrap();
    let counter = AtomicUsize::new(0);
    exec.scope(|s| {
        for _ in 0..common::rounds(5_000, 50) {
            let _ = s.submit(|| counter.fetch_add(1, Ordering::Relaxed));
        }
    });
    assert_eq!(counter.load(Ordering::Relaxed) as u64, common::rounds(5_000, 50));
    assert!(exec.stats().peak_in_flight <= 3);
}

#[test]
fn results_that_borrow_are_dropped_before_the_scope_returns() {
    let _watchdog =
        common::test_watchdog("scope::results_that_borrow_are_dropped_before_the_scope_returns");
    struct Borrowing<'a>(&'a AtomicUsize);
    impl Drop for Borrowing<'_> {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let exec = BoundedExecutor::new(2);
    let dropped = AtomicUsize::new(0);
    exec.scope(|s| {
        for _ in 0..50 {
            let _ = s.submit(|| Borrowing(&dropped)); // handle dropped: the result is dropped unjoined
        }
    });
    assert_eq!(dropped.load(Ordering::SeqCst), 50);
}

#[test]
fn a_scope_inside_a_worker_at_capacity_one_completes() {
    let _watchdog =
        common::test_watchdog("scope::a_scope_inside_a_worker_at_capacity_one_completes");
    let exec = Arc::new(BoundedExecutor::builder().max_workers(1).capacity(1).build().unwrap());
    let inner = Arc::clone(&exec);
    let outer = exec.submit(move || {
        let values = [1, 2, 3, 4];
        inner.scope(|s| {
            let handles: Vec<_> = values.iter().map(|v| s.submit(move || v * 10)).collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum::<i32>()
        })
    });
    assert_eq!(outer.unwrap().join().unwrap(), 100);
    exec.shutdown();
}

#[test]
fn a_scope_inside_a_worker_with_room_runs_its_queued_tasks() {
    let _watchdog =
        common::test_watchdog("scope::a_scope_inside_a_worker_with_room_runs_its_queued_tasks");
    // Two workers, both inside scopes, each scope's tasks queued behind the other's: the
    // scopes run their own queued tasks when they end instead of waiting for a free worker.
    let exec = Arc::new(BoundedExecutor::builder().max_workers(2).capacity(8).build().unwrap());
    let barrier = Arc::new(common::Barrier::new(2, "a task on each worker"));
    let outers: Vec<_> = (0..2)
        .map(|_| {
            let (inner, barrier) = (Arc::clone(&exec), Arc::clone(&barrier));
            exec.submit(move || {
                barrier.wait(); // both workers are busy with these two tasks
                let counter = AtomicUsize::new(0);
                inner.scope(|s| {
                    for _ in 0..3 {
                        let _ = s.submit(|| counter.fetch_add(1, Ordering::SeqCst));
                    }
                });
                counter.load(Ordering::SeqCst)
            })
            .unwrap()
        })
        .collect();
    for outer in outers {
        assert_eq!(outer.join().unwrap(), 3);
    }
    exec.shutdown();
}

#[test]
fn scoped_submit_after_shutdown_panics_and_runs_nothing() {
    let _watchdog =
        common::test_watchdog("scope::scoped_submit_after_shutdown_panics_and_runs_nothing");
    let exec = BoundedExecutor::new(1);
    exec.shutdown();
    let mut data = [3, 1, 2];
    // Regression: `s.submit(|| data.sort())` dropped the closure in silence, data unsorted.
    let refused = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        exec.scope(|s| {
            let _ = s.submit(|| data.sort());
        })
    }));
    let payload = refused.expect_err("a refused scoped submit panics");
    let message = payload.downcast_ref::<String>().expect("a formatted message");
    assert!(message.contains("shut down"), "{message}");
    assert_eq!(data, [3, 1, 2], "the closure did not run");
    assert_eq!(exec.stats().rejected, 1);
}

#[test]
fn a_scoped_submit_refused_mid_scope_still_waits_for_the_accepted_tasks() {
    let _watchdog = common::test_watchdog(
        "scope::a_scoped_submit_refused_mid_scope_still_waits_for_the_accepted_tasks",
    );
    let exec = BoundedExecutor::new(2);
    let gate = Gate::new();
    let ran = AtomicUsize::new(0);
    let refused = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        exec.scope(|s| {
            let _ = s.submit(|| {
                gate.wait();
                ran.fetch_add(1, Ordering::SeqCst);
            });
            exec_shutdown_from_another_thread(&exec, &gate);
            let _ = s.submit(|| ran.fetch_add(10, Ordering::SeqCst));
        })
    }));
    assert!(refused.is_err());
    assert_eq!(ran.load(Ordering::SeqCst), 1, "the accepted task ran before scope returned");
}

/// Stops `exec` accepting while its first task still waits at `gate`, then opens the gate.
fn exec_shutdown_from_another_thread(exec: &BoundedExecutor, gate: &Gate) {
    std::thread::scope(|t| {
        let stopper = t.spawn(|| exec.shutdown());
        while !exec.is_shutdown() {
            std::thread::yield_now();
        }
        gate.open();
        stopper.join().unwrap();
    });
}

/// Panics when dropped: a result that must be dropped unjoined.
struct PanicOnDrop;

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        panic!("result dropped");
    }
}

#[test]
fn a_panic_while_a_worker_scope_runs_its_tasks_waits_for_the_rest_first() {
    let _watchdog = common::test_watchdog(
        "scope::a_panic_while_a_worker_scope_runs_its_tasks_waits_for_the_rest_first",
    );
    // Regression: a detached result's Drop panicked inside the end-of-scope help loop and
    // unwound out of `scope` while the scope's other tasks had not run (a use-after-free of
    // their borrows).
    let exec = Arc::new(BoundedExecutor::builder().max_workers(2).capacity(8).build().unwrap());
    let gate = Arc::new(common::Barrier::new(2, "the holding task's start"));
    let release = Arc::new(common::Barrier::new(2, "the holding task's release"));
    let blocker = {
        let (gate, release) = (Arc::clone(&gate), Arc::clone(&release));
        exec.submit(move || {
            gate.wait();
            release.wait();
        })
        .unwrap()
    };
    gate.wait(); // one worker is held: the scope's tasks can only run on the other, itself
    let inner = Arc::clone(&exec);
    let outer = exec.submit(move || {
        let ran_after = AtomicUsize::new(0);
        let result = panic::catch_unwind(AssertUnwindSafe(|| {
            inner.scope(|s| {
                let _ = s.submit(|| PanicOnDrop);
                let _ = s.submit(|| ran_after.fetch_add(1, Ordering::SeqCst));
            })
        }));
        (result.is_err(), ran_after.load(Ordering::SeqCst))
    });
    assert_eq!(outer.unwrap().join().unwrap(), (true, 1));
    release.wait();
    blocker.join().unwrap();
}

#[test]
fn tasks_submitted_by_tasks_of_a_worker_scope_run_too() {
    let _watchdog =
        common::test_watchdog("scope::tasks_submitted_by_tasks_of_a_worker_scope_run_too");
    // Regression: the end-of-scope help loop took the scope's queued tasks once; a task it ran
    // that submitted more left them queued behind the only worker, which then slept forever.
    let exec = Arc::new(BoundedExecutor::builder().max_workers(1).capacity(4).build().unwrap());
    let inner = Arc::clone(&exec);
    let outer = exec.submit(move || {
        let count = AtomicUsize::new(0);
        inner.scope(|s| {
            let _ = s.submit(|| {
                let _ = s.submit(|| count.fetch_add(1, Ordering::SeqCst));
                count.fetch_add(1, Ordering::SeqCst);
            });
        });
        count.load(Ordering::SeqCst)
    });
    let outer = outer.unwrap();
    assert!(outer.wait_timeout(std::time::Duration::from_secs(60)), "the scope hung");
    assert_eq!(outer.join().unwrap(), 2);
}
