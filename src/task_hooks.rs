//! Per-task hooks ([`Builder::before_task`](crate::Builder::before_task) and
//! [`Builder::after_task`](crate::Builder::after_task)) at work: the wrapper a submit puts
//! around a task's closure when either is set, which calls them with a [`TaskInfo`] (defined,
//! with the hooks' storage, in `hooks.rs`).
//!
//! # Cost when unset
//!
//! The same wrapper times tasks (`Stats::timings`, see `histogram.rs`): with a hook set every
//! task is wrapped, without one only the sampled ones. A submit asks [`Shared::times_task`]
//! (the hooks' word, then the sampling test: two loads, a multiply and a branch), and a task
//! that is not wrapped is allocated, run and freed as before hooks existed:
//!
//! - `execute` asks before it admits the task, and keeps its wrapped path whole out of line
//!   (`execute` here);
//! - the submits that return a handle ask where the task is allocated
//!   (`TaskHandle::start_new`), and call [`allocate`] (out of line, `#[cold]`) to wrap it.
//!   Asked before the admission instead, as `execute` does, the two paths would merge a whole
//!   `Result` back into the caller's code, which costs more than the branch.
//!
//! A wrapped closure is a [`Hooked`], which notes the instant it was admitted, and on the
//! thread that runs it measures the queue wait and the run time, records them, calls the hooks, and learns whether the closure panicked by its own `catch_unwind`: the panic is raised
//! again with `resume_unwind`, which does not run the panic hook a second time, for the task's
//! own `catch_unwind` to report as usual.
//!
//! Because the wrapper *is* the task's closure, everything that runs a task runs its hooks (a
//! worker, a helping producer, a caller-runs, a nested submit run inline, a worker joining the
//! task), and nothing that does not run it does (a cancelled task's closure is dropped unrun).
//! The `after_task` hook returns before the task's outcome is published and its slot given back,
//! so a `join`, `wait_idle` or `shutdown` that returns has seen it return. A scoped task wraps
//! the user's closure inside its scope guard (`Scope::submit`), so a scope does not end before
//! the `after_task` of each of its tasks has returned, panicking ones included.

use std::panic::{self, AssertUnwindSafe};
use std::time::Instant;

use crate::hooks::{TaskHook, TaskInfo};
use crate::queue::JobRef;
use crate::shared::{Refusal, Shared, Wait};
use crate::sync::Arc;
use crate::task::{Completion, Job, Task};
use crate::task_ref::TaskRef;
use crate::unwind;

/// A task's closure, wrapped to time it and to run the executor's per-task hooks around it.
pub(crate) struct Hooked<F> {
    f: F,
    /// The task's executor: to record its timings, read its hooks, tell whether the running
    /// thread is one of its workers, and count a hook's panic. Dropped with the closure, run
    /// or not.
    shared: Arc<Shared>,
    admitted: Instant,
    /// The tasks this one's timing stands for (1 where hooks are set; see `Shared::times_task`).
    timed_for: u32,
}

impl<F> Hooked<F> {
    /// Wraps `f`, admitted now into `shared`, its timing standing for `timed_for` tasks.
    pub(crate) fn new(shared: &Arc<Shared>, f: F, timed_for: u32) -> Self {
        Self { f, shared: Arc::clone(shared), admitted: Instant::now(), timed_for }
    }

    /// Times the closure and runs the hooks around it, on the thread that runs the task.
    ///
    /// # Panics
    ///
    /// With the closure's own panic, once its timing is recorded and `after_task` has
    /// returned. A hook's panic never comes out.
    pub(crate) fn run<T>(self) -> T
    where
        F: FnOnce() -> T,
    {
        let Hooked { f, shared, admitted, timed_for } = self;
        let hooks = shared.task_hooks();
        let started = Instant::now();
        let queue_wait = started.saturating_duration_since(admitted);
        let info = TaskInfo::before(shared.worker_index_here(), queue_wait);
        // The task's span, hooks included (see `task_span.rs`), if the feature is on.
        #[cfg(feature = "tracing")]
        let span = crate::task_span::start(info.worker(), queue_wait);
        #[cfg(feature = "tracing")]
        let _entered = span.enter();
        let before = hooks.and_then(|hooks| hooks.before());
        if let Some(before) = before {
            call(&shared, before, &info);
        }
        // The closure's own time: after `before_task`, if it ran.
        let run_from = if before.is_some() { Instant::now() } else { started };
        let outcome = panic::catch_unwind(AssertUnwindSafe(f));
        let run_time = run_from.elapsed();
        shared.record_task_timing(queue_wait, run_time, timed_for);
        #[cfg(feature = "tracing")]
        crate::task_span::end(&span, run_time, outcome.is_err());
        if let Some(after) = hooks.and_then(|hooks| hooks.after()) {
            call(&shared, after, &info.after(run_time, outcome.is_err()));
        }
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
    timed_for: u32,
) -> (TaskRef<dyn Completion<T> + 'a>, TaskRef<dyn Job + 'a>)
where
    F: FnOnce() -> T + Send + 'a,
    T: Send + 'a,
{
    let hooked = Hooked::new(shared, f, timed_for);
    Task::allocate(move || hooked.run(), weight)
}

/// `BoundedExecutor::execute` on an executor with task hooks: the closure wrapped, or handed
/// back with the refusal. Out of line, so that an `execute` without hooks carries none of it.
#[cold]
#[inline(never)]
pub(crate) fn execute<F>(shared: &Arc<Shared>, f: F, timed_for: u32) -> Result<(), (Refusal, F)>
where
    F: FnOnce() + Send + 'static,
{
    match shared.admit(1, Wait::Forever) {
        Ok(admission) => {
            let hooked = Hooked::new(shared, f, timed_for);
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
