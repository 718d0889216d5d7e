//! [`SubmitOptions`] and [`BoundedExecutor::submit_with`]: one submit call for every mix of a
//! weight and a way to wait (forever, not at all, until a timeout, or run inline when full),
//! with or without helping. The named shortcuts (`submit`, `try_submit`, `submit_timeout`,
//! `submit_or_run` and their `_weighted` forms) keep their own code in `executor.rs`: each is
//! the same admission as one set of options here, and stays as it is so that its hot path
//! carries no option to decide on.

use std::time::Duration;

use crate::error::SubmitError;
use crate::handle::TaskHandle;
use crate::shared::{worker, Admission, Refusal, Shared, Wait};
use crate::sync::Arc;
use crate::BoundedExecutor;

/// How [`submit_with`](BoundedExecutor::submit_with) submits a task: its weight, how it waits
/// for room, and whether it may help while it waits. A small `Copy` value: build it once and
/// pass it to every submit of a loop.
///
/// The defaults ([`new`](Self::new), [`Default`]) are [`submit`](BoundedExecutor::submit)'s:
/// weight 1, wait as long as it takes, help as the executor does.
///
/// | options | the same as |
/// | --- | --- |
/// | `new()` | [`submit(f)`](BoundedExecutor::submit) |
/// | `.weight(w)` | [`submit_weighted(w, f)`](BoundedExecutor::submit_weighted) |
/// | `.no_wait()` | [`try_submit(f)`](BoundedExecutor::try_submit) |
/// | `.weight(w).no_wait()` | [`try_submit_weighted(w, f)`](BoundedExecutor::try_submit_weighted) |
/// | `.timeout(d)` | [`submit_timeout(f, d)`](BoundedExecutor::submit_timeout) |
/// | `.weight(w).timeout(d)` | [`submit_weighted_timeout(w, f, d)`](BoundedExecutor::submit_weighted_timeout) |
/// | `.or_run()` | [`submit_or_run(f)`](BoundedExecutor::submit_or_run) |
/// | `.weight(w).or_run()` | no shortcut: caller-runs for a weighted task |
/// | `.help(false)` | no shortcut: `submit` that never runs a queued task |
///
/// The error is always [`SubmitError`]: where a shortcut returns
/// [`TrySubmitError::Full`](crate::TrySubmitError::Full) or
/// [`SubmitTimeoutError::Timeout`](crate::SubmitTimeoutError::Timeout), `submit_with` returns
/// [`SubmitError::Full`] or [`SubmitError::Timeout`], with the closure, for the same cause.
///
/// # Rules
///
/// - **One way to wait, the last one set.** [`no_wait`](Self::no_wait),
///   [`timeout`](Self::timeout) and [`or_run`](Self::or_run) each replace the way to wait set
///   before them: `.no_wait().timeout(d)` waits up to `d`, `.timeout(d).no_wait()` does not
///   wait. The weight and `help` are kept.
/// - **`help` can only turn helping off.** A submit helps (runs queued tasks on the calling
///   thread while the executor is full) only if the executor lets producers help
///   ([`Builder::producer_helps`](crate::Builder::producer_helps)) *and* `help` is true, its
///   default. `help(true)` on an executor that does not help changes nothing: helping runs user
///   code on the caller's thread, which the executor's owner turned off (say, for a stack size
///   or thread hooks), and one call site should not override that.
/// - **Only a wait without timeout helps.** `no_wait` and `or_run` never wait, and a timed
///   submit never helps, whatever the timeout (a caller that gives a timeout wants to be back by
///   then, not running someone else's task), so `help` matters only for the default way to
///   wait.
/// - **The timeout runs from each call**, not from when the options were built, so one value
///   serves a whole loop.
///
/// # Examples
///
/// ```
/// use bounded_executor::{BoundedExecutor, SubmitOptions};
/// use std::time::Duration;
///
/// let exec = BoundedExecutor::builder().max_workers(2).weight_capacity(100).build().unwrap();
/// let opts = SubmitOptions::new().weight(30).timeout(Duration::from_secs(10));
/// let handles: Vec<_> = (0..5u64).map(|i| exec.submit_with(opts, move || i * 2).unwrap()).collect();
/// let sum: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
/// assert_eq!(sum, 20);
/// assert!(exec.stats().peak_weight_in_flight <= 100);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[must_use = "options do nothing until passed to `submit_with`"]
pub struct SubmitOptions {
    weight: u64,
    wait: WaitFor,
    help: bool,
}

