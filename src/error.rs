//! Every public error type. Errors from submission hand the closure back (`into_inner`), and
//! none of them needs `F: Debug`.

use std::any::Any;
use std::fmt;

/// Why [`BoundedExecutor::submit`](crate::BoundedExecutor::submit) refused a task. The closure
/// comes back, untouched, through [`into_inner`](Self::into_inner).
///
/// # Examples
///
/// ```
/// use bounded_executor::{BoundedExecutor, SubmitError};
///
/// let exec = BoundedExecutor::new(1);
/// exec.shutdown();
/// match exec.submit(|| 7) {
///     Err(SubmitError::Shutdown(f)) => assert_eq!(f(), 7), // the closure came back
///     _ => unreachable!(),
/// }
/// ```
#[non_exhaustive]
pub enum SubmitError<F> {
    /// The executor was shut down: it accepts no new tasks.
    Shutdown(F),
    /// The executor was created in another process (this one is a `fork()` child of it): its
    /// worker threads do not exist here. See the crate docs, `# Fork safety`.
    Forked(F),
    /// The task weighs more than the executor's whole
    /// [`weight_capacity()`](crate::BoundedExecutor::weight_capacity), so it could never be
    /// admitted: refused at once instead of waiting forever (see
    /// [`submit_weighted`](crate::BoundedExecutor::submit_weighted)).
    TooHeavy(F),
}

/// Why [`BoundedExecutor::try_submit`](crate::BoundedExecutor::try_submit) refused a task.
///
/// # Examples
///
/// ```
/// use bounded_executor::{BoundedExecutor, TrySubmitError};
/// use std::sync::mpsc;
///
/// let exec = BoundedExecutor::builder().max_workers(1).capacity(1).build().unwrap();
/// let (release, gate) = mpsc::channel::<()>();
/// let blocker = exec.submit(move || gate.recv().unwrap()).unwrap();
/// let err = exec.try_submit(|| 1).unwrap_err();
/// assert!(err.is_full());
/// assert_eq!(err.into_inner()(), 1);
/// release.send(()).unwrap();
/// blocker.join().unwrap();
/// ```
#[non_exhaustive]
pub enum TrySubmitError<F> {
    /// `capacity()` tasks are in flight, or (for a weighted submit) the task's weight does not
    /// fit under `weight_capacity()` now.
    Full(F),
    /// The executor was shut down.
    Shutdown(F),
    /// The executor was created in another process (see [`SubmitError::Forked`]).
    Forked(F),
    /// The task weighs more than the whole `weight_capacity()` (see
    /// [`SubmitError::TooHeavy`]).
    TooHeavy(F),
}

/// Why [`BoundedExecutor::submit_timeout`](crate::BoundedExecutor::submit_timeout) refused a task.
///
/// # Examples
///
/// ```
/// use bounded_executor::{BoundedExecutor, SubmitTimeoutError};
/// use std::{sync::mpsc, time::Duration};
///
/// let exec = BoundedExecutor::builder().max_workers(1).capacity(1).build().unwrap();
/// let (release, gate) = mpsc::channel::<()>();
/// let blocker = exec.submit(move || gate.recv().unwrap()).unwrap();
/// let err = exec.submit_timeout(|| 1, Duration::from_millis(10)).unwrap_err();
/// assert!(matches!(err, SubmitTimeoutError::Timeout(_)));
/// release.send(()).unwrap();
/// blocker.join().unwrap();
/// ```
#[non_exhaustive]
pub enum SubmitTimeoutError<F> {
    /// No slot (or, for a weighted submit, not enough weight units) freed up before the
    /// timeout.
    Timeout(F),
    /// The executor was shut down.
    Shutdown(F),
    /// The executor was created in another process (see [`SubmitError::Forked`]).
    Forked(F),
    /// The task weighs more than the whole `weight_capacity()` (see
    /// [`SubmitError::TooHeavy`]).
    TooHeavy(F),
}

pub(crate) const SHUTDOWN_MSG: &str = "the executor was shut down";
pub(crate) const FORKED_MSG: &str =
    "this executor was created in another process: build a new one \
     in the child, or spawn processes instead of forking";
pub(crate) const TOO_HEAVY_MSG: &str =
    "the task weighs more than the executor's whole weight capacity: it could never be admitted";

