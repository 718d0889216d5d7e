//! Resizing a live executor: `set_max_workers` and `set_capacity`. Growing starts threads and
//! wakes waiting producers; shrinking loses nothing, lets tasks in flight finish and makes new
//! submits wait for the new bound.

mod common;

use std::collections::BTreeSet;
use std::sync::{mpsc, Arc};
use std::thread;

use bounded_executor::{BoundedExecutor, Builder, TrySubmitError};
use common::{assert_every_slot_is_back, occupy_workers, run_together, Gate, WATCHDOG};

#[test]
fn growing_starts_threads_and_the_capacity_follows_the_ratio() {
    let _watchdog =
        common::test_watchdog("resize::growing_starts_threads_and_the_capacity_follows_the_ratio");
    let exec = Builder::new().max_workers(1).queue_ratio(3).build().unwrap();
    exec.set_max_workers(3).unwrap();
    assert_eq!((exec.max_workers(), exec.capacity(), exec.workers()), (3, 9, 3));
    // Three tasks that finish only together: three threads run at once.
    run_together(&exec, 3);
    assert_every_slot_is_back(&exec);
}

#[test]
fn shrinking_lets_tasks_in_flight_finish_and_new_submits_wait_for_the_new_bound() {
    let _watchdog = common::test_watchdog(
        "resize::shrinking_lets_tasks_in_flight_finish_and_new_submits_wait_for_the_new_bound",
    );
    let (exits_tx, exits) = mpsc::channel();
    let exits_tx = std::sync::Mutex::new(exits_tx);
    let exec = Builder::new()
        .max_workers(4)
        .on_thread_stop(move |index| {
            let _ = exits_tx.lock().unwrap().send(index);
        })
        .build()
        .unwrap();
    let (gate, held) = occupy_workers(&exec);
    let queued: Vec<_> = (0..4).map(|i| exec.submit(move || i).unwrap()).collect();
    assert_eq!(exec.in_flight(), 8);
    exec.set_max_workers(1).unwrap();
    assert_eq!((exec.max_workers(), exec.capacity()), (1, 2));
    // Nothing was dropped or cancelled, and the count is over the new bound: no room.
    assert_eq!(exec.in_flight(), 8);
    assert!(matches!(exec.try_submit(|| 0), Err(TrySubmitError::Full(_))));
    gate.open();
    held.into_iter().for_each(|h| h.join().unwrap());
    for (i, handle) in queued.into_iter().enumerate() {
        assert_eq!(handle.join().unwrap(), i);
    }
    // Three threads leave, one stays.
    for _ in 0..3 {
        exits.recv_timeout(WATCHDOG).expect("a thread beyond the new maximum never exited");
    }
    assert_eq!(exec.workers(), 1);
    assert_every_slot_is_back(&exec);
    // One worker now: every task that runs on a worker runs on the same one (the others run
    // on this thread, which helps while the executor is full).
    let names: BTreeSet<String> = (0..50)
        .map(|_| exec.submit(|| thread::current().name().unwrap_or("").to_owned()).unwrap())
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .filter(|name| name.starts_with("bounded-executor-"))
        .collect();
    assert!(names.len() <= 1, "{names:?}");
    assert!(exits.try_recv().is_err(), "the kept worker exited");
}

#[test]
fn a_capacity_raise_wakes_a_waiting_producer() {
    let _watchdog = common::test_watchdog("resize::a_capacity_raise_wakes_a_waiting_producer");
    let exec = Arc::new(Builder::new().max_workers(1).capacity(1).build().unwrap());
    let (gate, held) = occupy_workers(&exec);
    let producer = {
        let exec = Arc::clone(&exec);
        // Waits: the executor is full and nothing is queued to help with.
        thread::spawn(move || exec.submit(|| 5).unwrap())
    };
    exec.set_capacity(2).unwrap();
    let handle = producer.join().unwrap();
    gate.open();
    held.into_iter().for_each(|h| h.join().unwrap());
    assert_eq!(handle.join().unwrap(), 5);
}