/// How a submit waits for room: the one choice that the `no_wait`, `timeout` and `or_run`
/// setters replace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum WaitFor {
    /// As long as it takes (`submit`).
    Room,
    /// Not at all (`try_submit`).
    Nothing,
    /// At most this long from the call (`submit_timeout`).
    Timeout(Duration),
    /// Not at all, running the task here if it does not fit (`submit_or_run`).
    OrRun,
}

impl SubmitOptions {
    /// [`submit`](BoundedExecutor::submit)'s options: weight 1, wait as long as it takes, help
    /// as the executor does.
    ///
    /// # Examples
    ///
    /// ```
    /// use bounded_executor::{BoundedExecutor, SubmitOptions};
    ///
    /// let exec = BoundedExecutor::new(1);
    /// assert_eq!(SubmitOptions::new(), SubmitOptions::default());
    /// assert_eq!(exec.submit_with(SubmitOptions::new(), || 7).unwrap().join().unwrap(), 7);
    /// ```
    pub const fn new() -> Self {
        Self { weight: 1, wait: WaitFor::Room, help: true }
    }

    /// The task weighs `weight` units, as in
    /// [`submit_weighted`](BoundedExecutor::submit_weighted): it holds a slot and `weight` units
    /// of [`weight_capacity()`](BoundedExecutor::weight_capacity) from admission until it ends.
    /// Any `u64` is allowed; 0 takes a slot and no units, and a weight over the whole weight
    /// capacity is refused at once with [`SubmitError::TooHeavy`]. Default 1.
    ///
    /// # Examples
    ///
    /// ```
    /// use bounded_executor::{BoundedExecutor, SubmitOptions};
    ///
    /// let exec = BoundedExecutor::builder().max_workers(1).weight_capacity(10).build().unwrap();
    /// let err = exec.submit_with(SubmitOptions::new().weight(11), || ()).unwrap_err();
    /// assert!(err.is_too_heavy()); // it could never fit: refused without waiting
    /// ```
    pub const fn weight(mut self, weight: u64) -> Self {
        self.weight = weight;
        self
    }

    /// Never wait: take room if it is free now, or return [`SubmitError::Full`] with the closure,
    /// as [`try_submit`](BoundedExecutor::try_submit) does (nothing runs inline, even on a
    /// worker of this executor). Replaces an earlier [`timeout`](Self::timeout) or
    /// [`or_run`](Self::or_run).
    ///
    /// # Examples
    ///
    /// ```
    /// use bounded_executor::{BoundedExecutor, SubmitOptions};
    /// use std::sync::mpsc;
    ///
    /// let exec = BoundedExecutor::builder().max_workers(1).capacity(1).build().unwrap();
    /// let (release, gate) = mpsc::channel::<()>();
    /// let busy = exec.submit(move || gate.recv().unwrap()).unwrap(); // the only slot
    /// let err = exec.submit_with(SubmitOptions::new().no_wait(), || 5).unwrap_err();
    /// assert!(err.is_full());
    /// assert_eq!(err.into_inner()(), 5); // the closure came back
    /// release.send(()).unwrap();
    /// busy.join().unwrap();
    /// ```
    pub const fn no_wait(mut self) -> Self {
        self.wait = WaitFor::Nothing;
        self
    }

    /// Wait at most `timeout` (from each call) for room, then return [`SubmitError::Timeout`]
    /// with the closure, as [`submit_timeout`](BoundedExecutor::submit_timeout) does. A timed
    /// submit never helps, whatever the timeout (`Duration::MAX` included) and whatever
    /// [`help`](Self::help) says. Replaces an earlier [`no_wait`](Self::no_wait) or
    /// [`or_run`](Self::or_run).
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
    /// let opts = SubmitOptions::new().timeout(Duration::from_millis(5));
    /// assert!(exec.submit_with(opts, || ()).unwrap_err().is_timeout());
    /// release.send(()).unwrap();
    /// busy.join().unwrap();
    /// assert_eq!(exec.submit_with(opts, || 3).unwrap().join().unwrap(), 3);
    /// ```
    pub const fn timeout(mut self, timeout: Duration) -> Self {
        self.wait = WaitFor::Timeout(timeout);
        self
    }

