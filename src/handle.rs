//! [`TaskHandle`]: the caller's end of a task (join, wait, cancel, await).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::error::TaskError;
use crate::queue::JobRef;
use crate::shared::{worker, Admission, Refusal, Shared, Wait};
use std::mem::ManuallyDrop;

use crate::sync::Arc;
use crate::task::{Completion, Task};
use crate::task_hooks;
use crate::task_ref::TaskRef;

/// A handle to a submitted task's result.
///
/// [`join`](Self::join) waits for it; [`wait_timeout`](Self::wait_timeout) and
/// [`is_finished`](Self::is_finished) look without taking it; [`cancel`](Self::cancel) stops it
/// if it has not started; `.await` waits from async code on any runtime (the handle is a
/// [`Future`]). Dropping the handle detaches the task: it still runs, and its result is dropped.
///
/// # Panics
///
/// Dropping a handle whose task has finished drops its result on the dropping thread: a panic
/// in the result's `Drop` is raised there, after the executor's bookkeeping is done. (Dropped
/// before the task finishes, the result is dropped by the thread that runs it, which contains
/// the panic.)
///
/// # Examples
///
/// ```
/// use bounded_executor::BoundedExecutor;
/// use std::time::Duration;
///
/// let exec = BoundedExecutor::new(2);
/// let handle = exec.submit(|| 6 * 7).unwrap();
/// assert!(handle.wait_timeout(Duration::from_secs(10)));
/// assert!(handle.is_finished());
/// assert_eq!(handle.join().unwrap(), 42);
/// ```
pub struct TaskHandle<T> {
    /// The handle's reference: given up by `detach` in `Drop`, never dropped as such.
    task: ManuallyDrop<TaskRef<dyn Completion<T>>>,
    /// The executor's shared state: to cancel, and to tell whether we are one of its workers.
    shared: Arc<Shared>,
}

