//! [`Map`] and [`MapUnordered`]: lazy, bounded parallel maps over an iterator.
//!
//! Both hold a window of at most `capacity()` tasks, **counting finished results the caller has
//! not taken yet**. An input is pulled only once a slot has been taken for it, so not even one
//! extra item is held while waiting. Items are submitted only as the iterator is advanced.

use std::collections::VecDeque;
use std::fmt;
use std::panic::{self, AssertUnwindSafe};

use crate::error::TaskError;
use crate::handle::TaskHandle;
use crate::shared::{Admission, Refusal, Shared, Wait};
use crate::sync::{Arc, StdArc};
use crate::task_set::TaskSet;
use crate::unwind::LatePanic;

/// Pulls inputs and starts tasks for them: the typed part of a map, behind a trait object so
/// that the iterator types name only `T`.
trait Feed<T>: Send {
    /// Pulls the next input and starts its task under `admission`; `None` if the input ended.
    /// Only pulling can panic (the task runs under its own `catch_unwind`): the admission is
    /// still unused then.
    fn start_next(&mut self, shared: &Arc<Shared>, admission: Admission) -> Option<TaskHandle<T>>;
    /// Pulls the next input and drops it; false if the input ended.
    fn skip_next(&mut self) -> bool;
}

struct Inputs<I, F> {
    inputs: I,
    f: StdArc<F>,
}

impl<I, F, T> Feed<T> for Inputs<I, F>
where
    I: Iterator + Send,
    I::Item: Send + 'static,
    F: Fn(I::Item) -> T + Send + Sync + 'static,
    T: Send + 'static,
{
    fn start_next(&mut self, shared: &Arc<Shared>, admission: Admission) -> Option<TaskHandle<T>> {
        let item = self.inputs.next()?;
        let f = StdArc::clone(&self.f);
        Some(TaskHandle::start_new(shared, admission, move || f(item)))
    }

    fn skip_next(&mut self) -> bool {
        self.inputs.next().is_some()
    }
}

/// The input side shared by both maps.
pub(crate) struct Source<T> {
    shared: Arc<Shared>,
    feed: Box<dyn Feed<T>>,
    capacity: usize,
    exhausted: bool,
    /// Set once the executor refused: every remaining input comes out as this error.
    refusal: Option<Refusal>,
}

/// What the source produced when asked for one more task.
enum Next<T> {
    Started(TaskHandle<T>),
    /// The input has no more items.
    Exhausted,
    /// The executor refused (shut down or forked): one input was consumed and gets this error.
    Refused(TaskError),
    /// No free slot right now.
    Full,
    /// The executor refused (shut down or forked), and the error is held back: results already
    /// started come first, then a blocking `next` reports it.
    RefusalHeld,
}

impl<T> Source<T> {
    pub(crate) fn new<I, F>(shared: &Arc<Shared>, inputs: I, f: F) -> Self
    where
        I: IntoIterator,
        I::IntoIter: Send + 'static,
        I::Item: Send + 'static,
        F: Fn(I::Item) -> T + Send + Sync + 'static,
        T: Send + 'static,
    {
        let feed = Box::new(Inputs { inputs: inputs.into_iter(), f: StdArc::new(f) });
        Self {
            shared: Arc::clone(shared),
            feed,
            capacity: shared.capacity(),
            exhausted: false,
            refusal: None,
        }
    }

    /// Starts the task for the next input, waiting for a slot if `wait` allows. Once the
    /// executor refuses (shut down or forked), every later call consumes one input and returns
    /// its error, but only when waiting is allowed: the caller asks that way only once the
    /// results before it are out, so errors come out in their place.
    fn next(&mut self, wait: Wait) -> Next<T> {
        if self.exhausted {
            return Next::Exhausted;
        }
        if self.refusal.is_none() {
            let admission = match wait {
                Wait::No => self.shared.try_admit(),
                wait => self.shared.admit(wait),
            };
            match admission {
                Ok(admission) => {
                    // The input iterator is user code: if it panics, give the slot back and
                    // treat the input as ended, then let the panic go on.
                    let started = panic::catch_unwind(AssertUnwindSafe(|| {
                        self.feed.start_next(&self.shared, admission)
                    }));
                    return match started {
                        Ok(Some(handle)) => Next::Started(handle),
                        Ok(None) => {
                            self.shared.unadmit(admission);
                            self.exhausted = true;
                            Next::Exhausted
                        }
                        Err(payload) => {
                            self.shared.unadmit(admission);
                            self.exhausted = true;
                            panic::resume_unwind(payload)
                        }
                    };
                }
                Err(Refusal::Full) => return Next::Full,
                Err(refusal) => self.refusal = Some(refusal),
            }
        }
        match (wait, self.refusal) {
            (_, None) => Next::Full,
            (Wait::No, Some(_)) => Next::RefusalHeld,
            (_, Some(refusal)) => {
                if self.feed.skip_next() {
                    self.shared.reject();
                    Next::Refused(TaskError::from_refusal(refusal))
                } else {
                    self.exhausted = true;
                    Next::Exhausted
                }
            }
        }
    }
}