#[test]
fn a_capacity_past_the_queue_built_for_it_still_takes_every_task() {
    let _watchdog = common::test_watchdog(
        "resize::a_capacity_past_the_queue_built_for_it_still_takes_every_task",
    );
    // Built for capacity 2; raised to 100 while the only worker is held: a submit that finds
    // the queue's array full runs a queued task itself instead of waiting.
    let exec = Builder::new().max_workers(1).build().unwrap();
    exec.set_capacity(100).unwrap();
    let (gate, held) = occupy_workers(&exec);
    let handles: Vec<_> = (0..100).map(|i| exec.submit(move || i).unwrap()).collect();
    gate.open();
    held.into_iter().for_each(|h| h.join().unwrap());
    for (i, handle) in handles.into_iter().enumerate() {
        assert_eq!(handle.join().unwrap(), i);
    }
    exec.shutdown();
    let stats = exec.stats();
    assert_eq!((stats.submitted, stats.completed), (101, 101));
}

#[test]
fn an_explicit_capacity_stays_put_when_workers_change() {
    let _watchdog =
        common::test_watchdog("resize::an_explicit_capacity_stays_put_when_workers_change");
    let exec = Builder::new().max_workers(2).capacity(10).build().unwrap();
    exec.set_max_workers(5).unwrap();
    assert_eq!(exec.capacity(), 10);
    let exec = BoundedExecutor::new(2);
    exec.set_capacity(3).unwrap();
    exec.set_max_workers(4).unwrap();
    assert_eq!((exec.max_workers(), exec.capacity()), (4, 3));
}

#[test]
fn a_lazy_executor_keeps_its_minimum_across_resizes() {
    let _watchdog =
        common::test_watchdog("resize::a_lazy_executor_keeps_its_minimum_across_resizes");
    let exec = Builder::new().max_workers(4).min_workers(1).build().unwrap();
    assert_eq!(exec.workers(), 1);
    exec.set_max_workers(8).unwrap();
    assert_eq!((exec.workers(), exec.capacity()), (1, 16));
    // A maximum under the minimum takes the minimum down with it.
    exec.set_max_workers(1).unwrap();
    assert_eq!(exec.submit(|| 1).unwrap().join().unwrap(), 1);
}

#[test]
fn bad_sizes_are_errors_and_change_nothing() {
    let _watchdog = common::test_watchdog("resize::bad_sizes_are_errors_and_change_nothing");
    let exec = BoundedExecutor::new(2);
    assert_eq!(exec.set_max_workers(0).unwrap_err().to_string(), "max_workers must be at least 1");
    assert!(exec.set_max_workers(Builder::MAX_WORKERS + 1).is_err());
    assert_eq!(exec.set_capacity(0).unwrap_err().to_string(), "capacity must be at least 1");
    assert!(exec.set_capacity(usize::MAX).is_err());
    let huge = Builder::new().max_workers(1).queue_ratio(usize::MAX >> 8).build();
    if let Ok(huge) = huge {
        assert!(huge.set_max_workers(Builder::MAX_WORKERS).is_err(), "ratio × workers overflows");
    }
    assert_eq!((exec.max_workers(), exec.capacity(), exec.workers()), (2, 4, 2));
    exec.shutdown();
    assert!(exec.set_max_workers(3).unwrap_err().is_shutdown());
    assert!(exec.set_capacity(3).unwrap_err().is_shutdown());
}

#[test]
fn a_task_may_resize_its_own_executor() {
    let _watchdog = common::test_watchdog("resize::a_task_may_resize_its_own_executor");
    let exec = Arc::new(BoundedExecutor::new(2));
    let inner = Arc::clone(&exec);
    exec.submit(move || inner.set_max_workers(1).unwrap()).unwrap().join().unwrap();
    let inner = Arc::clone(&exec);
    exec.submit(move || inner.set_max_workers(3).unwrap()).unwrap().join().unwrap();
    assert_eq!(exec.max_workers(), 3);
    let gate = Gate::new();
    let handles: Vec<_> = (0..6)
        .map(|_| {
            let gate = gate.clone();
            exec.submit(move || gate.wait_at_most(WATCHDOG)).unwrap()
        })
        .collect();
    gate.open();
    handles.into_iter().for_each(|h| h.join().unwrap());
}

