//! [`Scope`]: tasks that borrow from the caller's stack, bounded like every other task.
//!
//! # Why the borrow is sound
//!
//! A scoped task's closure and result may borrow anything that outlives `'env`. Their lifetime
//! is erased to put them in the queue, so the scope must not end while any of it may still be
//! touched. Each task captures a [`ScopeGuard`] *after* the user's closure (so it drops after
//! it), and its result is wrapped with another guard; `scope` waits until every guard is gone.
//! A guard goes when the closure was run and its result was taken or dropped, when the closure
//! was dropped unrun (cancelled), or when the closure panicked (the payload is `'static`). What
//! is left of the task after that, its header and an empty slot, borrows nothing.

use std::fmt;
use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe};

use crate::error::TaskError;
use crate::handle::TaskHandle;
use crate::queue::JobRef;
use crate::shared::worker;
use crate::shared::{Admission, Shared, Wait};
use crate::sync::{self, Arc, AtomicUsize, Mutex, Ordering, StdArc};
use crate::task::{Completion, Job, Task};
use crate::task_hooks::Hooked;
use crate::task_ref::TaskRef;
use crate::unwind::LatePanic;

/// A scope for tasks that borrow from the caller; see
/// [`BoundedExecutor::scope`](crate::BoundedExecutor::scope).
///
/// # Examples
///
/// ```
/// let exec = bounded_executor::BoundedExecutor::new(2);
/// let mut halves = [vec![3, 1], vec![4, 2]];
/// exec.scope(|s| {
///     for half in halves.iter_mut() {
///         let _ = s.submit(move || half.sort()); // detached: the scope waits for it
///     }
/// });
/// assert_eq!(halves, [vec![1, 3], vec![2, 4]]);
/// ```
pub struct Scope<'scope, 'env: 'scope> {
    shared: Arc<Shared>,
    state: StdArc<ScopeState>,
    /// Queued tasks, kept only when the scope runs on a worker of its own executor, which runs
    /// them itself at the end instead of idling (pruned as they are claimed).
    own_tasks: Option<OwnTasks>,
    scope: PhantomData<&'scope mut &'scope ()>,
    env: PhantomData<&'env mut &'env ()>,
}

/// The queued tasks of a scope that runs on worker `index` of its own executor.
struct OwnTasks {
    index: usize,
    queued: Mutex<Vec<JobRef>>,
}

#[derive(Default)]
struct ScopeState {
    /// Tasks whose closure or result may still borrow from the environment.
    live: AtomicUsize,
    /// Panics of tasks whose handles have not reported them.
    unobserved_panics: AtomicUsize,
}

impl ScopeState {
    fn key(&self) -> usize {
        &self.live as *const AtomicUsize as usize
    }
}

/// Counts one task as live until dropped.
struct ScopeGuard(StdArc<ScopeState>);

impl ScopeGuard {
    fn new(state: &StdArc<ScopeState>) -> Self {
        state.live.fetch_add(1, Ordering::Relaxed);
        Self(StdArc::clone(state))
    }
}

impl Drop for ScopeGuard {
    fn drop(&mut self) {
        // ORDERING: Release, so that everything the task did with borrowed data happens before
        // the scope's Acquire load sees the count fall.
        if self.0.live.fetch_sub(1, Ordering::Release) == 1 {
            sync::unpark_all(self.0.key());
        }
    }
}

/// A scoped closure with its guard, which is dropped after the closure (field order).
struct ScopedJob<F> {
    f: F,
    guard: ScopeGuard,
}

/// A scoped task's result: the guard goes when the value has been taken or dropped.
struct Scoped<T> {
    value: T,
    _guard: ScopeGuard,
}

impl<F> ScopedJob<F> {
    fn run<T>(self) -> Scoped<T>
    where
        F: FnOnce() -> T,
    {
        let ScopedJob { f, guard } = self;
        match panic::catch_unwind(AssertUnwindSafe(f)) {
            Ok(value) => Scoped { value, _guard: guard },
            Err(payload) => {
                guard.0.unobserved_panics.fetch_add(1, Ordering::Relaxed);
                drop(guard);
                panic::resume_unwind(payload)
            }
        }
    }
}

