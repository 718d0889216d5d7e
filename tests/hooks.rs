//! `Builder::on_thread_start` and `on_thread_stop`: each worker runs them once, on its own
//! thread, around all of its tasks; a panicking hook is contained and counted.

mod common;

use std::cell::Cell;
use std::collections::BTreeSet;
use std::panic::{RefUnwindSafe, UnwindSafe};
use std::sync::{mpsc, Arc, Mutex};

use bounded_executor::BoundedExecutor;

thread_local! {
    static STARTED_AS: Cell<Option<usize>> = const { Cell::new(None) };
}

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum Event {
    Start(usize),
    Task(usize),
    Stop(usize),
}

#[test]
fn each_worker_runs_start_before_its_tasks_and_stop_after_them() {
    let _watchdog =
        common::test_watchdog("hooks::each_worker_runs_start_before_its_tasks_and_stop_after_them");
    let workers = 3;
    let log = Arc::new(Mutex::new(Vec::new()));
    let (start_log, stop_log) = (Arc::clone(&log), Arc::clone(&log));
    let exec = BoundedExecutor::builder()
        .max_workers(workers)
        .producer_helps(false) // every task runs on a worker thread
        .on_thread_start(move |index| {
            STARTED_AS.with(|s| s.set(Some(index)));
            start_log.lock().unwrap().push(Event::Start(index));
        })
        .on_thread_stop(move |index| {
            assert_eq!(STARTED_AS.with(Cell::get), Some(index), "stop hook on another thread");
            stop_log.lock().unwrap().push(Event::Stop(index));
        })
        .build()
        .unwrap();
    // The tasks meet at a barrier, so each of the three workers runs one.
    let barrier = Arc::new(common::Barrier::new(workers, "one task on each worker"));
    let handles: Vec<_> = (0..workers)
        .map(|_| {
            let (barrier, log) = (Arc::clone(&barrier), Arc::clone(&log));
            exec.submit(move || {
                barrier.wait();
                let index = STARTED_AS.with(Cell::get).expect("task ran before the start hook");
                log.lock().unwrap().push(Event::Task(index));
                index
            })
            .unwrap()
        })
        .collect();
    let ran_on: BTreeSet<usize> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(ran_on, (0..workers).collect());
    exec.shutdown(); // every stop hook has returned by now
    let log = log.lock().unwrap().clone();
    for index in 0..workers {
        let mine: Vec<Event> = log
            .iter()
            .copied()
            .filter(
                |e| matches!(e, Event::Start(i) | Event::Task(i) | Event::Stop(i) if *i == index),
            )
            .collect();
        assert_eq!(mine, [Event::Start(index), Event::Task(index), Event::Stop(index)]);
    }
    assert_eq!(exec.stats().hook_panics, 0);
}

#[test]
fn a_panicking_start_hook_is_counted_and_the_worker_still_runs_tasks() {
    let _watchdog = common::test_watchdog(
        "hooks::a_panicking_start_hook_is_counted_and_the_worker_still_runs_tasks",
    );
    let exec = BoundedExecutor::builder()
        .max_workers(1)
        .producer_helps(false)
        .on_thread_start(|_| panic!("start hook fails"))
        .build()
        .unwrap();
    let on_worker = exec.submit(|| std::thread::current().name().map(str::to_owned)).unwrap();
    assert_eq!(on_worker.join().unwrap().as_deref(), Some("bounded-executor-0"));
    // The worker counted the panic before it took the task.
    assert_eq!(exec.stats().hook_panics, 1);
    exec.shutdown();
    assert_eq!(exec.stats().hook_panics, 1);
}

#[test]
fn a_panicking_stop_hook_is_counted_and_shutdown_completes() {
    let _watchdog =
        common::test_watchdog("hooks::a_panicking_stop_hook_is_counted_and_shutdown_completes");
    let (tx, rx) = mpsc::channel();
    let exec = BoundedExecutor::builder()
        .max_workers(2)
        .on_thread_stop(move |index| {
            tx.send(index).unwrap();
            panic!("stop hook fails");
        })
        .build()
        .unwrap();
    exec.submit(|| ()).unwrap().join().unwrap();
    exec.shutdown();
    let mut stopped: Vec<usize> = rx.try_iter().collect();
    stopped.sort_unstable();
    assert_eq!(stopped, [0, 1]);
    assert_eq!(exec.stats().hook_panics, 2);
}

#[test]
fn hooks_run_once_per_worker_even_when_dropped_without_tasks() {
    let _watchdog =
        common::test_watchdog("hooks::hooks_run_once_per_worker_even_when_dropped_without_tasks");
    let started = Arc::new(Mutex::new(Vec::new()));
    let stopped = Arc::new(Mutex::new(Vec::new()));
    let (s, t) = (Arc::clone(&started), Arc::clone(&stopped));
    let exec = BoundedExecutor::builder()
        .max_workers(4)
        .on_thread_start(move |i| s.lock().unwrap().push(i))
        .on_thread_stop(move |i| t.lock().unwrap().push(i))
        .build()
        .unwrap();
    drop(exec); // joins the workers: each ran both hooks
    for log in [started, stopped] {
        let mut log = log.lock().unwrap().clone();
        log.sort_unstable();
        assert_eq!(log, [0, 1, 2, 3]);
    }
}

#[test]
fn builder_debug_prints_closure_for_hooks_and_clones_share_them() {
    let _watchdog = common::test_watchdog(
        "hooks::builder_debug_prints_closure_for_hooks_and_clones_share_them",
    );
    let plain = BoundedExecutor::builder();
    assert!(format!("{plain:?}").contains("on_thread_start: None"));
    let hooked = plain.on_thread_start(|_| ()).on_thread_stop(|_| ());
    let text = format!("{:?}", hooked.clone());
    assert!(text.contains("on_thread_start: Some(<closure>)"), "{text}");
    assert!(text.contains("on_thread_stop: Some(<closure>)"), "{text}");
}

#[test]
fn a_builder_with_hooks_keeps_its_auto_traits() {
    let _watchdog = common::test_watchdog("hooks::a_builder_with_hooks_keeps_its_auto_traits");
    fn assert_traits<T: Send + Sync + Clone + UnwindSafe + RefUnwindSafe>(_: &T) {}
    let builder = BoundedExecutor::builder().on_thread_start(|_| ()).on_thread_stop(|_| ());
    assert_traits(&builder);
}
