//! Nested submission and joins from inside workers never deadlock, even at capacity 1.

mod common;

use std::sync::Arc;

use bounded_executor::BoundedExecutor;

fn fib(exec: &Arc<BoundedExecutor>, n: u64) -> u64 {
    if n < 2 {
        return n;
    }
    let inner = Arc::clone(exec);
    let left = exec.submit(move || fib(&inner, n - 1)).unwrap();
    let right = fib(exec, n - 2);
    left.join().unwrap() + right
}

fn merge_sort(exec: &Arc<BoundedExecutor>, mut v: Vec<u32>) -> Vec<u32> {
    if v.len() <= 4096 {
        v.sort_unstable();
        return v;
    }
    let right_half = v.split_off(v.len() / 2);
    let inner = Arc::clone(exec);
    let right = exec.submit(move || merge_sort(&inner, right_half)).unwrap();
    let left = merge_sort(exec, v);
    let right = right.join().unwrap();
    let mut merged = Vec::with_capacity(left.len() + right.len());
    let (mut i, mut j) = (0, 0);
    while i < left.len() && j < right.len() {
        if left[i] <= right[j] {
            merged.push(left[i]);
            i += 1;
        } else {
            merged.push(right[j]);
            j += 1;
        }
    }
    merged.extend_from_slice(&left[i..]);
    merged.extend_from_slice(&right[j..]);
    merged
}

fn fib_on(exec: BoundedExecutor, n: u64) -> u64 {
    let exec = Arc::new(exec);
    let inner = Arc::clone(&exec);
    let result = exec.submit(move || fib(&inner, n)).unwrap().join().unwrap();
    exec.shutdown();
    result
}

#[test]
fn parallel_fibonacci_with_one_worker_at_capacity_one() {
    let _watchdog =
        common::test_watchdog("nested::parallel_fibonacci_with_one_worker_at_capacity_one");
    let exec = BoundedExecutor::builder().max_workers(1).capacity(1).build().unwrap();
    assert_eq!(fib_on(exec, 25), 75_025);
}

#[test]
fn parallel_fibonacci_with_two_workers_at_ratio_two() {
    let _watchdog =
        common::test_watchdog("nested::parallel_fibonacci_with_two_workers_at_ratio_two");
    let exec = BoundedExecutor::builder().max_workers(2).queue_ratio(2).build().unwrap();
    assert_eq!(fib_on(exec, 25), 75_025);
}

fn sorted_by(exec: BoundedExecutor) {
    let exec = Arc::new(exec);
    // A deterministic shuffle of 0..1M.
    let input: Vec<u32> =
        (0..1_000_000u32).map(|i| i.wrapping_mul(2_654_435_761) % 1_000_003).collect();
    let mut expected = input.clone();
    expected.sort_unstable();
    let inner = Arc::clone(&exec);
    let sorted = exec.submit(move || merge_sort(&inner, input)).unwrap().join().unwrap();
    assert_eq!(sorted, expected);
    exec.shutdown();
}

#[test]
fn parallel_merge_sort_with_one_worker_at_capacity_one() {
    let _watchdog =
        common::test_watchdog("nested::parallel_merge_sort_with_one_worker_at_capacity_one");
    sorted_by(BoundedExecutor::builder().max_workers(1).capacity(1).build().unwrap());
}

#[test]
fn parallel_merge_sort_with_two_workers_at_ratio_two() {
    let _watchdog =
        common::test_watchdog("nested::parallel_merge_sort_with_two_workers_at_ratio_two");
    sorted_by(BoundedExecutor::builder().max_workers(2).queue_ratio(2).build().unwrap());
}

#[test]
fn try_submit_from_a_full_worker_still_says_full() {
    let _watchdog = common::test_watchdog("nested::try_submit_from_a_full_worker_still_says_full");
    let exec = Arc::new(BoundedExecutor::builder().max_workers(1).capacity(1).build().unwrap());
    let inner = Arc::clone(&exec);
    let full = exec.submit(move || inner.try_submit(|| ()).unwrap_err().is_full()).unwrap();
    assert!(full.join().unwrap());
}

#[test]
fn a_nested_submit_with_room_is_queued_not_inlined() {
    let _watchdog =
        common::test_watchdog("nested::a_nested_submit_with_room_is_queued_not_inlined");
    let exec = Arc::new(BoundedExecutor::builder().max_workers(1).capacity(2).build().unwrap());
    let inner = Arc::clone(&exec);
    let outer = exec.submit(move || {
        let me = std::thread::current().id();
        let child = inner.submit(std::thread::current).unwrap();
        // Joining from the worker runs the queued child here: same thread, not inline-counted.
        (me, child.join().unwrap().id())
    });
    let (outer_thread, child_thread) = outer.unwrap().join().unwrap();
    assert_eq!(outer_thread, child_thread);
    exec.shutdown();
    assert_eq!(exec.stats().inline, 0);
}
