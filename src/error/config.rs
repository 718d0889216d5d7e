//! [`BuildError`] and [`ResizeError`]: a configuration the executor refused.

use std::fmt;

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

    /// True if the OS refused to start a worker thread: the configuration was valid, and the
    /// same build may succeed later (see [`spawn_error`](Self::spawn_error)).
    ///
    /// # Examples
    ///
    /// ```
    /// let err = bounded_executor::BoundedExecutor::builder().max_workers(0).build().unwrap_err();
    /// assert!(!err.is_spawn());
    /// ```
    #[must_use]
    pub fn is_spawn(&self) -> bool {
        matches!(self.kind, BuildErrorKind::Spawn(_))
    }

    /// True if the builder's settings were refused (a zero, a value over its limit,
    /// `min_workers` over `max_workers`, a NUL in the thread name): the same build always fails.
    /// The message says which setting.
    ///
    /// # Examples
    ///
    /// ```
    /// let err = bounded_executor::BoundedExecutor::builder()
    ///     .max_workers(2).min_workers(3).build().unwrap_err();
    /// assert!(err.is_invalid_config());
    /// assert_eq!(err.to_string(), "min_workers is 3, over max_workers (2)");
    /// ```
    #[must_use]
    pub fn is_invalid_config(&self) -> bool {
        !self.is_spawn()
    }

    /// The OS's error, if it refused to start a worker thread.
    ///
    /// # Examples
    ///
    /// ```
    /// let err = bounded_executor::BoundedExecutor::builder().capacity(0).build().unwrap_err();
    /// assert!(err.spawn_error().is_none());
    /// ```
    #[must_use]
    pub fn spawn_error(&self) -> Option<&std::io::Error> {
        match &self.kind {
            BuildErrorKind::Spawn(err) => Some(err),
            _ => None,
        }
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
    #[must_use]
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
    #[must_use]
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