impl<'scope, 'env> Scope<'scope, 'env> {
    /// Submits a task that may borrow anything that outlives the scope, waiting while the
    /// executor is full; `scope` does not return before it has finished.
    ///
    /// # Panics
    ///
    /// If the executor has shut down (or this is a forked child), as
    /// [`std::thread::Scope::spawn`] panics when it cannot start a thread: a scope's tasks are
    /// part of its caller's work (`s.submit(|| data.sort())`), so a task that cannot run must
    /// not be skipped in silence. The closure is dropped unrun, the scope still waits for the
    /// tasks it accepted, and the panic comes out of [`BoundedExecutor::scope`](crate::BoundedExecutor::scope). Check
    /// [`is_shutdown`](crate::BoundedExecutor::is_shutdown) first where a shutdown can race the
    /// scope, or use [`BoundedExecutor::submit`](crate::BoundedExecutor::submit), which hands the
    /// closure back.
    ///
    /// ```
    /// let exec = bounded_executor::BoundedExecutor::new(1);
    /// exec.shutdown();
    /// let mut data = [3, 1, 2];
    /// let refused = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
    ///     exec.scope(|s| s.submit(|| data.sort()).join())
    /// }));
    /// assert!(refused.is_err());
    /// assert_eq!(data, [3, 1, 2]);
    /// ```
    ///
    /// # Deadlocks
    ///
    /// As [`BoundedExecutor::submit`](crate::BoundedExecutor::submit): from a worker of the
    /// same full executor, the task runs inline.
    ///
    /// # Examples
    ///
    /// ```
    /// let exec = bounded_executor::BoundedExecutor::new(2);
    /// let words = vec!["a", "bb", "ccc"];
    /// let total = exec.scope(|s| {
    ///     let handles: Vec<_> = words.iter().map(|w| s.submit(move || w.len())).collect();
    ///     handles.into_iter().map(|h| h.join().unwrap()).sum::<usize>()
    /// });
    /// assert_eq!(total, 6);
    /// ```
    ///
    /// A scoped task cannot outlive its scope:
    ///
    /// ```compile_fail
    /// let exec = bounded_executor::BoundedExecutor::new(1);
    /// let mut leaked = None;
    /// exec.scope(|s| {
    ///     leaked = Some(s.submit(|| 1)); // the handle cannot leave the scope
    /// });
    /// ```
    ///
    /// nor borrow what the scope does not outlive:
    ///
    /// ```compile_fail
    /// let exec = bounded_executor::BoundedExecutor::new(1);
    /// exec.scope(|s| {
    ///     let local = vec![1, 2, 3];
    ///     s.submit(|| local.len()); // `local` dies before the scope ends
    /// });
    /// ```
    ///
    /// and a value that is not `Send` cannot be moved into a task:
    ///
    /// ```compile_fail
    /// let exec = bounded_executor::BoundedExecutor::new(1);
    /// let rc = std::rc::Rc::new(5);
    /// exec.scope(|s| {
    ///     s.submit(move || *rc);
    /// });
    /// ```
    pub fn submit<F, T>(&'scope self, f: F) -> ScopedTaskHandle<'scope, T>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        let job = ScopedJob { f, guard: ScopeGuard::new(&self.state) };
        let admission = match self.shared.admit(1, Wait::Forever) {
            Ok(admission) => admission,
            Err(refusal) => {
                self.shared.reject();
                drop(job);
                refused(TaskError::from_refusal(refusal))
            }
        };
        // With per-task hooks, they go inside the guard, so that the scope outlives them.
        let (completion, queued) = if let Some(timed_for) = self.shared.times_task() {
            let ScopedJob { f, guard } = job;
            let hooked = Hooked::new(&self.shared, f, timed_for);
            let job = ScopedJob { f: move || hooked.run(), guard };
            Task::allocate(move || job.run(), admission.weight())
        } else {
            Task::allocate(move || job.run(), admission.weight())
        };
        // SAFETY: only the lifetime bound of the trait objects changes (same layout). The task
        // is never touched after its borrows end: `scope` waits for every guard, and a guard is
        // only dropped once the closure and the result are gone (see the module docs). The
        // handle is bound to `'scope`.
        let (completion, queued) = unsafe {
            (
                std::mem::transmute::<
                    TaskRef<dyn Completion<Scoped<T>> + 'scope>,
                    TaskRef<dyn Completion<Scoped<T>> + 'static>,
                >(completion),
                std::mem::transmute::<TaskRef<dyn Job + 'scope>, JobRef>(queued),
            )
        };
        if let (Some(own), Admission::Slot(_)) = (&self.own_tasks, admission) {
            {
                let mut queued_tasks = own.queued.lock();
                if queued_tasks.len() >= 2 * self.shared.capacity() {
                    queued_tasks.retain(|job| !job.header().is_claimed());
                }
                queued_tasks.push(queued.clone());
            }
            // A scope waiting at its end runs it (see `wait_all`).
            sync::unpark_all(self.state.key());
        }
        let handle = TaskHandle::start(&self.shared, admission, completion, queued);
        ScopedTaskHandle { inner: handle, state: StdArc::clone(&self.state), _scope: PhantomData }
    }

    /// Waits until no task's closure or result is left. On a worker of its own executor it
    /// runs its queued tasks itself meanwhile, including those they submit to the scope. Never
    /// unwinds before the wait is over: a panic out of a task run here (from a detached result's
    /// `Drop`) is returned, to be raised once nothing borrows from the environment any more.
    fn wait_all(&self) -> LatePanic {
        let mut first_panic = LatePanic::default();
        loop {
            if let Some(own) = &self.own_tasks {
                loop {
                    let queued = std::mem::take(&mut *own.queued.lock());
                    if queued.is_empty() {
                        break;
                    }
                    for job in queued {
                        first_panic.catch(|| {
                            self.shared.run_off_queue(&*job, own.index);
                        });
                    }
                }
            }
            // ORDERING: Acquire pairs with the guards' Release.
            if self.state.live.load(Ordering::Acquire) == 0 {
                return first_panic;
            }
            if self.shared.is_forked() {
                // The parent's workers do not exist here: nothing will touch the borrows again.
                return first_panic;
            }
            let should_park = || {
                self.state.live.load(Ordering::Acquire) != 0
                    && self.own_tasks.as_ref().is_none_or(|own| own.queued_is_empty())
            };
            sync::park(self.state.key(), should_park, None);
        }
    }
}

