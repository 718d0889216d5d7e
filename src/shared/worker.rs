//! Worker threads: their loop, and the thread-local that tells a thread which executor it serves.

use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::ptr::NonNull;

use super::{PoppedBy, Shared};
use crate::builder::Hook;
use crate::queue::Message;
use crate::sync::Arc;
use crate::unwind::{self, LatePanic};

/// Which executor the current thread works for, and its index there. (`NonNull`, so that an
/// `Option<Current>` takes two words, not three.)
#[derive(Clone, Copy)]
struct Current {
    shared: NonNull<Shared>,
    index: usize,
}

#[cfg(not(loom))]
std::thread_local! {
    static CURRENT: Cell<Option<Current>> = const { Cell::new(None) };
}

#[cfg(loom)]
loom::thread_local! {
    static CURRENT: Cell<Option<Current>> = Cell::new(None);
}

/// The calling thread's index among `shared`'s workers, if it is one of them. The pointer is only
/// compared, never followed.
pub(crate) fn index_in(shared: *const Shared) -> Option<usize> {
    CURRENT
        .with(|current| current.get())
        .filter(|c| std::ptr::eq(c.shared.as_ptr(), shared))
        .map(|c| c.index)
}

/// Runs `f` as worker `index` of `shared`: a producer helping a full executor (see
/// `Shared::help_while_full`) runs a queued task under the same rules as a worker, so that a
/// nested submit runs inline and a join runs the awaited task instead of waiting for a slot that
/// only the helped task can free. The previous value is restored, on unwinding too.
pub(crate) fn as_worker<R>(shared: &Shared, index: usize, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<Current>);
    impl Drop for Restore {
        fn drop(&mut self) {
            CURRENT.with(|current| current.set(self.0));
        }
    }
    let previous = CURRENT
        .with(|current| current.replace(Some(Current { shared: NonNull::from(shared), index })));
    let _restore = Restore(previous);
    f()
}

/// A worker thread's body: the start hook, the loop, the stop hook.
pub(crate) fn main(shared: Arc<Shared>, index: usize) {
    CURRENT.with(|current| current.set(Some(Current { shared: NonNull::from(&*shared), index })));
    let hooks = &shared.threads.hooks;
    run_hook(&shared, hooks.on_start.as_ref(), index);
    // Tasks run under their own `catch_unwind`; what is left is user code that runs once a
    // task's slot is settled (a waker, the `Drop` of a result nobody joined or of a cancelled
    // closure). A panic there is contained: discarded (its payload's `Drop` included), and the
    // worker goes round again.
    while let Err(payload) = panic::catch_unwind(AssertUnwindSafe(|| work(&shared, index))) {
        unwind::discard(payload);
    }
    shared.threads.count_exit();
    // Before the index is released, so that a returning `shutdown`, which joins every thread,
    // has seen every stop hook return.
    run_hook(&shared, hooks.on_stop.as_ref(), index);
    CURRENT.with(|current| current.set(None));
    shared.threads.release_index(index);
}

/// Runs a start or stop hook, containing its panic: counted in `Stats::hook_panics` and
/// discarded, so the worker goes on (or exits) as usual.
fn run_hook(shared: &Shared, hook: Option<&Hook>, index: usize) {
    if let Some(hook) = hook {
        let mut late = LatePanic::default();
        late.catch(|| hook.call(index));
        if late.discard() {
            shared.count_hook_panic();
        }
    }
}

/// Runs tasks until the worker is to exit: a `Stop`, a `Retire` while more than `max_workers`
/// are alive, or (lazy executors) a keep-alive without work. Every exit has been counted when
/// this returns.
fn work(shared: &Arc<Shared>, index: usize) {
    let threads = &shared.threads;
    while let Some(message) = threads.next_message(shared) {
        match message {
            Message::Run(job) => shared.execute(&*job, PoppedBy::Worker(index)),
            Message::Stop => return threads.exit_on_stop(shared),
            Message::Retire => {
                if threads.retire_over_max(shared) {
                    return;
                }
            }
        }
    }
}
