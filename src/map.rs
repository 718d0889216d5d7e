//! [`Map`] and [`MapUnordered`]: lazy, bounded parallel maps over an iterator.
//!
//! Both hold a window of at most `capacity()` tasks, **counting finished results the caller has
//! not taken yet**, and of at most `weight_capacity()` units of weight, counted the same way.
//! The capacity is the live one, read on every `next`: after a raise the window widens, and
//! after a shrink no input is pulled until the window is under the new capacity.
//! For `map` and `map_unordered`, whose items weigh 1, an input is pulled only once a slot has
//! been taken for it, so not even one extra item is held while waiting. `map_weighted` must
//! pull an input to weigh it, so it holds that one input while it waits for room. Items are
//! submitted only as the iterator is advanced.

use std::collections::VecDeque;
use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::time::Instant;

use crate::error::TaskError;
use crate::handle::TaskHandle;
use crate::shared::{Admission, Refusal, Shared, Wait};
use crate::sync::{Arc, StdArc};
use crate::task_set::TaskSet;
use crate::unwind::LatePanic;

/// Pulls inputs and starts tasks for them: the typed part of a map, behind a trait object so
/// that the iterator types name only `T`.
trait Feed<T>: Send {
    /// The weight of the next input; `None` if the input ended. A weight that depends on the
    /// item (`map_weighted`) needs the input pulled first: it is held until started or
    /// skipped, and weighed once. A fixed weight (`map`) pulls nothing here. User code (the
    /// input iterator, the weight function) may panic here; nothing is admitted yet then.
    fn next_weight(&mut self) -> Option<u64>;
    /// Starts the task for the next input (the one held, or one pulled now) under `admission`;
    /// `None` if the input ended. Only pulling can panic (the task runs under its own
    /// `catch_unwind`): the admission is still unused then.
    fn start_next(&mut self, shared: &Arc<Shared>, admission: Admission) -> Option<TaskHandle<T>>;
    /// Drops the next input (the one held, or one pulled now); false if the input ended.
    fn skip_next(&mut self) -> bool;
}

/// How a map weighs its inputs.
trait Weigh<Item>: Send + Sync + 'static {
    /// The weight of every item, if it is known without looking at the item: then an input is
    /// pulled only once its slot is taken.
    fn fixed(&self) -> Option<u64>;
    fn weigh(&self, item: &Item) -> u64;
}

/// `map` and `map_unordered`: every item weighs 1, like a plain `submit`.
struct One;

impl<Item> Weigh<Item> for One {
    fn fixed(&self) -> Option<u64> {
        Some(1)
    }

    fn weigh(&self, _: &Item) -> u64 {
        1
    }
}

/// `map_weighted`: the user's weight function.
struct ByFn<W>(W);

impl<Item, W> Weigh<Item> for ByFn<W>
where
    W: Fn(&Item) -> u64 + Send + Sync + 'static,
{
    fn fixed(&self) -> Option<u64> {
        None
    }

    fn weigh(&self, item: &Item) -> u64 {
        (self.0)(item)
    }
}

struct Inputs<I: Iterator, F, W> {
    inputs: I,
    f: StdArc<F>,
    weigh: W,
    /// An input pulled to be weighed, with its weight, not started yet.
    held: Option<(I::Item, u64)>,
}

impl<I, F, W, T> Feed<T> for Inputs<I, F, W>
where
    I: Iterator + Send,
    I::Item: Send + 'static,
    F: Fn(I::Item) -> T + Send + Sync + 'static,
    W: Weigh<I::Item>,
    T: Send + 'static,
{
    fn next_weight(&mut self) -> Option<u64> {
        if let Some(weight) = self.weigh.fixed() {
            return Some(weight);
        }
        if self.held.is_none() {
            let item = self.inputs.next()?;
            let weight = self.weigh.weigh(&item);
            self.held = Some((item, weight));
        }
        self.held.as_ref().map(|(_, weight)| *weight)
    }

    fn start_next(&mut self, shared: &Arc<Shared>, admission: Admission) -> Option<TaskHandle<T>> {
        let item = match self.held.take() {
            Some((item, _)) => item,
            None => self.inputs.next()?,
        };
        let f = StdArc::clone(&self.f);
        Some(TaskHandle::start_new(shared, admission, move || f(item)))
    }

    fn skip_next(&mut self) -> bool {
        self.held.take().is_some() || self.inputs.next().is_some()
    }
}

/// The input side shared by both maps.
pub(crate) struct Source<T> {
    shared: Arc<Shared>,
    feed: Box<dyn Feed<T>>,
    weight_capacity: u64,
    exhausted: bool,
    /// Set once the executor refused: the next blocking `next` reports it once, then the
    /// source is exhausted.
    refusal: Option<Refusal>,
}

