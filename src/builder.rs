//! [`Builder`]: configuration of a [`BoundedExecutor`] and its validation.

use std::fmt;
use std::num::NonZeroUsize;
use std::time::Duration;

use crate::error::{BuildError, BuildErrorKind};
use crate::hooks::{Hooks, TaskHooks};
use crate::shared::{ThreadsConfig, MAX_CAPACITY, MAX_WEIGHT_CAPACITY};
use crate::BoundedExecutor;

mod hooks;

use self::hooks::Closure;

/// Configures a [`BoundedExecutor`]: worker count, in-flight bound (in tasks, and optionally in
/// weight units), thread names, stack size, per-thread start and stop hooks, and per-task hooks.
///
/// The bound is `queue_ratio × max_workers` (ratio 2 by default: each worker has one task queued
/// behind the one it runs, so no worker idles while a producer is being woken), or exactly
/// [`capacity`](Self::capacity) when that is set.
///
/// # Examples
///
/// ```
/// use bounded_executor::BoundedExecutor;
///
/// let exec = BoundedExecutor::builder()
///     .max_workers(4)
///     .capacity(100)
///     .thread_name("io")
///     .stack_size(256 * 1024)
///     .build()?;
/// assert_eq!((exec.max_workers(), exec.capacity()), (4, 100));
/// # Ok::<(), bounded_executor::BuildError>(())
/// ```
#[derive(Clone)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct Builder {
    max_workers: Option<usize>,
    queue_ratio: usize,
    capacity: Option<usize>,
    weight_capacity: Option<u64>,
    thread_name: String,
    stack_size: Option<usize>,
    /// `None` until `producer_helps` is called: then the default depends on the rest (see
    /// there).
    producer_helps: Option<bool>,
    hooks: Hooks,
    task_hooks: TaskHooks,
    min_workers: Option<usize>,
    keep_alive: Duration,
}

/// A validated configuration.
pub(crate) struct Config {
    pub(crate) capacity: usize,
    /// `None` if the capacity was set explicitly (it then stays put on a resize).
    pub(crate) queue_ratio: Option<usize>,
    pub(crate) weight_capacity: u64,
    pub(crate) producer_helps: bool,
    /// `None` unless a per-task hook is set.
    pub(crate) task_hooks: Option<TaskHooks>,
    pub(crate) threads: ThreadsConfig,
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("max_workers", &self.max_workers)
            .field("queue_ratio", &self.queue_ratio)
            .field("capacity", &self.capacity)
            .field("weight_capacity", &self.weight_capacity)
            .field("thread_name", &self.thread_name)
            .field("stack_size", &self.stack_size)
            .field("producer_helps", &self.producer_helps)
            .field("on_thread_start", &self.hooks.on_start.as_ref().map(|_| Closure))
            .field("on_thread_stop", &self.hooks.on_stop.as_ref().map(|_| Closure))
            .field("before_task", &self.task_hooks.before().map(|_| Closure))
            .field("after_task", &self.task_hooks.after().map(|_| Closure))
            .field("min_workers", &self.min_workers)
            .field("keep_alive", &self.keep_alive)
            .finish()
    }
}

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

impl Builder {
    /// The most worker threads an executor can have: 65,536. More is refused by `build` up
    /// front, rather than spawning threads until the OS refuses one.
    ///
    /// # Examples
    ///
    /// ```
    /// use bounded_executor::{BoundedExecutor, Builder};
    ///
    /// assert!(BoundedExecutor::builder().max_workers(Builder::MAX_WORKERS + 1).build().is_err());
    /// ```
    pub const MAX_WORKERS: usize = 1 << 16;

    /// How long a thread beyond [`min_workers`](Self::min_workers) waits for work before it
    /// exits, unless [`keep_alive`](Self::keep_alive) says otherwise: 10 seconds, as tokio's
    /// blocking pool.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(bounded_executor::Builder::DEFAULT_KEEP_ALIVE.as_secs(), 10);
    /// ```
    pub const DEFAULT_KEEP_ALIVE: Duration = Duration::from_secs(10);

