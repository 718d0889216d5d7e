//! Task timings (issue 24): `Stats::timings`, the queue wait and run time of tasks and the wait
//! of submits, as log2 histograms. Every task is timed where a per-task hook is set or where
//! tasks are long; short tasks are sampled, each sample counting for its stride.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bounded_executor::{BoundedExecutor, Builder, Histogram};
use common::{join_within, occupy_workers};

/// Waits, under the test's watchdog, until every task has ended.
fn wait_idle(exec: &BoundedExecutor) {
    assert!(exec.wait_idle_timeout(common::WATCHDOG), "the executor never went idle");
}

#[test]
fn every_task_is_timed_where_a_per_task_hook_is_set() {
    let _watchdog =
        common::test_watchdog("timings::every_task_is_timed_where_a_per_task_hook_is_set");
    let hooked = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&hooked);
    let exec = Builder::new()
        .max_workers(2)
        .after_task(move |_| {
            seen.fetch_add(1, Ordering::SeqCst);
        })
        .build()
        .unwrap();
    const TASKS: usize = 300;
    let handles: Vec<_> = (0..TASKS)
        .map(|i| {
            exec.submit(move || {
                if i % 7 == 0 {
                    panic!("task {i} panics, and is timed all the same");
                }
            })
            .unwrap()
        })
        .collect();
    for handle in handles {
        let _ = join_within(handle, "a hooked task");
    }
    wait_idle(&exec);
    let timings = exec.stats().timings;
    assert_eq!(hooked.load(Ordering::SeqCst), TASKS);
    assert_eq!(timings.run_time.count(), TASKS as u64, "{timings:?}");
    assert_eq!(timings.queue_wait.count(), TASKS as u64, "{timings:?}");
}

#[test]
fn tasks_of_a_millisecond_are_all_timed_and_their_quantiles_bound_them() {
    let _watchdog = common::test_watchdog(
        "timings::tasks_of_a_millisecond_are_all_timed_and_their_quantiles_bound_them",
    );
    let exec = BoundedExecutor::new(2);
    const TASKS: u64 = 20;
    let handles: Vec<_> = (0..TASKS)
        .map(|_| exec.submit(|| std::thread::sleep(Duration::from_millis(1))).unwrap())
        .collect();
    for handle in handles {
        join_within(handle, "a 1 ms task").unwrap();
    }
    wait_idle(&exec);
    let run_time = exec.stats().timings.run_time;
    assert_eq!(run_time.count(), TASKS, "{run_time:?}");
    let (p50, p99, max) =
        (run_time.p50().unwrap(), run_time.p99().unwrap(), run_time.max().unwrap());
    assert!(Duration::from_millis(1) <= p50 && p50 <= p99 && p99 <= max, "{p50:?} {p99:?} {max:?}");
    // An upper bound within a factor of 2 of the bucket's start: at least half the median
    // task's bucket lies below it, and that bucket holds a 1 ms run.
    let bucket = Histogram::bucket_of(p50.min(max));
    assert!(Histogram::bucket_range(bucket).start <= max);
    assert_eq!(exec.stats().timings.queue_wait.count(), TASKS);
}

#[test]
fn short_tasks_are_sampled_each_sample_counting_for_its_stride() {
    let _watchdog = common::test_watchdog(
        "timings::short_tasks_are_sampled_each_sample_counting_for_its_stride",
    );
    let exec = BoundedExecutor::new(2);
    const TASKS: u64 = 128 * 80;
    let mut last_count = 0;
    for i in 0..TASKS {
        exec.execute(|| ()).unwrap();
        if i % 1024 == 0 {
            // Each bucket only grows, and a later read of it sees at least an earlier one.
            let count = exec.stats().timings.run_time.count();
            assert!(count >= last_count, "{count} after {last_count}");
            last_count = count;
        }
    }
    wait_idle(&exec);
    let timings = exec.stats().timings;
    let count = timings.run_time.count();
    // One producer: a task is timed when the count before it is a multiple of the stride (128
    // for no-op tasks, 1 after a timed task that ran for 20 µs or more, a preempted one), and
    // counts for that stride, so the estimate is the task count to within a stride per change.
    assert!((TASKS / 2..=2 * TASKS).contains(&count), "{count} of {TASKS}: {timings:?}");
    assert!(
        timings.run_time.buckets().iter().any(|&n| n >= 128),
        "no sample counted for a stride: {timings:?}"
    );
    assert_eq!(timings.queue_wait.count(), count, "each timed task has both times");
    assert!(timings.run_time.p50().unwrap() < Duration::from_millis(10), "{timings:?}");
}

