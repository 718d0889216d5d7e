//! [`TaskSet`]: a collection of tasks whose results come out in completion order.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use crate::error::{SubmitError, TaskError, TrySubmitError};
use crate::handle::TaskHandle;
use crate::shared::worker;
use crate::shared::{Shared, Wait};
use crate::sync::{Arc, Condvar, Mutex, StdArc};
use crate::unwind::LatePanic;
use crate::BoundedExecutor;

/// Tasks whose results come out in the order they finish: Java's `ExecutorCompletionService`,
/// Python's `as_completed`.
///
/// Submit through the set ([`submit`](Self::submit), [`try_submit`](Self::try_submit)) or add
/// any handle ([`push`](Self::push)), then take results with [`join_next`](Self::join_next)
/// (blocking), [`join_next_timeout`](Self::join_next_timeout), or
/// [`join_next_async`](Self::join_next_async) from async code. Submission is bounded like any
/// other: the set holds handles, the executor holds at most `capacity()` tasks in flight.
///
/// Dropping the set **cancels** its tasks that have not started (they never run); tasks already
/// running finish and their results are dropped.
///
/// # Examples
///
/// ```
/// use bounded_executor::{BoundedExecutor, TaskSet};
///
/// let exec = BoundedExecutor::new(2);
/// let mut set = TaskSet::new(&exec);
/// for i in 0..10u64 {
///     set.submit(move || i * i).unwrap();
/// }
/// let mut total = 0;
/// while let Some(result) = set.join_next() {
///     total += result.unwrap(); // in completion order
/// }
/// assert_eq!(total, 285);
/// ```
pub struct TaskSet<T> {
    shared: Arc<Shared>,
    /// Handles by slot; `free` lists the empty slots.
    handles: Vec<Option<TaskHandle<T>>>,
    free: Vec<usize>,
    len: usize,
    ready: StdArc<Ready>,
}

/// Slots of finished tasks, filled by the tasks' wakers.
#[derive(Default)]
struct Ready {
    state: Mutex<ReadyState>,
    changed: Condvar,
}

#[derive(Default)]
struct ReadyState {
    slots: VecDeque<usize>,
    waker: Option<Waker>,
}

/// The waker a task in a set gets: on completion it queues its slot.
struct Notify {
    ready: StdArc<Ready>,
    slot: usize,
}

impl Wake for Notify {
    fn wake(self: StdArc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &StdArc<Self>) {
        let waker = {
            let mut state = self.ready.state.lock();
            state.slots.push_back(self.slot);
            state.waker.take()
        };
        self.ready.changed.notify_one();
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl<T> TaskSet<T> {
    /// An empty set that submits to `executor`.
    ///
    /// # Examples
    ///
    /// ```
    /// let exec = bounded_executor::BoundedExecutor::new(1);
    /// let set = bounded_executor::TaskSet::<()>::new(&exec);
    /// assert!(set.is_empty());
    /// ```
    pub fn new(executor: &BoundedExecutor) -> Self {
        Self::with_shared(executor.shared())
    }

    pub(crate) fn with_shared(shared: &Arc<Shared>) -> Self {
        Self {
            shared: Arc::clone(shared),
            handles: Vec::new(),
            free: Vec::new(),
            len: 0,
            ready: Default::default(),
        }
    }

    /// The number of tasks in the set: submitted and not yet taken by `join_next`.
    ///
    /// # Examples
    ///
    /// ```
    /// let exec = bounded_executor::BoundedExecutor::new(1);
    /// let mut set = bounded_executor::TaskSet::new(&exec);
    /// set.submit(|| ()).unwrap();
    /// assert_eq!(set.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.len
    }

    /// True if the set holds no task.
    ///
    /// # Examples
    ///
    /// ```
    /// let exec = bounded_executor::BoundedExecutor::new(1);
    /// let mut set = bounded_executor::TaskSet::new(&exec);
    /// set.submit(|| ()).unwrap();
    /// set.join_next();
    /// assert!(set.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds a handle (of any executor) to the set.
    ///
    /// # Examples
    ///
    /// ```
    /// let exec = bounded_executor::BoundedExecutor::new(1);
    /// let mut set = bounded_executor::TaskSet::new(&exec);
    /// set.push(exec.submit(|| 3).unwrap());
    /// assert_eq!(set.join_next().unwrap().unwrap(), 3);
    /// ```
    pub fn push(&mut self, handle: TaskHandle<T>) {
        let slot = self.free.pop().unwrap_or_else(|| {
            self.handles.push(None);
            self.handles.len() - 1
        });
        let waker = Waker::from(StdArc::new(Notify { ready: self.ready.clone(), slot }));
        if handle.notify_when_done(&waker) {
            waker.wake();
        }
        self.handles[slot] = Some(handle);
        self.len += 1;
    }

    /// Submits `f` to the set's executor, waiting while it is full (see
    /// [`BoundedExecutor::submit`], whose `# Deadlocks` rules apply).
    ///
    /// # Errors
    ///
    /// As [`BoundedExecutor::submit`]: the closure comes back if the executor is shut down.
    ///
    /// # Examples
    ///
    /// ```
    /// let exec = bounded_executor::BoundedExecutor::new(1);
    /// let mut set = bounded_executor::TaskSet::new(&exec);
    /// set.submit(|| "hi").unwrap();
    /// assert_eq!(set.join_next().unwrap().unwrap(), "hi");
    /// ```
    pub fn submit<F>(&mut self, f: F) -> Result<(), SubmitError<F>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let handle = TaskHandle::submit(&self.shared, 1, f, Wait::Forever)
            .map_err(SubmitError::from_refusal)?;
        self.push(handle);
        Ok(())
    }

