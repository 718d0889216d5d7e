//! [`TaskHandle`]: the caller's end of a task (join, wait, cancel, await).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::error::TaskError;
use crate::executor::Shared;
use crate::sync::Arc;
use crate::task::Completion;
use crate::{fork, worker};

/// A handle to a submitted task's result.
///
/// [`join`](Self::join) waits for it; [`wait_timeout`](Self::wait_timeout) and
/// [`is_finished`](Self::is_finished) look without taking it; [`cancel`](Self::cancel) stops it
/// if it has not started; `.await` waits from async code on any runtime (the handle is a
/// [`Future`]). Dropping the handle detaches the task: it still runs, and its result is dropped.
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
    task: Arc<dyn Completion<T>>,
    owner: Owner,
    fork_generation: usize,
}

/// The executor's shared state, as a pointer the handle follows only while that state is
/// known to be alive (see `cancel` and `wait_slow`).
#[derive(Clone, Copy)]
struct Owner(NonNull<Shared>);

// SAFETY: `Shared` is `Send + Sync`; the pointer is only followed under the conditions stated at
// each use, whatever thread the handle is on.
unsafe impl Send for Owner {}
// SAFETY: as above.
unsafe impl Sync for Owner {}

impl<T> TaskHandle<T> {
    pub(crate) fn new(task: Arc<dyn Completion<T>>, shared: &Arc<Shared>) -> Self {
        Self {
            task,
            owner: Owner(NonNull::from(&**shared)),
            fork_generation: shared.fork_generation(),
        }
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
    /// On a worker of the task's own executor, `join` does not idle: if the task has not started
    /// it runs right here, otherwise the worker runs other queued tasks while it waits. It can
    /// still wait forever on a task that itself waits forever.
    ///
    /// # Examples
    ///
    /// ```
    /// let exec = bounded_executor::BoundedExecutor::new(1);
    /// assert_eq!(exec.submit(|| 2 + 2).unwrap().join().unwrap(), 4);
    /// ```
    pub fn join(self) -> Result<T, TaskError> {
        self.wait(None)?;
        // SAFETY: `wait(None)` returns Ok only once the outcome is published, and `join` owns
        // the handle, which is the task's only one.
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
    pub fn is_finished(&self) -> bool {
        self.task.header().is_done()
    }

    /// Waits at most `timeout` for the task to finish; true if it has.
    ///
    /// In a forked child, returns false at once for a task that had not finished (it never will
    /// here). On a worker of the task's own executor it runs other tasks while it waits, as
    /// [`join`](Self::join) does, so it can return later than `timeout`.
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
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        let deadline = Instant::now().checked_add(timeout);
        self.wait(deadline).unwrap_or(false)
    }

    /// Cancels the task if it has not started: it will never run, its closure is dropped, its
    /// slot is freed at once, and `join` gives an error that [`is_cancelled`](TaskError::is_cancelled).
    /// Returns false (and changes nothing) if the task had already started or finished.
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
    pub fn cancel(&self) -> bool {
        let owner = self.owner;
        self.task.cancel(&mut || {
            // SAFETY: this runs only once the cancel has claimed a task that was still queued,
            // so the task holds a slot. The shared state outlives every slot: each worker owns it
            // and exits only after the slot count has fallen to zero after shutdown.
            let shared = unsafe { owner.0.as_ref() };
            shared.cancelled_one(false);
        })
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
        if fork::generation() != self.fork_generation {
            return Err(TaskError::forked());
        }
        if let Some(index) = worker::index_in(self.owner.0.as_ptr()) {
            // SAFETY: the calling thread is a worker of the task's executor, and every worker
            // holds an `Arc` of its shared state until it exits.
            let shared = unsafe { self.owner.0.as_ref() };
            return Ok(worker::wait_helping(shared, index, &*self.task, deadline));
        }
        Ok(self.task.header().wait(deadline))
    }

    /// On a worker of the task's executor, runs the task here if it has not started.
    #[cold]
    fn run_here_if_queued(&self) -> bool {
        match worker::index_in(self.owner.0.as_ptr()) {
            Some(index) => {
                // SAFETY: as in `wait_slow`.
                let shared = unsafe { self.owner.0.as_ref() };
                self.task.run(&mut |panicked| shared.finished(index, panicked))
            }
            None => false,
        }
    }
}

/// Awaiting a handle waits for the task without blocking the thread, on any async runtime.
///
/// # Examples
///
/// ```
/// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     use std::task::{Context, Poll, Waker};
/// #     let mut f = std::pin::pin!(f);
/// #     let mut cx = Context::from_waker(Waker::noop());
/// #     loop { if let Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } std::thread::yield_now(); }
/// # }
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
            if fork::generation() != this.fork_generation {
                return Poll::Ready(Err(TaskError::forked()));
            }
            return Poll::Pending;
        }
        // SAFETY: the outcome is published (seen by `is_done`, `register_waker` or our own run),
        // and `poll` has the handle by `&mut`.
        Poll::Ready(unsafe { this.task.take_outcome() })
    }
}

impl<T> fmt::Debug for TaskHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskHandle").field("finished", &self.is_finished()).finish()
    }
}
