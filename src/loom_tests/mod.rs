//! Loom models of the crate's own synchronisation: run with
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release --lib loom`.
//!
//! Each model is small on purpose: loom explores every interleaving of the threads it runs, so a
//! model holds two or three threads and a handful of atomic steps. Together they cover the slot
//! bound, the result slot (run vs join vs cancel vs drop), submit vs shutdown, cancel vs start,
//! a parked producer, the async waiter registration, the weighted bound (acquire, release
//! and wake-up of producers whose units do not fit; a helping producer of another weight; a
//! release that must wake every parked producer that fits), lazy threads (a push racing a
//! retirement; tasks that wait for each other, each needing a thread a push claims or starts),
//! and a shutdown that must wait for helpers and caller-runs tasks. Under loom the parking lot
//! is modelled with its keys and tokens (see `sync.rs`), so a wake-up a release misses is a
//! deadlock loom reports.
//!
//! `tasks.rs` holds the models of a task's life (result slot, references, cancel, async
//! waiters), `slots.rs` those of the bound and its producers (parking, helping, weights,
//! batched wake-ups), `threads.rs` those of the worker threads (lazy starts, retirement, the
//! relays, stats snapshots); this file, the helpers they share.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Wake, Waker};

use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;

use crate::handle::TaskHandle;
use crate::hooks::Hooks;
use crate::queue::Message;
use crate::shared::{PoppedBy, Refusal, Shared, ThreadsConfig, Wait};
use crate::submit_future::SubmitFuture;
use crate::task::Task;

mod slots;
mod tasks;
mod threads;

/// A worker's loop, for models that need one: runs jobs until told to stop.
fn worker(shared: Arc<Shared>) -> thread::JoinHandle<()> {
    thread::spawn(move || loop {
        match shared.queue.pop() {
            Message::Run(job) => shared.execute(job, PoppedBy::Worker(0)),
            Message::Stop => return,
            Message::Retire => unreachable!("no resize in these models"),
        }
    })
}

/// An executor whose threads are real (loom) threads, started and retired by `threads.rs`: at
/// most `max` workers, `min` kept, and a keep-alive that may end at any point (under loom a
/// timed wait for work returns at once when the queue is empty).
fn pool(max: usize, min: usize, capacity: usize) -> Arc<Shared> {
    pool_with(max, min, capacity, |shared| shared)
}

/// As [`pool`], with more configuration (`configure` gets the shared state before its threads
/// start).
fn pool_with(
    max: usize,
    min: usize,
    capacity: usize,
    configure: impl FnOnce(Shared) -> Shared,
) -> Arc<Shared> {
    let shared = Arc::new(configure(Shared::new(max, capacity)).with_threads(ThreadsConfig {
        max_workers: max,
        min_workers: Some(min),
        keep_alive: std::time::Duration::ZERO,
        name: "loom".into(),
        stack_size: None,
        hooks: Hooks::default(),
    }));
    shared.threads.fill_to_min(&shared).unwrap();
    shared
}

/// What `BoundedExecutor::shutdown` does: stop accepting, wait for the threads, join them.
fn shut_down(shared: &Shared) {
    shared.begin_shutdown();
    assert!(shared.wait_workers_exited(None));
    shared.threads.join_all();
    assert_eq!(shared.threads.live(), 0);
    assert_eq!(shared.slots_taken(), 0);
}

/// A task that only returns once `n` tasks of its group run at once (a barrier on loom's
/// primitives, so that a task left queued with no thread to run it is a deadlock loom reports).
fn meet(group: &Arc<(loom::sync::Mutex<usize>, loom::sync::Condvar)>, n: usize) -> impl FnOnce() {
    let group = group.clone();
    move || {
        let (arrived, all_here) = &*group;
        let mut arrived = arrived.lock().unwrap();
        *arrived += 1;
        all_here.notify_all();
        while *arrived < n {
            arrived = all_here.wait(arrived).unwrap();
        }
    }
}
