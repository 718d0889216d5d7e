//! Loom models of the bound and its producers: parking, helping, weights, batched wake-ups (see `mod.rs`).

use super::*;

#[test]
fn loom_the_bound_holds_under_two_producers() {
    loom::model(|| {
        let shared = Arc::new(Shared::new(1, 1));
        let inside = Arc::new(AtomicUsize::new(0));
        let producers: Vec<_> = (0..2)
            .map(|_| {
                let (shared, inside) = (shared.clone(), inside.clone());
                thread::spawn(move || {
                    if shared.try_admit(1).is_ok() {
                        assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0, "two slots at once");
                        inside.fetch_sub(1, Ordering::SeqCst);
                        shared.release(1);
                    }
                })
            })
            .collect();
        for producer in producers {
            producer.join().unwrap();
        }
        assert_eq!(shared.in_flight(), 0);
    });
}

#[test]
fn loom_a_parked_producer_is_woken_by_a_release() {
    loom::model(|| {
        let shared = Arc::new(Shared::new(1, 1));
        shared.try_admit(1).unwrap();
        let producer = {
            let shared = shared.clone();
            thread::spawn(move || {
                // Waits (parks) until the release below; loom reports a deadlock if it is missed.
                assert!(shared.admit(1, Wait::Forever).is_ok());
                shared.release(1);
            })
        };
        shared.release(1);
        producer.join().unwrap();
    });
}

/// A producer that finds the executor full runs the queued task itself while a worker may pop
/// it too: each task runs exactly once, the bound holds, and every slot comes back.
#[test]
fn loom_a_helping_producer_and_a_worker_run_each_task_once() {
    loom::model(|| {
        let shared = Arc::new(Shared::new(1, 1).with_producer_helps(true));
        let runs = Arc::new(AtomicUsize::new(0));
        let worker = worker(shared.clone());
        let task = |runs: &Arc<AtomicUsize>| {
            let runs = runs.clone();
            move || {
                runs.fetch_add(1, Ordering::SeqCst);
            }
        };
        let first = TaskHandle::submit(&shared, 1, task(&runs), Wait::Forever).ok().unwrap();
        // Full: helps with `first` if it is still queued, else waits for the worker.
        let second = TaskHandle::submit(&shared, 1, task(&runs), Wait::Forever).ok().unwrap();
        assert!(first.join().is_ok());
        assert!(second.join().is_ok());
        shared.begin_shutdown();
        worker.join().unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        assert_eq!(shared.slots_taken(), 0);
    });
}

/// A helping producer is handed the slot of the task it ran, unless a shutdown began: then it
/// gives the slot back (the last one stops the workers) and is refused. Either way no slot
/// leaks and every accepted task runs.
#[test]
fn loom_a_helping_producer_racing_shutdown_leaks_no_slot() {
    loom::model(|| {
        let shared = Arc::new(Shared::new(1, 1).with_producer_helps(true));
        let first = TaskHandle::submit(&shared, 1, || 1, Wait::No).ok().unwrap();
        let stopper = {
            let shared = shared.clone();
            thread::spawn(move || shared.begin_shutdown())
        };
        // Full, and no worker yet: helps with `first`, then keeps its slot or is refused.
        let second = TaskHandle::submit(&shared, 1, || 2, Wait::Forever);
        stopper.join().unwrap();
        worker(shared.clone()).join().unwrap();
        assert_eq!(first.join().unwrap(), 1);
        match second {
            Ok(second) => assert_eq!(second.join().unwrap(), 2),
            Err((refusal, _)) => assert_eq!(refusal, Refusal::Shutdown),
        }
        assert_eq!(shared.slots_taken(), 0);
    });
}

/// Two producers of weight 2 under a weight capacity of 3 (the count bound, 2, never binds):
/// they cannot both be in flight, so one waits for the other's task to end on the worker. The
/// waiter must be woken by that release (loom reports a deadlock if the wake-up is lost), the
/// units in the word never pass the capacity, and every slot and unit comes back.
#[test]
fn loom_weighted_producers_that_cannot_both_fit_wait_and_are_woken() {
    loom::model(|| {
        let shared = Arc::new(Shared::new(1, 2).with_weight_capacity(3));
        let worker = worker(shared.clone());
        let submit = |shared: &Arc<Shared>| {
            let handle = TaskHandle::submit(shared, 2, || 2, Wait::Forever).ok().unwrap();
            assert!(shared.units_taken() <= 3, "units past the weight capacity");
            handle
        };
        let producer = {
            let shared = shared.clone();
            thread::spawn(move || submit(&shared).join().unwrap())
        };
        let mine = submit(&shared).join().unwrap();
        assert_eq!(producer.join().unwrap() + mine, 4);
        shared.begin_shutdown();
        worker.join().unwrap();
        assert_eq!((shared.slots_taken(), shared.units_taken()), (0, 0));
    });
}

/// A helping producer that wants 2 units runs a queued task of weight 1 (or the worker does):
/// the weights differ, so the helped task's slot and unit are given back, not handed over,
/// and the producer takes its own. Each task runs once and every slot and unit comes back.
#[test]
fn loom_a_helping_producer_of_another_weight_gives_the_helped_slot_back() {
    loom::model(|| {
        let shared = Arc::new(Shared::new(1, 1).with_producer_helps(true).with_weight_capacity(2));
        let worker = worker(shared.clone());
        let first = TaskHandle::submit(&shared, 1, || 1, Wait::Forever).ok().unwrap();
        // Full (one slot): helps with `first` if it is still queued, else waits for the worker.
        let second = TaskHandle::submit(&shared, 2, || 2, Wait::Forever).ok().unwrap();
        // The second task's units, or none if the worker already ran it: never the first's too.
        assert!(matches!(shared.units_taken(), 0 | 2), "units: {}", shared.units_taken());
        assert_eq!(first.join().unwrap() + second.join().unwrap(), 3);
        shared.begin_shutdown();
        worker.join().unwrap();
        assert_eq!((shared.slots_taken(), shared.units_taken()), (0, 0));
    });
}