    /// Submits `f` if a slot is free right now.
    ///
    /// # Errors
    ///
    /// As [`BoundedExecutor::try_submit`]: `Full`, `Shutdown` or `Forked`, with the closure.
    ///
    /// # Examples
    ///
    /// ```
    /// let exec = bounded_executor::BoundedExecutor::new(1);
    /// let mut set = bounded_executor::TaskSet::new(&exec);
    /// while set.try_submit(|| ()).is_ok() {} // fill the executor
    /// assert!(set.len() >= 1);
    /// ```
    pub fn try_submit<F>(&mut self, f: F) -> Result<(), TrySubmitError<F>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let handle = TaskHandle::submit(&self.shared, 1, f, Wait::No)
            .map_err(TrySubmitError::from_refusal)?;
        self.push(handle);
        Ok(())
    }

    /// Waits for the next task to finish and returns its result; `None` once the set is empty.
    ///
    /// # Deadlocks
    ///
    /// On a worker of the set's executor, runs the set's own tasks that have not started while it
    /// waits, instead of idling. In
    /// a forked child, returns a [`TaskError::is_forked`] error at once instead of hanging.
    ///
    /// # Examples
    ///
    /// ```
    /// let exec = bounded_executor::BoundedExecutor::new(2);
    /// let mut set = bounded_executor::TaskSet::new(&exec);
    /// set.submit(|| panic!("one")).unwrap();
    /// assert!(set.join_next().unwrap().unwrap_err().is_panic());
    /// assert!(set.join_next().is_none());
    /// ```
    pub fn join_next(&mut self) -> Option<Result<T, TaskError>> {
        self.join_next_until(None)
    }

    /// As [`join_next`](Self::join_next), waiting at most `timeout`: `None` if the set is empty
    /// or no task finished in time (tell them apart with [`is_empty`](Self::is_empty)).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let exec = bounded_executor::BoundedExecutor::new(1);
    /// let mut set = bounded_executor::TaskSet::new(&exec);
    /// set.submit(|| 1).unwrap();
    /// assert_eq!(set.join_next_timeout(Duration::from_secs(60)).unwrap().unwrap(), 1);
    /// ```
    pub fn join_next_timeout(&mut self, timeout: Duration) -> Option<Result<T, TaskError>> {
        self.join_next_until(Instant::now().checked_add(timeout))
    }

    /// A future for the next result, for async code: resolves to `None` once the set is empty.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::executor::block_on; // any executor works
    /// let exec = bounded_executor::BoundedExecutor::new(1);
    /// let mut set = bounded_executor::TaskSet::new(&exec);
    /// set.submit(|| 2).unwrap();
    /// assert_eq!(block_on(set.join_next_async()).unwrap().unwrap(), 2);
    /// ```
    pub fn join_next_async(&mut self) -> JoinNext<'_, T> {
        JoinNext { set: self }
    }

    /// Polls for the next result; the building block of [`join_next_async`](Self::join_next_async).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::task::{Context, Poll, Waker};
    ///
    /// let exec = bounded_executor::BoundedExecutor::new(1);
    /// let mut set = bounded_executor::TaskSet::<()>::new(&exec);
    /// let mut cx = Context::from_waker(Waker::noop());
    /// assert!(matches!(set.poll_join_next(&mut cx), Poll::Ready(None)));
    /// ```
    pub fn poll_join_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T, TaskError>>> {
        if self.len == 0 {
            return Poll::Ready(None);
        }
        let ready = {
            let mut state = self.ready.state.lock();
            let ready = state.slots.pop_front();
            if ready.is_none() {
                state.waker = Some(cx.waker().clone());
            }
            ready
        };
        match ready {
            Some(slot) => Poll::Ready(Some(self.take(slot))),
            None if self.shared.is_forked() => Poll::Ready(self.take_any_forked()),
            None => Poll::Pending,
        }
    }

    fn join_next_until(&mut self, deadline: Option<Instant>) -> Option<Result<T, TaskError>> {
        if self.len == 0 {
            return None;
        }
        loop {
            let ready = self.ready.state.lock().slots.pop_front();
            if let Some(slot) = ready {
                return Some(self.take(slot));
            }
            if self.shared.is_forked() {
                return self.take_any_forked();
            }
            // On a worker of the set's executor, run one of our tasks that has not started.
            if worker::index_in(&*self.shared).is_some()
                && self.handles.iter().flatten().any(TaskHandle::run_here_if_queued)
            {
                continue;
            }
            let mut state = self.ready.state.lock();
            if state.slots.is_empty() {
                match deadline {
                    None => self.ready.changed.wait(&mut state),
                    Some(deadline) => {
                        if self.ready.changed.wait_until(&mut state, deadline).timed_out()
                            && state.slots.is_empty()
                        {
                            return None;
                        }
                    }
                }
            }
        }
    }

    /// Takes the handle in `slot`, which is done, and its result.
    fn take(&mut self, slot: usize) -> Result<T, TaskError> {
        let handle = self.handles[slot].take().expect("a ready slot holds a handle");
        self.free.push(slot);
        self.len -= 1;
        handle.join()
    }

    /// In a forked child: the tasks will never finish here, so give one of them back as an error.
    fn take_any_forked(&mut self) -> Option<Result<T, TaskError>> {
        let slot = self.handles.iter().position(Option::is_some)?;
        Some(self.take(slot))
    }
}