#[test]
fn a_submit_that_waits_is_timed_and_one_that_does_not_is_not() {
    let _watchdog =
        common::test_watchdog("timings::a_submit_that_waits_is_timed_and_one_that_does_not_is_not");
    let exec = Builder::new().max_workers(2).capacity(4).producer_helps(false).build().unwrap();
    let (gate, held) = occupy_workers(&exec);
    // Two more fill the capacity, without waiting.
    let queued: Vec<_> = (0..2).map(|_| exec.submit(|| ()).unwrap()).collect();
    assert!(exec.stats().timings.submit_wait.is_empty(), "nobody waited yet");
    // A timed submit into the full executor waits its 5 ms out.
    let wait = Duration::from_millis(5);
    assert!(exec.submit_timeout(|| (), wait).unwrap_err().is_timeout());
    let submit_wait = exec.stats().timings.submit_wait;
    assert_eq!(submit_wait.count(), 1, "{submit_wait:?}");
    assert!(submit_wait.max().unwrap() >= wait, "{submit_wait:?}");
    assert!(submit_wait.p50().unwrap() >= wait);
    gate.open();
    for handle in held.into_iter().chain(queued) {
        join_within(handle, "a gated or queued task").unwrap();
    }
    exec.shutdown();
    assert_eq!(exec.stats().timings.submit_wait.count(), 1);
}

#[test]
fn cancelled_tasks_are_not_timed_and_queue_waits_include_the_wait_behind_others() {
    let _watchdog = common::test_watchdog(
        "timings::cancelled_tasks_are_not_timed_and_queue_waits_include_the_wait_behind_others",
    );
    let exec = Builder::new().max_workers(1).capacity(4).after_task(|_| {}).build().unwrap();
    let (gate, held) = occupy_workers(&exec);
    let cancelled = exec.submit(|| ()).unwrap();
    let waits = exec.submit(|| ()).unwrap();
    assert!(cancelled.cancel());
    std::thread::sleep(Duration::from_millis(5));
    gate.open();
    for handle in held.into_iter().chain([waits]) {
        join_within(handle, "a gated or queued task").unwrap();
    }
    wait_idle(&exec);
    let timings = exec.stats().timings;
    assert_eq!(timings.run_time.count(), 2, "the gated task and the one behind it: {timings:?}");
    // The queued task waited at least the 5 ms the gate was held after it was submitted.
    assert!(timings.queue_wait.max().unwrap() >= Duration::from_millis(5), "{timings:?}");
}

/// A mix that repeats (a short task, then a long one, again and again) has each kind sampled:
/// a sample picked by the submit count alone, one count in 128, would only ever see the short
/// ones.
#[test]
fn a_repeating_mix_of_tasks_has_each_kind_sampled() {
    let _watchdog =
        common::test_watchdog("timings::a_repeating_mix_of_tasks_has_each_kind_sampled");
    let exec = BoundedExecutor::new(2);
    const PAIRS: usize = 1024;
    let long = Duration::from_micros(300);
    for _ in 0..PAIRS {
        exec.execute(|| ()).unwrap();
        exec.execute(move || std::thread::sleep(long)).unwrap();
    }
    wait_idle(&exec);
    let run_time = exec.stats().timings.run_time;
    assert!(run_time.max().unwrap() >= long, "no long task was timed: {run_time:?}");
    // And the short ones too (under 20 µs, unless preempted).
    assert!(run_time.buckets()[..Histogram::bucket_of(Duration::from_micros(20))]
        .iter()
        .any(|&n| n > 0));
}

/// A `map` whose window is full waits for its oldest result where a submit would wait for a
/// slot: the bound holding the producer back, counted as a submit wait.
#[test]
fn a_map_held_back_by_a_full_window_counts_its_waits_as_submit_waits() {
    let _watchdog = common::test_watchdog(
        "timings::a_map_held_back_by_a_full_window_counts_its_waits_as_submit_waits",
    );
    let exec = Builder::new().max_workers(1).capacity(2).build().unwrap();
    let task = Duration::from_millis(20);
    let results: Vec<_> = exec
        .map(0..5u32, move |i| {
            std::thread::sleep(task);
            i
        })
        .map(Result::unwrap)
        .collect();
    assert_eq!(results, [0, 1, 2, 3, 4]);
    let stats = exec.stats();
    let waits = stats.timings.submit_wait;
    // The first four calls find the window full (two started, the oldest running): each
    // waits for it, unless it is already done. The last finds the input exhausted: its wait
    // is for the tail, not for room, and is not counted.
    assert!((1..=4).contains(&waits.count()), "{waits:?}");
    assert!(stats.submit_wait > Duration::ZERO && waits.max().unwrap() <= stats.submit_wait);
    // Nothing waits when the window never fills.
    let roomy = BoundedExecutor::builder().max_workers(1).capacity(8).build().unwrap();
    let _: Vec<_> = roomy.map(0..5u32, |i| i).collect();
    assert!(roomy.stats().timings.submit_wait.is_empty());
}
