//! [`BoundedExecutor`]: the public face of an executor: construction, the submit family,
//! introspection, shutdown and `Drop`. The shared state and its protocols live in `shared.rs`.

use std::fmt;
use std::time::{Duration, Instant};

use crate::builder::Config;
use crate::error::{
    BuildError, BuildErrorKind, ResizeError, ResizeErrorKind, SubmitError, SubmitTimeoutError,
    TrySubmitError,
};
use crate::handle::TaskHandle;
use crate::map::{Map, MapUnordered, Source};
use crate::queue::JobRef;
use crate::scope::{self, Scope};
use crate::shared::worker;
use crate::shared::MAX_CAPACITY;
use crate::shared::{Shared, Wait};
use crate::stats::Stats;
use crate::submit_future::SubmitFuture;
use crate::sync::{Arc, AtomicBool, Mutex, Ordering};
use crate::task::Task;
use crate::task_hooks;
use crate::Builder;

/// A thread pool that never holds more than [`capacity()`](Self::capacity) tasks in flight
/// (queued or running): [`submit`](Self::submit) waits while it is full, so memory stays flat
/// however many tasks a producer offers.
///
/// Share it between threads with an `Arc` (it is `Send + Sync`). Dropping it shuts it down
/// gracefully: every accepted task runs, then the workers are joined.
///
/// # Examples
///
/// ```
/// use bounded_executor::BoundedExecutor;
///
/// let exec = BoundedExecutor::new(2); // 2 workers, at most 4 tasks in flight
/// let handles: Vec<_> = (0..10u64).map(|i| exec.submit(move || i * i).unwrap()).collect();
/// let sum: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
/// assert_eq!(sum, 285);
/// ```
pub struct BoundedExecutor {
    shared: Arc<Shared>,
    /// Held by a resize, so that concurrent resizes apply whole, one after the other. The ratio
    /// the capacity follows when `max_workers` changes, `None` once the capacity was set
    /// explicitly.
    resize: Mutex<Option<usize>>,
    /// Set by `shutdown_background`, and by a `shutdown_timeout` that timed out: `Drop` then
    /// returns without joining the workers, which finish the accepted tasks on their own.
    detached: AtomicBool,
}

impl BoundedExecutor {
    /// An executor with `max_workers` threads and room for `2 * max_workers` tasks in flight.
    ///
    /// # Panics
    ///
    /// Wherever [`Builder::build`] would return an error, which it lists: if `max_workers` is 0
    /// or over [`Builder::MAX_WORKERS`], or a thread cannot be spawned. Use the builder to get
    /// these as errors instead.
    ///
    /// # Examples
    ///
    /// ```
    /// let exec = bounded_executor::BoundedExecutor::new(3);
    /// assert_eq!((exec.max_workers(), exec.capacity()), (3, 6));
    /// ```
    pub fn new(max_workers: usize) -> Self {
        match Self::builder().max_workers(max_workers).build() {
            Ok(exec) => exec,
            Err(err) => panic!("BoundedExecutor::new({max_workers}): {err}"),
        }
    }

    /// A [`Builder`] to configure workers, capacity, thread names and stack size.
    ///
    /// # Examples
    ///
    /// ```
    /// let exec = bounded_executor::BoundedExecutor::builder()
    ///     .max_workers(2)
    ///     .queue_ratio(8)
    ///     .thread_name("crunch")
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(exec.capacity(), 16);
    /// ```
    pub fn builder() -> Builder {
        Builder::new()
    }

    pub(crate) fn start(config: Config) -> Result<Self, BuildError> {
        let shared = Arc::new(
            Shared::new(config.threads.max_workers, config.capacity)
                .with_weight_capacity(config.weight_capacity)
                .with_producer_helps(config.producer_helps)
                .with_task_hooks(config.task_hooks)
                .with_threads(config.threads),
        );
        let exec = Self {
            shared,
            resize: Mutex::new(config.queue_ratio),
            detached: AtomicBool::new(false),
        };
        if let Err(err) = exec.shared.threads.fill_to_min(&exec.shared) {
            drop(exec); // stops and joins the threads that did start
            return Err(BuildError::new(BuildErrorKind::Spawn(err)));
        }
        Ok(exec)
    }