    /// The largest [`capacity`](Self::capacity) (tasks in flight) an executor can have:
    /// 16,777,215 (2^24 - 1), on every platform. More, set directly or as
    /// `queue_ratio × max_workers`, is refused by `build`.
    ///
    /// # Examples
    ///
    /// ```
    /// use bounded_executor::{BoundedExecutor, Builder};
    ///
    /// assert_eq!(Builder::MAX_CAPACITY, 16_777_215);
    /// assert!(BoundedExecutor::builder().capacity(Builder::MAX_CAPACITY + 1).build().is_err());
    /// ```
    pub const MAX_CAPACITY: usize = MAX_CAPACITY;

    /// The largest [`weight_capacity`](Self::weight_capacity) an executor can have:
    /// 137,438,953,471 (2^37 - 1), 128 GiB if a unit is a byte. More is refused by `build`.
    /// It is also the weight capacity of an executor built without one.
    ///
    /// # Examples
    ///
    /// ```
    /// use bounded_executor::{BoundedExecutor, Builder};
    ///
    /// assert_eq!(Builder::MAX_WEIGHT_CAPACITY, (1 << 37) - 1);
    /// assert_eq!(BoundedExecutor::new(1).weight_capacity(), Builder::MAX_WEIGHT_CAPACITY);
    /// ```
    pub const MAX_WEIGHT_CAPACITY: u64 = MAX_WEIGHT_CAPACITY;

    /// The defaults: one worker per available core, queue ratio 2, threads named
    /// `bounded-executor-<index>`, and std's default stack size for spawned threads (2 MiB,
    /// or `RUST_MIN_STACK` if set; not the platform's main-thread size).
    ///
    /// # Examples
    ///
    /// ```
    /// let exec = bounded_executor::Builder::new().build().unwrap();
    /// assert_eq!(exec.capacity(), 2 * exec.max_workers());
    /// ```
    pub fn new() -> Self {
        Self {
            max_workers: None,
            queue_ratio: 2,
            capacity: None,
            weight_capacity: None,
            thread_name: "bounded-executor".to_owned(),
            stack_size: None,
            producer_helps: None,
            hooks: Hooks::default(),
            task_hooks: TaskHooks::default(),
            min_workers: None,
            keep_alive: Self::DEFAULT_KEEP_ALIVE,
        }
    }

    /// The number of worker threads. Default: [`std::thread::available_parallelism`] (1 if it
    /// cannot be told). 0, or more than [`Builder::MAX_WORKERS`], makes `build` fail.
    ///
    /// # Examples
    ///
    /// ```
    /// let exec = bounded_executor::BoundedExecutor::builder().max_workers(3).build().unwrap();
    /// assert_eq!(exec.max_workers(), 3);
    /// ```
    pub fn max_workers(mut self, max_workers: usize) -> Self {
        self.max_workers = Some(max_workers);
        self
    }

    /// Sets the bound to `queue_ratio × max_workers` tasks in flight. Default 2. 0 makes
    /// `build` fail. Ignored if [`capacity`](Self::capacity) is set.
    ///
    /// # Examples
    ///
    /// ```
    /// let exec = bounded_executor::BoundedExecutor::builder()
    ///     .max_workers(2).queue_ratio(64).build().unwrap();
    /// assert_eq!(exec.capacity(), 128);
    /// ```
    pub fn queue_ratio(mut self, queue_ratio: usize) -> Self {
        self.queue_ratio = queue_ratio;
        self
    }