/// What the counts promise while a shrink drains (issue 24): `capacity()` is the new bound at
/// once, `in_flight()` and `queued()` still count the tasks admitted under the old one (so they
/// exceed `capacity()` until those end), and nothing new is admitted until `in_flight()` is
/// under the new bound.
#[test]
fn while_a_shrink_drains_the_counts_exceed_the_new_capacity_and_nothing_is_admitted() {
    let _watchdog = common::test_watchdog(
        "resize::while_a_shrink_drains_the_counts_exceed_the_new_capacity_and_nothing_is_admitted",
    );
    let exec = Builder::new().max_workers(1).capacity(4).build().unwrap();
    let (gate, mut held) = occupy_workers(&exec);
    held.extend((0..3).map(|_| exec.submit(|| ()).unwrap()));
    exec.set_capacity(2).unwrap();
    assert_eq!(exec.capacity(), 2);
    assert_eq!((exec.in_flight(), exec.running(), exec.queued()), (4, 1, 3));
    assert!(matches!(exec.try_submit(|| ()), Err(TrySubmitError::Full(_))));
    assert_eq!(exec.stats().peak_in_flight, 4, "the peak of the old bound stays");
    gate.open();
    held.into_iter()
        .for_each(|h| common::join_within(h, "a task admitted before the shrink").unwrap());
    assert_eq!(exec.in_flight(), 0);
    // The new bound: one running, one queued, and the third refused.
    let (gate, held) = occupy_workers(&exec);
    let queued = exec.submit(|| ()).unwrap();
    assert_eq!(exec.in_flight(), 2);
    assert!(matches!(exec.try_submit(|| ()), Err(TrySubmitError::Full(_))));
    gate.open();
    held.into_iter().for_each(|h| common::join_within(h, "a gated task").unwrap());
    common::join_within(queued, "the queued task").unwrap();
    assert_every_slot_is_back(&exec);
}

/// `map` and `map_unordered` follow the live capacity (issue 24), not the one they were made
/// under: a raise widens the window from the next result on, and after a shrink no input is
/// pulled until the window (results not yet taken included) is under the new capacity. Tasks
/// of a map alone hold every slot taken, so each window size here is exact.
#[test]
fn maps_follow_the_live_capacity() {
    let _watchdog = common::test_watchdog("resize::maps_follow_the_live_capacity");
    for ordered in [true, false] {
        let exec = Builder::new().max_workers(2).capacity(4).build().unwrap();
        let pulled = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let inputs = {
            let pulled = Arc::clone(&pulled);
            (0u64..).inspect(move |_| {
                pulled.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            })
        };
        let mut results: Box<dyn Iterator<Item = _>> = if ordered {
            Box::new(exec.map(inputs, |x| x))
        } else {
            Box::new(exec.map_unordered(inputs, |x| x))
        };
        let pulled = || pulled.load(std::sync::atomic::Ordering::SeqCst);
        let mut taken = 0;
        let mut next = || {
            results.next().unwrap().unwrap();
            taken += 1;
            taken
        };
        // The window fills to the capacity, then one result is taken.
        let taken_now = next();
        assert_eq!(pulled() - taken_now, 3, "ordered {ordered}: a window of 4");
        exec.set_capacity(8).unwrap();
        let taken_now = next();
        assert_eq!(pulled() - taken_now, 7, "ordered {ordered}: a window of 8 after the raise");
        exec.set_capacity(2).unwrap();
        let before = pulled();
        for _ in 0..6 {
            next();
            assert_eq!(
                pulled(),
                before,
                "ordered {ordered}: an input pulled over the new capacity"
            );
        }
        let taken_now = next();
        assert_eq!(pulled() - taken_now, 1, "ordered {ordered}: a window of 2 after the shrink");
        drop(results);
        assert_every_slot_is_back(&exec);
    }
}
