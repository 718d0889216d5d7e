//! Per-task hooks ([`Builder::before_task`](crate::Builder::before_task) and
//! [`Builder::after_task`](crate::Builder::after_task)) at work: the wrapper a submit puts
//! around a task's closure when either is set, which calls them with a [`TaskInfo`] (defined,
//! with the hooks' storage, in `hooks.rs`).
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
        let info = TaskInfo::before(
            shared.worker_index_here(),
            started.saturating_duration_since(admitted),
        );
        if let Some(before) = hooks.before() {
            call(&shared, before, &info);
        }
        let Some(after) = hooks.after() else {
            return f(); // nobody asks how it ends
        };
        // The closure's own time: after `before_task`, if it ran.
        let run_from = if hooks.before().is_some() { Instant::now() } else { started };
        let outcome = panic::catch_unwind(AssertUnwindSafe(f));
        call(&shared, after, &info.after(run_from.elapsed(), outcome.is_err()));
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