macro_rules! submission_error {
    ($name:ident { $($variant:ident => $msg:expr),* $(,)? }) => {
        impl<F> $name<F> {
            /// Returns the closure that was not submitted.
            pub fn into_inner(self) -> F {
                match self { $(Self::$variant(f) => f),* }
            }

            /// True if the executor was shut down.
            pub fn is_shutdown(&self) -> bool {
                matches!(self, Self::Shutdown(_))
            }

            /// True if the executor belongs to the parent of this forked process.
            pub fn is_forked(&self) -> bool {
                matches!(self, Self::Forked(_))
            }

            /// True if the task weighs more than the executor's whole weight capacity.
            pub fn is_too_heavy(&self) -> bool {
                matches!(self, Self::TooHeavy(_))
            }
        }

        impl<F> fmt::Debug for $name<F> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self { $(Self::$variant(_) => f.write_str(concat!(stringify!($variant), "(..)"))),* }
            }
        }

        impl<F> fmt::Display for $name<F> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self { $(Self::$variant(_) => f.write_str($msg)),* }
            }
        }

        impl<F> std::error::Error for $name<F> {}
    };
}

submission_error!(SubmitError {
    Shutdown => SHUTDOWN_MSG,
    Forked => FORKED_MSG,
    TooHeavy => TOO_HEAVY_MSG,
});
submission_error!(TrySubmitError {
    Full => "the executor is full: capacity() tasks, or weight_capacity() units, are in flight",
    Shutdown => SHUTDOWN_MSG,
    Forked => FORKED_MSG,
    TooHeavy => TOO_HEAVY_MSG,
});
submission_error!(SubmitTimeoutError {
    Timeout => "timed out waiting for a free slot in the executor",
    Shutdown => SHUTDOWN_MSG,
    Forked => FORKED_MSG,
    TooHeavy => TOO_HEAVY_MSG,
});

impl<F> TrySubmitError<F> {
    /// True if the executor was full.
    pub fn is_full(&self) -> bool {
        matches!(self, Self::Full(_))
    }
}

impl<F> SubmitTimeoutError<F> {
    /// True if no slot freed up in time.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Timeout(_))
    }
}

impl<F> From<SubmitError<F>> for TrySubmitError<F> {
    fn from(err: SubmitError<F>) -> Self {
        match err {
            SubmitError::Shutdown(f) => Self::Shutdown(f),
            SubmitError::Forked(f) => Self::Forked(f),
            SubmitError::TooHeavy(f) => Self::TooHeavy(f),
        }
    }
}

impl<F> From<SubmitError<F>> for SubmitTimeoutError<F> {
    fn from(err: SubmitError<F>) -> Self {
        match err {
            SubmitError::Shutdown(f) => Self::Shutdown(f),
            SubmitError::Forked(f) => Self::Forked(f),
            SubmitError::TooHeavy(f) => Self::TooHeavy(f),
        }
    }
}

/// Why a task gave no value: it panicked, was cancelled, could not be submitted after shutdown,
/// or belongs to the parent of this forked process. Returned by [`TaskHandle::join`](crate::TaskHandle::join).
///
/// # Examples
///
/// ```
/// use bounded_executor::BoundedExecutor;
///
/// let exec = BoundedExecutor::new(1);
/// let err = exec.submit(|| panic!("boom")).unwrap().join().unwrap_err();
/// assert!(err.is_panic());
/// assert_eq!(err.to_string(), "task panicked: boom");
/// assert_eq!(*err.into_panic().downcast::<&str>().unwrap(), "boom");
/// ```
pub struct TaskError {
    repr: Repr,
}

enum Repr {
    Panic(SyncPanic),
    Cancelled,
    Shutdown,
    Forked,
    TooHeavy { weight: u64, capacity: u64 },
}

/// A panic payload that is `Sync` because nothing can reach it through a shared reference.
struct SyncPanic(Box<dyn Any + Send>);

// SAFETY: through `&TaskError` the payload is only asked for its `TypeId` (which reads no data)
// and, when it is a `&'static str` or a `String`, read as that type, and both are `Sync`. Every
// other access takes the payload by value.
unsafe impl Sync for SyncPanic {}

impl TaskError {
    pub(crate) fn panic(payload: Box<dyn Any + Send>) -> Self {
        Self { repr: Repr::Panic(SyncPanic(payload)) }
    }

