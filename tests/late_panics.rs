//! User code that panics after a task's outcome is published: the `Drop` of a detached result,
//! of a cancelled closure, of a task set's handles, and a `Waker` that panics. None of it may
//! cost a slot, stop a drain, or hang a shutdown; where the panic goes is documented on each
//! call (see the crate docs, `# Panics`).

mod common;

use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::task::{Context, Wake, Waker};
use std::time::Duration;

use bounded_executor::{BoundedExecutor, TaskSet};
use common::{assert_every_slot_is_back, occupy_workers, Gate, WATCHDOG};

/// Panics when dropped (unless the thread is already unwinding, which would abort), and counts
/// its drops first.
struct PanicOnDrop(Arc<AtomicUsize>);

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
        if !std::thread::panicking() {
            panic!("PanicOnDrop");
        }
    }
}

#[test]
fn a_panicking_detached_result_in_a_scope_on_a_worker_costs_no_slot() {
    let _watchdog = common::test_watchdog(
        "late_panics::a_panicking_detached_result_in_a_scope_on_a_worker_costs_no_slot",
    );
    let exec = Arc::new(BoundedExecutor::builder().max_workers(2).capacity(4).build().unwrap());
    let drops = Arc::new(AtomicUsize::new(0));
    // Worker A is held; the scope's task runs on worker B.
    let (held_gate, held) = {
        let gate = Gate::new();
        let (started_tx, started) = mpsc::channel();
        let g = gate.clone();
        let handle = exec
            .submit(move || {
                started_tx.send(()).unwrap();
                g.wait();
            })
            .unwrap();
        started
            .recv_timeout(common::WATCHDOG_LIMIT)
            .expect("timed out waiting for the task holding worker A to start");
        (gate, handle)
    };
    let inner_gate = Gate::new();
    let (inner_started_tx, inner_started) = mpsc::channel();
    let scope_task = {
        let (exec2, drops, inner_gate) =
            (Arc::clone(&exec), Arc::clone(&drops), inner_gate.clone());
        exec.submit(move || {
            exec2.scope(|s| {
                // Dropped at once: its result is detached, and panics when dropped.
                let _ = s.submit(move || {
                    inner_started_tx.send(()).unwrap();
                    inner_gate.wait();
                    PanicOnDrop(drops)
                });
            });
        })
        .unwrap()
    };
    // The end of the scope runs the inner task itself, on worker B, off the queue.
    inner_started.recv_timeout(WATCHDOG).unwrap();
    // Queued behind the inner task's entry: when it runs, worker A has popped that entry.
    let (marker_tx, marker) = mpsc::channel();
    let marker_task = exec.submit(move || marker_tx.send(()).unwrap()).unwrap();
    held_gate.open();
    marker.recv_timeout(WATCHDOG).unwrap();
    // Worker A passed over the entry while the task still ran: the runner must give the slot
    // back, though the result's `Drop` panics right after the outcome is published.
    inner_gate.open();
    let err = scope_task.join().unwrap_err();
    assert!(err.is_panic(), "the scope raises the result's panic");
    held.join().unwrap();
    marker_task.join().unwrap();
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    assert_every_slot_is_back(&exec);
    assert_eq!(exec.in_flight(), 0);
    assert!(exec.shutdown_timeout(WATCHDOG));
}

#[test]
fn cancel_raises_the_closures_drop_panic_after_settling() {
    let _watchdog =
        common::test_watchdog("late_panics::cancel_raises_the_closures_drop_panic_after_settling");
    let exec = BoundedExecutor::builder().max_workers(1).capacity(3).build().unwrap();
    let drops = Arc::new(AtomicUsize::new(0));
    let (gate, busy) = occupy_workers(&exec);
    let bomb = PanicOnDrop(Arc::clone(&drops));
    let queued = exec.submit(move || drop(bomb)).unwrap();
    let cancel = panic::catch_unwind(AssertUnwindSafe(|| queued.cancel()));
    assert!(cancel.is_err(), "the closure's Drop panic comes out of cancel");
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    assert!(queued.join().unwrap_err().is_cancelled());
    gate.open();
    for handle in busy {
        handle.join().unwrap();
    }
    assert_every_slot_is_back(&exec);
    assert_eq!(exec.stats().cancelled, 1);
}