    /// Never wait: if the task does not fit now (no slot, or not its weight in units), run it on
    /// the calling thread and return an already-finished handle, as
    /// [`submit_or_run`](BoundedExecutor::submit_or_run) does (its `# Deadlocks` applies). A
    /// task run here holds no slot and no units. A weight over the whole weight capacity is
    /// still refused ([`SubmitError::TooHeavy`]), not run. Replaces an earlier
    /// [`no_wait`](Self::no_wait) or [`timeout`](Self::timeout).
    ///
    /// # Examples
    ///
    /// ```
    /// use bounded_executor::{BoundedExecutor, SubmitOptions};
    /// use std::sync::mpsc;
    ///
    /// let exec = BoundedExecutor::builder().max_workers(2).weight_capacity(10).build().unwrap();
    /// let (release, gate) = mpsc::channel::<()>();
    /// let heavy = exec.submit_weighted(8, move || gate.recv().unwrap()).unwrap();
    /// let caller = std::thread::current().id();
    /// let opts = SubmitOptions::new().weight(5).or_run(); // 8 + 5 > 10: runs right here
    /// let handle = exec.submit_with(opts, move || std::thread::current().id() == caller).unwrap();
    /// assert!(handle.is_finished());
    /// assert!(handle.join().unwrap());
    /// release.send(()).unwrap();
    /// heavy.join().unwrap();
    /// ```
    pub const fn or_run(mut self) -> Self {
        self.wait = WaitFor::OrRun;
        self
    }

    /// Whether a submit that waits for room may help meanwhile: run queued tasks on the calling
    /// thread, as [`submit`](BoundedExecutor::submit) does on an executor with
    /// [`Builder::producer_helps`](crate::Builder::producer_helps). `help(false)` waits without
    /// ever running a task on the calling thread (but its own, inline, on a worker of this
    /// executor: see [`submit_with`](BoundedExecutor::submit_with), `# Deadlocks`).
    /// `help(true)`, the default, helps only if the executor does: it never turns helping on.
    /// It matters only for the default way to wait ([`no_wait`](Self::no_wait),
    /// [`timeout`](Self::timeout) and [`or_run`](Self::or_run) never help).
    ///
    /// # Examples
    ///
    /// ```
    /// use bounded_executor::{BoundedExecutor, SubmitOptions};
    ///
    /// let exec = BoundedExecutor::new(2); // producers help by default
    /// // Waits for room like `submit`, but never runs a queued task on this thread.
    /// let opts = SubmitOptions::new().help(false);
    /// let here = std::thread::current().id();
    /// let handles: Vec<_> = (0..20)
    ///     .map(|_| exec.submit_with(opts, move || std::thread::current().id() != here).unwrap())
    ///     .collect();
    /// assert!(handles.into_iter().all(|h| h.join().unwrap()));
    /// assert_eq!(exec.stats().helped, 0);
    /// ```
    pub const fn help(mut self, help: bool) -> Self {
        self.help = help;
        self
    }
}

impl Default for SubmitOptions {
    /// [`SubmitOptions::new`].
    fn default() -> Self {
        Self::new()
    }
}