    pub(crate) fn cancelled() -> Self {
        Self { repr: Repr::Cancelled }
    }

    pub(crate) fn forked() -> Self {
        Self { repr: Repr::Forked }
    }

    pub(crate) fn shutdown() -> Self {
        Self { repr: Repr::Shutdown }
    }

    pub(crate) fn too_heavy(weight: u64, capacity: u64) -> Self {
        Self { repr: Repr::TooHeavy { weight, capacity } }
    }

    /// True if the task panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self.repr, Repr::Panic(_))
    }

    /// True if the task was cancelled (by [`TaskHandle::cancel`](crate::TaskHandle::cancel) or
    /// [`BoundedExecutor::shutdown_now`](crate::BoundedExecutor::shutdown_now)) before it started.
    pub fn is_cancelled(&self) -> bool {
        matches!(self.repr, Repr::Cancelled)
    }

    /// True if the task was never submitted because the executor had shut down: the error
    /// `map`, `map_unordered` and `Scope::submit` give for items they could not submit.
    pub fn is_shutdown(&self) -> bool {
        matches!(self.repr, Repr::Shutdown)
    }

    /// True if the task's executor belongs to the parent of this forked process, so the task
    /// will never finish here.
    pub fn is_forked(&self) -> bool {
        matches!(self.repr, Repr::Forked)
    }

    /// True if the task was never submitted because it weighs more than the executor's whole
    /// weight capacity: the error [`map_weighted`](crate::BoundedExecutor::map_weighted) gives
    /// for such an item (the other items go on). Its message names the weight and the
    /// capacity.
    ///
    /// # Examples
    ///
    /// ```
    /// let exec = bounded_executor::BoundedExecutor::builder()
    ///     .max_workers(1).weight_capacity(10).build().unwrap();
    /// let results: Vec<_> = exec.map_weighted([4u64, 11, 6], |&w| w, |w| w * 2).collect();
    /// assert_eq!(results[0].as_ref().unwrap(), &8);
    /// let err = results[1].as_ref().unwrap_err();
    /// assert!(err.is_too_heavy());
    /// assert_eq!(
    ///     err.to_string(),
    ///     "task was not submitted: its weight 11 is over the executor's weight capacity 10"
    /// );
    /// assert_eq!(results[2].as_ref().unwrap(), &12);
    /// ```
    pub fn is_too_heavy(&self) -> bool {
        matches!(self.repr, Repr::TooHeavy { .. })
    }

    /// Returns the panic payload, to inspect it or to resume unwinding with
    /// [`std::panic::resume_unwind`].
    ///
    /// # Panics
    ///
    /// If the task did not panic; see [`try_into_panic`](Self::try_into_panic).
    pub fn into_panic(self) -> Box<dyn Any + Send> {
        self.try_into_panic().unwrap_or_else(|err| {
            panic!("`TaskError::into_panic` called on a non-panic error: {err}")
        })
    }

    /// Returns the panic payload, or the error itself if the task did not panic.
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send>, TaskError> {
        match self.repr {
            Repr::Panic(SyncPanic(payload)) => Ok(payload),
            repr => Err(Self { repr }),
        }
    }
}

/// The message of a panic payload made by `panic!` with a string, if it has one.
fn panic_message(payload: &(dyn Any + Send)) -> Option<&str> {
    payload
        .downcast_ref::<&'static str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
}

impl fmt::Debug for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Panic(p) => match panic_message(&*p.0) {
                Some(msg) => write!(f, "TaskError::Panic({msg:?})"),
                None => f.write_str("TaskError::Panic(..)"),
            },
            Repr::Cancelled => f.write_str("TaskError::Cancelled"),
            Repr::Shutdown => f.write_str("TaskError::Shutdown"),
            Repr::Forked => f.write_str("TaskError::Forked"),
            Repr::TooHeavy { weight, capacity } => {
                write!(f, "TaskError::TooHeavy {{ weight: {weight}, capacity: {capacity} }}")
            }
        }
    }
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Panic(p) => match panic_message(&*p.0) {
                Some(msg) => write!(f, "task panicked: {msg}"),
                None => f.write_str("task panicked"),
            },
            Repr::Cancelled => f.write_str("task was cancelled before it started"),
            Repr::Shutdown => f.write_str("task was not submitted: the executor was shut down"),
            Repr::Forked => f.write_str(FORKED_MSG),
            Repr::TooHeavy { weight, capacity } => write!(
                f,
                "task was not submitted: its weight {weight} is over the executor's weight \
                 capacity {capacity}"
            ),
        }
    }
}

