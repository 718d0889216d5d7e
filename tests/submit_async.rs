//! `submit_async`: waits for a slot without blocking the thread, wakes when a slot frees, is
//! cancel-safe, and works under tokio and `futures::executor`. Has a counting allocator, so it
//! lives in a process of its own.

mod common;

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use bounded_executor::BoundedExecutor;
use common::{occupy_workers, DropCounter};
use counting_alloc::{peak_growth, reset_peak, Counting};

#[path = "common/counting_alloc.rs"]
mod counting_alloc;

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Tests in this file that measure memory, or allocate a lot, run one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// Tasks the flat-memory tests submit (fewer under Miri).
const TASKS: u64 = common::rounds(100_000, 100);

#[derive(Default)]
struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn submit_100k_from_a_current_thread_runtime() -> (u64, usize, usize) {
    let exec = Arc::new(BoundedExecutor::builder().max_workers(2).capacity(4).build().unwrap());
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let base = reset_peak();
    let sum = runtime.block_on(async {
        let mut window = std::collections::VecDeque::new();
        let mut sum = 0u64;
        for i in 0..TASKS {
            window.push_back(exec.submit_async(move || i).await.unwrap());
            if window.len() > 4 {
                sum += window.pop_front().unwrap().await.unwrap();
            }
        }
        for handle in window {
            sum += handle.await.unwrap();
        }
        sum
    });
    let growth = peak_growth(base);
    (sum, growth, exec.stats().peak_in_flight)
}

#[test]
fn a_tokio_current_thread_runtime_submits_100k_tasks_at_capacity_4_with_flat_memory() {
    let _watchdog = common::test_watchdog("submit_async::a_tokio_current_thread_runtime_submits_100k_tasks_at_capacity_4_with_flat_memory");
    let _serial = SERIAL.lock().unwrap();
    let (sum, growth, peak) = submit_100k_from_a_current_thread_runtime();
    println!("submit_async: {TASKS} tasks at capacity 4, peak heap +{growth} bytes, peak in flight {peak}");
    assert_eq!(sum, (0..TASKS).sum::<u64>());
    assert!(peak <= 4);
    // Runtime, executor and a window of handles: a few tens of KiB, whatever the task count.
    assert!(growth < 256 * 1024, "peak heap grew by {growth} bytes");
}

#[test]
fn works_under_futures_executor() {
    let _watchdog = common::test_watchdog("submit_async::works_under_futures_executor");
    let exec = BoundedExecutor::builder().max_workers(2).capacity(2).build().unwrap();
    let sum = futures::executor::block_on(async {
        let mut sum = 0;
        for i in 0..common::rounds(1_000, 50) {
            sum += exec.submit_async(move || i).await.unwrap().await.unwrap();
        }
        sum
    });
    assert_eq!(sum, (0..common::rounds(1_000, 50)).sum::<u64>());
}

#[test]
fn a_pending_submit_is_woken_when_a_slot_frees_and_not_before() {
    let _watchdog = common::test_watchdog(
        "submit_async::a_pending_submit_is_woken_when_a_slot_frees_and_not_before",
    );
    let exec = BoundedExecutor::builder().max_workers(1).capacity(1).build().unwrap();
    let (gate, mut held) = occupy_workers(&exec);
    let counter = Arc::new(CountingWaker::default());
    let waker = Waker::from(Arc::clone(&counter));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(exec.submit_async(|| 5));
    assert!(future.as_mut().poll(&mut cx).is_pending());
    assert!(future.as_mut().poll(&mut cx).is_pending(), "a re-poll while full stays pending");
    assert_eq!(counter.0.load(Ordering::SeqCst), 0, "no wake-up while nothing freed");
    gate.open();
    held.pop().unwrap().join().unwrap(); // the slot is released before join returns
    assert_eq!(counter.0.load(Ordering::SeqCst), 1, "exactly one wake-up for the freed slot");
    let Poll::Ready(Ok(handle)) = future.as_mut().poll(&mut cx) else { panic!("expected a slot") };
    assert_eq!(handle.join().unwrap(), 5);
}

