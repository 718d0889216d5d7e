//! Every public error type. Errors from submission hand the closure back (`into_inner`), and
//! none of them needs `F: Debug`. This file owns the submission errors and their closure-free
//! kind; `task.rs` the error of a task's outcome; `config.rs` the builder's and resize's errors.

use std::fmt;

mod config;
mod task;

pub use self::config::{BuildError, ResizeError};
pub(crate) use self::config::{BuildErrorKind, ResizeErrorKind};
pub use self::task::TaskError;

/// Why [`BoundedExecutor::submit`](crate::BoundedExecutor::submit) (and the other submits that
/// wait, and [`submit_with`](crate::BoundedExecutor::submit_with), which may refuse for every
/// reason) refused a task. The closure comes back, untouched, through
/// [`into_inner`](Self::into_inner).
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
    /// No room now: from [`TaskSet::submit`](crate::TaskSet::submit), the set holds
    /// `capacity()` tasks whose results have not been taken, and only taking one makes room;
    /// from [`submit_with`](crate::BoundedExecutor::submit_with) with
    /// [`no_wait`](crate::SubmitOptions::no_wait), as
    /// [`TrySubmitError::Full`]: `capacity()` tasks, or too many weight units, are in flight.
    Full(F),
    /// Only from [`submit_with`](crate::BoundedExecutor::submit_with) with a
    /// [`timeout`](crate::SubmitOptions::timeout): no room freed up in time, as
    /// [`SubmitTimeoutError::Timeout`].
    Timeout(F),
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
            #[must_use]
            pub fn into_inner(self) -> F {
                match self { $(Self::$variant(f) => f),* }
            }

            /// True if the executor was shut down.
            #[must_use]
            pub fn is_shutdown(&self) -> bool {
                matches!(self, Self::Shutdown(_))
            }

            /// True if the executor belongs to the parent of this forked process.
            #[must_use]
            pub fn is_forked(&self) -> bool {
                matches!(self, Self::Forked(_))
            }

            /// True if the task weighs more than the executor's whole weight capacity.
            #[must_use]
            pub fn is_too_heavy(&self) -> bool {
                matches!(self, Self::TooHeavy(_))
            }

            /// Why the task was refused, without the closure: a `Copy` value that is `Send`,
            /// `Sync` and `'static` whatever the closure is, so `?` can turn it into
            /// `Box<dyn Error + Send + Sync>` or `anyhow::Error`.
            #[must_use]
            pub fn kind(&self) -> SubmitErrorKind {
                match self { $(Self::$variant(_) => SubmitErrorKind::$variant),* }
            }

            /// Drops the closure and keeps why it was refused (see [`kind`](Self::kind)):
            /// `exec.submit(f).map_err(SubmitError::without_task)?` in a function that returns
            /// `Result<_, Box<dyn Error + Send + Sync>>`, even for a closure that is not `Sync`.
            ///
            /// # Panics
            ///
            /// If dropping the closure panics.
            pub fn without_task(self) -> SubmitErrorKind {
                self.kind()
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

const TIMEOUT_MSG: &str = "timed out waiting for a free slot in the executor";
const FULL_MSG: &str =
    "the executor is full: capacity() tasks, or weight_capacity() units, are in flight";
const FULL_OR_SET_FULL_MSG: &str =
    "no room now: the executor has capacity() tasks, or weight_capacity() units, in flight, or \
     the task set holds capacity() tasks whose results have not been taken";

submission_error!(SubmitError {
    Shutdown => SHUTDOWN_MSG,
    Forked => FORKED_MSG,
    TooHeavy => TOO_HEAVY_MSG,
    Full => FULL_OR_SET_FULL_MSG,
    Timeout => TIMEOUT_MSG,
});
submission_error!(TrySubmitError {
    Full => FULL_MSG,
    Shutdown => SHUTDOWN_MSG,
    Forked => FORKED_MSG,
    TooHeavy => TOO_HEAVY_MSG,
});
submission_error!(SubmitTimeoutError {
    Timeout => TIMEOUT_MSG,
    Shutdown => SHUTDOWN_MSG,
    Forked => FORKED_MSG,
    TooHeavy => TOO_HEAVY_MSG,
});

impl<F> SubmitError<F> {
    /// True if there was no room now: a [`TaskSet`](crate::TaskSet) holds `capacity()` results
    /// not taken yet, or a [`no_wait`](crate::SubmitOptions::no_wait) submit found the executor
    /// full (never from the executor's own `submit`, which waits instead).
    #[must_use]
    pub fn is_full(&self) -> bool {
        matches!(self, Self::Full(_))
    }

    /// True if a [`submit_with`](crate::BoundedExecutor::submit_with) with a
    /// [`timeout`](crate::SubmitOptions::timeout) found no room in time.
    ///
    /// # Examples
    ///
    /// ```
    /// use bounded_executor::{BoundedExecutor, SubmitOptions};
    /// use std::{sync::mpsc, time::Duration};
    ///
    /// let exec = BoundedExecutor::builder().max_workers(1).capacity(1).build().unwrap();
    /// let (release, gate) = mpsc::channel::<()>();
    /// let busy = exec.submit(move || gate.recv().unwrap()).unwrap();
    /// let opts = SubmitOptions::new().timeout(Duration::from_millis(1));
    /// let err = exec.submit_with(opts, || ()).unwrap_err();
    /// assert!(err.is_timeout() && !err.is_full());
    /// release.send(()).unwrap();
    /// busy.join().unwrap();
    /// ```
    #[must_use]
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Timeout(_))
    }
}

