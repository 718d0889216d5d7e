//! A thread pool that never holds more than a fixed number of tasks in flight.
//!
//! [`BoundedExecutor::submit`] waits while `capacity()` tasks are queued or running, so a producer
//! that offers a million tasks uses the memory of `capacity()` of them, not of a million. Python's
//! `ThreadPoolExecutor` (about 2 GB for a million pending `submit`s), rayon's `spawn`, the
//! `threadpool` crate and tokio's `spawn_blocking` all queue without bound; this crate is the
//! bounded one.
//!
//! ```
//! use bounded_executor::BoundedExecutor;
//! use std::sync::atomic::{AtomicU64, Ordering};
//! use std::sync::Arc;
//!
//! let exec = BoundedExecutor::new(2); // 2 workers, at most 2 × 2 = 4 tasks in flight
//! let total = Arc::new(AtomicU64::new(0));
//! for i in 0..10_000u64 {
//!     let total = Arc::clone(&total);
//!     // Waits whenever 4 tasks are in flight; the handle is dropped, the task still runs.
//!     exec.submit(move || total.fetch_add(i, Ordering::Relaxed)).unwrap();
//! }
//! exec.shutdown(); // runs everything accepted, then joins the workers
//! assert_eq!(total.load(Ordering::Relaxed), 49_995_000);
//! assert!(exec.stats().peak_in_flight <= 4);
//! ```
//!
//! **Where tasks run.** On the executor's worker threads, with one exception you get by
//! default: a producer blocked in `submit` on a full executor *helps*, running queued tasks on
//! its own thread until a slot frees (see `# Backpressure`). A task run that way sees the
//! producer's thread name and thread-locals, not a worker's. A pool that configures its threads
//! ([`Builder::stack_size`], [`Builder::on_thread_start`], [`Builder::on_thread_stop`]) keeps
//! every task on them unless [`Builder::producer_helps`]`(true)` asks otherwise, and
//! `producer_helps(false)` turns helping off for any pool. Otherwise a task runs on your thread
//! only where you ask for it: [`submit_or_run`](BoundedExecutor::submit_or_run) on a full
//! executor, and a nested submit, `join`, `map`, `TaskSet::join_next` or `scope` from inside a
//! task, on that task's thread (see `# Deadlocks`); and if the OS refuses to start any worker,
//! the thread that submits (or raises `set_max_workers`) runs the queued tasks rather than leave
//! them stranded. Code of yours that runs around a task runs where the task does: the per-task
//! hooks and tracing spans on the thread that runs it ([`TaskInfo::worker`] is `None` off a
//! worker), a handle's `Waker` on the thread that finishes the task, a waiting
//! [`submit_async`](BoundedExecutor::submit_async)'s on the thread that frees the slot (or calls
//! `shutdown`); a result whose handle was dropped is dropped by whichever ends last, the thread
//! that ran the task or the one that dropped the handle, and a cancelled closure by the thread
//! that cancels it (`cancel`, `shutdown_now`, dropping a `TaskSet` or a `Map`).
//!
//! # Backpressure
//!
//! The bound is `queue_ratio × max_workers` (see [`Builder`]); ratio 2, the default, keeps one
//! task queued behind each running one, so workers do not idle while a waiting producer is being
//! woken. Four ways to submit a task with a handle, in the family crossbeam made familiar:
//!
//! - [`submit`](BoundedExecutor::submit) waits for a free slot;
//! - [`try_submit`](BoundedExecutor::try_submit) never waits and hands the closure back in
//!   [`TrySubmitError::Full`];
//! - [`submit_timeout`](BoundedExecutor::submit_timeout) waits at most a given time;
//! - [`submit_or_run`](BoundedExecutor::submit_or_run) never waits either: when the executor is
//!   full it runs the task on the calling thread and returns a finished handle (caller-runs).
//!
//! Each of these, and their `_weighted` forms, is also one set of [`SubmitOptions`] for
//! [`submit_with`](BoundedExecutor::submit_with), which mixes a weight, a way to wait and
//! whether to help in one call (`SubmitOptions::new().weight(3).timeout(d)`), returns every
//! refusal as a [`SubmitError`], and adds the mixes that have no shortcut: caller-runs for a
//! weighted task, and a blocking submit that never helps (`.help(false)`).
//!
//! Every submit that returns an error returns the closure untouched with it (`into_inner()`),
//! so nothing is lost; for `?`, [`without_task`](SubmitError::without_task) keeps only the
//! reason. [`Scope::submit`] is the exception: it panics on a shut-down executor, as
//! `std::thread::Scope::spawn` does. The bound is exact under any number of producers:
//! [`Stats::peak_in_flight`] never exceeds `capacity()` (after a shrink, the capacity before
//! it: see [`in_flight()`](BoundedExecutor::in_flight)).
//!
//! A producer blocked in `submit` on a full executor **helps**: it runs the oldest queued task
//! itself, as a worker would, until a slot frees (each queued task already holds its slot, so
//! the bound is unchanged). It sleeps only while every task in flight is running, so no core
//! idles while work is queued, and a slot it frees by its own run costs no wake-up. This is
//! what brings the default (ratio 2) level with the unbounded pools on uniform tasks on 2 cores,
//! from no-op tasks up (the README's benchmarks; a heavy-tailed mix still costs more, see
//! `docs/benchmarks.md`). The caveats (the task runs on the producer's thread; do not hold a
//! lock across `submit` that its tasks take) are on [`Builder::producer_helps`], which turns it
//! off (it is off by default for a pool that sets a stack size or thread hooks). `try_submit`,
//! `submit_timeout` (whatever the timeout) and `submit_async` never help.
//!
//! A release wakes every sleeping producer whose task now fits in the room it leaves (in slots and
//! weight units), oldest first, so no producer sleeps next to a free slot it would fit in; while
//! tasks are short, a waiting producer spins briefly before it sleeps. Producers are not served
//! in strict FIFO order: a producer that arrives as a slot frees may take it first.
//!
//! Without helping and without a weight capacity, wake-ups come in batches: a release wakes a
//! sleeping producer once a batch of slots is free (half the capacity, but no more than the
//! capacity less one slot per worker, and at least one), or at once if the queue is empty, and
//! a worker about to wait for work wakes it too. The queued tasks keep the workers busy meanwhile,
//! and the producer pays one wake-up per batch instead of one per task, which matters most when
//! it shares a core with the workers.
//!
//! # Weighted bound
//!
//! When tasks differ in size (a 1 KiB buffer and an 8 MiB one), a bound on their number does not
//! bound memory. Set [`Builder::weight_capacity`] (say, in bytes) and submit each task with its
//! weight: [`submit_weighted`](BoundedExecutor::submit_weighted) (and `try_`, `_timeout`) waits
//! while the units in flight plus its weight would pass the weight capacity, and
//! [`map_weighted`](BoundedExecutor::map_weighted) does the same for a stream. Both bounds hold
//! at once: a task takes one slot of `capacity()` and its weight in units. Every other submit
//! weighs 1. A task heavier than the whole weight capacity is refused at once
//! ([`SubmitError::TooHeavy`]), closure handed back, and never waits.
//!
//! ```
//! use bounded_executor::BoundedExecutor;
//!
//! let exec = BoundedExecutor::builder().max_workers(2).weight_capacity(8 << 20).build().unwrap();
//! for len in [1 << 10, 6 << 20, 3 << 20, 64] {
//!     let buffer = vec![0u8; len];
//!     // Waits while the bytes in flight plus this buffer would pass 8 MiB.
//!     exec.submit_weighted(len as u64, move || drop(buffer)).unwrap();
//! }
//! exec.shutdown();
//! assert!(exec.stats().peak_weight_in_flight <= 8 << 20);
//! ```
//!
//! # Threads: how many, and when
//!
//! By default every worker thread starts at `build` and stays until shutdown: nothing starts or
//! stops a thread on a submit's path, which is what a pool under steady load wants.
//!
//! - A pool that idles, or works in bursts: [`Builder::min_workers`] (and
//!   [`Builder::keep_alive`]). Threads beyond the minimum start when a task is queued and no
//!   worker is idle, and exit after the keep-alive without work; `min_workers(0)` scales to zero.
//!   Each submit then costs one more atomic read-modify-write. [`workers()`](BoundedExecutor::workers)
//!   says how many are alive.
//! - A pool whose size must follow the machine or the load at run time:
//!   [`set_max_workers`](BoundedExecutor::set_max_workers) (the capacity follows
//!   `queue_ratio × n`) or [`set_capacity`](BoundedExecutor::set_capacity). Shrinking never drops
//!   or cancels a task: those in flight beyond the new bound finish, and new submits wait.
//!
//! None of this changes the guarantees: the bound, inline nested submits, `join` running an
//! unstarted task on a worker.
//!
//! ```
//! use std::time::Duration;
//!
//! let exec = bounded_executor::BoundedExecutor::builder()
//!     .max_workers(4)
//!     .min_workers(0)
//!     .keep_alive(Duration::from_secs(30))
//!     .build()
//!     .unwrap();
//! assert_eq!(exec.workers(), 0);
//! assert_eq!(exec.submit(|| 1 + 1).unwrap().join().unwrap(), 2);
//! exec.set_max_workers(8).unwrap(); // capacity 16 now
//! assert_eq!(exec.capacity(), 16);
//! ```
//!
//! # Which to use when
//!
//! | you have | use | results |
//! | --- | --- | --- |
//! | independent jobs, a handle each | [`submit`](BoundedExecutor::submit) / [`TaskHandle::join`] | per handle |
//! | the same, and a full executor should slow the producer by its own work | [`submit_or_run`](BoundedExecutor::submit_or_run) | per handle, finished at once if run by the caller |
//! | the same, with a weight, a timeout or no helping chosen at run time, or one reusable setting for a loop | [`submit_with`](BoundedExecutor::submit_with) and [`SubmitOptions`] | per handle |
//! | a stream of inputs, one function | [`map`](BoundedExecutor::map) | lazy iterator, input order |
//! | the same, items of very different sizes | [`map_weighted`](BoundedExecutor::map_weighted) | lazy iterator, input order |
//! | the same, order does not matter | [`map_unordered`](BoundedExecutor::map_unordered) | lazy iterator, completion order |
//! | jobs whose results you take as they finish | [`TaskSet`] | [`join_next`](TaskSet::join_next), completion order |
//! | jobs that borrow local data (`&[T]`, `&mut` chunks) | [`scope`](BoundedExecutor::scope) | [`ScopedTaskHandle::join`] |
//! | an async producer | [`submit_async`](BoundedExecutor::submit_async), then `.await` the handle | any runtime |
//!
//! All of them share the executor's bound. `map` and `map_unordered` count results you have not
//! taken yet against it too, so an infinite input never piles up:
//!
//! ```
//! use bounded_executor::{BoundedExecutor, TaskSet};
//!
//! let exec = BoundedExecutor::new(2);
//! let evens: Vec<u64> = exec.map(0u64.., |i| i * 2).take(4).map(Result::unwrap).collect();
//! assert_eq!(evens, [0, 2, 4, 6]);
//!
//! let mut set = TaskSet::new(&exec);
//! set.submit(|| "slow or fast, whichever finishes first").unwrap();
//! assert!(set.join_next().unwrap().is_ok());
//!
//! let mut data = [3, 1, 2];
//! exec.scope(|s| {
//!     s.submit(|| data.sort()).join().unwrap();
//! });
//! assert_eq!(data, [1, 2, 3]);
//! ```
//!
//! # Results
//!
//! Each submit returns a [`TaskHandle`]: [`join`](TaskHandle::join) blocks for the value,
//! [`wait_timeout`](TaskHandle::wait_timeout) and [`is_finished`](TaskHandle::is_finished) look
//! without taking it, [`cancel`](TaskHandle::cancel) stops a task that has not started, and the
//! handle is a [`Future`](std::future::Future) for async code on any runtime. Dropping a handle
//! detaches its task, which still runs. The closure and its result slot share one allocation.
//!
//! # Panics
//!
//! A panicking task never takes a worker down: the panic is caught, counted in
//! [`Stats::panicked`], and returned by `join` as a [`TaskError`] whose
//! [`into_panic`](TaskError::into_panic) gives the payload (pass it to
//! [`std::panic::resume_unwind`] to propagate). The crate's own functions panic only where their
//! docs say so (`BoundedExecutor::new(0)`).
//!
//! User code also runs *after* a task's outcome is published: the `Drop` of a result nobody will
//! read (the handle was dropped) or of a cancelled closure, and a `Waker` stored by an `.await`.
//! A panic there never costs a slot, a worker or a shutdown: the executor finishes its
//! bookkeeping first, then
//!
//! - raises the panic in the caller that ran that code, where there is one:
//!   [`TaskHandle::cancel`], the `Drop` of a [`TaskHandle`] whose task has finished (its result
//!   is dropped there), the end of a [`scope`](BoundedExecutor::scope), the `Drop` of a
//!   [`TaskSet`] or a [`Map`] (which still cancel and drop every other task first), and
//!   [`shutdown_now`](BoundedExecutor::shutdown_now) (after its drain and the workers' join);
//! - contains it on a worker thread or a helping producer (the panic is discarded and the
//!   thread goes on), and when
//!   waking an async producer's `Waker` (the next waiting producer is woken in its place).
//!
//! A panic in a thread hook ([`Builder::on_thread_start`], [`Builder::on_thread_stop`]) or a
//! per-task hook ([`Builder::before_task`], [`Builder::after_task`]) is contained as well:
//! caught, counted in [`Stats::hook_panics`], and the worker goes on (or exits), and the task
//! runs and reports its own result, as if the hook had returned.
//!
//! # Shutdown
//!
//! [`shutdown`](BoundedExecutor::shutdown) stops accepting, runs every accepted task and joins
//! the workers; `Drop` does the same. [`shutdown_now`](BoundedExecutor::shutdown_now) cancels the
//! tasks that have not started instead, and
//! [`shutdown_timeout`](BoundedExecutor::shutdown_timeout) waits at most a given time (and, if it
//! times out, `Drop` no longer waits either), [`shutdown_background`](BoundedExecutor::shutdown_background)
//! not at all. Producers blocked in `submit` are released with [`SubmitError::Shutdown`]. To wait
//! for the work so far without shutting down, [`wait_idle`](BoundedExecutor::wait_idle).
//!
//! # Deadlocks
//!
//! A bounded pool can deadlock where an unbounded one would only grow: a task that submits to its
//! own full executor would wait for a slot that only its own completion can free. The rules:
//!
//! - **Nested submit runs inline.** `submit` or `submit_timeout` called from a worker of the same
//!   executor while it is full runs the task right there (caller-runs) and returns an
//!   already-finished handle ([`Stats::inline`] counts these). When there is room, the task is
//!   queued as usual. `try_submit` never runs anything inline: it returns `Full`.
//! - **Joining from a worker runs the awaited task.** `join`/`wait_timeout` (or polling the
//!   handle) on a task of the same executor, from one of its workers, runs that task right there
//!   if it has not started; a task already running elsewhere is waited for. Recursive
//!   divide-and-conquer (`submit` half, compute half, `join`) therefore completes even with one
//!   worker at capacity 1. Only the awaited task is ever run this way, never an unrelated one, so
//!   holding a lock across `join` cannot make another task re-enter it.
//! - **Collections do the same.** `map` and `map_unordered`, `TaskSet::join_next` and the end
//!   of a `scope`, used on a worker of their own executor, run their own tasks that have not
//!   started instead of waiting for a free worker.
//! - **Shutdown from inside** a task of the same executor does not wait for itself: it stops
//!   accepting and returns.
//! - **A helping producer counts as a worker** while it runs a queued task (see
//!   `# Backpressure`): the rules above apply to that task too. So does a caller running its
//!   own task in [`submit_or_run`](BoundedExecutor::submit_or_run) on a full executor.
//!
//! What remains is what every pool shares: a task that waits for something only a later task
//! can provide (a channel, a lock) while every worker is busy waiting the same way. Without
//! helping (`producer_helps(false)`, or a pool that configures its threads) and without a
//! weight capacity, a producer parked on a full executor is woken once a batch of slots (half
//! the capacity, see `# Backpressure`) is free or the queue is empty, not at the first free
//! slot (one wake-up per batch, see
//! `# Backpressure`): a task that waits for a task that producer has yet to submit waits until
//! the queue drains, and forever if every worker is waiting the same way. And
//! [`submit_async`](BoundedExecutor::submit_async) never runs inline: do not block on it inside
//! a task of the same full executor.
//!
//! # Fork safety
//!
//! After `fork()` a child has the executor's memory but none of its threads. Every call that
//! would wait on a worker there returns an error at once instead of hanging: submits give
//! [`SubmitError::Forked`] (and never touch the parent's queue), `join` gives a [`TaskError`] that
//! [`is_forked`](TaskError::is_forked), `wait_timeout` and `shutdown_timeout` return false,
//! `shutdown` and `Drop` return at once. The check costs one relaxed atomic load per submit.
//! Build a new executor in the child, or better, spawn processes instead of forking a threaded one.
//!
//! # Observing it
//!
//! [`BoundedExecutor::stats`] gives the counters (submitted, completed, panicked, ...) and
//! [`Timings`]: log2 histograms of how long tasks waited in the queue and ran, and how long
//! submits waited, each with p50, p99 and the max. They are always on; short tasks are sampled
//! (one in 128) so that timing costs a no-op task almost nothing (see [`Timings`]).
//! [`Builder::before_task`] and [`Builder::after_task`] give each task's times to your own code.
//!
//! # Features
//!
//! - `tracing` (off by default): every task runs in a `tracing` span named `task` (target
//!   `bounded_executor::task`, level `TRACE`), with its `worker`, `queue_wait_ns`,
//!   `run_time_ns` and `panicked`, for any `tracing` subscriber (logs, OpenTelemetry exporters,
//!   flame graphs), installed as the global default subscriber. `tracing` rather than `metrics`, because it is what the Rust ecosystem's
//!   pools and runtimes instrument with (tokio's tasks and its console among them), and because
//!   a span per task carries what a counter cannot: which task waited, where it ran. The
//!   counters and histograms are in `stats()` for a `metrics` exporter to read. Where no
//!   subscriber wants the spans, a task pays tracing's cached check.

mod builder;
mod error;
mod executor;
mod fork;
mod handle;
mod histogram;
mod hooks;
mod map;
mod queue;
mod scope;
mod shared;
mod stats;
mod submit_future;
mod submit_options;
mod sync;
mod task;
mod task_hooks;
mod task_ref;
mod task_set;
#[cfg(feature = "tracing")]
mod task_span;
mod task_state;
mod unwind;

#[cfg(all(test, loom))]
mod loom_tests;

#[cfg(doctest)]
mod doctests;

pub use crate::builder::Builder;
pub use crate::error::{
    BuildError, ResizeError, SubmitError, SubmitErrorKind, SubmitTimeoutError, TaskError,
    TrySubmitError,
};
pub use crate::executor::BoundedExecutor;
pub use crate::handle::TaskHandle;
pub use crate::histogram::{Histogram, Timings};
pub use crate::hooks::TaskInfo;
pub use crate::map::{Map, MapUnordered};
pub use crate::scope::{Scope, ScopedTaskHandle};
pub use crate::stats::Stats;
pub use crate::submit_future::SubmitFuture;
pub use crate::submit_options::SubmitOptions;
pub use crate::task_set::{JoinNext, TaskId, TaskSet};