    /// Submits `f`, waiting while [`capacity()`](Self::capacity) tasks are in flight, and returns
    /// a handle to its result. The task weighs 1 (see [`submit_weighted`](Self::submit_weighted)).
    ///
    /// # Errors
    ///
    /// [`SubmitError::Shutdown`] once the executor is shut down (also when the shutdown happens
    /// while this call waits), [`SubmitError::Forked`] in a forked child. Either way the closure
    /// comes back unrun.
    ///
    /// # Deadlocks
    ///
    /// Called from one of this executor's own workers while it is full, `submit` does not wait
    /// (only that worker might free the slot): it runs `f` right there and returns an
    /// already-finished handle. See the crate docs, `# Deadlocks`.
    ///
    /// From any other thread, while the executor is full, it runs queued tasks on the calling
    /// thread until a slot frees ([`Builder::producer_helps`], on by default): a lock held across
    /// this call must not be one those tasks take.
    ///
    /// # Examples
    ///
    /// ```
    /// let exec = bounded_executor::BoundedExecutor::new(2);
    /// let handle = exec.submit(|| "hello".len()).unwrap();
    /// assert_eq!(handle.join().unwrap(), 5);
    /// ```
    ///
    /// The closure runs on another thread, so what it captures must be `Send`:
    ///
    /// ```compile_fail
    /// let exec = bounded_executor::BoundedExecutor::new(1);
    /// let shared = std::rc::Rc::new(5);
    /// exec.submit(move || *shared); // `Rc` is not `Send`
    /// ```
    #[inline]
    pub fn submit<F, T>(&self, f: F) -> Result<TaskHandle<T>, SubmitError<F>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        TaskHandle::submit(&self.shared, 1, f, Wait::Forever).map_err(SubmitError::from_refusal)
    }

    /// Runs `f` on the executor without a handle to its result, waiting while
    /// [`capacity()`](Self::capacity) tasks are in flight: threadpool's `execute`, bounded. The
    /// cheapest way in when nothing waits for the task: no handle is made or dropped, so three
    /// atomic read-modify-writes fewer per task than `submit` with the handle dropped at once
    /// (six if a worker starts the task before the handle is dropped).
    ///
    /// # Panics
    ///
    /// Never raises a panic of `f`: nobody could see it, so it is caught, counted in
    /// [`Stats::panicked`](crate::Stats::panicked), and dropped. Use [`submit`](Self::submit)
    /// to get it.
    ///
    /// # Errors
    ///
    /// As [`submit`](Self::submit): [`SubmitError::Shutdown`] or [`SubmitError::Forked`], with
    /// the closure unrun.
    ///
    /// # Deadlocks
    ///
    /// As [`submit`](Self::submit): from one of this executor's workers, a full executor runs `f`
    /// inline; from any other thread, a full executor's queued tasks are run on the calling
    /// thread until a slot frees ([`Builder::producer_helps`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use std::sync::Arc;
    ///
    /// let exec = bounded_executor::BoundedExecutor::new(2);
    /// let total = Arc::new(AtomicU64::new(0));
    /// for i in 1..=100 {
    ///     let total = Arc::clone(&total);
    ///     exec.execute(move || {
    ///         total.fetch_add(i, Ordering::Relaxed);
    ///     })
    ///     .unwrap();
    /// }
    /// exec.shutdown(); // every accepted task has run
    /// assert_eq!(total.load(Ordering::Relaxed), 5050);
    /// ```
    #[inline]
    pub fn execute<F>(&self, f: F) -> Result<(), SubmitError<F>>
    where
        F: FnOnce() + Send + 'static,
    {
        if let Some(timed_for) = self.shared.times_task() {
            return task_hooks::execute(&self.shared, f, timed_for)
                .map_err(SubmitError::from_refusal);
        }
        match self.shared.admit(1, Wait::Forever) {
            Ok(admission) => {
                let job: JobRef = Task::allocate_detached(f, admission.weight());
                Shared::enqueue(&self.shared, admission, job);
                Ok(())
            }
            Err(refusal) => {
                self.shared.reject();
                Err(SubmitError::from_refusal((refusal, f)))
            }
        }
    }

    /// Submits `f` if a slot is free right now.
    ///
    /// # Errors
    ///
    /// [`TrySubmitError::Full`] when `capacity()` tasks are in flight (also from a worker of this
    /// executor: nothing runs inline here), [`TrySubmitError::Shutdown`] after shutdown,
    /// [`TrySubmitError::Forked`] in a forked child. The closure comes back unrun.
    ///
    /// # Examples
    ///
    /// ```
    /// let exec = bounded_executor::BoundedExecutor::new(1);
    /// match exec.try_submit(|| 1 + 1) {
    ///     Ok(handle) => assert_eq!(handle.join().unwrap(), 2),
    ///     Err(err) => assert!(err.is_full()), // keep the closure: err.into_inner()
    /// }
    /// ```
    #[inline]
    pub fn try_submit<F, T>(&self, f: F) -> Result<TaskHandle<T>, TrySubmitError<F>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        TaskHandle::submit(&self.shared, 1, f, Wait::No).map_err(TrySubmitError::from_refusal)
    }

    /// Submits `f` if a slot is free; if the executor is full, runs `f` on the calling thread
    /// right now and returns an already-finished handle. Never waits for a slot. This is Java's
    /// `CallerRunsPolicy`, with a result: a producer that outpaces the workers is slowed down by
    /// doing the work itself, and no task is ever refused for being one too many.
    ///
    /// A task run here holds no slot (it is in neither [`in_flight()`](Self::in_flight) nor
    /// [`running()`](Self::running)) and is counted in [`Stats::inline`]. A task queued here
    /// weighs 1 (there is no weighted caller-runs). A panic in `f` is
    /// caught as on a worker and comes back through the handle's [`join`](TaskHandle::join).
    ///
    /// Compared with [`submit`](Self::submit), which helps by running *queued* tasks while it
    /// waits: `submit_or_run` runs *this* task, at once, and never runs an unrelated one. Compared
    /// with [`try_submit`](Self::try_submit): the same test for a free slot, but the answer to
    /// "full" is to run the task rather than to hand it back.
    ///
    /// # Errors
    ///
    /// [`SubmitError::Shutdown`] after shutdown, [`SubmitError::Forked`] in a forked child: the
    /// closure comes back unrun, full or not.
    ///
    /// # Deadlocks
    ///
    /// The task runs on the calling thread, so it must not wait for something the caller holds
    /// (a lock held across this call) or will do after it returns. While it runs, the calling
    /// thread counts as a worker of this executor, as a helping producer does (see the crate
    /// docs, `# Deadlocks`): a `submit` from inside `f` to this full executor runs inline, and
    /// a `join` on a task of this executor that has not started runs it here, so nested use
    /// does not deadlock. (A `shutdown` from inside `f` therefore does not wait for the
    /// workers, as from a worker.) On one of this executor's own workers, it behaves as a
    /// nested `submit` on a full executor does.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::mpsc;
    ///
    /// let exec = bounded_executor::BoundedExecutor::builder()
    ///     .max_workers(1).capacity(1).build().unwrap();
    /// let (release, gate) = mpsc::channel::<()>();
    /// let busy = exec.submit(move || gate.recv().unwrap()).unwrap(); // takes the only slot
    /// let caller = std::thread::current().id();
    /// let handle = exec.submit_or_run(move || std::thread::current().id() == caller).unwrap();
    /// assert!(handle.is_finished()); // the executor was full: it ran right here
    /// assert!(handle.join().unwrap());
    /// assert_eq!(exec.stats().inline, 1);
    /// release.send(()).unwrap();
    /// busy.join().unwrap();
    /// ```
    pub fn submit_or_run<F, T>(&self, f: F) -> Result<TaskHandle<T>, SubmitError<F>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        TaskHandle::submit_or_run(&self.shared, f).map_err(SubmitError::from_refusal)
    }

    /// Submits `f`, waiting at most `timeout` for a free slot. Unlike [`submit`](Self::submit),
    /// it never runs queued tasks while it waits ([`Builder::producer_helps`]), whatever the
    /// timeout (`Duration::MAX` included): the calling thread only ever runs `f`'s own work if
    /// it is one of this executor's workers (see `# Deadlocks`).
    ///
    /// # Errors
    ///
    /// [`SubmitTimeoutError::Timeout`] if no slot freed up in time, `Shutdown` after shutdown,
    /// `Forked` in a forked child. The closure comes back unrun.
    ///
    /// # Deadlocks
    ///
    /// As [`submit`](Self::submit): from one of this executor's workers, a full executor runs `f`
    /// inline instead of waiting.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let exec = bounded_executor::BoundedExecutor::new(1);
    /// let handle = exec.submit_timeout(|| 42, Duration::from_secs(1)).unwrap();
    /// assert_eq!(handle.join().unwrap(), 42);
    /// ```
    pub fn submit_timeout<F, T>(
        &self,
        f: F,
        timeout: Duration,
    ) -> Result<TaskHandle<T>, SubmitTimeoutError<F>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let wait = Wait::timeout(timeout);
        TaskHandle::submit(&self.shared, 1, f, wait).map_err(SubmitTimeoutError::from_refusal)
    }

    /// Submits `f` as a task of `weight` units, waiting while it does not fit: while
    /// [`capacity()`](Self::capacity) tasks are in flight, or while the units in flight plus
    /// `weight` would pass [`weight_capacity()`](Self::weight_capacity). The task holds its slot
    /// and its `weight` units until it ends. Use it to bound what tasks hold rather than how
    /// many there are: submit each buffer with its length in bytes, and set
    /// [`Builder::weight_capacity`] to the bytes you allow in flight.
    ///
    /// Both bounds hold at once (see [`Builder::weight_capacity`]); plain [`submit`](Self::submit)
    /// is `submit_weighted(1, f)`. A task of weight 0 takes a slot and no units: it is bounded by
    /// the count alone.
    ///
    /// A release wakes every waiting producer whose task fits in the slots and units it leaves,
    /// oldest first (a heavy one that does not fit yet is passed over, and the lighter ones
    /// behind it are woken), so no producer waits beside room it would fit in. There is no
    /// order beyond that: a heavy task can wait long while lighter ones keep arriving and
    /// fitting.
    ///
    /// # Errors
    ///
    /// [`SubmitError::TooHeavy`] at once, without waiting, if `weight` is over
    /// `weight_capacity()` (it could never fit); [`SubmitError::Shutdown`] once the executor is
    /// shut down (also while this call waits); [`SubmitError::Forked`] in a forked child. The
    /// closure comes back unrun.
    ///
    /// # Deadlocks
    ///
    /// As [`submit`](Self::submit): from one of this executor's own workers, a task that does
    /// not fit runs right there, inline, and holds no slot and no units (a task too heavy for
    /// the whole weight capacity is still refused, not run); from any other thread,
    /// a waiting producer runs queued tasks meanwhile ([`Builder::producer_helps`]). When the
    /// task it ran weighs what it wants, it takes over that task's slot and units; otherwise it
    /// gives them back and tries again.
    ///
    /// # Panics
    ///
    /// Never for a weight: any `u64` is accepted or refused with an error.
    ///
    /// # Examples
    ///
    /// ```
    /// use bounded_executor::BoundedExecutor;
    ///
    /// let exec = BoundedExecutor::builder().max_workers(2).weight_capacity(1000).build().unwrap();
    /// let sizes = [10usize, 900, 50, 700];
    /// let handles: Vec<_> = sizes
    ///     .iter()
    ///     .map(|&size| {
    ///         let buffer = vec![1u8; size];
    ///         // Waits while the bytes in flight plus this buffer would pass 1000.
    ///         exec.submit_weighted(size as u64, move || buffer.iter().map(|&b| b as usize).sum::<usize>())
    ///             .unwrap()
    ///     })
    ///     .collect();
    /// let total: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    /// assert_eq!(total, 1660);
    /// assert!(exec.stats().peak_weight_in_flight <= 1000);
    ///
    /// let err = exec.submit_weighted(1001, || ()).unwrap_err();
    /// assert!(err.is_too_heavy()); // refused at once: it could never fit
    /// ```
    #[inline]
    pub fn submit_weighted<F, T>(&self, weight: u64, f: F) -> Result<TaskHandle<T>, SubmitError<F>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        TaskHandle::submit(&self.shared, weight, f, Wait::Forever)
            .map_err(SubmitError::from_refusal)
    }

    /// Submits `f` as a task of `weight` units if a slot and the units are free right now (see
    /// [`submit_weighted`](Self::submit_weighted)).
    ///
    /// # Errors
    ///
    /// [`TrySubmitError::TooHeavy`] if `weight` is over
    /// [`weight_capacity()`](Self::weight_capacity), [`TrySubmitError::Full`] if no slot is free
    /// or the units in flight plus `weight` would pass `weight_capacity()` (also from a worker
    /// of this executor: nothing runs inline here), `Shutdown` after shutdown, `Forked` in a
    /// forked child. The closure comes back unrun.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::mpsc;
    ///
    /// let exec = bounded_executor::BoundedExecutor::builder()
    ///     .max_workers(1).weight_capacity(10).build().unwrap();
    /// let (release, gate) = mpsc::channel::<()>();
    /// let heavy = exec.submit_weighted(8, move || gate.recv().unwrap()).unwrap();
    /// let err = exec.try_submit_weighted(3, || ()).unwrap_err();
    /// assert!(err.is_full()); // 8 + 3 > 10, though a slot is free
    /// let light = exec.try_submit_weighted(2, || "fits").unwrap();
    /// release.send(()).unwrap();
    /// heavy.join().unwrap();
    /// assert_eq!(light.join().unwrap(), "fits");
    /// ```
    #[inline]
    pub fn try_submit_weighted<F, T>(
        &self,
        weight: u64,
        f: F,
    ) -> Result<TaskHandle<T>, TrySubmitError<F>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        TaskHandle::submit(&self.shared, weight, f, Wait::No).map_err(TrySubmitError::from_refusal)
    }

    /// Submits `f` as a task of `weight` units, waiting at most `timeout` for a slot and the
    /// units (see [`submit_weighted`](Self::submit_weighted)). Like
    /// [`submit_timeout`](Self::submit_timeout), it never runs queued tasks while it waits,
    /// whatever the timeout (`Duration::MAX` included).
    ///
    /// The arguments come in the submit family's one order: the weight first, then the closure,
    /// then the timeout (`submit_weighted(weight, f)`, `submit_timeout(f, timeout)`).
    ///
    /// # Errors
    ///
    /// [`SubmitTimeoutError::TooHeavy`] at once if `weight` is over
    /// [`weight_capacity()`](Self::weight_capacity), [`SubmitTimeoutError::Timeout`] if the task
    /// did not fit in time, `Shutdown` after shutdown, `Forked` in a forked child. The closure
    /// comes back unrun.
    ///
    /// # Deadlocks
    ///
    /// As [`submit_weighted`](Self::submit_weighted): from one of this executor's workers, a
    /// task that does not fit runs inline instead of waiting.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::{sync::mpsc, time::Duration};
    ///
    /// let exec = bounded_executor::BoundedExecutor::builder()
    ///     .max_workers(2).weight_capacity(10).build().unwrap();
    /// let (release, gate) = mpsc::channel::<()>();
    /// let heavy = exec.submit_weighted(8, move || gate.recv().unwrap()).unwrap();
    /// let err = exec.submit_weighted_timeout(5, || (), Duration::from_millis(10)).unwrap_err();
    /// assert!(err.is_timeout());
    /// release.send(()).unwrap();
    /// heavy.join().unwrap();
    /// let handle = exec.submit_weighted_timeout(5, || 5, Duration::from_secs(10)).unwrap();
    /// assert_eq!(handle.join().unwrap(), 5);
    /// ```
    pub fn submit_weighted_timeout<F, T>(
        &self,
        weight: u64,
        f: F,
        timeout: Duration,
    ) -> Result<TaskHandle<T>, SubmitTimeoutError<F>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let wait = Wait::timeout(timeout);
        TaskHandle::submit(&self.shared, weight, f, wait).map_err(SubmitTimeoutError::from_refusal)
    }

    /// The shared state, for the collection types built on top of the executor.
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Submits `f` from async code: the returned future resolves to the task's handle once a
    /// slot is free, without blocking the thread while it waits. Works on any async runtime.
    ///
    /// The future is cancel-safe: dropped before it resolves, it has taken no slot and the
    /// closure is dropped unrun. It is woken when a slot frees for it (a release wakes as many
    /// waiting producers as fit in what it frees), never by polling. It never runs the task
    /// inline, even on a worker of this executor: do not block on it inside a task of the same
    /// full executor. The task weighs 1 (there is no weighted async submit).
    ///
    /// # Errors
    ///
    /// The future resolves to [`SubmitError::Shutdown`] or [`SubmitError::Forked`], with the
    /// closure, as `submit` does.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::executor::block_on; // any executor works
    /// let exec = bounded_executor::BoundedExecutor::new(1);
    /// let value = block_on(async {
    ///     let handle = exec.submit_async(|| 21 * 2).await.unwrap();
    ///     handle.await.unwrap()
    /// });
    /// assert_eq!(value, 42);
    /// ```
    pub fn submit_async<F, T>(&self, f: F) -> SubmitFuture<F, T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        SubmitFuture::new(Arc::clone(&self.shared), f)
    }

    /// Applies `f` to every input in parallel, lazily, and yields the results **in input
    /// order**.
    ///
    /// At most `capacity()` items are in flight at once, *counting results already produced but
    /// not yet taken*: an input is pulled only when a slot is free for it, so `map` works on
    /// infinite iterators and never holds more than `capacity()` results. Nothing is submitted
    /// until the iterator is advanced. The inputs are pulled on the thread that advances it.
    /// The capacity is the live one: after a resize, the window follows from the next result on.
    ///
    /// - A panic in `f` comes out as that item's `Err` ([`TaskError::is_panic`](crate::TaskError::is_panic)); the other items go on.
    /// - Dropping the iterator early cancels the items that have not started; no slot is lost.
    /// - Once the executor is shut down, the results of the items already submitted come out
    ///   (they finish as usual, or are cancelled by `shutdown_now`), then **one** `Err` that
    ///   [`is_shutdown`](crate::TaskError::is_shutdown) (or `is_forked`), then the iterator
    ///   ends. The inputs after it are never pulled, so an infinite input ends too.
    ///
    /// # Panics
    ///
    /// A panic in the input iterator is not caught: it goes on to the thread that advances the
    /// map; the input counts as ended, and the slot taken for it is given back.
    ///
    /// # Deadlocks
    ///
    /// Advancing the map waits for a free slot and for the next result. From a worker of this
    /// executor, a full executor runs items inline, and waiting for an item that has not started
    /// runs it here: no deadlock. An `f` that waits for something only a later item provides
    /// can wait forever, as in any pool (see the crate docs, `# Deadlocks`).
    ///
    /// # Examples
    ///
    /// ```
    /// let exec = bounded_executor::BoundedExecutor::new(2);
    /// // An infinite input: only as many items as taken (plus at most capacity()) are computed.
    /// let squares: Vec<u64> = exec.map(0u64.., |i| i * i).take(5).map(Result::unwrap).collect();
    /// assert_eq!(squares, [0, 1, 4, 9, 16]);
    /// ```
    #[must_use = "a map is lazy: nothing runs until it is iterated"]
    pub fn map<I, F, T>(&self, inputs: I, f: F) -> Map<T>
    where
        I: IntoIterator,
        I::IntoIter: Send + 'static,
        I::Item: Send + 'static,
        F: Fn(I::Item) -> T + Send + Sync + 'static,
        T: Send + 'static,
    {
        Map::new(Source::new(&self.shared, inputs, f))
    }

    /// As [`map`](Self::map), but yields results **in completion order**: a slow item does not
    /// hold back the others. The same bound, laziness, panic, drop and shutdown rules apply,
    /// and the same `# Panics` and `# Deadlocks`.
    ///
    /// # Examples
    ///
    /// ```
    /// let exec = bounded_executor::BoundedExecutor::new(2);
    /// let mut lengths: Vec<usize> = exec
    ///     .map_unordered(["a", "bbb", "cc"], |s| s.len())
    ///     .map(Result::unwrap)
    ///     .collect();
    /// lengths.sort();
    /// assert_eq!(lengths, [1, 2, 3]);
    /// ```
    #[must_use = "a map is lazy: nothing runs until it is iterated"]
    pub fn map_unordered<I, F, T>(&self, inputs: I, f: F) -> MapUnordered<T>
    where
        I: IntoIterator,
        I::IntoIter: Send + 'static,
        I::Item: Send + 'static,
        F: Fn(I::Item) -> T + Send + Sync + 'static,
        T: Send + 'static,
    {
        MapUnordered::new(Source::new(&self.shared, inputs, f))
    }

    /// As [`map`](Self::map), for inputs of different sizes: each item is submitted as a task
    /// of `weight_fn(&item)` units (see [`submit_weighted`](Self::submit_weighted)), and
    /// results come out **in input order**.
    ///
    /// Besides `capacity()` items, at most [`weight_capacity()`](Self::weight_capacity) units
    /// are in flight at once, *counting results produced but not yet taken*: an item is started
    /// only when its weight fits both in the executor and next to the untaken results. To
    /// weigh an item, `map_weighted` pulls it first, so it holds one input more than `map`
    /// while it waits for room. `weight_fn` is called once per item, on the thread that
    /// advances the iterator.
    ///
    /// - An item heavier than the whole `weight_capacity()` is never submitted: it comes out,
    ///   in its place, as an `Err` that [`is_too_heavy`](crate::TaskError::is_too_heavy) (it is
    ///   counted in [`Stats::rejected`]), and the items after it go on.
    /// - A weight of 0 is allowed: that item takes a slot and no units.
    /// - Panics, dropping the iterator early, shutdown and use from a worker: as for `map`.
    ///
    /// # Panics
    ///
    /// As [`map`](Self::map); a panic in `weight_fn` also goes on to the thread that advances
    /// the map, and the input counts as ended.
    ///
    /// # Deadlocks
    ///
    /// As [`map`](Self::map); besides a slot, it waits for the item's weight to fit next to
    /// the results not yet taken.
    ///
    /// # Examples
    ///
    /// ```
    /// let exec = bounded_executor::BoundedExecutor::builder()
    ///     .max_workers(2)
    ///     .weight_capacity(1 << 20) // at most 1 MiB of buffers in flight, results included
    ///     .build()
    ///     .unwrap();
    /// let buffers = [1usize << 10, 512 << 10, 3, 900 << 10].map(|len| vec![7u8; len]);
    /// let lengths: Vec<usize> = exec
    ///     .map_weighted(buffers, |buffer| buffer.len() as u64, |buffer| buffer.len())
    ///     .map(Result::unwrap)
    ///     .collect();
    /// assert_eq!(lengths, [1 << 10, 512 << 10, 3, 900 << 10]);
    /// assert!(exec.stats().peak_weight_in_flight <= 1 << 20);
    /// ```
    #[must_use = "a map is lazy: nothing runs until it is iterated"]
    pub fn map_weighted<I, W, F, T>(&self, inputs: I, weight_fn: W, f: F) -> Map<T>
    where
        I: IntoIterator,
        I::IntoIter: Send + 'static,
        I::Item: Send + 'static,
        W: Fn(&I::Item) -> u64 + Send + Sync + 'static,
        F: Fn(I::Item) -> T + Send + Sync + 'static,
        T: Send + 'static,
    {
        Map::new(Source::weighted(&self.shared, inputs, weight_fn, f))
    }

    /// Runs `f` with a [`Scope`] whose tasks may borrow from the caller's stack, and returns
    /// once every one of them has finished, even if `f` panics. Submission is bounded as
    /// everywhere else.
    ///
    /// # Panics
    ///
    /// If `f` panics, after all tasks finished, with `f`'s panic. Otherwise, if a task panicked
    /// and its handle was not joined, with a message saying so (as `std::thread::scope` does).
    ///
    /// # Deadlocks
    ///
    /// Called on a worker of this executor, the scope runs its tasks that have not started
    /// itself when it ends, instead of waiting for a free worker.
    ///
    /// # Examples
    ///
    /// ```
    /// let exec = bounded_executor::BoundedExecutor::new(2);
    /// let data: Vec<u64> = (1..=1000).collect();
    /// let sum: u64 = exec.scope(|s| {
    ///     let halves: Vec<_> = data.chunks(500).map(|c| s.submit(move || c.iter().sum::<u64>())).collect();
    ///     halves.into_iter().map(|h| h.join().unwrap()).sum()
    /// });
    /// assert_eq!(sum, 500_500);
    /// ```
    pub fn scope<'env, F, R>(&self, f: F) -> R
    where
        F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> R,
    {
        scope::run(&self.shared, f)
    }

    /// The most worker threads the executor runs at once: as built, or as last set by
    /// [`set_max_workers`](Self::set_max_workers). Unless
    /// [`Builder::min_workers`](crate::Builder::min_workers) is set, that many are alive.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(bounded_executor::BoundedExecutor::new(2).max_workers(), 2);
    /// ```
    #[must_use]
    pub fn max_workers(&self) -> usize {
        self.shared.threads.max()
    }

    /// Worker threads alive now, taking tasks: `max_workers()` for an executor built with the
    /// default [`min_workers`](crate::Builder::min_workers); between `min_workers` and
    /// `max_workers` for a lazy one. A thread counts from just before it is started until it
    /// decides to exit (on a keep-alive without work, a shrink, or shutdown); while a resize
    /// shrinks the pool it can be above `max_workers()` for as long as the extra threads take
    /// to finish their current task. 0 once the executor is shut down and its threads have
    /// exited.
    ///
    /// # Examples
    ///
    /// ```
    /// let exec = bounded_executor::BoundedExecutor::new(3);
    /// assert_eq!(exec.workers(), 3);
    /// exec.shutdown();
    /// assert_eq!(exec.workers(), 0);
    /// ```
    #[must_use]
    pub fn workers(&self) -> usize {
        self.shared.threads.live()
    }

    /// Changes the most worker threads the executor runs at once, on a live executor (Java's
    /// `setMaximumPoolSize`, threadpool's `set_num_threads`).
    ///
    /// - The capacity follows: it becomes `queue_ratio × max_workers`, unless it was set
    ///   explicitly ([`Builder::capacity`](crate::Builder::capacity) or
    ///   [`set_capacity`](Self::set_capacity)), in which case it stays.
    /// - Growing starts threads at once if the executor keeps `max_workers` threads (the
    ///   default), or as work comes if [`Builder::min_workers`](crate::Builder::min_workers) is
    ///   set. Producers waiting for a slot are woken if the capacity grew.
    /// - Shrinking never drops or cancels anything: queued tasks stay queued, and tasks in
    ///   flight beyond the new capacity finish. New submits wait until the count is under the
    ///   new bound. Threads beyond the new maximum exit as they finish their current task, and
    ///   an idle one exits instead of taking another: once the call returns, no task starts
    ///   while `max_workers` (the new value) are running.
    ///
    /// Concurrent resizes apply one after the other. A submit racing a resize is admitted under
    /// the old bound or the new one.
    ///
    /// # Errors
    ///
    /// If `max_workers` is 0 or over [`Builder::MAX_WORKERS`](crate::Builder::MAX_WORKERS), if
    /// the capacity that follows would be over the largest one, if the executor is shut down,
    /// or in a forked child; nothing changes then. If the OS refuses a thread the resize wanted
    /// started, the new sizes stay set and the error says so; the threads alive run the tasks.
    ///
    /// # Deadlocks
    ///
    /// Never waits for a task. Called from a task of this executor, it is safe: that worker
    /// finishes its task first if it is to exit.
    ///
    /// # Examples
    ///
    /// ```
    /// let exec = bounded_executor::BoundedExecutor::new(2);
    /// exec.set_max_workers(4).unwrap();
    /// assert_eq!((exec.max_workers(), exec.capacity(), exec.workers()), (4, 8, 4));
    /// exec.set_max_workers(1).unwrap();
    /// assert_eq!((exec.max_workers(), exec.capacity()), (1, 2));
    /// assert!(exec.set_max_workers(0).is_err());
    /// ```
    pub fn set_max_workers(&self, max_workers: usize) -> Result<(), ResizeError> {
        if max_workers == 0 {
            return Err(ResizeError::new(ResizeErrorKind::ZeroWorkers));
        }
        if max_workers > Builder::MAX_WORKERS {
            return Err(ResizeError::new(ResizeErrorKind::TooManyWorkers(max_workers)));
        }
        let ratio = self.resize.lock();
        self.check_resizable()?;
        let capacity = match *ratio {
            Some(ratio) => Some(
                ratio
                    .checked_mul(max_workers)
                    .filter(|&capacity| capacity <= MAX_CAPACITY)
                    .ok_or(ResizeError::new(ResizeErrorKind::CapacityOverflow))?,
            ),
            None => None,
        };
        // Shrinking: the new bound first, so that new submits wait while the threads go.
        // Growing: the threads first, so that the producers woken by the new bound find them.
        let shrinking = capacity.is_some_and(|capacity| capacity < self.capacity());
        if shrinking {
            self.shared.set_capacity(capacity.unwrap_or_default());
        }
        let started = self.shared.threads.set_max(&self.shared, max_workers);
        if let (Some(capacity), false) = (capacity, shrinking) {
            self.shared.set_capacity(capacity);
        }
        started.map_err(|err| ResizeError::new(ResizeErrorKind::Spawn(err)))
    }

    /// Sets the capacity of a live executor: the most tasks in flight at once. From then on it
    /// no longer follows `queue_ratio` when [`set_max_workers`](Self::set_max_workers) is
    /// called. Lowering it never drops or cancels anything: tasks in flight beyond it finish,
    /// and new submits wait until the count is under it. Raising it wakes waiting producers.
    ///
    /// # Errors
    ///
    /// If `capacity` is 0 or over the largest capacity, if the executor is shut down, or in a
    /// forked child; nothing changes then.
    ///
    /// # Examples
    ///
    /// ```
    /// let exec = bounded_executor::BoundedExecutor::new(2);
    /// exec.set_capacity(64).unwrap();
    /// exec.set_max_workers(4).unwrap();
    /// assert_eq!(exec.capacity(), 64); // explicit: it no longer follows the ratio
    /// assert!(exec.set_capacity(0).is_err());
    /// ```
    pub fn set_capacity(&self, capacity: usize) -> Result<(), ResizeError> {
        if capacity == 0 {
            return Err(ResizeError::new(ResizeErrorKind::ZeroCapacity));
        }
        if capacity > MAX_CAPACITY {
            return Err(ResizeError::new(ResizeErrorKind::CapacityOverflow));
        }
        let mut ratio = self.resize.lock();
        self.check_resizable()?;
        *ratio = None;
        self.shared.set_capacity(capacity);
        Ok(())
    }

    fn check_resizable(&self) -> Result<(), ResizeError> {
        if self.shared.is_forked() {
            return Err(ResizeError::new(ResizeErrorKind::Forked));
        }
        if self.shared.is_shutdown() {
            return Err(ResizeError::new(ResizeErrorKind::Shutdown));
        }
        Ok(())
    }

    /// The most tasks that can be in flight (queued or running) at once: the bound every
    /// admission checks from now on. A resize changes it at once; after a shrink, the tasks
    /// admitted under the old bound stay in flight, so [`in_flight()`](Self::in_flight) and
    /// [`queued()`](Self::queued) can exceed it until they end (see `in_flight()`).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(bounded_executor::BoundedExecutor::new(2).capacity(), 4);
    /// ```
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.shared.capacity()
    }

    /// The most weight units that can be in flight at once: what
    /// [`Builder::weight_capacity`] set, or [`Builder::MAX_WEIGHT_CAPACITY`] if it was not set
    /// (then the weight bound never binds for tasks of weight 1).
    ///
    /// # Examples
    ///
    /// ```
    /// let exec = bounded_executor::BoundedExecutor::builder().weight_capacity(4096).build().unwrap();
    /// assert_eq!(exec.weight_capacity(), 4096);
    /// ```
    #[must_use]
    pub fn weight_capacity(&self) -> u64 {
        self.shared.weight_capacity()
    }

    /// Weight units held by the tasks in flight (queued or running): the sum of their weights,
    /// each plain task counting 1 (see [`submit_weighted`](Self::submit_weighted)). Never more
    /// than [`weight_capacity()`](Self::weight_capacity). By the time a task's `join` returns,
    /// its units no longer count.
    ///
    /// As exact as [`in_flight()`](Self::in_flight): two Relaxed loads (the slot word, and the
    /// units of cancelled tasks whose queue entry still holds them), taken without stopping any
    /// task. While tasks start, end or are cancelled during the call, it can be off by their
    /// weights; when none does, it is exact, and 0 at rest.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::mpsc;
    ///
    /// let exec = bounded_executor::BoundedExecutor::builder()
    ///     .max_workers(1).weight_capacity(100).build().unwrap();
    /// let (release, gate) = mpsc::channel::<()>();
    /// let heavy = exec.submit_weighted(60, move || gate.recv().unwrap()).unwrap();
    /// let light = exec.submit(|| ()).unwrap(); // weighs 1
    /// assert_eq!(exec.weight_in_flight(), 61);
    /// release.send(()).unwrap();
    /// heavy.join().unwrap();
    /// light.join().unwrap();
    /// assert_eq!(exec.weight_in_flight(), 0);
    /// ```
    #[must_use]
    pub fn weight_in_flight(&self) -> u64 {
        self.shared.weight_in_flight()
    }

    /// Tasks submitted and not yet finished or cancelled: queued plus running. By the time a
    /// task's `join` returns, it no longer counts.
    ///
    /// Never more than [`capacity()`](Self::capacity), except while a shrink drains: a shrink
    /// ([`set_capacity`](Self::set_capacity), [`set_max_workers`](Self::set_max_workers))
    /// cancels nothing, so the tasks admitted before it still count, and `in_flight()` can
    /// exceed the new `capacity()` until enough of them end. It never exceeds the largest
    /// capacity the executor has had, and no task is admitted (only run inline) while it is at
    /// or over `capacity()`.
    ///
    /// # Examples
    ///
    /// ```
    /// let exec = bounded_executor::BoundedExecutor::new(2);
    /// exec.submit(|| ()).unwrap().join().unwrap();
    /// assert_eq!(exec.in_flight(), 0);
    /// ```
    #[must_use]
    pub fn in_flight(&self) -> usize {
        self.shared.in_flight()
    }

    /// Tasks in flight that are running now: on a worker, on a producer helping a full
    /// executor ([`Builder::producer_helps`]), or on a worker that joins a task of this executor
    /// that had not started. The rest of [`in_flight()`](Self::in_flight) is
    /// [`queued()`](Self::queued). Like Java's `getActiveCount`.
    ///
    /// A task run inline, because a worker submitted to its own full executor or because of
    /// [`submit_or_run`](Self::submit_or_run) on a full executor, holds no slot: it is in
    /// neither `in_flight()` nor `running()` (see [`Stats::inline`](crate::Stats::inline)).
    ///
    /// # Exactness
    ///
    /// The counts are read without locks, one counter after another (per worker, Relaxed), and
    /// never stop a task. While tasks start and end during the call, `running()` and
    /// `queued()` can be off by the tasks that change state meanwhile, and two separate calls
    /// need not add up to a third one's `in_flight()`; a task counts as running from just
    /// before its closure is called until just after it returns. When no task starts or ends
    /// during the calls (the executor is idle, or every running task is blocked), they are
    /// exact and `queued() + running() == in_flight()`. `running()` never exceeds
    /// `in_flight()`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::mpsc;
    ///
    /// let exec = bounded_executor::BoundedExecutor::builder()
    ///     .max_workers(1).capacity(3).build().unwrap();
    /// let (started_tx, started) = mpsc::channel();
    /// let (release, gate) = mpsc::channel::<()>();
    /// let busy = exec.submit(move || { started_tx.send(()).unwrap(); gate.recv().unwrap() }).unwrap();
    /// let waiting = exec.submit(|| ()).unwrap();
    /// started.recv().unwrap(); // the only worker runs the first task; the second is queued
    /// assert_eq!((exec.running(), exec.queued(), exec.in_flight()), (1, 1, 2));
    /// release.send(()).unwrap();
    /// busy.join().unwrap();
    /// waiting.join().unwrap();
    /// assert_eq!((exec.running(), exec.queued()), (0, 0));
    /// ```
    #[must_use]
    pub fn running(&self) -> usize {
        self.shared.running()
    }

    /// Tasks in flight that have not started: [`in_flight()`](Self::in_flight) minus
    /// [`running()`](Self::running) (never below zero). A cancelled task stops counting at
    /// once. Like Java's `getQueue().size()`. Never more than `in_flight()`, so never more than
    /// `capacity()` except while a shrink drains (see [`in_flight()`](Self::in_flight)).
    ///
    /// As exact as `running()`: see there, `# Exactness`.
    ///
    /// # Examples
    ///
    /// ```
    /// let exec = bounded_executor::BoundedExecutor::new(2);
    /// exec.submit(|| ()).unwrap().join().unwrap();
    /// assert_eq!(exec.queued() + exec.running(), exec.in_flight());
    /// ```
    #[must_use]
    pub fn queued(&self) -> usize {
        let running = self.shared.running();
        self.shared.in_flight().saturating_sub(running)
    }

    /// True once [`shutdown`](Self::shutdown) (or a variant) has been called.
    ///
    /// # Examples
    ///
    /// ```
    /// let exec = bounded_executor::BoundedExecutor::new(1);
    /// exec.shutdown();
    /// assert!(exec.is_shutdown());
    /// ```
    #[must_use]
    pub fn is_shutdown(&self) -> bool {
        self.shared.is_shutdown()
    }

    /// A snapshot of the counters; see [`Stats`].
    ///
    /// # Examples
    ///
    /// ```
    /// let exec = bounded_executor::BoundedExecutor::new(1);
    /// exec.submit(|| ()).unwrap().join().unwrap();
    /// assert_eq!(exec.stats().completed, 1);
    /// ```
    #[must_use]
    pub fn stats(&self) -> Stats {
        self.shared.stats()
    }

    /// Stops accepting tasks, lets every accepted task run, and joins the workers. Idempotent;
    /// concurrent callers all return once the workers are gone. Producers waiting in `submit`
    /// get [`SubmitError::Shutdown`].
    ///
    /// # Deadlocks
    ///
    /// Called from one of this executor's own workers (a task shutting down its own executor),
    /// it cannot wait for itself: it stops accepting and returns at once; the workers exit once
    /// the accepted tasks have run. In a forked child it returns at once (there are no workers to
    /// wait for). It waits for tasks that never finish, like any graceful shutdown.
    ///
    /// # Examples
    ///
    /// ```
    /// let exec = bounded_executor::BoundedExecutor::new(2);
    /// let handle = exec.submit(|| 1).unwrap();
    /// exec.shutdown();
    /// assert!(handle.is_finished());
    /// assert!(exec.submit(|| 2).is_err());
    /// ```
    pub fn shutdown(&self) {
        if self.shared.is_forked() {
            return;
        }
        self.shared.begin_shutdown();
        self.join_workers();
    }

    /// Stops accepting tasks, cancels every task that has not started (their handles report
    /// [`TaskError::is_cancelled`](crate::TaskError::is_cancelled)), waits for the running ones
    /// and joins the workers. Returns how many tasks this call cancelled: a second call returns
    /// 0, and of concurrent calls, each cancelled task is counted by exactly one. A task pushed
    /// by a producer that took its slot just before the shutdown is cancelled too, by the worker
    /// that pops it (or joins it); it is counted by the call that joins that worker.
    ///
    /// # Panics
    ///
    /// If dropping a cancelled closure panics, the panic is held until the drain is complete and
    /// the workers are joined, and raised then (the first such panic; later ones are
    /// discarded). The executor is fully shut down either way. A panic from a closure cancelled
    /// by a worker, rather than by this call's own drain, is contained by that worker.
    ///
    /// # Deadlocks
    ///
    /// As [`shutdown`](Self::shutdown): from a worker of this executor it returns without
    /// waiting (with the count so far).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::mpsc;
    ///
    /// let exec = bounded_executor::BoundedExecutor::builder()
    ///     .max_workers(1).capacity(3).build().unwrap();
    /// let (started_tx, started) = mpsc::channel();
    /// let (release, gate) = mpsc::channel::<()>();
    /// let running = exec.submit(move || { started_tx.send(()).unwrap(); gate.recv().unwrap() }).unwrap();
    /// let queued = [exec.submit(|| ()).unwrap(), exec.submit(|| ()).unwrap()];
    /// started.recv().unwrap(); // the first task runs; the other two wait in the queue
    /// release.send(()).unwrap();
    /// assert!(exec.shutdown_now() <= 2);
    /// assert!(running.join().is_ok());
    /// ```
    pub fn shutdown_now(&self) -> usize {
        if self.shared.is_forked() {
            return 0;
        }
        let late_panic = self.shared.cancel_queued();
        self.join_workers();
        let cancelled = self.shared.take_cancelled_by_shutdown() as usize;
        late_panic.resume();
        cancelled
    }

    /// Stops accepting tasks and waits at most `timeout` for the accepted ones to finish.
    /// Returns true if they all did (the workers are then joined); false if time ran out, in
    /// which case the workers go on with the remaining tasks on their own, and `Drop` no longer
    /// waits for them (as after [`shutdown_background`](Self::shutdown_background)); call
    /// [`shutdown`](Self::shutdown) to wait after all.
    ///
    /// # Deadlocks
    ///
    /// From one of this executor's workers, or in a forked child, it returns false at once.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let exec = bounded_executor::BoundedExecutor::new(2);
    /// exec.submit(|| ()).unwrap();
    /// assert!(exec.shutdown_timeout(Duration::from_secs(10)));
    /// ```
    #[must_use = "false means tasks were still running at the timeout"]
    pub fn shutdown_timeout(&self, timeout: Duration) -> bool {
        if self.shared.is_forked() {
            return false;
        }
        self.shared.begin_shutdown();
        if worker::index_in(&*self.shared).is_some() {
            return false;
        }
        let deadline = Instant::now().checked_add(timeout);
        if !self.shared.wait_workers_exited(deadline) {
            // ORDERING: Relaxed: only `drop` reads it (see there).
            self.detached.store(true, Ordering::Relaxed);
            return false;
        }
        self.join_workers();
        true
    }

    /// Stops accepting tasks and returns at once, like tokio's `Runtime::shutdown_background`:
    /// the workers run every accepted task, then exit on their own, and `Drop` does not wait for
    /// them. Producers blocked in `submit` get [`SubmitError::Shutdown`]. Handles still work:
    /// `join` waits for its task as usual. Use it where a task may never finish and the caller
    /// must not hang; [`shutdown`](Self::shutdown) afterwards still waits for the workers.
    ///
    /// The workers' threads outlive the executor then, with their stop hooks: nothing joins them,
    /// so a process that exits first ends them unfinished, as it would any detached thread.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::mpsc;
    ///
    /// let exec = bounded_executor::BoundedExecutor::new(1);
    /// let (release, gate) = mpsc::channel::<()>();
    /// let stuck = exec.submit(move || gate.recv().unwrap()).unwrap();
    /// exec.shutdown_background();
    /// assert!(exec.submit(|| ()).is_err());
    /// drop(exec); // returns while the task still waits
    /// release.send(()).unwrap();
    /// stuck.join().unwrap();
    /// ```
    pub fn shutdown_background(&self) {
        if self.shared.is_forked() {
            return;
        }
        // ORDERING: Relaxed: only `drop` reads it (see there).
        self.detached.store(true, Ordering::Relaxed);
        self.shared.begin_shutdown();
    }

    /// Waits until nothing is queued or running, then returns; the executor stays usable (unlike
    /// [`shutdown`](Self::shutdown)): threadpool's `join`, Java's `awaitQuiescence`. Tasks
    /// submitted while it waits are waited for too, so under a steady stream of submits it may
    /// never return; stop the producers first. A cancelled task counts until a worker has
    /// passed over its entry (at once if one is idle).
    ///
    /// Tasks that a caller runs on its own thread ([`submit_or_run`](Self::submit_or_run) on a
    /// full executor) hold no slot, and are not waited for. It returns once every task's slot
    /// is back, which is as its closure returns: a handle may see its outcome published an
    /// instant later (`join` then does not wait for the task, only for that publication).
    ///
    /// # Panics
    ///
    /// Called from a task of this executor (on a worker, or a producer helping it), which
    /// could never see the executor idle: it would wait for itself.
    ///
    /// # Deadlocks
    ///
    /// It waits for tasks that never finish; [`wait_idle_timeout`](Self::wait_idle_timeout)
    /// does not. In a forked child it returns at once (no task will finish there).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    ///
    /// let exec = bounded_executor::BoundedExecutor::new(2);
    /// let done = Arc::new(AtomicUsize::new(0));
    /// for _ in 0..2 {
    ///     for _ in 0..10 {
    ///         let done = Arc::clone(&done);
    ///         exec.execute(move || { done.fetch_add(1, Ordering::Relaxed); }).unwrap();
    ///     }
    ///     exec.wait_idle(); // every task so far has run; the pool takes more
    /// }
    /// assert_eq!(done.load(Ordering::Relaxed), 20);
    /// ```
    pub fn wait_idle(&self) {
        if !self.may_wait_idle() {
            return;
        }
        let idle = self.shared.wait_idle(None);
        debug_assert!(idle, "a wait without deadline returned before the executor was idle");
    }

    /// As [`wait_idle`](Self::wait_idle), waiting at most `timeout`: true if the executor
    /// became idle, false if tasks were still queued or running at the timeout (or in a forked
    /// child). The executor stays usable either way.
    ///
    /// # Panics
    ///
    /// As [`wait_idle`](Self::wait_idle), called from a task of this executor.
    ///
    /// # Deadlocks
    ///
    /// None: it returns by the timeout, and at once in a forked child.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::{sync::mpsc, time::Duration};
    ///
    /// let exec = bounded_executor::BoundedExecutor::new(1);
    /// let (release, gate) = mpsc::channel::<()>();
    /// exec.execute(move || gate.recv().unwrap()).unwrap();
    /// assert!(!exec.wait_idle_timeout(Duration::from_millis(1))); // still running
    /// release.send(()).unwrap();
    /// assert!(exec.wait_idle_timeout(Duration::from_secs(60)));
    /// ```
    #[must_use = "false means tasks were still queued or running at the timeout"]
    pub fn wait_idle_timeout(&self, timeout: Duration) -> bool {
        if !self.may_wait_idle() {
            return false;
        }
        self.shared.wait_idle(Instant::now().checked_add(timeout))
    }

    /// False in a forked child (nothing to wait for); panics inside a task of this executor.
    fn may_wait_idle(&self) -> bool {
        if self.shared.is_forked() {
            return false;
        }
        assert!(
            worker::index_in(&*self.shared).is_none(),
            "wait_idle called from a task of the same executor: it would wait for itself"
        );
        true
    }

    fn join_workers(&self) {
        if worker::index_in(&*self.shared).is_some() {
            return;
        }
        self.shared.wait_workers_exited(None);
        self.shared.threads.join_all();
    }
}