/// The iterator of [`BoundedExecutor::map`](crate::BoundedExecutor::map): results in input order.
///
/// See [`BoundedExecutor::map`](crate::BoundedExecutor::map) for the guarantees. Dropping it
/// cancels the tasks that have not started.
///
/// # Examples
///
/// ```
/// let exec = bounded_executor::BoundedExecutor::new(2);
/// let mut lengths = exec.map(vec!["a", "bb"], str::len);
/// assert_eq!(lengths.next().unwrap().unwrap(), 1);
/// drop(lengths); // cancels whatever has not started
/// ```
pub struct Map<T> {
    source: Source<T>,
    window: VecDeque<TaskHandle<T>>,
}

impl<T> Map<T> {
    pub(crate) fn new(source: Source<T>) -> Self {
        Self { source, window: VecDeque::new() }
    }
}

/// Where started tasks wait until their results are taken: `Map`'s window gives them back in
/// input order, `MapUnordered`'s `TaskSet` in completion order.
trait Pending<T> {
    fn len(&self) -> usize;
    fn push(&mut self, handle: TaskHandle<T>);
    /// The next result, if any task is pending (waits for it).
    fn next_result(&mut self) -> Option<Result<T, TaskError>>;
}

impl<T> Pending<T> for VecDeque<TaskHandle<T>> {
    fn len(&self) -> usize {
        VecDeque::len(self)
    }

    fn push(&mut self, handle: TaskHandle<T>) {
        self.push_back(handle);
    }

    fn next_result(&mut self) -> Option<Result<T, TaskError>> {
        self.pop_front().map(TaskHandle::join)
    }
}

impl<T> Pending<T> for TaskSet<T> {
    fn len(&self) -> usize {
        TaskSet::len(self)
    }

    fn push(&mut self, handle: TaskHandle<T>) {
        TaskSet::push(self, handle);
    }

    fn next_result(&mut self) -> Option<Result<T, TaskError>> {
        self.join_next()
    }
}

/// The one `next` of `Map` and `MapUnordered`: start tasks while slots are free and the
/// results not yet taken stay under the capacity, then take the next result; with nothing
/// pending, wait for a slot to start one more.
fn next_result<T>(
    source: &mut Source<T>,
    pending: &mut impl Pending<T>,
) -> Option<Result<T, TaskError>> {
    while pending.len() < source.capacity {
        match source.next(Wait::No) {
            Next::Started(handle) => pending.push(handle),
            Next::Refused(_) | Next::Exhausted | Next::Full | Next::RefusalHeld => break,
        }
    }
    if let Some(result) = pending.next_result() {
        return Some(result);
    }
    match source.next(Wait::Forever) {
        Next::Started(handle) => Some(handle.join()),
        Next::Refused(err) => Some(Err(err)),
        Next::Exhausted | Next::Full | Next::RefusalHeld => None,
    }
}

impl<T> Iterator for Map<T> {
    type Item = Result<T, TaskError>;

    fn next(&mut self) -> Option<Self::Item> {
        next_result(&mut self.source, &mut self.window)
    }
}

impl<T> Drop for Map<T> {
    /// Cancels the tasks that have not started, as [`TaskSet`]'s `Drop` does, with the same
    /// rule for panics.
    fn drop(&mut self) {
        let mut late = LatePanic::default();
        for handle in &self.window {
            late.catch(|| {
                handle.cancel();
            });
        }
        for handle in self.window.drain(..) {
            late.catch(|| drop(handle));
        }
        late.resume_unless_panicking();
    }
}

impl<T> fmt::Debug for Map<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Map").field("in_window", &self.window.len()).finish()
    }
}

/// The iterator of [`BoundedExecutor::map_unordered`](crate::BoundedExecutor::map_unordered):
/// results in completion order.
///
/// See [`BoundedExecutor::map_unordered`](crate::BoundedExecutor::map_unordered) for the
/// guarantees. Dropping it cancels the tasks that have not started.
///
/// # Examples
///
/// ```
/// let exec = bounded_executor::BoundedExecutor::new(2);
/// let total: u32 = exec.map_unordered(1..=4u32, |i| i * i).map(Result::unwrap).sum();
/// assert_eq!(total, 30);
/// ```
pub struct MapUnordered<T> {
    source: Source<T>,
    set: TaskSet<T>,
}

impl<T> MapUnordered<T> {
    pub(crate) fn new(source: Source<T>) -> Self {
        let set = TaskSet::with_shared(&source.shared);
        Self { source, set }
    }
}

impl<T> Iterator for MapUnordered<T> {
    type Item = Result<T, TaskError>;

    fn next(&mut self) -> Option<Self::Item> {
        next_result(&mut self.source, &mut self.set)
    }
}

impl<T> fmt::Debug for MapUnordered<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MapUnordered").field("in_window", &self.set.len()).finish()
    }
}
