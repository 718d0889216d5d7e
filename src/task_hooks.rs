//! Per-task hooks ([`Builder::before_task`](crate::Builder::before_task) and
//! [`Builder::after_task`](crate::Builder::after_task)): the [`TaskInfo`] they are given, and
//! the wrapper a submit puts around a task's closure when either is set.
//!
//! # Cost when unset
//!
//! The hooks are fixed at `build`, and kept in one word ([`Shared::has_task_hooks`]). Without
//! them a task is allocated, run and freed as before hooks existed; what a submit pays is the
//! test of that word, a load, a compare and a branch that always goes the same way:
//!
//! - `execute` tests it before it admits the task, and keeps its hooked path whole out of line
//!   (`execute` here): its code is what it was, plus the branch;
//! - the submits that return a handle test it where the task is allocated
//!   (`TaskHandle::start_new`), and call [`allocate`] (out of line, `#[cold]`) with hooks.
//!   Tested before the admission instead, as `execute` does, the two paths would merge a whole
//!   `Result` back into the caller's code, which costs more than the branch.
//!
//! With a hook set, the closure is wrapped in a [`Hooked`], which notes the instant it was
//! admitted, and on the thread that runs it measures the queue wait and the run time, calls the
//! hooks, and learns whether the closure panicked by its own `catch_unwind`: the panic is raised
//! again with `resume_unwind`, which does not run the panic hook a second time, for the task's
//! own `catch_unwind` to report as usual.
//!
//! Because the wrapper *is* the task's closure, everything that runs a task runs its hooks (a
//! worker, a helping producer, a caller-runs, a nested submit run inline, a worker joining the
//! task), and nothing that does not run it does (a cancelled task's closure is dropped unrun).
//! The `after_task` hook returns before the task's outcome is published and its slot given back,
//! so a `join`, `wait_idle` or `shutdown` that returns has seen it return.

use std::fmt;
use std::panic::{self, AssertUnwindSafe, RefUnwindSafe, UnwindSafe};
use std::time::{Duration, Instant};

use crate::queue::JobRef;
use crate::shared::{Refusal, Shared, Wait};
use crate::sync::{Arc, StdArc};
use crate::task::{Completion, Job, Task};
use crate::task_ref::TaskRef;
use crate::unwind;

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

/// A per-task hook. std's `Arc` (also under loom, which need not model it): shared by the
/// builder's clones and the executor.
type TaskHook = StdArc<dyn Fn(&TaskInfo) + Send + Sync + 'static>;

/// The per-task hooks a builder sets; the executor keeps them only if one is set.
#[derive(Clone, Default)]
pub(crate) struct TaskHooks {
    before: Option<TaskHook>,
    after: Option<TaskHook>,
}

// A hook is only ever called under a `catch_unwind` of its own, which contains its panic (see
// `call`), as for the thread hooks (see `hooks.rs`): it does not take away `Builder`'s
// `UnwindSafe`.
impl UnwindSafe for TaskHooks {}
impl RefUnwindSafe for TaskHooks {}

impl TaskHooks {
    pub(crate) fn set_before(&mut self, hook: impl Fn(&TaskInfo) + Send + Sync + 'static) {
        self.before = Some(StdArc::new(hook));
    }

    pub(crate) fn set_after(&mut self, hook: impl Fn(&TaskInfo) + Send + Sync + 'static) {
        self.after = Some(StdArc::new(hook));
    }

    pub(crate) fn before_is_set(&self) -> bool {
        self.before.is_some()
    }

    pub(crate) fn after_is_set(&self) -> bool {
        self.after.is_some()
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

/// A task's closure, wrapped to run the executor's per-task hooks around it.
pub(crate) struct Hooked<F> {
    f: F,
    /// The hooks' executor: to read its hooks, to tell whether the running thread is one of its
    /// workers, and to count a hook's panic. Dropped with the closure, run or not.
    shared: Arc<Shared>,
    admitted: Instant,
}

impl<F> Hooked<F> {
    /// Wraps `f`, admitted now into `shared`.
    pub(crate) fn new(shared: &Arc<Shared>, f: F) -> Self {
        Self { f, shared: Arc::clone(shared), admitted: Instant::now() }
    }

    /// Runs the hooks and the closure, on the thread that runs the task.
    ///
    /// # Panics
    ///
    /// With the closure's own panic, once `after_task` has returned. A hook's panic never
    /// comes out.
    pub(crate) fn run<T>(self) -> T
    where
        F: FnOnce() -> T,
    {
        let Hooked { f, shared, admitted } = self;
        let Some(hooks) = shared.task_hooks() else {
            return f(); // never: the hooks are fixed at build, and this one was made with some
        };
        let started = Instant::now();
        let mut info = TaskInfo {
            worker: shared.worker_index_here(),
            queue_wait: started.saturating_duration_since(admitted),
            run_time: None,
            panicked: false,
        };
        if let Some(before) = &hooks.before {
            call(&shared, before, &info);
        }
        let Some(after) = &hooks.after else {
            return f(); // nobody asks how it ends
        };
        // The closure's own time: after `before_task`, if it ran.
        let run_from = if hooks.before.is_some() { Instant::now() } else { started };
        let outcome = panic::catch_unwind(AssertUnwindSafe(f));
        info.run_time = Some(run_from.elapsed());
        info.panicked = outcome.is_err();
        call(&shared, after, &info);
        match outcome {
            Ok(value) => value,
            Err(payload) => panic::resume_unwind(payload),
        }
    }
}

/// Calls `hook`, containing its panic: counted in `Stats::hook_panics` and discarded (its
/// payload's `Drop` included), as for the thread hooks.
fn call(shared: &Shared, hook: &TaskHook, info: &TaskInfo) {
    if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(|| hook(info))) {
        shared.count_hook_panic();
        unwind::discard(payload);
    }
}

/// `Task::allocate` for an executor with task hooks: the closure wrapped. Out of line, so that
/// a submit without hooks carries none of it.
#[cold]
#[inline(never)]
pub(crate) fn allocate<'a, F, T>(
    shared: &Arc<Shared>,
    f: F,
    weight: u64,
) -> (TaskRef<dyn Completion<T> + 'a>, TaskRef<dyn Job + 'a>)
where
    F: FnOnce() -> T + Send + 'a,
    T: Send + 'a,
{
    let hooked = Hooked::new(shared, f);
    Task::allocate(move || hooked.run(), weight)
}

/// `BoundedExecutor::execute` on an executor with task hooks: the closure wrapped, or handed
/// back with the refusal. Out of line, so that an `execute` without hooks carries none of it.
#[cold]
#[inline(never)]
pub(crate) fn execute<F>(shared: &Arc<Shared>, f: F) -> Result<(), (Refusal, F)>
where
    F: FnOnce() + Send + 'static,
{
    match shared.admit(1, Wait::Forever) {
        Ok(admission) => {
            let hooked = Hooked::new(shared, f);
            let job: JobRef = Task::allocate_detached(move || hooked.run(), admission.weight());
            Shared::enqueue(shared, admission, job);
            Ok(())
        }
        Err(refusal) => {
            shared.reject();
            Err((refusal, f))
        }
    }
}