/// What the source produced when asked for one more task.
enum Next<T> {
    /// A task of this weight.
    Started(TaskHandle<T>, u64),
    /// The input has no more items.
    Exhausted,
    /// The executor refused (shut down or forked), or the item weighs more than the whole
    /// weight capacity: one input was consumed and gets this error.
    Refused(TaskError),
    /// No free slot (or not enough units) right now.
    Full,
    /// The executor refused (shut down or forked), or the next item is too heavy ever to fit,
    /// and the error is held back: results already started come first, then a blocking `next`
    /// reports it.
    RefusalHeld,
}

impl<T> Source<T> {
    /// The source of `map` and `map_unordered`: every item weighs 1.
    pub(crate) fn new<I, F>(shared: &Arc<Shared>, inputs: I, f: F) -> Self
    where
        I: IntoIterator,
        I::IntoIter: Send + 'static,
        I::Item: Send + 'static,
        F: Fn(I::Item) -> T + Send + Sync + 'static,
        T: Send + 'static,
    {
        Self::with_weigh(shared, inputs, One, f)
    }

    /// The source of `map_weighted`: each item weighs `weight_fn(&item)`.
    pub(crate) fn weighted<I, W, F>(shared: &Arc<Shared>, inputs: I, weight_fn: W, f: F) -> Self
    where
        I: IntoIterator,
        I::IntoIter: Send + 'static,
        I::Item: Send + 'static,
        W: Fn(&I::Item) -> u64 + Send + Sync + 'static,
        F: Fn(I::Item) -> T + Send + Sync + 'static,
        T: Send + 'static,
    {
        Self::with_weigh(shared, inputs, ByFn(weight_fn), f)
    }

    fn with_weigh<I, W, F>(shared: &Arc<Shared>, inputs: I, weigh: W, f: F) -> Self
    where
        I: IntoIterator,
        I::IntoIter: Send + 'static,
        I::Item: Send + 'static,
        W: Weigh<I::Item>,
        F: Fn(I::Item) -> T + Send + Sync + 'static,
        T: Send + 'static,
    {
        let feed =
            Box::new(Inputs { inputs: inputs.into_iter(), f: StdArc::new(f), weigh, held: None });
        Self {
            shared: Arc::clone(shared),
            feed,
            weight_capacity: shared.weight_capacity(),
            exhausted: false,
            refusal: None,
        }
    }

