//! Taking results out of a [`TaskSet`]: the ready list the tasks' wakers fill, the `join_next`
//! family, and the [`JoinNext`] future.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use super::{TaskId, TaskSet};
use crate::error::TaskError;
use crate::shared::worker;
use crate::sync::{Condvar, Mutex, StdArc};

/// Slots of finished tasks, filled by the tasks' wakers.
#[derive(Default)]
pub(super) struct Ready {
    state: Mutex<ReadyState>,
    changed: Condvar,
}

#[derive(Default)]
struct ReadyState {
    slots: VecDeque<usize>,
    waker: Option<Waker>,
}

/// The waker a task in a set gets: on completion it queues its slot.
pub(super) struct Notify {
    pub(super) ready: StdArc<Ready>,
    pub(super) slot: usize,
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
    /// The next result if a task has finished, without waiting: `None` if none has (or the set
    /// is empty; tell them apart with [`is_empty`](Self::is_empty)). Never runs a task.
    ///
    /// # Examples
    ///
    /// ```
    /// let exec = bounded_executor::BoundedExecutor::new(1);
    /// let mut set = bounded_executor::TaskSet::new(&exec);
    /// assert!(set.try_join_next().is_none());
    /// let _ = set.submit(|| 4).unwrap();
    /// let result = loop {
    ///     if let Some(result) = set.try_join_next() { break result; }
    ///     std::thread::yield_now();
    /// };
    /// assert_eq!(result.unwrap(), 4);
    /// ```
    pub fn try_join_next(&mut self) -> Option<Result<T, TaskError>> {
        self.try_join_next_with_id().map(|(_, result)| result)
    }

    /// As [`try_join_next`](Self::try_join_next), with the id of the task.
    ///
    /// # Examples
    ///
    /// ```
    /// let exec = bounded_executor::BoundedExecutor::new(1);
    /// let mut set = bounded_executor::TaskSet::<()>::new(&exec);
    /// assert!(set.try_join_next_with_id().is_none());
    /// ```
    pub fn try_join_next_with_id(&mut self) -> Option<(TaskId, Result<T, TaskError>)> {
        if self.len == 0 {
            return None;
        }
        let ready = self.ready.state.lock().slots.pop_front();
        match ready {
            Some(slot) => Some(self.take(slot)),
            None if self.shared.is_forked() => self.take_any_forked(),
            None => None,
        }
    }

    /// As [`join_next`](Self::join_next), with the id of the task whose result it is.
    ///
    /// # Deadlocks
    ///
    /// As [`join_next`](Self::join_next).
    ///
    /// # Examples
    ///
    /// ```
    /// let exec = bounded_executor::BoundedExecutor::new(2);
    /// let mut set = bounded_executor::TaskSet::new(&exec);
    /// let ids = [set.submit(|| 'a').unwrap(), set.submit(|| 'b').unwrap()];
    /// while let Some((id, result)) = set.join_next_with_id() {
    ///     assert_eq!(result.unwrap(), if id == ids[0] { 'a' } else { 'b' });
    /// }
    /// ```
    pub fn join_next_with_id(&mut self) -> Option<(TaskId, Result<T, TaskError>)> {
        self.join_next_until(None)
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
        self.join_next_until(None).map(|(_, result)| result)
    }

    /// As [`join_next`](Self::join_next), waiting at most `timeout`: `None` if the set is empty
    /// or no task finished in time (tell them apart with [`is_empty`](Self::is_empty)).
    ///
    /// # Deadlocks
    ///
    /// As [`join_next`](Self::join_next): on a worker of the set's executor it runs the set's own
    /// tasks that have not started, and a task run that way ends past `timeout` if it is long.
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
        self.join_next_until(Instant::now().checked_add(timeout)).map(|(_, result)| result)
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
            Some(slot) => Poll::Ready(Some(self.take(slot).1)),
            None if self.shared.is_forked() => {
                Poll::Ready(self.take_any_forked().map(|(_, result)| result))
            }
            None => Poll::Pending,
        }
    }

    fn join_next_until(
        &mut self,
        deadline: Option<Instant>,
    ) -> Option<(TaskId, Result<T, TaskError>)> {
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
                && self.handles.iter().flatten().any(|(_, handle)| handle.run_here_if_queued())
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
    fn take(&mut self, slot: usize) -> (TaskId, Result<T, TaskError>) {
        let (id, handle) = self.handles[slot].take().expect("a ready slot holds a handle");
        self.free.push(slot);
        self.len -= 1;
        (id, handle.join())
    }

    /// In a forked child: the tasks will never finish here, so give one of them back as an error.
    fn take_any_forked(&mut self) -> Option<(TaskId, Result<T, TaskError>)> {
        let slot = self.handles.iter().position(Option::is_some)?;
        Some(self.take(slot))
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
