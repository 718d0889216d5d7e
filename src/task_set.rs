//! [`TaskSet`]: a collection of tasks whose results come out in completion order.

use std::fmt;
use std::task::Waker;

use crate::error::{SubmitError, TrySubmitError};
use crate::handle::TaskHandle;
use crate::shared::{Shared, Wait};
use crate::sync::{Arc, StdArc};
use crate::unwind::LatePanic;
use crate::BoundedExecutor;

mod join;

pub use self::join::JoinNext;
use self::join::{Notify, Ready};

/// Tasks whose results come out in the order they finish: Java's `ExecutorCompletionService`,
/// Python's `as_completed`.
///
/// Submit through the set ([`submit`](Self::submit), [`try_submit`](Self::try_submit)) or add
/// any handle ([`push`](Self::push), [`Extend`]), then take results with
/// [`join_next`](Self::join_next) (blocking), [`try_join_next`](Self::try_join_next) (never
/// waits), [`join_next_timeout`](Self::join_next_timeout), or
/// [`join_next_async`](Self::join_next_async) from async code.
///
/// **The bound counts results not taken yet**, as [`map`](BoundedExecutor::map) does: a set
/// that holds `capacity()` tasks (running, queued or finished and not taken) refuses the next
/// submit with `Full` (the closure handed back) until a result is taken, so a submit loop that
/// never calls `join_next` cannot grow without bound. Handles added with `push` are the
/// caller's already and are not refused.
///
/// Each task gets a [`TaskId`]: [`cancel`](Self::cancel) stops one that has not started,
/// [`cancel_all`](Self::cancel_all) all of them, and
/// [`join_next_with_id`](Self::join_next_with_id) says whose result came out. A cancelled
/// task's result still comes out, as an error that
/// [`is_cancelled`](crate::TaskError::is_cancelled).
///
/// Dropping the set **cancels** its tasks that have not started (they never run); tasks already
/// running finish and their results are dropped.
///
/// # Examples
///
/// ```
/// use bounded_executor::{BoundedExecutor, TaskSet};
///
/// let exec = BoundedExecutor::new(2); // capacity 4
/// let mut set = TaskSet::new(&exec);
/// let mut total = 0;
/// for i in 0..10u64 {
///     if set.len() == exec.capacity() {
///         total += set.join_next().unwrap().unwrap(); // make room: take a result
///     }
///     let _id = set.submit(move || i * i).unwrap();
/// }
/// while let Some(result) = set.join_next() {
///     total += result.unwrap(); // in completion order
/// }
/// assert_eq!(total, 285);
/// ```
pub struct TaskSet<T> {
    shared: Arc<Shared>,
    /// Handles by slot, with their ids; `free` lists the empty slots.
    handles: Vec<Option<(TaskId, TaskHandle<T>)>>,
    free: Vec<usize>,
    len: usize,
    next_id: u64,
    ready: StdArc<Ready>,
}

