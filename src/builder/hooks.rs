//! The builder's hooks: on each worker thread as it starts and exits, and around each task.

use std::fmt;

use super::Builder;
use crate::hooks::{Hook, TaskInfo};

/// Prints `<closure>` for a hook that is set.
pub(super) struct Closure;

impl fmt::Debug for Closure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<closure>")
    }
}

impl Builder {
    /// Runs `hook` on each worker thread as it starts, before it takes its first task, given
    /// the worker's index (`0..max_workers`, as in the thread's name). For a per-thread
    /// initializer: thread-locals, CPU affinity, a logging span. A second call replaces the
    /// hook.
    ///
    /// `build` does not wait for the hooks: tasks submitted meanwhile wait in the queue. With a
    /// hook set, producers do not help unless [`producer_helps`](Self::producer_helps)`(true)`
    /// asks them to, so every task runs on a thread whose start hook has run. The hook runs
    /// as a worker of the executor, so a `submit` from inside it follows the workers' rules
    /// (the crate docs, `# Deadlocks`).
    ///
    /// # Indices
    ///
    /// A thread's index is below the `max_workers` in force when it starts, and no two threads
    /// run hooks or tasks under one index at once: with threads on demand
    /// ([`min_workers`](Self::min_workers)), a thread that takes the index of one that is
    /// exiting runs its start hook only once the other's stop hook has returned, so per-index
    /// state (a CPU to pin, a slot in an array of `max_workers`) is never shared. (For that
    /// moment, two OS threads can carry the same name.) After
    /// [`set_max_workers`](crate::BoundedExecutor::set_max_workers) lowers the maximum, a thread
    /// started before keeps its index, which can be above the new maximum, until it exits.
    ///
    /// # Panics
    ///
    /// A panic in the hook is contained: it is caught, counted in
    /// [`Stats::hook_panics`](crate::Stats::hook_panics) (and printed by the panic hook, as
    /// every panic is), and the worker goes on to take tasks. It never kills the worker or the
    /// executor; what the hook did not finish stays undone, so a hook that must not fail
    /// silently should check `hook_panics` after `build` or catch its own panics.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::cell::Cell;
    ///
    /// thread_local!(static WORKER: Cell<Option<usize>> = const { Cell::new(None) });
    ///
    /// let exec = bounded_executor::BoundedExecutor::builder()
    ///     .max_workers(1)
    ///     // With a hook, producers do not help (unless asked): every task runs on a worker.
    ///     .on_thread_start(|index| WORKER.with(|w| w.set(Some(index))))
    ///     .build()
    ///     .unwrap();
    /// let seen = exec.submit(|| WORKER.with(Cell::get)).unwrap().join().unwrap();
    /// assert_eq!(seen, Some(0));
    /// ```
    pub fn on_thread_start<H>(mut self, hook: H) -> Self
    where
        H: Fn(usize) + Send + Sync + 'static,
    {
        self.hooks.on_start = Some(Hook::new(hook));
        self
    }

    /// Runs `hook` on each worker thread as it exits, after its last task, given the worker's
    /// index. Workers exit at shutdown (or `Drop`), once every accepted task has run (or been
    /// cancelled by [`shutdown_now`](crate::BoundedExecutor::shutdown_now)); when `shutdown` returns,
    /// every stop hook has returned. A second call replaces the hook.
    ///
    /// Also run by the workers that did start when `build` fails to spawn a later one. Never
    /// run in a forked child, which has no workers.
    ///
    /// # Panics
    ///
    /// As for [`on_thread_start`](Self::on_thread_start): a panic is caught and counted in
    /// [`Stats::hook_panics`](crate::Stats::hook_panics), and the worker exits as usual, so a
    /// shutdown never hangs on it.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    ///
    /// let stopped = Arc::new(AtomicUsize::new(0));
    /// let counter = Arc::clone(&stopped);
    /// let exec = bounded_executor::BoundedExecutor::builder()
    ///     .max_workers(3)
    ///     .on_thread_stop(move |_index| {
    ///         counter.fetch_add(1, Ordering::Relaxed);
    ///     })
    ///     .build()
    ///     .unwrap();
    /// exec.shutdown();
    /// assert_eq!(stopped.load(Ordering::Relaxed), 3);
    /// ```
    pub fn on_thread_stop<H>(mut self, hook: H) -> Self
    where
        H: Fn(usize) + Send + Sync + 'static,
    {
        self.hooks.on_stop = Some(Hook::new(hook));
        self
    }

