//! Batched wake-ups (issue 20): without helping and without a weight capacity, a producer
//! parked on a full executor is woken once half the capacity is free or the queue is empty,
//! not at every free slot. These tests hold the two sides of that: the producer is woken while
//! tasks are still queued (the workers never run dry for it), and a pool with helping or a
//! weight capacity still wakes at the first slot that fits.

mod common;

use std::sync::{mpsc, Arc};
use std::thread;

use bounded_executor::BoundedExecutor;
use common::{Gate, WATCHDOG_LIMIT};

/// One worker, capacity 8, each task held by its own gate; a producer parked for a ninth.
/// Returns the executor, the gates, the channel on which each task reports its end, and the
/// channel on which the producer reports its admission with `queued()` at that moment.
fn parked_behind_gated_tasks(
    helps: bool,
) -> (Arc<BoundedExecutor>, Vec<Gate>, mpsc::Receiver<usize>, mpsc::Receiver<usize>) {
    let exec = Arc::new(
        BoundedExecutor::builder()
            .max_workers(1)
            .capacity(8)
            .producer_helps(helps)
            .build()
            .unwrap(),
    );
    let gates: Vec<Gate> = (0..8).map(|_| Gate::new()).collect();
    let (ended_tx, ended) = mpsc::channel();
    for (i, gate) in gates.iter().enumerate() {
        let (gate, ended_tx) = (gate.clone(), ended_tx.clone());
        exec.execute(move || {
            gate.wait();
            ended_tx.send(i).unwrap();
        })
        .unwrap();
    }
    assert_eq!(exec.in_flight(), 8);
    let (admitted_tx, admitted) = mpsc::channel();
    let producer = exec.clone();
    let name = if helps { "helping-producer" } else { "parked-producer" };
    thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            producer.execute(|| ()).unwrap();
            admitted_tx.send(producer.queued()).unwrap();
        })
        .unwrap();
    if !helps {
        wait_until_asleep(name);
    }
    (exec, gates, ended, admitted)
}

/// Waits until the thread named `name` (at most 15 bytes: Linux keeps no more) sleeps in the kernel (state `S`: parked, no longer
/// spinning or yielding for a slot), so that what wakes it is a release, not its own spin.
/// Linux only (`/proc`); elsewhere it returns at once and the tests check less.
fn wait_until_asleep(name: &str) {
    if !cfg!(target_os = "linux") {
        return;
    }
    let deadline = std::time::Instant::now() + WATCHDOG_LIMIT;
    loop {
        let asleep = std::fs::read_dir("/proc/self/task").unwrap().flatten().any(|task| {
            let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
            let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
            // The state follows the command name's closing parenthesis.
            let state = stat.rsplit_once(") ").map(|(_, rest)| rest.chars().next());
            comm.trim_end() == name && state == Some(Some('S'))
        });
        if asleep {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "thread {name} never went to sleep");
        thread::yield_now();
    }
}

/// Ends tasks one at a time, in order (the worker runs them in order), until the producer is
/// admitted; returns how many tasks had ended by then and `queued()` at its admission.
fn end_tasks_until_admitted(
    gates: &[Gate],
    ended: &mpsc::Receiver<usize>,
    admitted: &mpsc::Receiver<usize>,
) -> (usize, usize) {
    for (i, gate) in gates.iter().enumerate() {
        gate.open();
        let which = ended.recv_timeout(WATCHDOG_LIMIT).expect("a task did not end");
        assert_eq!(which, i, "the one worker runs the tasks in order");
        // The next task is held by its gate, so the queue cannot run dry before we look.
        if let Ok(queued) = admitted.try_recv() {
            return (i + 1, queued);
        }
        if i + 1 >= gates.len() / 2 {
            // From half the capacity free on, the producer must be admitted: wait for it.
            let queued = admitted
                .recv_timeout(WATCHDOG_LIMIT)
                .expect("the producer slept beside half the capacity free");
            return (i + 1, queued);
        }
    }
    unreachable!("the producer is admitted by half the capacity free")
}

#[test]
fn without_helping_a_parked_producer_is_woken_while_tasks_are_still_queued() {
    let _watchdog = common::test_watchdog(
        "batched_wakeups::without_helping_a_parked_producer_is_woken_while_tasks_are_still_queued",
    );
    let (exec, gates, ended, admitted) = parked_behind_gated_tasks(false);
    let (ended_by_then, queued) = end_tasks_until_admitted(&gates, &ended, &admitted);
    // Woken by half the capacity free at the latest, so at least 3 of the first 8 were still
    // queued behind the running one, plus its own task.
    assert!(ended_by_then <= 4, "admitted only after {ended_by_then} tasks ended");
    assert!(queued >= 4, "admitted with only {queued} queued: the runway ran short");
    for gate in &gates {
        gate.open();
    }
    exec.shutdown();
    assert_eq!(exec.stats().completed, 9);
}

#[test]
fn a_weighted_pool_wakes_its_parked_producer_at_the_first_slot_that_fits() {
    let _watchdog = common::test_watchdog(
        "batched_wakeups::a_weighted_pool_wakes_its_parked_producer_at_the_first_slot_that_fits",
    );
    let exec = Arc::new(
        BoundedExecutor::builder()
            .max_workers(1)
            .capacity(8)
            .weight_capacity(8)
            .producer_helps(false)
            .build()
            .unwrap(),
    );
    let gates: Vec<Gate> = (0..8).map(|_| Gate::new()).collect();
    let (ended_tx, ended) = mpsc::channel();
    for (i, gate) in gates.iter().enumerate() {
        let (gate, ended_tx) = (gate.clone(), ended_tx.clone());
        drop(
            exec.submit_weighted(1, move || {
                gate.wait();
                ended_tx.send(i).unwrap();
            })
            .unwrap(),
        );
    }
    let (admitted_tx, admitted) = mpsc::channel();
    let producer = exec.clone();
    thread::Builder::new()
        .name("weighted-parked".into())
        .spawn(move || {
            drop(producer.submit_weighted(1, || ()).unwrap());
            admitted_tx.send(()).unwrap();
        })
        .unwrap();
    wait_until_asleep("weighted-parked");
    gates[0].open();
    assert_eq!(ended.recv_timeout(WATCHDOG_LIMIT), Ok(0));
    // One slot and one unit free, six tasks queued: a weighted producer is woken at once.
    admitted.recv_timeout(WATCHDOG_LIMIT).expect("the weighted producer was not woken");
    for gate in &gates {
        gate.open();
    }
    exec.shutdown();
    assert_eq!(exec.stats().completed, 9);
}

#[test]
fn a_helping_pool_still_wakes_at_the_first_free_slot() {
    let _watchdog =
        common::test_watchdog("batched_wakeups::a_helping_pool_still_wakes_at_the_first_free_slot");
    let (exec, gates, ended, admitted) = parked_behind_gated_tasks(true);
    // A helping producer runs queued tasks instead of parking: it takes the second task (held
    // by its gate) while the worker runs the first. Open them all; it must be admitted.
    for gate in &gates {
        gate.open();
    }
    admitted.recv_timeout(WATCHDOG_LIMIT).expect("the helping producer was never admitted");
    for _ in 0..8 {
        ended.recv_timeout(WATCHDOG_LIMIT).expect("a task did not end");
    }
    exec.shutdown();
    assert_eq!(exec.stats().completed, 9);
}