/// `Scope::submit` on an executor that refuses: out of line, as the rare path.
#[cold]
#[track_caller]
fn refused(err: TaskError) -> ! {
    panic!("Scope::submit: {err}")
}

impl OwnTasks {
    /// Whether nothing is queued, without blocking (`should_park` must not block): a lock held
    /// elsewhere means a submit is adding a task, so say "not empty" and look again.
    fn queued_is_empty(&self) -> bool {
        self.queued.try_lock().is_some_and(|queued| queued.is_empty())
    }
}

impl fmt::Debug for Scope<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope").field("live", &self.state.live.load(Ordering::Relaxed)).finish()
    }
}

/// Runs `f` with a new scope on `shared`'s executor; see
/// [`BoundedExecutor::scope`](crate::BoundedExecutor::scope).
pub(crate) fn run<'env, F, R>(shared: &Arc<Shared>, f: F) -> R
where
    F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> R,
{
    let scope = Scope {
        shared: Arc::clone(shared),
        state: Default::default(),
        own_tasks: worker::index_in(&**shared)
            .map(|index| OwnTasks { index, queued: Mutex::new(Vec::new()) }),
        scope: PhantomData,
        env: PhantomData,
    };
    let result = panic::catch_unwind(AssertUnwindSafe(|| f(&scope)));
    let helped = scope.wait_all();
    let mut late = LatePanic::default();
    let value = match result {
        Ok(value) => Some(value),
        Err(payload) => {
            late.keep(payload);
            None
        }
    };
    late.merge(helped);
    late.resume();
    if scope.state.unobserved_panics.load(Ordering::Relaxed) > 0 {
        panic!("a scoped task panicked and its handle was not joined");
    }
    value.expect("no panic, so `f` returned")
}

/// A handle to a scoped task; see [`Scope::submit`].
///
/// Like [`TaskHandle`], without `cancel` or `Future`: [`join`](Self::join) waits for the value.
/// Dropping it detaches the task, which still finishes before the scope ends; if it panicked,
/// the scope panics when it ends (as `std::thread::scope` does).
///
/// # Examples
///
/// ```
/// let exec = bounded_executor::BoundedExecutor::new(1);
/// let name = String::from("scoped");
/// let len = exec.scope(|s| s.submit(|| name.len()).join().unwrap());
/// assert_eq!(len, 6);
/// ```
#[must_use = "a dropped handle detaches its task, and a panic in it then panics the scope: \
              `join` it, or `let _ =` to detach"]
pub struct ScopedTaskHandle<'scope, T> {
    inner: TaskHandle<Scoped<T>>,
    state: StdArc<ScopeState>,
    _scope: PhantomData<&'scope ()>,
}

impl<'scope, T> ScopedTaskHandle<'scope, T> {
    /// Waits for the task and returns its value; a panic is returned as an error (and is then
    /// not propagated by the scope).
    ///
    /// # Deadlocks
    ///
    /// As [`TaskHandle::join`]: on a worker of the scope's executor, a task that has not started
    /// runs right here; otherwise this waits for the task, however long it runs.
    ///
    /// # Errors
    ///
    /// As [`TaskHandle::join`] (a task the scope accepted is never refused later).
    ///
    /// # Examples
    ///
    /// ```
    /// let exec = bounded_executor::BoundedExecutor::new(1);
    /// let mut data = vec![3, 1, 2];
    /// exec.scope(|s| {
    ///     let sorted = s.submit(|| { data.sort(); data.len() });
    ///     assert_eq!(sorted.join().unwrap(), 3);
    /// });
    /// assert_eq!(data, [1, 2, 3]);
    /// ```
    pub fn join(self) -> Result<T, TaskError> {
        match self.inner.join() {
            Ok(scoped) => Ok(scoped.value),
            Err(err) => {
                if err.is_panic() {
                    self.state.unobserved_panics.fetch_sub(1, Ordering::Relaxed);
                }
                Err(err)
            }
        }
    }

    /// True once the task has finished.
    ///
    /// # Examples
    ///
    /// ```
    /// let exec = bounded_executor::BoundedExecutor::new(1);
    /// exec.scope(|s| {
    ///     let h = s.submit(|| ());
    ///     while !h.is_finished() { std::thread::yield_now(); }
    /// });
    /// ```
    pub fn is_finished(&self) -> bool {
        self.inner.is_finished()
    }
}

impl<T> fmt::Debug for ScopedTaskHandle<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopedTaskHandle").field("finished", &self.is_finished()).finish()
    }
}