/// The id of a task in a [`TaskSet`], unique within that set: what
/// [`submit`](TaskSet::submit) and [`push`](TaskSet::push) return, what
/// [`cancel`](TaskSet::cancel) takes and [`join_next_with_id`](TaskSet::join_next_with_id)
/// gives back.
///
/// # Examples
///
/// ```
/// let exec = bounded_executor::BoundedExecutor::new(1);
/// let mut set = bounded_executor::TaskSet::new(&exec);
/// let id = set.submit(|| 1).unwrap();
/// let (done, result) = set.join_next_with_id().unwrap();
/// assert_eq!((done, result.unwrap()), (id, 1));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskId(u64);

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
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
            next_id: 0,
            ready: Default::default(),
        }
    }

    /// The number of tasks in the set: submitted and not yet taken by `join_next` (running,
    /// queued, or finished with their results waiting). This is what the executor's
    /// `capacity()` bounds for `submit`.
    ///
    /// # Examples
    ///
    /// ```
    /// let exec = bounded_executor::BoundedExecutor::new(1);
    /// let mut set = bounded_executor::TaskSet::new(&exec);
    /// set.submit(|| ()).unwrap();
    /// assert_eq!(set.len(), 1);
    /// ```
    #[must_use]
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
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds a handle (of any executor) to the set, and returns its id. Never refused: the task
    /// exists already, so it does not count against the bound of [`submit`](Self::submit) here
    /// (it counts in `len`, and so against the next `submit`).
    ///
    /// # Examples
    ///
    /// ```
    /// let exec = bounded_executor::BoundedExecutor::new(1);
    /// let mut set = bounded_executor::TaskSet::new(&exec);
    /// let _id = set.push(exec.submit(|| 3).unwrap());
    /// assert_eq!(set.join_next().unwrap().unwrap(), 3);
    /// ```
    pub fn push(&mut self, handle: TaskHandle<T>) -> TaskId {
        let id = TaskId(self.next_id);
        self.next_id += 1;
        let slot = self.free.pop().unwrap_or_else(|| {
            self.handles.push(None);
            self.handles.len() - 1
        });
        let waker = Waker::from(StdArc::new(Notify { ready: self.ready.clone(), slot }));
        if handle.notify_when_done(&waker) {
            waker.wake();
        }
        self.handles[slot] = Some((id, handle));
        self.len += 1;
        id
    }

    /// True if the set holds as many tasks as the executor's `capacity()`: `submit` refuses.
    fn is_full(&self) -> bool {
        self.len >= self.shared.capacity()
    }

    /// Submits `f` to the set's executor, waiting while the executor is full (see
    /// [`BoundedExecutor::submit`], whose `# Deadlocks` rules apply), and returns its id.
    ///
    /// # Errors
    ///
    /// [`SubmitError::Full`] at once, with the closure, if the set already holds `capacity()`
    /// tasks (see the type's docs): only taking a result makes room, and only the caller can,
    /// so waiting would never end. Otherwise as [`BoundedExecutor::submit`]: the closure comes
    /// back if the executor is shut down.
    ///
    /// # Deadlocks
    ///
    /// As [`BoundedExecutor::submit`]: it waits for a slot of the executor (which other
    /// producers' tasks may hold), never for a result of this set, which it refuses instead.
    ///
    /// # Examples
    ///
    /// ```
    /// let exec = bounded_executor::BoundedExecutor::builder().max_workers(1).capacity(2).build().unwrap();
    /// let mut set = bounded_executor::TaskSet::new(&exec);
    /// let _ = set.submit(|| "hi").unwrap();
    /// let _ = set.submit(|| "there").unwrap();
    /// let full = set.submit(|| "more").unwrap_err(); // two results not taken yet
    /// assert!(full.is_full());
    /// assert!(set.join_next().unwrap().is_ok()); // taking one makes room
    /// let _ = set.submit(full.into_inner()).unwrap();
    /// ```
    pub fn submit<F>(&mut self, f: F) -> Result<TaskId, SubmitError<F>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        if self.is_full() {
            return Err(SubmitError::Full(f));
        }
        let handle = TaskHandle::submit(&self.shared, 1, f, Wait::Forever)
            .map_err(SubmitError::from_refusal)?;
        Ok(self.push(handle))
    }

    /// Submits `f` if a slot is free right now, and returns its id.
    ///
    /// # Errors
    ///
    /// As [`BoundedExecutor::try_submit`]: `Full`, `Shutdown` or `Forked`, with the closure.
    /// `Full` also when the set holds `capacity()` tasks whose results are not taken.
    ///
    /// # Examples
    ///
    /// ```
    /// let exec = bounded_executor::BoundedExecutor::new(1);
    /// let mut set = bounded_executor::TaskSet::new(&exec);
    /// while set.try_submit(|| ()).is_ok() {} // fill the executor
    /// assert!(set.len() >= 1);
    /// ```
    pub fn try_submit<F>(&mut self, f: F) -> Result<TaskId, TrySubmitError<F>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        if self.is_full() {
            return Err(TrySubmitError::Full(f));
        }
        let handle = TaskHandle::submit(&self.shared, 1, f, Wait::No)
            .map_err(TrySubmitError::from_refusal)?;
        Ok(self.push(handle))
    }

    /// Cancels the task `id` if it has not started (see [`TaskHandle::cancel`]): true if this
    /// call cancelled it. The task stays in the set: its result comes out of `join_next` as an
    /// error that [`is_cancelled`](crate::TaskError::is_cancelled). False for a task that started,
    /// finished, or is not in the set (taken already).
    ///
    /// # Panics
    ///
    /// If dropping the closure panics, the panic comes out here (after the cancellation).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::mpsc;
    ///
    /// let exec = bounded_executor::BoundedExecutor::new(1);
    /// let mut set = bounded_executor::TaskSet::new(&exec);
    /// let (release, gate) = mpsc::channel::<()>();
    /// let (started_tx, started) = mpsc::channel();
    /// let _busy = set.submit(move || { started_tx.send(()).unwrap(); gate.recv().unwrap() }).unwrap();
    /// started.recv().unwrap(); // the only worker is busy
    /// let queued = set.submit(|| unreachable!()).unwrap();
    /// assert!(set.cancel(queued));
    /// release.send(()).unwrap();
    /// let mut cancelled = 0;
    /// while let Some((id, result)) = set.join_next_with_id() {
    ///     if id == queued {
    ///         assert!(result.unwrap_err().is_cancelled());
    ///         cancelled += 1;
    ///     }
    /// }
    /// assert_eq!(cancelled, 1);
    /// ```
    #[must_use = "false means the task had started or finished, and will not be cancelled"]
    pub fn cancel(&self, id: TaskId) -> bool {
        self.handles.iter().flatten().find(|(task, _)| *task == id).is_some_and(|(_, h)| h.cancel())
    }

    /// Cancels every task of the set that has not started, and returns how many this call
    /// cancelled. Their results come out as cancelled errors, as with [`cancel`](Self::cancel);
    /// the running ones finish. The set stays usable.
    ///
    /// # Panics
    ///
    /// If dropping a cancelled closure panics: after every other task was cancelled, the first
    /// such panic comes out here.
    ///
    /// # Examples
    ///
    /// ```
    /// let exec = bounded_executor::BoundedExecutor::new(1);
    /// let mut set = bounded_executor::TaskSet::new(&exec);
    /// for i in 0..2 {
    ///     let _ = set.submit(move || i).unwrap();
    /// }
    /// let cancelled = set.cancel_all(); // 0 to 2, as the worker is quick or not
    /// let errors = std::iter::from_fn(|| set.join_next()).filter(Result::is_err).count();
    /// assert_eq!(errors, cancelled);
    /// ```
    pub fn cancel_all(&self) -> usize {
        let mut late = LatePanic::default();
        let mut cancelled = 0;
        for (_, handle) in self.handles.iter().flatten() {
            late.catch(|| {
                if handle.cancel() {
                    cancelled += 1;
                }
            });
        }
        late.resume();
        cancelled
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
        for (_, handle) in self.handles.iter().flatten() {
            late.catch(|| {
                let _ = handle.cancel();
            });
        }
        for (_, handle) in self.handles.drain(..).flatten() {
            late.catch(|| drop(handle));
        }
        late.resume_unless_panicking();
    }
}

/// Adds handles, as [`push`](TaskSet::push) does (their ids are not returned).
///
/// # Examples
///
/// ```
/// let exec = bounded_executor::BoundedExecutor::new(2);
/// let mut set = bounded_executor::TaskSet::new(&exec);
/// set.extend((0..3).map(|i| exec.submit(move || i).unwrap()));
/// assert_eq!(set.len(), 3);
/// ```
impl<T> Extend<TaskHandle<T>> for TaskSet<T> {
    fn extend<I: IntoIterator<Item = TaskHandle<T>>>(&mut self, handles: I) {
        for handle in handles {
            self.push(handle);
        }
    }
}

impl<T> fmt::Debug for TaskSet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskSet").field("len", &self.len).finish()
    }
}
