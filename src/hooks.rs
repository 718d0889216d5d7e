//! The hooks a [`Builder`](crate::Builder) hands to the executor: the thread hooks every worker
//! runs, and the per-task hooks with the [`TaskInfo`] they are given (run by the wrapper in
//! `task_hooks.rs`). Here, below both the builder and the shared state, so that neither imports
//! the other to name them.

use std::fmt;
use std::panic::{RefUnwindSafe, UnwindSafe};
use std::sync::Arc;
use std::time::Duration;

/// A hook run on a worker thread, given the worker's index. An `Arc` so that `Builder` stays
/// `Clone` and every worker shares one closure.
#[derive(Clone)]
pub(crate) struct Hook(Arc<dyn Fn(usize) + Send + Sync + 'static>);

impl Hook {
    pub(crate) fn new(hook: impl Fn(usize) + Send + Sync + 'static) -> Self {
        Self(Arc::new(hook))
    }

    pub(crate) fn call(&self, index: usize) {
        (self.0)(index);
    }
}

// A hook is only ever called under the worker's own `catch_unwind`, which contains its panic
// (see `Builder::on_thread_start`): no caller observes state it left broken, as with tasks. So a
// hook does not take away `Builder`'s `UnwindSafe`, which it had before hooks existed.
impl std::panic::UnwindSafe for Hook {}
impl std::panic::RefUnwindSafe for Hook {}

/// The per-thread hooks, handed to each worker.
#[derive(Clone, Default)]
pub(crate) struct Hooks {
    pub(crate) on_start: Option<Hook>,
    pub(crate) on_stop: Option<Hook>,
}

/// What a per-task hook is told about the task it is called for: where it runs, how long it
/// waited in the queue and (in [`after_task`](crate::Builder::after_task)) how long it ran and
/// whether it panicked.
///
/// `#[non_exhaustive]`: later versions may tell more (read it through its methods).
///
/// # Examples
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use bounded_executor::{BoundedExecutor, TaskInfo};
///
/// let seen: Arc<Mutex<Vec<TaskInfo>>> = Arc::default();
/// let log = Arc::clone(&seen);
/// let exec = BoundedExecutor::builder()
///     .max_workers(1)
///     .after_task(move |info| log.lock().unwrap().push(*info))
///     .build()
///     .unwrap();
/// exec.submit(|| ()).unwrap().join().unwrap();
/// let info = seen.lock().unwrap()[0];
/// assert!(info.run_time().is_some() && !info.panicked());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct TaskInfo {
    worker: Option<usize>,
    queue_wait: Duration,
    run_time: Option<Duration>,
    panicked: bool,
}

impl TaskInfo {
    /// What `before_task` is told: where the task runs and how long it waited.
    pub(crate) fn before(worker: Option<usize>, queue_wait: Duration) -> Self {
        Self { worker, queue_wait, run_time: None, panicked: false }
    }

    /// What `after_task` is told: this, and how the closure ended.
    pub(crate) fn after(self, run_time: Duration, panicked: bool) -> Self {
        Self { run_time: Some(run_time), panicked, ..self }
    }

    /// The index of the worker thread the task runs on (as in its thread name and the thread
    /// hooks' index: below the `max_workers` in force when that thread started), or `None` if
    /// it runs on a thread that is not one of this executor's workers: a producer helping in
    /// [`submit`](crate::BoundedExecutor::submit) (see
    /// [`Builder::producer_helps`](crate::Builder::producer_helps)), a caller running its own
    /// task in [`submit_or_run`](crate::BoundedExecutor::submit_or_run), a nested submit run
    /// inline inside either of those, or a submitting thread that runs the queued tasks because
    /// the OS refused to start any worker.
    ///
    /// A task a worker runs inline (a nested submit to its own full executor, or a `join` on a
    /// task that had not started) runs on that worker, and gives its index.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    ///
    /// let on_workers = Arc::new(AtomicUsize::new(0));
    /// let count = Arc::clone(&on_workers);
    /// let exec = bounded_executor::BoundedExecutor::builder()
    ///     .max_workers(2)
    ///     .producer_helps(false) // every task of `submit` runs on a worker
    ///     .before_task(move |info| {
    ///         assert!(info.worker().is_some_and(|index| index < 2));
    ///         count.fetch_add(1, Ordering::Relaxed);
    ///     })
    ///     .build()
    ///     .unwrap();
    /// exec.submit(|| ()).unwrap().join().unwrap();
    /// assert_eq!(on_workers.load(Ordering::Relaxed), 1);
    /// ```
    #[must_use]
    pub fn worker(&self) -> Option<usize> {
        self.worker
    }