impl std::error::Error for TaskError {}

// A panic payload is inert data: holding one across `catch_unwind` exposes no broken invariant.
impl std::panic::UnwindSafe for TaskError {}
impl std::panic::RefUnwindSafe for TaskError {}

/// Why [`Builder::build`](crate::Builder::build) failed.
///
/// # Examples
///
/// ```
/// use bounded_executor::BoundedExecutor;
///
/// let err = BoundedExecutor::builder().max_workers(0).build().unwrap_err();
/// assert_eq!(err.to_string(), "max_workers must be at least 1");
/// ```
#[derive(Debug)]
pub struct BuildError {
    kind: BuildErrorKind,
}

#[derive(Debug)]
pub(crate) enum BuildErrorKind {
    ZeroWorkers,
    ZeroQueueRatio,
    ZeroCapacity,
    CapacityOverflow,
    ZeroWeightCapacity,
    WeightCapacityOverflow(u64),
    TooManyWorkers(usize),
    MinOverMax(usize, usize),
    NulInThreadName,
    Spawn(std::io::Error),
}

impl BuildError {
    pub(crate) fn new(kind: BuildErrorKind) -> Self {
        Self { kind }
    }
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            BuildErrorKind::ZeroWorkers => f.write_str("max_workers must be at least 1"),
            BuildErrorKind::ZeroQueueRatio => f.write_str("queue_ratio must be at least 1"),
            BuildErrorKind::ZeroCapacity => f.write_str("capacity must be at least 1"),
            BuildErrorKind::CapacityOverflow => write!(
                f,
                "the capacity (queue_ratio * max_workers, or as set) is over the limit of {}",
                crate::Builder::MAX_CAPACITY
            ),
            BuildErrorKind::ZeroWeightCapacity => f.write_str(
                "weight_capacity must be at least 1 (leave it unset for no weight bound)",
            ),
            BuildErrorKind::WeightCapacityOverflow(n) => write!(
                f,
                "weight_capacity is {n}, over the limit of {}",
                crate::Builder::MAX_WEIGHT_CAPACITY
            ),
            BuildErrorKind::TooManyWorkers(n) => {
                write!(f, "max_workers is {n}, over the limit of {}", crate::Builder::MAX_WORKERS)
            }
            BuildErrorKind::MinOverMax(min, max) => {
                write!(f, "min_workers is {min}, over max_workers ({max})")
            }
            BuildErrorKind::NulInThreadName => {
                f.write_str("the thread name holds a NUL byte, which no OS accepts")
            }
            BuildErrorKind::Spawn(err) => write!(f, "could not spawn a worker thread: {err}"),
        }
    }
}

impl std::error::Error for BuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            BuildErrorKind::Spawn(err) => Some(err),
            _ => None,
        }
    }
}

/// Why [`set_max_workers`](crate::BoundedExecutor::set_max_workers) or
/// [`set_capacity`](crate::BoundedExecutor::set_capacity) failed.
///
/// # Examples
///
/// ```
/// let exec = bounded_executor::BoundedExecutor::new(1);
/// let err = exec.set_max_workers(0).unwrap_err();
/// assert_eq!(err.to_string(), "max_workers must be at least 1");
/// exec.shutdown();
/// assert!(exec.set_max_workers(2).unwrap_err().is_shutdown());
/// ```
#[derive(Debug)]
pub struct ResizeError {
    kind: ResizeErrorKind,
}

#[derive(Debug)]
pub(crate) enum ResizeErrorKind {
    ZeroWorkers,
    TooManyWorkers(usize),
    ZeroCapacity,
    CapacityOverflow,
    Shutdown,
    Forked,
    Spawn(std::io::Error),
}

impl ResizeError {
    pub(crate) fn new(kind: ResizeErrorKind) -> Self {
        Self { kind }
    }