impl Drop for BoundedExecutor {
    /// Same as [`shutdown`](BoundedExecutor::shutdown), unless the caller chose not to wait:
    /// after [`shutdown_background`](BoundedExecutor::shutdown_background) or a
    /// [`shutdown_timeout`](BoundedExecutor::shutdown_timeout) that returned false, it returns
    /// at once and the workers finish the accepted tasks on their own. In a forked child it only
    /// forgets the parent's threads (which do not exist here) and leaks the shared state they
    /// would free.
    ///
    /// # Deadlocks
    ///
    /// As [`shutdown`](BoundedExecutor::shutdown): it waits for the accepted tasks, so dropping
    /// an executor whose tasks never finish never returns; and dropped from one of its own tasks
    /// it does not wait for itself.
    fn drop(&mut self) {
        if self.shared.is_forked() {
            // Never block here: another thread may have held a lock when the process forked.
            self.shared.threads.forget_all();
            std::mem::forget(Arc::clone(&self.shared));
            return;
        }
        // ORDERING: Relaxed: `drop` has the executor to itself, so whatever handed it over
        // ordered the store before this load.
        if self.detached.load(Ordering::Relaxed) {
            // The caller chose not to wait (`shutdown_background`, or a timed-out
            // `shutdown_timeout`); the workers hold the shared state until they exit.
            self.shared.begin_shutdown();
            return;
        }
        self.shutdown();
    }
}

impl fmt::Debug for BoundedExecutor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoundedExecutor")
            .field("max_workers", &self.max_workers())
            .field("capacity", &self.capacity())
            .field("workers", &self.workers())
            .field("in_flight", &self.in_flight())
            .field("shutdown", &self.is_shutdown())
            .finish()
    }
}