impl<T> TaskHandle<T> {
    /// Submits `f`, of `weight` units, waiting as `wait` allows; a refusal hands `f` back.
    #[inline]
    pub(crate) fn submit<F>(
        shared: &Arc<Shared>,
        weight: u64,
        f: F,
        wait: Wait,
    ) -> Result<Self, (Refusal, F)>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        match shared.admit(weight, wait) {
            Ok(admission) => Ok(Self::start_new(shared, admission, f)),
            Err(refusal) => {
                shared.reject();
                Err((refusal, f))
            }
        }
    }

    /// Submits `f` if a slot is free, or runs it right here if the executor is full
    /// (caller-runs); a refusal hands `f` back.
    pub(crate) fn submit_or_run<F>(shared: &Arc<Shared>, f: F) -> Result<Self, (Refusal, F)>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        match shared.admit_or_run() {
            Ok(admission @ Admission::Inline(_)) if worker::index_in(&**shared).is_none() => {
                // Not one of our workers: run it as a helping producer runs a task, so that its
                // own nested submits and joins follow the workers' rules, and a shutdown waits
                // for it.
                let mut f = Some(f);
                let ran = shared.helping_unless_shut_down(|| {
                    Self::start_new(shared, admission, f.take().expect("run once"))
                });
                ran.map_err(|refusal| {
                    shared.reject();
                    (refusal, f.take().expect("not run"))
                })
            }
            Ok(admission) => Ok(Self::start_new(shared, admission, f)),
            Err(refusal) => {
                shared.reject();
                Err((refusal, f))
            }
        }
    }

    /// Starts `f` under `admission`.
    #[inline]
    pub(crate) fn start_new<F>(shared: &Arc<Shared>, admission: Admission, f: F) -> Self
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        // What timings and per-task hooks cost a task that is not timed (see `task_hooks.rs`).
        let (task, job) = match shared.times_task() {
            Some(timed_for) => task_hooks::allocate(shared, f, admission.weight(), timed_for),
            None => Task::allocate(f, admission.weight()),
        };
        Self::start(shared, admission, task, job)
    }

    /// Starts an admitted task (`task` and `job` are the same allocation) and wraps it.
    #[inline]
    pub(crate) fn start(
        shared: &Arc<Shared>,
        admission: Admission,
        task: TaskRef<dyn Completion<T>>,
        job: JobRef,
    ) -> Self {
        Shared::enqueue(shared, admission, job);
        Self { task: ManuallyDrop::new(task), shared: Arc::clone(shared) }
    }

    /// Waits for the task and returns its value.
    ///
    /// # Errors
    ///
    /// A [`TaskError`] if the task panicked ([`TaskError::is_panic`], with the payload), was
    /// cancelled ([`TaskError::is_cancelled`]), or belongs to the parent of this forked process
    /// ([`TaskError::is_forked`], returned at once instead of hanging).
    ///
    /// # Deadlocks
    ///
    /// On a worker of the task's own executor, a task that has not started runs right here, on
    /// the caller's stack, instead of waiting for a free worker: recursive divide-and-conquer
    /// (`submit` a half, compute the other, `join`) completes even with one worker at capacity 1.
    /// A task already running elsewhere is waited for. No other task is ever run inside `join`,
    /// so locks held across it are safe from re-entry. It can still wait forever on a task that
    /// itself waits forever.
    ///
    /// # Examples
    ///
    /// ```
    /// let exec = bounded_executor::BoundedExecutor::new(1);
    /// assert_eq!(exec.submit(|| 2 + 2).unwrap().join().unwrap(), 4);
    /// ```
    pub fn join(self) -> Result<T, TaskError> {
        let done = self.wait(None)?;
        assert!(done, "a wait without deadline returned before the task finished");
        // SAFETY: the outcome is published (checked just above), and `join` owns the handle,
        // which is the task's only one.
        unsafe { self.task.take_outcome() }
    }

    /// True once the task has finished (returned, panicked or been cancelled): `join` will not
    /// wait.
    ///
    /// # Examples
    ///
    /// ```
    /// let exec = bounded_executor::BoundedExecutor::new(1);
    /// let handle = exec.submit(|| ()).unwrap();
    /// exec.shutdown(); // runs everything accepted
    /// assert!(handle.is_finished());
    /// ```
    #[must_use]
    pub fn is_finished(&self) -> bool {
        self.task.header().is_done()
    }

    /// Waits at most `timeout` for the task to finish; true if it has.
    ///
    /// In a forked child, returns false at once for a task that had not finished (it never will
    /// here).
    ///
    /// # Deadlocks
    ///
    /// None beyond the timeout, except that on a worker of the task's own executor (or a
    /// producer helping it), a task that has not started runs right here, as in
    /// [`join`](Self::join), so the call lasts as long as that task, past `timeout`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let exec = bounded_executor::BoundedExecutor::new(1);
    /// let handle = exec.submit(|| ()).unwrap();
    /// assert!(handle.wait_timeout(Duration::from_secs(10)));
    /// ```
    #[must_use = "false means the task has not finished yet"]
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        let deadline = Instant::now().checked_add(timeout);
        self.wait(deadline).unwrap_or(false)
    }

    /// Cancels the task if it has not started: it will never run, its closure is dropped at once,
    /// it stops counting in [`in_flight`](crate::BoundedExecutor::in_flight), and `join` gives an
    /// error that [`is_cancelled`](TaskError::is_cancelled). Returns false (and changes nothing)
    /// if the task had already started or finished.
    ///
    /// Its slot comes back when a worker passes over the cancelled entry in the queue (at once
    /// if a worker is idle): until then the entry's memory is still there, and the bound counts
    /// it, so cancelling never lets memory grow past `capacity()` tasks.
    ///
    /// # Panics
    ///
    /// If dropping the closure panics, the panic comes out here (after the cancellation is done).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::mpsc;
    ///
    /// let exec = bounded_executor::BoundedExecutor::new(1);
    /// let (release, gate) = mpsc::channel::<()>();
    /// let busy = exec.submit(move || gate.recv().unwrap()).unwrap();
    /// let queued = exec.submit(|| unreachable!()).unwrap(); // the only worker is busy
    /// assert!(queued.cancel());
    /// assert!(queued.join().unwrap_err().is_cancelled());
    /// release.send(()).unwrap();
    /// busy.join().unwrap();
    /// ```
    #[must_use = "false means the task had started or finished, and will not be cancelled"]
    pub fn cancel(&self) -> bool {
        self.shared.cancel_off_queue(&**self.task)
    }

    /// Waits until done or `deadline`: Ok(true) once done, Ok(false) on timeout.
    #[inline]
    fn wait(&self, deadline: Option<Instant>) -> Result<bool, TaskError> {
        if self.task.header().is_done() {
            return Ok(true);
        }
        self.wait_slow(deadline)
    }

    #[cold]
    fn wait_slow(&self, deadline: Option<Instant>) -> Result<bool, TaskError> {
        if self.shared.is_forked() {
            return Err(TaskError::forked());
        }
        if self.run_here_if_queued() {
            return Ok(true);
        }
        Ok(self.task.header().wait(deadline))
    }

    /// On a worker of the task's own executor, runs the task right here if it has not started:
    /// what keeps nested `submit` + `join` from deadlocking. Returns true if it ran it.
    #[cold]
    pub(crate) fn run_here_if_queued(&self) -> bool {
        match worker::index_in(&*self.shared) {
            Some(index) => self.shared.run_off_queue(&**self.task, index),
            None => false,
        }
    }

    /// Arranges for `waker` to be woken when the task finishes; true if it already has.
    pub(crate) fn notify_when_done(&self, waker: &std::task::Waker) -> bool {
        let header = self.task.header();
        header.is_done() || header.register_waker(waker)
    }
}

/// Awaiting a handle waits for the task without blocking the thread, on any async runtime.
///
/// # Examples
///
/// ```
/// use futures::executor::block_on; // any executor works
/// let exec = bounded_executor::BoundedExecutor::new(1);
/// let handle = exec.submit(|| 5).unwrap();
/// assert_eq!(block_on(async { handle.await.unwrap() }), 5);
/// ```
impl<T> Future for TaskHandle<T> {
    type Output = Result<T, TaskError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let header = this.task.header();
        if !header.is_done() && !header.register_waker(cx.waker()) && !this.run_here_if_queued() {
            if this.shared.is_forked() {
                return Poll::Ready(Err(TaskError::forked()));
            }
            return Poll::Pending;
        }
        // SAFETY: the outcome is published (seen by `is_done`, `register_waker` or our own run),
        // and `poll` has the handle by `&mut`.
        Poll::Ready(unsafe { this.task.take_outcome() })
    }
}

impl<T> Drop for TaskHandle<T> {
    /// Detaches the task: it still runs, and its result is dropped as soon as it exists (here,
    /// if it already does), not when the last internal reference goes. A panic from the
    /// result's `Drop` is raised here in that case (see `# Panics` on [`TaskHandle`]).
    fn drop(&mut self) {
        // SAFETY: `task` is taken once, here, and never touched again.
        unsafe { ManuallyDrop::take(&mut self.task) }.detach();
    }
}

impl<T> fmt::Debug for TaskHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskHandle").field("finished", &self.is_finished()).finish()
    }
}