    /// True if the executor was shut down: nothing changed.
    ///
    /// # Examples
    ///
    /// ```
    /// let exec = bounded_executor::BoundedExecutor::new(1);
    /// exec.shutdown();
    /// assert!(exec.set_capacity(8).unwrap_err().is_shutdown());
    /// ```
    pub fn is_shutdown(&self) -> bool {
        matches!(self.kind, ResizeErrorKind::Shutdown)
    }

    /// True if the OS refused to start a thread the resize wanted: the new sizes are set, and
    /// the threads alive run the tasks.
    ///
    /// # Examples
    ///
    /// ```
    /// let exec = bounded_executor::BoundedExecutor::new(1);
    /// assert!(!exec.set_capacity(0).unwrap_err().is_spawn());
    /// ```
    pub fn is_spawn(&self) -> bool {
        matches!(self.kind, ResizeErrorKind::Spawn(_))
    }
}

impl fmt::Display for ResizeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ResizeErrorKind::ZeroWorkers => f.write_str("max_workers must be at least 1"),
            ResizeErrorKind::TooManyWorkers(n) => {
                write!(f, "max_workers is {n}, over the limit of {}", crate::Builder::MAX_WORKERS)
            }
            ResizeErrorKind::ZeroCapacity => f.write_str("capacity must be at least 1"),
            ResizeErrorKind::CapacityOverflow => {
                f.write_str("the capacity would be over the largest one")
            }
            ResizeErrorKind::Shutdown => f.write_str("the executor is shut down"),
            ResizeErrorKind::Forked => {
                f.write_str("the executor belongs to the parent of this forked process")
            }
            ResizeErrorKind::Spawn(err) => write!(f, "could not spawn a worker thread: {err}"),
        }
    }
}

impl std::error::Error for ResizeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ResizeErrorKind::Spawn(err) => Some(err),
            _ => None,
        }
    }
}

/// Why a slot was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    Full,
    Timeout,
    Shutdown,
    Forked,
    /// Heavier than the whole weight capacity: no wait can admit it.
    TooHeavy,
}

/// The one place a refusal of the slot protocol becomes a public error: each submit flavour
/// maps the same [`Refusal`] to its own error type, handing the closure back.
mod from_refusal {
    use super::{Refusal, SubmitError, SubmitTimeoutError, TaskError, TrySubmitError};

    impl<F> SubmitError<F> {
        /// For `submit`, which waits: only shutdown, a fork or a task too heavy ever to fit
        /// refuses it.
        pub(crate) fn from_refusal((refusal, f): (Refusal, F)) -> Self {
            match refusal {
                Refusal::Forked => SubmitError::Forked(f),
                Refusal::TooHeavy => SubmitError::TooHeavy(f),
                Refusal::Full | Refusal::Timeout | Refusal::Shutdown => SubmitError::Shutdown(f),
            }
        }
    }

    impl<F> TrySubmitError<F> {
        pub(crate) fn from_refusal((refusal, f): (Refusal, F)) -> Self {
            match refusal {
                Refusal::Full | Refusal::Timeout => TrySubmitError::Full(f),
                Refusal::Shutdown => TrySubmitError::Shutdown(f),
                Refusal::Forked => TrySubmitError::Forked(f),
                Refusal::TooHeavy => TrySubmitError::TooHeavy(f),
            }
        }
    }

    impl<F> SubmitTimeoutError<F> {
        pub(crate) fn from_refusal((refusal, f): (Refusal, F)) -> Self {
            match refusal {
                Refusal::Full | Refusal::Timeout => SubmitTimeoutError::Timeout(f),
                Refusal::Shutdown => SubmitTimeoutError::Shutdown(f),
                Refusal::Forked => SubmitTimeoutError::Forked(f),
                Refusal::TooHeavy => SubmitTimeoutError::TooHeavy(f),
            }
        }
    }

    impl TaskError {
        /// The error an item of `map`, `map_unordered` or `Scope::submit` gets when it could
        /// not be submitted. They only ever wait, so only shutdown or a fork refuses them: a
        /// weighted item too heavy to fit gets [`TaskError::too_heavy`] from `map_weighted`,
        /// which knows its weight.
        pub(crate) fn from_refusal(refusal: Refusal) -> Self {
            match refusal {
                Refusal::Forked => TaskError::forked(),
                Refusal::Full | Refusal::Timeout | Refusal::Shutdown | Refusal::TooHeavy => {
                    TaskError::shutdown()
                }
            }
        }
    }
}
