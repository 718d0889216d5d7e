//! [`TaskError`]: why a task gave no value.

use std::any::Any;
use std::fmt;

use super::FORKED_MSG;

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
    #[must_use]
    pub fn is_panic(&self) -> bool {
        matches!(self.repr, Repr::Panic(_))
    }

    /// True if the task was cancelled (by [`TaskHandle::cancel`](crate::TaskHandle::cancel) or
    /// [`BoundedExecutor::shutdown_now`](crate::BoundedExecutor::shutdown_now)) before it started.
    #[must_use]
    pub fn is_cancelled(&self) -> bool {
        matches!(self.repr, Repr::Cancelled)
    }

    /// True if the task was never submitted because the executor had shut down: the error
    /// `map`, `map_unordered` and `Scope::submit` give for items they could not submit.
    #[must_use]
    pub fn is_shutdown(&self) -> bool {
        matches!(self.repr, Repr::Shutdown)
    }

    /// True if the task's executor belongs to the parent of this forked process, so the task
    /// will never finish here.
    #[must_use]
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
    #[must_use]
    pub fn is_too_heavy(&self) -> bool {
        matches!(self.repr, Repr::TooHeavy { .. })
    }

    /// Returns the panic payload, to inspect it or to resume unwinding with
    /// [`std::panic::resume_unwind`].
    ///
    /// # Panics
    ///
    /// If the task did not panic; see [`try_into_panic`](Self::try_into_panic).
    #[must_use]
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