/// Dropping the handle of a finished task drops its result on the dropping thread (documented on
/// `TaskHandle`, `# Panics`): the panic comes out of `drop`, and the slot and the worker are
/// untouched. Dropped before the task ends, the worker drops the result and contains the panic.
#[test]
fn dropping_a_finished_handle_raises_the_results_drop_panic_there() {
    let _watchdog = common::test_watchdog(
        "late_panics::dropping_a_finished_handle_raises_the_results_drop_panic_there",
    );
    let exec = BoundedExecutor::builder().max_workers(1).capacity(2).build().unwrap();
    let drops = Arc::new(AtomicUsize::new(0));
    let finished = {
        let drops = Arc::clone(&drops);
        exec.submit(move || PanicOnDrop(drops)).unwrap()
    };
    assert!(finished.wait_timeout(WATCHDOG), "the task did not finish");
    let dropped = panic::catch_unwind(AssertUnwindSafe(|| drop(finished)));
    assert!(dropped.is_err(), "the result's Drop panic comes out of the handle's drop");
    assert_eq!(drops.load(Ordering::SeqCst), 1);

    // Detached before it ends: the worker drops the result, and goes on.
    let (gate, busy) = occupy_workers(&exec);
    let detached = {
        let drops = Arc::clone(&drops);
        exec.submit(move || PanicOnDrop(drops)).unwrap()
    };
    drop(detached);
    gate.open();
    for handle in busy {
        handle.join().unwrap();
    }
    // The one worker drops the detached result before it pops the next task.
    assert_eq!(exec.submit(|| 7).unwrap().join().unwrap(), 7, "the worker went on");
    assert_eq!(drops.load(Ordering::SeqCst), 2);
    assert_every_slot_is_back(&exec);
}

/// A sweep: each round cancels a task whose closure panics on drop just as the only worker pops
/// its entry. The slot protocol must give the slot back exactly once whichever side wins.
#[test]
fn cancel_racing_a_pop_with_a_panicking_closure_keeps_every_slot() {
    let _watchdog = common::test_watchdog(
        "late_panics::cancel_racing_a_pop_with_a_panicking_closure_keeps_every_slot",
    );
    let exec = BoundedExecutor::builder().max_workers(1).capacity(2).build().unwrap();
    let drops = Arc::new(AtomicUsize::new(0));
    let rounds = 2_000;
    for _ in 0..rounds {
        let (gate, busy) = occupy_workers(&exec);
        let bomb = PanicOnDrop(Arc::clone(&drops));
        let queued = exec.submit(move || drop(bomb)).unwrap();
        gate.open(); // the worker finishes and pops `queued` while we cancel it
        let _ = panic::catch_unwind(AssertUnwindSafe(|| queued.cancel()));
        for handle in busy {
            handle.join().unwrap();
        }
        let _ = panic::catch_unwind(AssertUnwindSafe(|| queued.join()));
    }
    assert_eq!(drops.load(Ordering::SeqCst), rounds);
    assert_every_slot_is_back(&exec);
    let stats = exec.stats();
    assert_eq!(stats.submitted, stats.completed + stats.cancelled);
}

/// Runs on the only worker until `done()` is true, so that whatever is queued meanwhile is
/// left to `shutdown_now`'s drain. Polls with `yield_now`: a latch, not a sleep.
fn hold_the_worker_until(
    exec: &BoundedExecutor,
    done: impl Fn() -> bool + Send + 'static,
) -> bounded_executor::TaskHandle<()> {
    let (started_tx, started) = mpsc::channel();
    let handle = exec
        .submit(move || {
            started_tx.send(()).unwrap();
            while !done() {
                std::thread::yield_now();
            }
        })
        .unwrap();
    started
        .recv_timeout(common::WATCHDOG_LIMIT)
        .expect("timed out waiting for the spinning task to start");
    handle
}

#[test]
fn shutdown_now_finishes_its_drain_and_joins_before_raising_a_drop_panic() {
    let _watchdog = common::test_watchdog(
        "late_panics::shutdown_now_finishes_its_drain_and_joins_before_raising_a_drop_panic",
    );
    let exec = BoundedExecutor::builder().max_workers(1).capacity(5).build().unwrap();
    let drops = Arc::new(AtomicUsize::new(0));
    let busy = {
        let drops = Arc::clone(&drops);
        hold_the_worker_until(&exec, move || drops.load(Ordering::SeqCst) == 4)
    };
    let queued: Vec<_> = (0..4)
        .map(|_| {
            let bomb = PanicOnDrop(Arc::clone(&drops));
            exec.submit(move || drop(bomb)).unwrap()
        })
        .collect();
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| exec.shutdown_now()));
    assert!(outcome.is_err(), "the first Drop panic is raised at the end");
    // Every queued closure was dropped: the drain went on past the first panic.
    assert_eq!(drops.load(Ordering::SeqCst), 4);
    for handle in queued {
        assert!(handle.join().unwrap_err().is_cancelled());
    }
    busy.join().unwrap();
    // The workers were joined before the panic came out.
    assert!(exec.shutdown_timeout(Duration::ZERO));
    assert_eq!(exec.stats().cancelled, 4);
    assert_eq!(exec.shutdown_now(), 0);
}