    /// How long the task waited between its admission (its submit took a slot, or, for a task
    /// run inline, was called) and the start of its run, as the wrapper around it saw it: the
    /// time in the queue. Not the producer's own wait for a slot, which
    /// [`Stats::submit_wait`](crate::Stats::submit_wait) sums. About zero for a task run inline.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let exec = bounded_executor::BoundedExecutor::builder()
    ///     .max_workers(1)
    ///     .before_task(|info| assert!(info.queue_wait() < Duration::from_secs(3600)))
    ///     .build()
    ///     .unwrap();
    /// exec.submit(|| ()).unwrap().join().unwrap();
    /// assert_eq!(exec.stats().hook_panics, 0);
    /// ```
    #[must_use]
    pub fn queue_wait(&self) -> Duration {
        self.queue_wait
    }

    /// How long the task's closure ran, until it returned or panicked (the hooks' own time not
    /// included): `Some` in [`after_task`](crate::Builder::after_task), `None` in
    /// [`before_task`](crate::Builder::before_task), called before the closure.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let exec = bounded_executor::BoundedExecutor::builder()
    ///     .max_workers(1)
    ///     .before_task(|info| assert_eq!(info.run_time(), None))
    ///     .after_task(|info| assert!(info.run_time() >= Some(Duration::from_millis(5))))
    ///     .build()
    ///     .unwrap();
    /// exec.submit(|| std::thread::sleep(Duration::from_millis(5))).unwrap().join().unwrap();
    /// assert_eq!(exec.stats().hook_panics, 0); // both assertions held
    /// ```
    #[must_use]
    pub fn run_time(&self) -> Option<Duration> {
        self.run_time
    }

    /// True in [`after_task`](crate::Builder::after_task) if the task's closure panicked (its
    /// handle's `join` gives the panic, as without hooks); always false in
    /// [`before_task`](crate::Builder::before_task).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    ///
    /// let panics = Arc::new(AtomicUsize::new(0));
    /// let count = Arc::clone(&panics);
    /// let exec = bounded_executor::BoundedExecutor::builder()
    ///     .max_workers(1)
    ///     .after_task(move |info| {
    ///         if info.panicked() {
    ///             count.fetch_add(1, Ordering::Relaxed);
    ///         }
    ///     })
    ///     .build()
    ///     .unwrap();
    /// assert!(exec.submit(|| panic!("boom")).unwrap().join().unwrap_err().is_panic());
    /// assert_eq!(panics.load(Ordering::Relaxed), 1);
    /// ```
    #[must_use]
    pub fn panicked(&self) -> bool {
        self.panicked
    }
}

/// A per-task hook: an `Arc` (std's, as for the thread hooks), shared by the builder's clones
/// and the executor.
pub(crate) type TaskHook = Arc<dyn Fn(&TaskInfo) + Send + Sync + 'static>;

/// The per-task hooks a builder sets; the executor keeps them only if one is set.
#[derive(Clone, Default)]
pub(crate) struct TaskHooks {
    before: Option<TaskHook>,
    after: Option<TaskHook>,
}

// A hook is only ever called under a `catch_unwind` of its own, which contains its panic (see
// `task_hooks::call`), as for the thread hooks: it does not take away `Builder`'s `UnwindSafe`.
impl UnwindSafe for TaskHooks {}
impl RefUnwindSafe for TaskHooks {}

impl TaskHooks {
    pub(crate) fn set_before(&mut self, hook: impl Fn(&TaskInfo) + Send + Sync + 'static) {
        self.before = Some(Arc::new(hook));
    }

    pub(crate) fn set_after(&mut self, hook: impl Fn(&TaskInfo) + Send + Sync + 'static) {
        self.after = Some(Arc::new(hook));
    }

    pub(crate) fn before(&self) -> Option<&TaskHook> {
        self.before.as_ref()
    }

    pub(crate) fn after(&self) -> Option<&TaskHook> {
        self.after.as_ref()
    }

    /// The hooks if any is set: what the executor keeps.
    pub(crate) fn if_any(self) -> Option<Self> {
        (self.before.is_some() || self.after.is_some()).then_some(self)
    }
}

impl fmt::Debug for TaskHooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskHooks")
            .field("before", &self.before.is_some())
            .field("after", &self.after.is_some())
            .finish()
    }
}