    /// Sets the bound on tasks in flight directly, overriding `queue_ratio`. 0, or more than
    /// [`Builder::MAX_CAPACITY`], makes `build` fail. A capacity below `max_workers` leaves some
    /// workers idle.
    ///
    /// # Examples
    ///
    /// ```
    /// let exec = bounded_executor::BoundedExecutor::builder()
    ///     .max_workers(2).capacity(1).build().unwrap();
    /// assert_eq!(exec.capacity(), 1);
    /// ```
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = Some(capacity);
        self
    }

    /// Sets a second bound, in weight units: tasks in flight hold at most `weight_capacity`
    /// units between them, each the weight it was submitted with
    /// ([`submit_weighted`](BoundedExecutor::submit_weighted) and its family,
    /// [`map_weighted`](BoundedExecutor::map_weighted)). Use it when tasks differ in size, to
    /// bound bytes in flight rather than tasks: submit each buffer with its length as weight.
    ///
    /// Both bounds hold at once: a task takes one slot of [`capacity`](Self::capacity) *and*
    /// its weight in units, and a submit waits until both fit. Every other submit (`submit`,
    /// `try_submit`, `submit_timeout`, `submit_or_run`, `submit_async`, `map`, `scope`,
    /// `TaskSet`) weighs 1. Unset, the weight capacity is [`Builder::MAX_WEIGHT_CAPACITY`],
    /// which never binds for those.
    ///
    /// 0 makes `build` fail (leave it unset for no weight bound), and so does more than
    /// [`Builder::MAX_WEIGHT_CAPACITY`].
    ///
    /// # Examples
    ///
    /// ```
    /// let exec = bounded_executor::BoundedExecutor::builder()
    ///     .max_workers(2)
    ///     .weight_capacity(64 << 20) // at most 64 MiB of buffers in flight
    ///     .build()
    ///     .unwrap();
    /// let buffer = vec![0u8; 1 << 20];
    /// let handle = exec.submit_weighted(buffer.len() as u64, move || buffer.len()).unwrap();
    /// assert_eq!(handle.join().unwrap(), 1 << 20);
    /// assert_eq!(exec.weight_capacity(), 64 << 20);
    /// ```
    pub fn weight_capacity(mut self, weight_capacity: u64) -> Self {
        self.weight_capacity = Some(weight_capacity);
        self
    }

    /// The worker threads' name prefix: they are named `<prefix>-<index>`, index from 0 and
    /// below `max_workers` (see [`on_thread_start`](Self::on_thread_start), `# Indices`). A
    /// prefix with a NUL byte, which no OS accepts in a thread name, makes `build` fail.
    ///
    /// # Examples
    ///
    /// ```
    /// let exec = bounded_executor::BoundedExecutor::builder()
    ///     .max_workers(1).thread_name("crunch").build().unwrap();
    /// let name = exec.submit(|| std::thread::current().name().map(str::to_owned)).unwrap();
    /// assert_eq!(name.join().unwrap().as_deref(), Some("crunch-0"));
    /// ```
    pub fn thread_name(mut self, prefix: impl Into<String>) -> Self {
        self.thread_name = prefix.into();
        self
    }

    /// The worker threads' stack size in bytes (see [`std::thread::Builder::stack_size`]).
    /// Unset, it is std's default for spawned threads: 2 MiB, or `RUST_MIN_STACK` if set.
    /// Tasks then run on threads of this size only: producers do not help a full executor
    /// (they would run its tasks on their own stacks) unless
    /// [`producer_helps`](Self::producer_helps)`(true)` asks them to.
    ///
    /// # Examples
    ///
    /// ```
    /// let exec = bounded_executor::BoundedExecutor::builder()
    ///     .stack_size(8 << 20).build().unwrap();
    /// # drop(exec);
    /// ```
    pub fn stack_size(mut self, bytes: usize) -> Self {
        self.stack_size = Some(bytes);
        self
    }

    /// Whether a producer blocked in [`submit`](BoundedExecutor::submit) while the executor is
    /// full runs queued tasks itself until a slot frees. Default: true, unless the builder sets
    /// [`stack_size`](Self::stack_size), [`on_thread_start`](Self::on_thread_start) or
    /// [`on_thread_stop`](Self::on_thread_stop): then false, unless this is called with true.
    /// (Only an explicit call decides; the order of the builder's calls does not matter.) The
    /// per-task hooks ([`before_task`](Self::before_task), [`after_task`](Self::after_task)) do
    /// not change the default: they run wherever the task runs, helped tasks included, and tell
    /// where ([`TaskInfo::worker`](crate::TaskInfo::worker) is `None` on a producer's thread).
    ///
    /// Each queued task already holds a slot, so the bound is the same either way. With
    /// helping, the producer sleeps only while every task in flight is running: no core idles
    /// while work is queued, and a slot freed by the producer's own run is taken without a
    /// wake-up. On 2 cores this is what makes the default executor as fast per task as the
    /// unbounded pools (see the README's benchmark table).
    ///
    /// What to know when it is on:
    /// - a helped task runs on the producer's thread, not a worker's: with the producer's
    ///   thread name, thread-locals and stack, and without the start and stop hooks having run
    ///   there. That is why configuring the stack or the hooks turns the default off: a pool
    ///   built for deep tasks (`stack_size`) or for what its hooks set up must not run its
    ///   tasks elsewhere unless you ask. [`Stats::helped`](crate::Stats::helped) counts
    ///   helped tasks;
    /// - `submit` can take as long as the task it helps with, so a producer that must react
    ///   quickly should use [`try_submit`](BoundedExecutor::try_submit) or
    ///   [`submit_timeout`](BoundedExecutor::submit_timeout), which never help, whatever the
    ///   timeout, as [`submit_async`](BoundedExecutor::submit_async) never does;
    /// - a producer that holds a lock across `submit` must not submit tasks that take the same
    ///   lock: a helped task would wait for its own thread. Turn helping off in that case.
    ///
    /// Helping off, every task runs on a worker thread except those you run on your own
    /// thread on purpose: [`submit_or_run`](BoundedExecutor::submit_or_run) on a full executor
    /// (caller-runs), and a nested submit or `join` from inside a task, which runs inline on
    /// the thread that task runs on (see the crate docs, `# Deadlocks`). A task submitted from a
    /// worker of the same executor never reaches this point: it runs inline.
    ///
    /// # Examples
    ///
    /// ```
    /// let exec = bounded_executor::BoundedExecutor::builder()
    ///     .max_workers(2)
    ///     .producer_helps(false) // every task runs on a worker thread
    ///     .build()
    ///     .unwrap();
    /// let name = exec.submit(|| std::thread::current().name().map(str::to_owned)).unwrap();
    /// assert!(name.join().unwrap().unwrap().starts_with("bounded-executor-"));
    /// ```
    ///
    /// A pool with hooks keeps its tasks on its threads by default; helping is a choice:
    ///
    /// ```
    /// let exec = bounded_executor::BoundedExecutor::builder()
    ///     .max_workers(2)
    ///     .on_thread_start(|_index| { /* set up what every task expects */ })
    ///     .producer_helps(true) // tasks may run on a blocked producer's thread, hook-less
    ///     .build()
    ///     .unwrap();
    /// # drop(exec);
    /// ```
    pub fn producer_helps(mut self, helps: bool) -> Self {
        self.producer_helps = Some(helps);
        self
    }

    /// The fewest worker threads kept alive: `build` starts this many, and more start only when
    /// a task is queued and no worker is idle, up to `max_workers`. A thread beyond the minimum
    /// exits after [`keep_alive`](Self::keep_alive) without work. Default: `max_workers` (every
    /// thread starts at `build` and stays: no thread is ever started or stopped on a submit's
    /// path). Above `max_workers`, `build` fails.
    ///
    /// Use it for a pool that is mostly idle, or whose load comes in bursts: threads cost
    /// nothing while there is no work. `min_workers(0)` scales to zero threads. The price is a
    /// thread start (tens of microseconds) on the first task of a burst, and one atomic
    /// read-modify-write per submit while `min_workers < max_workers`.
    ///
    /// The crate's guarantees do not depend on how many threads are alive: the bound is the
    /// same; a nested submit from a task to its own full executor runs inline; a `join` on a
    /// worker runs the awaited task if it has not started. A thread that cannot be started (the
    /// OS refused it) leaves its tasks to the threads alive; if there are none, the submitting
    /// thread runs the queued tasks itself.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let exec = bounded_executor::BoundedExecutor::builder()
    ///     .max_workers(4)
    ///     .min_workers(0)
    ///     .keep_alive(Duration::from_millis(100))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(exec.workers(), 0); // no thread until there is work
    /// assert_eq!(exec.submit(|| 6 * 7).unwrap().join().unwrap(), 42);
    /// assert!(exec.stats().threads_started >= 1);
    /// ```
    pub fn min_workers(mut self, min_workers: usize) -> Self {
        self.min_workers = Some(min_workers);
        self
    }

    /// How long a thread beyond [`min_workers`](Self::min_workers) waits for work before it
    /// exits. Default [`DEFAULT_KEEP_ALIVE`](Self::DEFAULT_KEEP_ALIVE). Ignored while
    /// `min_workers == max_workers` (the default): no thread is then retired.
    ///
    /// `Duration::ZERO` means a thread beyond the minimum exits as soon as it finds the queue
    /// empty: with `min_workers(0)`, every burst of work starts its threads afresh. That is
    /// allowed, not an error, but it is rarely what you want.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let exec = bounded_executor::BoundedExecutor::builder()
    ///     .max_workers(2)
    ///     .min_workers(1)
    ///     .keep_alive(Duration::from_secs(60))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(exec.workers(), 1);
    /// ```
    pub fn keep_alive(mut self, keep_alive: Duration) -> Self {
        self.keep_alive = keep_alive;
        self
    }

    /// Whether producers help (see [`producer_helps`](Self::producer_helps)): as asked, or by
    /// default only where a task on a producer's thread differs from one on a worker in nothing
    /// but the thread's name and thread-locals.
    fn helps(&self) -> bool {
        let configured_threads = self.stack_size.is_some()
            || self.hooks.on_start.is_some()
            || self.hooks.on_stop.is_some();
        self.producer_helps.unwrap_or(!configured_threads)
    }

    /// Starts the executor.
    ///
    /// # Errors
    ///
    /// If `max_workers`, `queue_ratio`, `capacity` or `weight_capacity` is 0, if `max_workers`
    /// is over [`Builder::MAX_WORKERS`], if `min_workers` is over `max_workers`, if the capacity
    /// (`queue_ratio × max_workers`, or as set) is over [`Builder::MAX_CAPACITY`], if
    /// `weight_capacity` is over [`Builder::MAX_WEIGHT_CAPACITY`], if the thread name holds a NUL
    /// byte, or if a worker thread cannot be spawned (the OS refused it: too many threads, a
    /// stack size it cannot map, ...; the threads already started are stopped and joined). Never
    /// panics.
    ///
    /// # Examples
    ///
    /// ```
    /// use bounded_executor::BoundedExecutor;
    ///
    /// assert!(BoundedExecutor::builder().queue_ratio(0).build().is_err());
    /// assert!(BoundedExecutor::builder().capacity(0).build().is_err());
    /// assert!(BoundedExecutor::builder().weight_capacity(0).build().is_err());
    /// assert!(BoundedExecutor::builder().max_workers(2).build().is_ok());
    /// ```
    pub fn build(self) -> Result<BoundedExecutor, BuildError> {
        let max_workers = self
            .max_workers
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, NonZeroUsize::get));
        if max_workers == 0 {
            return Err(BuildError::new(BuildErrorKind::ZeroWorkers));
        }
        if max_workers > Self::MAX_WORKERS {
            return Err(BuildError::new(BuildErrorKind::TooManyWorkers(max_workers)));
        }
        if let Some(min_workers) = self.min_workers.filter(|&min| min > max_workers) {
            return Err(BuildError::new(BuildErrorKind::MinOverMax(min_workers, max_workers)));
        }
        if self.thread_name.contains('\0') {
            return Err(BuildError::new(BuildErrorKind::NulInThreadName));
        }
        if self.queue_ratio == 0 {
            return Err(BuildError::new(BuildErrorKind::ZeroQueueRatio));
        }
        let capacity = match self.capacity {
            Some(0) => return Err(BuildError::new(BuildErrorKind::ZeroCapacity)),
            Some(capacity) => capacity,
            None => self
                .queue_ratio
                .checked_mul(max_workers)
                .ok_or(BuildError::new(BuildErrorKind::CapacityOverflow))?,
        };
        if capacity > MAX_CAPACITY {
            return Err(BuildError::new(BuildErrorKind::CapacityOverflow));
        }
        let weight_capacity = match self.weight_capacity {
            None => MAX_WEIGHT_CAPACITY,
            Some(0) => return Err(BuildError::new(BuildErrorKind::ZeroWeightCapacity)),
            Some(n) if n > MAX_WEIGHT_CAPACITY => {
                return Err(BuildError::new(BuildErrorKind::WeightCapacityOverflow(n)))
            }
            Some(n) => n,
        };
        BoundedExecutor::start(Config {
            capacity,
            queue_ratio: self.capacity.is_none().then_some(self.queue_ratio),
            weight_capacity,
            producer_helps: self.helps(),
            task_hooks: self.task_hooks.if_any(),
            threads: ThreadsConfig {
                max_workers,
                min_workers: self.min_workers,
                keep_alive: self.keep_alive,
                name: self.thread_name,
                stack_size: self.stack_size,
                hooks: self.hooks,
            },
        })
    }
}