impl<T> Drop for TaskSet<T> {
    /// Cancels the tasks that have not started; running ones finish, their results dropped.
    ///
    /// A panic from a cancelled closure's or a finished result's `Drop` does not stop the
    /// others from being cancelled and dropped: the first one is raised at the end (discarded
    /// if the set is dropped during a panic).
    fn drop(&mut self) {
        let mut late = LatePanic::default();
        for handle in self.handles.iter().flatten() {
            late.catch(|| {
                handle.cancel();
            });
        }
        for handle in self.handles.drain(..).flatten() {
            late.catch(|| drop(handle));
        }
        late.resume_unless_panicking();
    }
}

impl<T> fmt::Debug for TaskSet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskSet").field("len", &self.len).finish()
    }
}

/// The future of [`TaskSet::join_next_async`]: the next result, in completion order, or
/// `None` once the set is empty.
///
/// # Examples
///
/// ```
/// let exec = bounded_executor::BoundedExecutor::new(1);
/// let mut set = bounded_executor::TaskSet::new(&exec);
/// set.submit(|| 9).unwrap();
/// let next = set.join_next_async(); // a `JoinNext`: await it in async code
/// # let _ = next;
/// ```
#[must_use = "futures do nothing unless polled"]
#[derive(Debug)]
pub struct JoinNext<'a, T> {
    set: &'a mut TaskSet<T>,
}

impl<T> Future for JoinNext<'_, T> {
    type Output = Option<Result<T, TaskError>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.get_mut().set.poll_join_next(cx)
    }
}
