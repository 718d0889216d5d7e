//! Loom models of the worker threads: lazy starts, retirement, the Stop and Retire relays, stats snapshots (see `mod.rs`).

use super::*;

/// The spawn decision against an idle worker's retirement: a lazy executor with no thread
/// kept. The first submit starts a worker; the second may come while that worker, idle, is
/// retiring. The second task must still run (a lost task leaves `join` waiting forever, which
/// loom reports as a deadlock), and never more than one worker takes tasks.
#[test]
fn loom_a_submit_racing_an_idle_workers_retirement_is_run() {
    loom::model(|| {
        let shared = pool(1, 0, 1);
        assert_eq!(shared.threads.live(), 0, "no thread until there is work");
        for value in 1..=2 {
            let inner = shared.clone();
            let handle = TaskHandle::submit(
                &shared,
                1,
                move || {
                    assert!(inner.threads.live() <= 1, "more workers than max_workers");
                    value
                },
                Wait::Forever,
            )
            .ok()
            .unwrap();
            assert_eq!(handle.join().unwrap(), value);
        }
        shut_down(&shared);
    });
}

/// Two producers on a lazy executor of one worker: each push makes a spawn decision, racing
/// the other and the worker's retirement. Both tasks run, on at most one worker at a time.
#[test]
fn loom_two_producers_spawn_at_most_max_workers() {
    loom::model(|| {
        let shared = pool(1, 0, 2);
        let producer = {
            let shared = shared.clone();
            thread::spawn(move || {
                let handle = TaskHandle::submit(&shared, 1, || 1, Wait::Forever).ok().unwrap();
                handle.join().unwrap()
            })
        };
        let inner = shared.clone();
        let handle = TaskHandle::submit(
            &shared,
            1,
            move || {
                assert!(inner.threads.live() <= 1);
                2
            },
            Wait::Forever,
        )
        .ok()
        .unwrap();
        assert_eq!(handle.join().unwrap(), 2);
        assert_eq!(producer.join().unwrap(), 1);
        shut_down(&shared);
    });
}

/// The `Stop` relay: two workers kept alive, one `Stop` sent; each that takes it passes it on.
/// A lost relay leaves a worker waiting and the shutdown with it.
#[test]
fn loom_the_stop_relay_reaches_every_worker() {
    loom::model(|| {
        let shared = pool(2, 2, 2);
        assert_eq!(shared.threads.live(), 2);
        shut_down(&shared);
    });
}

/// A shrink sends the `Retire` relay while a task runs: the extra worker exits (after its
/// task, if it is the one running it), the task runs, and the shutdown finds one worker.
#[test]
fn loom_a_shrink_retires_the_extra_worker_and_loses_no_task() {
    loom::model(|| {
        let shared = pool(2, 2, 2);
        let handle = TaskHandle::submit(&shared, 1, || 3, Wait::Forever).ok().unwrap();
        shared.threads.set_max(&shared, 1).unwrap();
        assert_eq!(handle.join().unwrap(), 3);
        shut_down(&shared);
        assert_eq!(shared.stats().threads_exited, 2);
    });
}

/// Two tasks that wait for each other on a lazy executor of two threads, one started at build
/// (counted idle from its reservation). The first push claims that thread; the second finds
/// none idle and starts the other. A push that counted on the idle worker after it had taken
/// the first task, the old bug, leaves the second task queued with no thread coming: loom
/// reports the deadlock. (Fails on the code before claims.)
#[test]
fn loom_tasks_that_wait_for_each_other_each_get_a_thread() {
    loom::model(|| {
        let shared = pool(2, 1, 2);
        let group = Arc::new((loom::sync::Mutex::new(0), loom::sync::Condvar::new()));
        let first = TaskHandle::submit(&shared, 1, meet(&group, 2), Wait::Forever).ok().unwrap();
        let second = TaskHandle::submit(&shared, 1, meet(&group, 2), Wait::Forever).ok().unwrap();
        first.join().unwrap();
        second.join().unwrap();
        assert!(shared.threads.live() <= 2, "never more than max_workers");
        shut_down(&shared);
    });
}

/// A snapshot taken while a producer submits a task and a worker runs it (or its handle cancels
/// it) never counts it ended without counting it submitted: `stats` reads `completed` and
/// `cancelled` with Acquire before `submitted`, paired with their Release increments. (Fails
/// with the counts read the other way round, or with Relaxed increments and loads: loom then
/// lets the later load of `submitted` return the value before the submit.)
#[test]
fn loom_a_snapshot_never_counts_more_ended_than_submitted() {
    loom::model(|| {
        let shared = pool(1, 1, 1);
        let producer = {
            let shared = shared.clone();
            thread::spawn(move || {
                let handle = TaskHandle::submit(&shared, 1, || (), Wait::Forever).ok().unwrap();
                // Either outcome (cancelled, or already run) is a snapshot to check.
                let _ = handle.cancel();
            })
        };
        let stats = shared.stats();
        assert!(stats.completed + stats.cancelled <= stats.submitted, "{stats:?}");
        producer.join().unwrap();
        shut_down(&shared);
        let stats = shared.stats();
        assert_eq!((stats.submitted, stats.completed + stats.cancelled), (1, 1));
    });
}