#[test]
fn a_second_shutdown_now_reports_no_cancellations_of_its_own() {
    let _watchdog = common::test_watchdog(
        "late_panics::a_second_shutdown_now_reports_no_cancellations_of_its_own",
    );
    let exec = Arc::new(BoundedExecutor::builder().max_workers(1).capacity(4).build().unwrap());
    let busy = {
        let exec = Arc::clone(&exec);
        hold_the_worker_until(&exec.clone(), move || exec.is_shutdown())
    };
    let queued: Vec<_> = (0..3).map(|_| exec.submit(|| ()).unwrap()).collect();
    // Cancelled by the drain or by the worker once it is free: all counted by this call.
    assert_eq!(exec.shutdown_now(), 3);
    assert_eq!(exec.shutdown_now(), 0);
    for handle in queued {
        assert!(handle.join().unwrap_err().is_cancelled());
    }
    busy.join().unwrap();
}

/// `shutdown_now` while the only worker runs a `map` whose input yields an item only after
/// the drain: the item's slot was taken before the shutdown, so it is pushed after the drain,
/// and the worker joining it is the only one that could pop it.
#[test]
fn shutdown_now_completes_when_the_only_worker_joins_a_task_pushed_after_the_drain() {
    let _watchdog = common::test_watchdog("late_panics::shutdown_now_completes_when_the_only_worker_joins_a_task_pushed_after_the_drain");
    let exec = Arc::new(BoundedExecutor::builder().max_workers(1).capacity(4).build().unwrap());
    let drops = Arc::new(AtomicUsize::new(0));
    // A queued task whose closure the drain drops: the sign that the drain has run.
    let (outer_started_tx, outer_started) = mpsc::channel();
    let outer = {
        let (exec2, drops) = (Arc::clone(&exec), Arc::clone(&drops));
        exec.submit(move || {
            let mut yielded = false;
            let input = std::iter::from_fn(move || {
                if yielded {
                    return None;
                }
                yielded = true;
                // `map` pulls an input once it holds the input's slot: only now is the slot
                // surely taken before the shutdown below begins.
                outer_started_tx.send(()).unwrap();
                while drops.load(Ordering::SeqCst) == 0 {
                    std::thread::yield_now();
                }
                Some(1)
            });
            exec2.map(input, |x: i32| x + 1).collect::<Vec<_>>()
        })
        .unwrap()
    };
    outer_started
        .recv_timeout(common::WATCHDOG_LIMIT)
        .expect("timed out waiting for the outer map task to start");
    let marker = {
        let witness = Witness(Arc::clone(&drops));
        exec.submit(move || drop(witness)).unwrap()
    };
    let (done_tx, done) = mpsc::channel();
    let stopper = {
        let exec = Arc::clone(&exec);
        std::thread::spawn(move || done_tx.send(exec.shutdown_now()).unwrap())
    };
    let cancelled = done.recv_timeout(WATCHDOG).expect("shutdown_now hung");
    stopper.join().unwrap();
    assert!(marker.join().unwrap_err().is_cancelled());
    let results = outer.join().unwrap();
    assert_eq!(results.len(), 1);
    // Cancelled by the drain or by its joiner, never run: the worker was busy until after the
    // drain, and `shutdown_now` cancels what has not started.
    assert!(results[0].as_ref().unwrap_err().is_cancelled());
    assert_eq!(cancelled, 2);
    assert_eq!(exec.in_flight(), 0);
}

/// Counts its drop, quietly.
struct Witness(Arc<AtomicUsize>);

impl Drop for Witness {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

struct PanickingWaker(AtomicUsize);

impl Wake for PanickingWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
        panic!("PanickingWaker");
    }
}