impl BoundedExecutor {
    /// Submits `f` as `options` say (see [`SubmitOptions`]): with a weight, and waiting forever,
    /// not at all, at most a timeout, or running `f` here if it does not fit, with or without
    /// helping. Each set of options behaves as the shortcut it matches in the table there
    /// (`submit`, `try_submit_weighted`, `submit_timeout`, ...): the same admission, the same
    /// refusals, the same placement inline or on a worker.
    ///
    /// # Errors
    ///
    /// With the closure, unrun: [`SubmitError::Shutdown`] after shutdown (also while this call
    /// waits), [`SubmitError::Forked`] in a forked child, [`SubmitError::TooHeavy`] at once for
    /// a weight over [`weight_capacity()`](Self::weight_capacity);
    /// [`SubmitError::Full`] if [`no_wait`](SubmitOptions::no_wait) found no room;
    /// [`SubmitError::Timeout`] if the [`timeout`](SubmitOptions::timeout) passed first. A
    /// submit that waits forever or runs inline is refused only for the first three.
    ///
    /// # Deadlocks
    ///
    /// As the shortcut the options match. A submit that waits (forever, or with a timeout),
    /// called from one of this executor's workers while it is full, runs `f` inline instead of
    /// waiting (see the crate docs, `# Deadlocks`); `no_wait` returns `Full` there. From any
    /// other thread, a submit that waits forever with [`help`](SubmitOptions::help) left on runs
    /// queued tasks on the calling thread on an executor that helps
    /// ([`Builder::producer_helps`](crate::Builder::producer_helps)): a lock held across the
    /// call must not be one those tasks take. With [`or_run`](SubmitOptions::or_run), `f` itself
    /// may run here, as in [`submit_or_run`](Self::submit_or_run).
    ///
    /// # Panics
    ///
    /// Never for the options: every combination is valid. A panic in `f` comes back through the
    /// handle's [`join`](TaskHandle::join), inline runs included.
    ///
    /// # Examples
    ///
    /// ```
    /// use bounded_executor::{BoundedExecutor, SubmitError, SubmitOptions};
    /// use std::time::Duration;
    ///
    /// let exec = BoundedExecutor::builder().max_workers(2).weight_capacity(64).build().unwrap();
    /// let opts = SubmitOptions::new().weight(16).timeout(Duration::from_secs(10)).help(false);
    /// let handle = exec.submit_with(opts, || "done").unwrap();
    /// assert_eq!(handle.join().unwrap(), "done");
    ///
    /// exec.shutdown();
    /// match exec.submit_with(opts, || "late") {
    ///     Err(SubmitError::Shutdown(f)) => assert_eq!(f(), "late"),
    ///     _ => unreachable!(),
    /// }
    /// ```
    pub fn submit_with<F, T>(
        &self,
        options: SubmitOptions,
        f: F,
    ) -> Result<TaskHandle<T>, SubmitError<F>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let shared = self.shared();
        let SubmitOptions { weight, wait, help } = options;
        let wait = match wait {
            WaitFor::OrRun => {
                return submit_or_run(shared, weight, f).map_err(SubmitError::from_each_refusal)
            }
            WaitFor::Room if help => Wait::Forever,
            // The wait of `submit_timeout(f, Duration::MAX)`: as long as it takes, never helping.
            WaitFor::Room => Wait::Until(None),
            WaitFor::Nothing => Wait::No,
            WaitFor::Timeout(timeout) => Wait::timeout(timeout),
        };
        TaskHandle::submit(shared, weight, f, wait).map_err(SubmitError::from_each_refusal)
    }
}

/// Caller-runs for a task of any weight: `TaskHandle::submit_or_run`'s rule, whose own code
/// (weight 1) is left as it is. A slot and `weight` units if they are free; if not, and the task
/// could ever fit, it runs right here: under this thread's worker index on a worker of this
/// executor, as a helping producer anywhere else (refused if a shutdown began, so that a shutdown
/// never has it running behind its back).
fn submit_or_run<F, T>(
    shared: &Arc<Shared>,
    weight: u64,
    f: F,
) -> Result<TaskHandle<T>, (Refusal, F)>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let inline = |f| {
        let index = worker::index_in(&**shared).expect("on a worker or helping");
        TaskHandle::start_new(shared, Admission::Inline(index), f)
    };
    match shared.try_admit(weight) {
        Ok(admission) => Ok(TaskHandle::start_new(shared, admission, f)),
        Err(Refusal::Full) if worker::index_in(&**shared).is_some() => Ok(inline(f)),
        Err(Refusal::Full) => {
            let mut f = Some(f);
            shared.helping_unless_shut_down(|| inline(f.take().expect("run once"))).map_err(
                |refusal| {
                    shared.reject();
                    (refusal, f.take().expect("not run"))
                },
            )
        }
        Err(refusal) => {
            shared.reject();
            Err((refusal, f))
        }
    }
}