    /// Starts the task for the next input, waiting for a slot if `wait` allows; `pending_weight`
    /// is the weight of the results started and not taken yet, which counts against the weight
    /// capacity as their number counts against the capacity. Once the executor refuses (shut
    /// down or forked), the next call returns that error once and the source ends, but only
    /// when waiting is allowed: the caller asks that way only once the results before it are
    /// out, so the error comes out after them. An item too heavy ever to fit is reported the
    /// same way, and the inputs after it go on.
    fn next(&mut self, wait: Wait, pending_weight: u64) -> Next<T> {
        if self.exhausted {
            return Next::Exhausted;
        }
        if self.refusal.is_none() {
            // The input iterator and the weight function are user code: if they panic, treat
            // the input as ended, then let the panic go on. Nothing is admitted yet.
            let weight = match panic::catch_unwind(AssertUnwindSafe(|| self.feed.next_weight())) {
                Ok(Some(weight)) => weight,
                Ok(None) => {
                    self.exhausted = true;
                    return Next::Exhausted;
                }
                Err(payload) => {
                    self.exhausted = true;
                    panic::resume_unwind(payload)
                }
            };
            if weight > self.weight_capacity {
                if let Wait::No = wait {
                    return Next::RefusalHeld;
                }
                self.feed.skip_next();
                self.shared.reject();
                return Next::Refused(TaskError::too_heavy(weight, self.weight_capacity));
            }
            // Cannot overflow: both are at most the weight capacity, under 2^37.
            if pending_weight + weight > self.weight_capacity {
                return Next::Full;
            }
            let admission = match wait {
                Wait::No => self.shared.try_admit(weight),
                wait => self.shared.admit(weight, wait),
            };
            match admission {
                Ok(admission) => {
                    // Pulling the input may panic (not for a held one): give the slot back and
                    // treat the input as ended, then let the panic go on.
                    let started = panic::catch_unwind(AssertUnwindSafe(|| {
                        self.feed.start_next(&self.shared, admission)
                    }));
                    return match started {
                        Ok(Some(handle)) => Next::Started(handle, weight),
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
                // One error, then the end: an infinite input must not yield errors forever
                // (`.filter_map(Result::ok)` would spin). One input is pulled (and dropped) to
                // learn whether any was refused at all; the error stands for it and every one
                // after it, none of which is pulled.
                self.exhausted = true;
                if self.feed.skip_next() {
                    self.shared.reject();
                    Next::Refused(TaskError::from_refusal(refusal))
                } else {
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
#[must_use = "iterators are lazy: nothing is submitted until the map is iterated"]
pub struct Map<T> {
    source: Source<T>,
    window: Window<T>,
}

impl<T> Map<T> {
    pub(crate) fn new(source: Source<T>) -> Self {
        Self { source, window: Window { handles: VecDeque::new(), weight: 0 } }
    }
}

/// `Map`'s started tasks in input order, with their weights and the sum of them.
struct Window<T> {
    handles: VecDeque<(TaskHandle<T>, u64)>,
    weight: u64,
}

/// Where started tasks wait until their results are taken: `Map`'s window gives them back in
/// input order, `MapUnordered`'s `TaskSet` in completion order.
trait Pending<T> {
    fn len(&self) -> usize;
    /// The weight of the tasks pending, finished or not.
    fn weight(&self) -> u64;
    fn push(&mut self, handle: TaskHandle<T>, weight: u64);
    /// The next result, if any task is pending (waits for it).
    fn next_result(&mut self) -> Option<Result<T, TaskError>>;
    /// The next result if it is there now (never waits).
    fn ready_result(&mut self) -> Option<Result<T, TaskError>>;
}

impl<T> Pending<T> for Window<T> {
    fn len(&self) -> usize {
        self.handles.len()
    }

    fn weight(&self) -> u64 {
        self.weight
    }

    fn push(&mut self, handle: TaskHandle<T>, weight: u64) {
        self.weight += weight;
        self.handles.push_back((handle, weight));
    }

    fn next_result(&mut self) -> Option<Result<T, TaskError>> {
        let (handle, weight) = self.handles.pop_front()?;
        self.weight -= weight;
        Some(handle.join())
    }

    fn ready_result(&mut self) -> Option<Result<T, TaskError>> {
        if self.handles.front()?.0.is_finished() {
            self.next_result()
        } else {
            None
        }
    }
}

/// `MapUnordered`'s items all weigh 1 (there is no weighted unordered map).
impl<T> Pending<T> for TaskSet<T> {
    fn len(&self) -> usize {
        TaskSet::len(self)
    }

    fn weight(&self) -> u64 {
        TaskSet::len(self) as u64
    }

    fn push(&mut self, handle: TaskHandle<T>, weight: u64) {
        debug_assert_eq!(weight, 1, "an unordered map's items weigh 1");
        TaskSet::push(self, handle);
    }

    fn next_result(&mut self) -> Option<Result<T, TaskError>> {
        self.join_next()
    }

    fn ready_result(&mut self) -> Option<Result<T, TaskError>> {
        self.try_join_next()
    }
}

/// The one `next` of `Map` and `MapUnordered`: start tasks while slots are free and the
/// results not yet taken stay under both bounds (their number under the capacity, their
/// weight under the weight capacity), then take the next result; with nothing pending, wait
/// for a slot to start one more.
///
/// A map whose window is full waits for a result where a `submit` would wait for a slot: that
/// wait, when it blocks, is counted as a submit's (`Stats::submit_wait` and
/// `Timings::submit_wait`), since it is the bound holding the producer back.
fn next_result<T>(
    source: &mut Source<T>,
    pending: &mut impl Pending<T>,
) -> Option<Result<T, TaskError>> {
    // The live capacity, read on every call: a resize applies to the window from the next
    // result on (after a shrink, no task starts until the window is under the new capacity).
    // Held back by the bound: the window at the capacity, or no room for the next item.
    let mut held_back = true;
    while pending.len() < source.shared.capacity() {
        match source.next(Wait::No, pending.weight()) {
            Next::Started(handle, weight) => pending.push(handle, weight),
            Next::Full => break,
            Next::Refused(_) | Next::Exhausted | Next::RefusalHeld => {
                held_back = false;
                break;
            }
        }
    }
    if held_back && pending.len() > 0 {
        if let Some(result) = pending.ready_result() {
            return Some(result);
        }
        let started = Instant::now();
        let result = pending.next_result();
        source.shared.add_submit_wait(started.elapsed());
        return result;
    }
    if let Some(result) = pending.next_result() {
        return Some(result);
    }
    match source.next(Wait::Forever, 0) {
        Next::Started(handle, _) => Some(handle.join()),
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
        for (handle, _) in &self.window.handles {
            late.catch(|| {
                let _ = handle.cancel();
            });
        }
        for (handle, _) in self.window.handles.drain(..) {
            late.catch(|| drop(handle));
        }
        late.resume_unless_panicking();
    }
}

impl<T> fmt::Debug for Map<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Map").field("in_window", &self.window.handles.len()).finish()
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
#[must_use = "iterators are lazy: nothing is submitted until the map is iterated"]
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