/// Sets its flag as it is dropped.
struct SetOnDrop(Arc<AtomicBool>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// A producer helps with a queued task of another weight while the executor shuts down: the
/// helped task's slot is given back as it ends, before its result (nobody's: the handle is
/// gone) is dropped. The shutdown must wait for that drop too: a shutdown that returns with an
/// accepted task still ending is a failure. (Fails without `Threads::wait_helpers`.)
#[test]
fn loom_shutdown_waits_for_a_helper_ending_a_task_of_another_weight() {
    loom::model(|| {
        let shared =
            pool_with(1, 1, 1, |shared| shared.with_producer_helps(true).with_weight_capacity(2));
        let dropped = Arc::new(AtomicBool::new(false));
        let result = SetOnDrop(dropped.clone());
        drop(TaskHandle::submit(&shared, 1, move || result, Wait::No).ok().unwrap());
        let producer = {
            let shared = shared.clone();
            // Full: helps with the first task if the worker has not taken it yet.
            thread::spawn(move || drop(TaskHandle::submit(&shared, 2, || (), Wait::Forever)))
        };
        shut_down(&shared);
        assert!(dropped.load(Ordering::SeqCst), "shutdown returned before a helped task ended");
        producer.join().unwrap();
    });
}

/// A caller runs its own task on a full executor (`submit_or_run`) while it shuts down. The
/// task holds no slot, so nothing in the slot word makes the shutdown wait for it: either the
/// caller is refused, or the shutdown waits for the task to end. (Fails without
/// `Shared::helping_unless_shut_down`'s registration and check.)
#[test]
fn loom_shutdown_waits_for_a_caller_running_its_own_task() {
    loom::model(|| {
        let shared = pool(1, 1, 1);
        // Takes the only slot until the worker has run it.
        drop(TaskHandle::submit(&shared, 1, || (), Wait::No).ok().unwrap());
        let returned = Arc::new(AtomicBool::new(false));
        let ended = Arc::new(AtomicBool::new(false));
        let caller = {
            let (shared, returned, ended) = (shared.clone(), returned.clone(), ended.clone());
            thread::spawn(move || {
                let task = move || {
                    assert!(!returned.load(Ordering::SeqCst), "a task ran after shutdown returned");
                    ended.store(true, Ordering::SeqCst);
                };
                match TaskHandle::submit_or_run(&shared, task) {
                    Ok(handle) => drop(handle),
                    Err((refusal, _)) => assert_eq!(refusal, Refusal::Shutdown),
                }
            })
        };
        shut_down(&shared);
        returned.store(true, Ordering::SeqCst);
        caller.join().unwrap();
        let stats = shared.stats();
        assert_eq!(stats.submitted, stats.completed, "every accepted task ended");
        assert_eq!(stats.completed == 2, ended.load(Ordering::SeqCst));
    });
}

/// Two producers of weight 1 parked behind a task of weight 10, under a weight capacity of 10
/// and 3 slots. The heavy task's release leaves room for both and must wake both: each holds
/// its slot until the other is in too (their tasks wait for each other), so a release that woke
/// one would leave the other asleep beside 9 free units and 2 free slots, a deadlock loom
/// reports. (Fails with a release that wakes one parked producer, as before.)
#[test]
fn loom_a_release_wakes_every_parked_producer_that_fits() {
    loom::model(|| {
        let shared = Arc::new(Shared::new(1, 3).with_weight_capacity(10));
        assert!(shared.try_admit(10).is_ok(), "the heavy task takes every unit");
        let both_in = Arc::new((loom::sync::Mutex::new(0), loom::sync::Condvar::new()));
        let producers: Vec<_> = (0..2)
            .map(|_| {
                let (shared, both_in) = (shared.clone(), both_in.clone());
                thread::spawn(move || {
                    assert!(shared.admit(1, Wait::Forever).is_ok());
                    meet(&both_in, 2)();
                    shared.release(1);
                })
            })
            .collect();
        shared.release(10);
        for producer in producers {
            producer.join().unwrap();
        }
        assert_eq!((shared.slots_taken(), shared.units_taken()), (0, 0));
    });
}

/// Batched wake-ups (helping off, no weight capacity): a release that leaves fewer than half
/// the slots free while tasks are queued leaves the parked producer asleep (capacity 4 on one
/// worker: the fifth submit parks, the first release defers, the second wakes). The producer
/// must be woken before the worker idles beside a free slot: a state where the worker waits
/// for a task while the producer sleeps with a task left to submit is a deadlock loom reports.
#[test]
fn loom_a_batched_wake_up_never_leaves_a_worker_idle_beside_a_sleeping_producer() {
    loom::model(|| {
        let shared = pool(1, 1, 4);
        for value in 0..5 {
            drop(TaskHandle::submit(&shared, 1, move || value, Wait::Forever).ok().unwrap());
        }
        shut_down(&shared);
        assert_eq!(shared.stats().completed, 5);
    });
}