#[test]
fn a_panicking_waker_on_a_handle_costs_no_slot_and_kills_no_worker() {
    let _watchdog = common::test_watchdog(
        "late_panics::a_panicking_waker_on_a_handle_costs_no_slot_and_kills_no_worker",
    );
    let exec = BoundedExecutor::builder().max_workers(1).capacity(2).build().unwrap();
    let woken = Arc::new(PanickingWaker(AtomicUsize::new(0)));
    let waker = Waker::from(Arc::clone(&woken));
    for round in 0..50 {
        let gate = Gate::new();
        let mut handle = {
            let gate = gate.clone();
            exec.submit(move || {
                gate.wait();
                round
            })
            .unwrap()
        };
        let mut cx = Context::from_waker(&waker);
        assert!(std::pin::Pin::new(&mut handle).poll(&mut cx).is_pending());
        gate.open();
        assert_eq!(handle.join().unwrap(), round);
    }
    assert_every_slot_is_back(&exec);
    assert!(exec.shutdown_timeout(WATCHDOG));
    // Read once the workers are joined: a join can return before the worker's wake call.
    assert_eq!(woken.0.load(Ordering::SeqCst), 50);
}

#[test]
fn a_panicking_async_producer_waker_passes_its_wake_up_on() {
    let _watchdog = common::test_watchdog(
        "late_panics::a_panicking_async_producer_waker_passes_its_wake_up_on",
    );
    let exec = BoundedExecutor::builder().max_workers(1).capacity(1).build().unwrap();
    let (gate, busy) = occupy_workers(&exec);
    let bad = Arc::new(PanickingWaker(AtomicUsize::new(0)));
    let bad_waker = Waker::from(Arc::clone(&bad));
    let mut first = exec.submit_async(|| 1);
    let mut second = exec.submit_async(|| 2);
    assert!(std::pin::Pin::new(&mut first).poll(&mut Context::from_waker(&bad_waker)).is_pending());
    // The second producer waits with a working waker, behind the panicking one.
    let result = std::thread::scope(|s| {
        let waiter = s.spawn(|| common::block_on(&mut second));
        gate.open(); // the slot frees: the first (panicking) waker is woken, then the second
        waiter.join().unwrap()
    });
    assert_eq!(bad.0.load(Ordering::SeqCst), 1);
    assert_eq!(result.unwrap().join().unwrap(), 2);
    for handle in busy {
        handle.join().unwrap();
    }
    drop(first);
    assert!(exec.shutdown_timeout(WATCHDOG));
}

#[test]
fn dropping_a_task_set_cancels_every_task_though_one_drop_panics() {
    let _watchdog = common::test_watchdog(
        "late_panics::dropping_a_task_set_cancels_every_task_though_one_drop_panics",
    );
    let exec = BoundedExecutor::builder().max_workers(1).capacity(4).build().unwrap();
    let drops = Arc::new(AtomicUsize::new(0));
    let (gate, busy) = occupy_workers(&exec);
    let mut set = TaskSet::new(&exec);
    for _ in 0..3 {
        let bomb = PanicOnDrop(Arc::clone(&drops));
        set.submit(move || drop(bomb)).unwrap();
    }
    let dropped = panic::catch_unwind(AssertUnwindSafe(|| drop(set)));
    assert!(dropped.is_err(), "the first panic comes out of the set's Drop");
    assert_eq!(drops.load(Ordering::SeqCst), 3, "every closure was cancelled and dropped");
    gate.open();
    for handle in busy {
        handle.join().unwrap();
    }
    assert_every_slot_is_back(&exec);
    assert_eq!(exec.stats().cancelled, 3);
}

#[test]
fn dropping_a_map_cancels_every_task_though_one_drop_panics() {
    let _watchdog = common::test_watchdog(
        "late_panics::dropping_a_map_cancels_every_task_though_one_drop_panics",
    );
    let exec = BoundedExecutor::builder().max_workers(1).capacity(4).build().unwrap();
    let drops = Arc::new(AtomicUsize::new(0));
    let gate = Gate::new();
    let mut map = {
        let (gate, drops) = (gate.clone(), Arc::clone(&drops));
        exec.map(0..10, move |i| {
            if i == 0 {
                gate.wait();
            }
            PanicOnDrop(Arc::clone(&drops))
        })
    };
    // Taking the first item fills the window; the results of later items, once run, panic
    // when dropped.
    let opener = {
        let gate = gate.clone();
        std::thread::spawn(move || gate.open())
    };
    let first = map.next().unwrap().unwrap();
    opener.join().unwrap();
    let _ = panic::catch_unwind(AssertUnwindSafe(|| drop(first)));
    let _ = panic::catch_unwind(AssertUnwindSafe(|| drop(map)));
    // Once idle, the worker has popped every entry (a cancelled one is a husk until then).
    let stats = exec.stats();
    assert_eq!(stats.submitted, stats.completed + stats.cancelled);
    assert_eq!(drops.load(Ordering::SeqCst) as u64, stats.completed);
    assert_every_slot_is_back(&exec);
    assert!(exec.shutdown_timeout(WATCHDOG));
}