    /// Runs `hook` just before each task's closure, on the thread that runs the task, given a
    /// [`TaskInfo`]: which worker runs it ([`worker`](TaskInfo::worker), `None` on a thread that
    /// is not one of the executor's workers) and how long it waited in the queue
    /// ([`queue_wait`](TaskInfo::queue_wait)). For metrics, tracing, or a per-task thread-local.
    /// A second call replaces the hook.
    ///
    /// # Which tasks
    ///
    /// Every task that runs, called once for it, however it was submitted (`submit` and its
    /// family, `execute`, `submit_or_run`, `submit_async`, `map` and its family,
    /// [`TaskSet`](crate::TaskSet), scoped tasks) and wherever it runs: on a worker, on a
    /// producer that helps (see
    /// [`producer_helps`](Self::producer_helps), whose default these hooks do not change), on the
    /// caller of `submit_or_run` or of a nested submit run inline, on a worker that `join`s it.
    /// A task cancelled before it started (its handle's `cancel`, `shutdown_now`, a dropped
    /// `Map` or `TaskSet`) never runs, and its hooks are not called. The hook runs in the task's
    /// place, so a `submit` from inside it follows the rules of a submit from inside the task
    /// (the crate docs, `# Deadlocks`). While it runs, the task holds its slot.
    ///
    /// # Cost
    ///
    /// Unset (the default), one predictable branch per submit, where it checks whether any
    /// per-task hook is set; the task then runs as it would without hooks. Set, each task costs
    /// its hooks, two to four readings of the clock ([`Instant::now`](std::time::Instant::now):
    /// four with both hooks), and one more reference to the executor, taken at submit and
    /// dropped with the closure.
    ///
    /// # Panics
    ///
    /// A panic in the hook is contained: caught, counted in
    /// [`Stats::hook_panics`](crate::Stats::hook_panics) (and printed by the panic hook, as every
    /// panic is), and the task runs as if the hook had returned; its handle gets the task's own
    /// result. It never kills a worker or the executor.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use std::sync::Arc;
    ///
    /// let waited_nanos = Arc::new(AtomicU64::new(0));
    /// let total = Arc::clone(&waited_nanos);
    /// let exec = bounded_executor::BoundedExecutor::builder()
    ///     .max_workers(2)
    ///     .before_task(move |info| {
    ///         total.fetch_add(info.queue_wait().as_nanos() as u64, Ordering::Relaxed);
    ///     })
    ///     .build()
    ///     .unwrap();
    /// let handles: Vec<_> = (0..8).map(|i| exec.submit(move || i * 2).unwrap()).collect();
    /// assert_eq!(handles.into_iter().map(|h| h.join().unwrap()).sum::<i32>(), 56);
    /// println!("tasks waited {} ns in all", waited_nanos.load(Ordering::Relaxed));
    /// ```
    pub fn before_task<H>(mut self, hook: H) -> Self
    where
        H: Fn(&TaskInfo) + Send + Sync + 'static,
    {
        self.task_hooks.set_before(hook);
        self
    }

    /// Runs `hook` just after each task's closure has returned or panicked, on the thread that
    /// ran it, given a [`TaskInfo`] that also tells how long the closure ran
    /// ([`run_time`](TaskInfo::run_time), `Some` here) and whether it panicked
    /// ([`panicked`](TaskInfo::panicked)). Java's `afterExecute`. A second call replaces the hook.
    ///
    /// The hook returns before the task's outcome is published and its slot given back: once
    /// the task's handle `join`s, or [`wait_idle`](crate::BoundedExecutor::wait_idle) or
    /// [`shutdown`](crate::BoundedExecutor::shutdown) returns (for the tasks they wait for), its
    /// `after_task` has returned. A task that panicked still reports its panic through its
    /// handle.
    ///
    /// Called for the tasks, and on the threads, that [`before_task`](Self::before_task) says,
    /// at the same cost, and independent of it (either can be set alone).
    ///
    /// # Panics
    ///
    /// As for [`before_task`](Self::before_task): a panic in the hook is caught and counted in
    /// [`Stats::hook_panics`](crate::Stats::hook_panics); the task's result (or panic) still
    /// reaches its handle.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use std::time::Duration;
    ///
    /// let slowest = Arc::new(Mutex::new(Duration::ZERO));
    /// let max = Arc::clone(&slowest);
    /// let exec = bounded_executor::BoundedExecutor::builder()
    ///     .max_workers(2)
    ///     .after_task(move |info| {
    ///         let run = info.run_time().expect("known after the task");
    ///         let mut max = max.lock().unwrap();
    ///         *max = (*max).max(run);
    ///     })
    ///     .build()
    ///     .unwrap();
    /// exec.submit(|| std::thread::sleep(Duration::from_millis(2))).unwrap().join().unwrap();
    /// assert!(*slowest.lock().unwrap() >= Duration::from_millis(2));
    /// ```
    pub fn after_task<H>(mut self, hook: H) -> Self
    where
        H: Fn(&TaskInfo) + Send + Sync + 'static,
    {
        self.task_hooks.set_after(hook);
        self
    }
}
