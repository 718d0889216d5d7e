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
    let exec = Builder::new().max_workers(1).queue_ratio(3).build().unwrap();
    exec.set_max_workers(3).unwrap();
    assert_eq!((exec.max_workers(), exec.capacity(), exec.workers()), (3, 9, 3));
    // Three tasks that finish only together: three threads run at once.
    run_together(&exec, 3);
    assert_every_slot_is_back(&exec);
}

#[test]
fn shrinking_lets_tasks_in_flight_finish_and_new_submits_wait_for_the_new_bound() {
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