impl<F> TrySubmitError<F> {
    /// True if the executor was full.
    #[must_use]
    pub fn is_full(&self) -> bool {
        matches!(self, Self::Full(_))
    }
}

impl<F> SubmitTimeoutError<F> {
    /// True if no slot freed up in time.
    #[must_use]
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
            SubmitError::Full(f) => Self::Full(f),
            // A timeout is a try that waited: no room, as `Full` says.
            SubmitError::Timeout(f) => Self::Full(f),
        }
    }
}

/// Why a submission was refused, without the closure: what
/// [`SubmitError::without_task`] (and `kind`, on every submission error) gives. It is `Copy`,
/// `Send`, `Sync` and `'static`, so `?` turns it into `Box<dyn Error + Send + Sync>` or
/// `anyhow::Error` whatever the closure was.
///
/// # Examples
///
/// ```
/// use bounded_executor::{BoundedExecutor, SubmitError, SubmitErrorKind};
/// use std::cell::Cell;
///
/// fn run(exec: &BoundedExecutor) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
///     let not_sync = Cell::new(1); // a closure holding it is Send, not Sync
///     exec.submit(move || not_sync.get()).map_err(SubmitError::without_task)?;
///     Ok(())
/// }
///
/// let exec = BoundedExecutor::new(1);
/// exec.shutdown();
/// let err = run(&exec).unwrap_err();
/// assert_eq!(*err.downcast::<SubmitErrorKind>().unwrap(), SubmitErrorKind::Shutdown);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SubmitErrorKind {
    /// No room now: `capacity()` tasks or `weight_capacity()` units in flight (`try_` submits),
    /// or a [`TaskSet`](crate::TaskSet) holding `capacity()` results not taken.
    Full,
    /// No room freed up before the timeout.
    Timeout,
    /// The executor was shut down.
    Shutdown,
    /// The executor belongs to the parent of this forked process.
    Forked,
    /// The task weighs more than the executor's whole weight capacity.
    TooHeavy,
}

impl fmt::Display for SubmitErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Full => FULL_MSG,
            Self::Timeout => TIMEOUT_MSG,
            Self::Shutdown => SHUTDOWN_MSG,
            Self::Forked => FORKED_MSG,
            Self::TooHeavy => TOO_HEAVY_MSG,
        })
    }
}

impl std::error::Error for SubmitErrorKind {}

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

    impl<F> SubmitError<F> {
        /// For `submit_with`, whose options may wait in every way: each refusal as it is.
        pub(crate) fn from_each_refusal((refusal, f): (Refusal, F)) -> Self {
            match refusal {
                Refusal::Full => SubmitError::Full(f),
                Refusal::Timeout => SubmitError::Timeout(f),
                Refusal::Shutdown => SubmitError::Shutdown(f),
                Refusal::Forked => SubmitError::Forked(f),
                Refusal::TooHeavy => SubmitError::TooHeavy(f),
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