#[test]
fn dropping_a_pending_submit_loses_no_slot_and_runs_nothing() {
    let _watchdog = common::test_watchdog(
        "submit_async::dropping_a_pending_submit_loses_no_slot_and_runs_nothing",
    );
    let exec = BoundedExecutor::builder().max_workers(1).capacity(1).build().unwrap();
    let (gate, held) = occupy_workers(&exec);
    let closures = DropCounter::new();
    let counter = Arc::new(CountingWaker::default());
    let waker = Waker::from(Arc::clone(&counter));
    let mut cx = Context::from_waker(&waker);
    {
        let token = closures.make();
        let mut future = Box::pin(exec.submit_async(move || {
            drop(token);
            unreachable!("a dropped submit never runs")
        }));
        assert!(future.as_mut().poll(&mut cx).is_pending());
    }
    assert_eq!(closures.dropped(), 1);
    gate.open();
    held.into_iter().for_each(|h| h.join().unwrap());
    assert_eq!(exec.in_flight(), 0);
    assert_eq!(exec.submit(|| 1).unwrap().join().unwrap(), 1);
    exec.shutdown();
    assert_eq!(exec.stats().submitted, 2);
}

#[test]
fn a_woken_submit_that_is_dropped_passes_the_wake_up_on() {
    let _watchdog =
        common::test_watchdog("submit_async::a_woken_submit_that_is_dropped_passes_the_wake_up_on");
    let exec = BoundedExecutor::builder().max_workers(1).capacity(1).build().unwrap();
    let (gate, mut held) = occupy_workers(&exec);
    let (first, second) = (Arc::new(CountingWaker::default()), Arc::new(CountingWaker::default()));
    let (w1, w2) = (Waker::from(first.clone()), Waker::from(second.clone()));
    let mut a = Box::pin(exec.submit_async(|| 1));
    let mut b = Box::pin(exec.submit_async(|| 2));
    assert!(a.as_mut().poll(&mut Context::from_waker(&w1)).is_pending());
    assert!(b.as_mut().poll(&mut Context::from_waker(&w2)).is_pending());
    gate.open();
    held.pop().unwrap().join().unwrap();
    assert_eq!((first.0.load(Ordering::SeqCst), second.0.load(Ordering::SeqCst)), (1, 0));
    drop(a); // woken, but gives up: the free slot's wake-up goes to `b`
    assert_eq!(second.0.load(Ordering::SeqCst), 1);
    let Poll::Ready(Ok(handle)) = b.as_mut().poll(&mut Context::from_waker(&w2)) else {
        panic!("expected a slot")
    };
    assert_eq!(handle.join().unwrap(), 2);
}

#[test]
fn shutdown_wakes_a_pending_submit_with_its_closure() {
    let _watchdog =
        common::test_watchdog("submit_async::shutdown_wakes_a_pending_submit_with_its_closure");
    let exec = BoundedExecutor::builder().max_workers(1).capacity(1).build().unwrap();
    let (gate, held) = occupy_workers(&exec);
    let counter = Arc::new(CountingWaker::default());
    let waker = Waker::from(Arc::clone(&counter));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(exec.submit_async(|| "back"));
    assert!(future.as_mut().poll(&mut cx).is_pending());
    let exec = Arc::new(exec);
    let closer = {
        let exec = Arc::clone(&exec);
        std::thread::spawn(move || exec.shutdown())
    };
    while counter.0.load(Ordering::SeqCst) == 0 {
        std::thread::yield_now(); // shutdown wakes every waiter before it waits for the workers
    }
    let Poll::Ready(Err(err)) = future.as_mut().poll(&mut cx) else { panic!("expected an error") };
    assert!(err.is_shutdown());
    assert_eq!(err.into_inner()(), "back");
    gate.open();
    drop(held);
    closer.join().unwrap();
}

#[test]
fn polling_a_completed_submit_again_panics_without_taking_a_slot() {
    let _watchdog = common::test_watchdog(
        "submit_async::polling_a_completed_submit_again_panics_without_taking_a_slot",
    );
    let _serial = SERIAL.lock().unwrap(); // its panic allocates: keep it out of the heap figure
    let exec = BoundedExecutor::builder().max_workers(1).capacity(1).build().unwrap();
    let waker = Waker::from(Arc::new(CountingWaker::default()));
    let mut cx = Context::from_waker(&waker);
    let mut future = Box::pin(exec.submit_async(|| 1));
    let Poll::Ready(Ok(handle)) = future.as_mut().poll(&mut cx) else { panic!("expected a slot") };
    assert_eq!(handle.join().unwrap(), 1);
    let again = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = future.as_mut().poll(&mut cx);
    }));
    assert!(again.is_err());
    // Regression: the second poll used to take the only slot before noticing.
    assert!(exec.try_submit(|| ()).is_ok());
}
