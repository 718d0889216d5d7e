//! Freeing a task is user code too: a waker its handle left stored is dropped with the task.
//! A helping producer drops the task inside the same containment as its run, so a waker whose
//! `Drop` panics never escapes `submit` with a slot kept (issue 19, item 6); a worker contains
//! it the same way and goes on.

mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use bounded_executor::{BoundedExecutor, TaskHandle};
use common::{assert_every_slot_is_back, join_within, start_gated, watchdog, Gate};

/// A waker whose last reference panics as it is dropped (counted, so the test knows it ran).
struct PanicsOnDrop(Arc<AtomicUsize>);

impl Wake for PanicsOnDrop {
    fn wake(self: Arc<Self>) {}
}

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
        panic!("a stored waker's Drop panics");
    }
}

/// Leaves a waker that panics on drop stored in `handle`'s task, then drops the handle: the
/// task's queue entry is its only reference, and freeing the task drops the waker.
fn store_a_panicking_waker_and_detach(handle: TaskHandle<()>, drops: &Arc<AtomicUsize>) {
    let mut handle = handle;
    let waker = Waker::from(Arc::new(PanicsOnDrop(Arc::clone(drops))));
    let polled = Pin::new(&mut handle).poll(&mut Context::from_waker(&waker));
    assert!(matches!(polled, Poll::Pending), "the task is queued behind a gated one");
    drop(waker); // the task's stored clone is the last reference now
    drop(handle);
}

/// One worker running a gated task, and `capacity` 2.
fn one_busy_worker(helps: bool) -> (BoundedExecutor, Gate, TaskHandle<()>) {
    let exec = BoundedExecutor::builder()
        .max_workers(1)
        .capacity(2)
        .producer_helps(helps)
        .build()
        .unwrap();
    let gate = Gate::new();
    let busy = start_gated(&exec, 1, &gate).pop().unwrap();
    (exec, gate, busy)
}

#[test]
fn a_helper_freeing_a_task_whose_waker_panics_keeps_no_slot_and_submit_returns() {
    let _watchdog = common::test_watchdog("helped_task_drop::a_helper_freeing_a_task_whose_waker_panics_keeps_no_slot_and_submit_returns");
    let _watchdog = watchdog("a helper whose helped task's waker panics on drop");
    let (exec, gate, busy) = one_busy_worker(true);
    let drops = Arc::new(AtomicUsize::new(0));
    store_a_panicking_waker_and_detach(exec.submit(|| ()).unwrap(), &drops);
    // Full: this submit runs the queued task alone (nobody else holds it), frees it, and takes
    // over its slot. The waker's panic is contained, not raised out of `submit`.
    let mine = exec.submit(|| 7).unwrap();
    assert_eq!(drops.load(Ordering::SeqCst), 1, "the helper freed the task, waker included");
    assert_eq!(exec.stats().helped, 1);
    gate.open();
    join_within(busy, "the gated task").unwrap();
    assert_eq!(join_within(mine, "the producer's task").unwrap(), 7);
    assert_eq!(exec.in_flight(), 0);
    assert_every_slot_is_back(&exec);
    exec.shutdown();
    let stats = exec.stats();
    // The gated task, the freed one, ours, and `assert_every_slot_is_back`'s.
    assert_eq!(stats.submitted, 3 + exec.capacity() as u64);
    assert_eq!(stats.completed, stats.submitted);
}

#[test]
fn a_worker_freeing_a_task_whose_waker_panics_contains_it_and_goes_on() {
    let _watchdog = common::test_watchdog(
        "helped_task_drop::a_worker_freeing_a_task_whose_waker_panics_contains_it_and_goes_on",
    );
    let _watchdog = watchdog("a worker whose task's waker panics on drop");
    let (exec, gate, busy) = one_busy_worker(false);
    let drops = Arc::new(AtomicUsize::new(0));
    store_a_panicking_waker_and_detach(exec.submit(|| ()).unwrap(), &drops);
    gate.open();
    join_within(busy, "the gated task").unwrap();
    // The same worker frees the task, contains the waker's panic, and runs the next task.
    assert_eq!(join_within(exec.submit(|| 7).unwrap(), "a task after").unwrap(), 7);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    assert_eq!(exec.in_flight(), 0);
    assert_every_slot_is_back(&exec);
    exec.shutdown();
    assert_eq!(exec.workers(), 0);
}
