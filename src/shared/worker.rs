//! Worker threads: their loop, and the thread-local that tells a thread which executors it
//! serves.
//!
//! # A thread's identities
//!
//! A thread can serve several executors at once: a worker of E1 whose task submits to a full E2
//! helps run E2's queued tasks (or runs its own with `submit_or_run`), and that task may submit
//! back to E1. Each of those calls must still see the thread as E1's worker, or a submit to a
//! full E1 would wait for a slot that only this thread can free. So the thread-local is a stack
//! of identities, one [`Frame`] per [`as_worker`] call on the thread's own call stack, linked
//! innermost first, and [`index_in`] finds any enclosing identity, not only the innermost.

use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::ptr::NonNull;

use super::{PoppedBy, Seat, Shared};
use crate::hooks::Hook;
use crate::queue::Message;
use crate::sync::Arc;
use crate::unwind::{self, LatePanic};

/// One identity of the current thread: worker `index` of `shared` (or the helpers' index), and
/// the identity it encloses. Lives on the stack of the [`as_worker`] call that links it.
struct Frame {
    /// Only compared, never followed.
    shared: NonNull<Shared>,
    index: usize,
    outer: Option<NonNull<Frame>>,
}

#[cfg(not(loom))]
std::thread_local! {
    /// The innermost identity of this thread, if any. `Cell` of a pointer: no destructor, so it
    /// can be read at any time, thread-local teardown included.
    static CURRENT: Cell<Option<NonNull<Frame>>> = const { Cell::new(None) };
}

#[cfg(loom)]
loom::thread_local! {
    static CURRENT: Cell<Option<NonNull<Frame>>> = Cell::new(None);
}

/// The calling thread's index among `shared`'s workers (or the helpers' index) if any of its
/// identities, innermost first, is one of `shared`'s. The `shared` pointer is only compared.
pub(crate) fn index_in(shared: *const Shared) -> Option<usize> {
    let mut next = CURRENT.with(Cell::get);
    while let Some(frame) = next {
        // SAFETY: every frame reachable from `CURRENT` lives on this thread's stack, in an
        // `as_worker` call that has not returned: `as_worker` links its frame before it calls
        // `f` and unlinks it (restores the outer one) when `f` returns or unwinds, and such
        // calls nest, so they unlink in the reverse order of linking. Only this thread reads
        // its own thread-local, and a linked frame is never written.
        let frame = unsafe { frame.as_ref() };
        if std::ptr::eq(frame.shared.as_ptr(), shared) {
            return Some(frame.index);
        }
        next = frame.outer;
    }
    None
}

/// Runs `f` with one more identity for the calling thread: worker `index` of `shared`. A
/// producer helping a full executor (see `Shared::help_while_full`) runs a queued task under the
/// same rules as a worker, so that a nested submit runs inline and a join runs the awaited task
/// instead of waiting for a slot that only the helped task can free. The thread keeps its other
/// identities meanwhile (see the module docs); the new one is removed when `f` returns or
/// unwinds.
pub(crate) fn as_worker<R>(shared: &Shared, index: usize, f: impl FnOnce() -> R) -> R {
    /// Unlinks the frame, on unwinding too.
    struct Unlink(Option<NonNull<Frame>>);
    impl Drop for Unlink {
        fn drop(&mut self) {
            CURRENT.with(|current| current.set(self.0));
        }
    }
    let outer = CURRENT.with(Cell::get);
    let frame = Frame { shared: NonNull::from(shared), index, outer };
    CURRENT.with(|current| current.set(Some(NonNull::from(&frame))));
    let _unlink = Unlink(outer);
    f()
}

/// A worker thread's body: the start hook, the loop, the stop hook, all as worker `index`.
/// `seat` says how the thread's reservation counted it (see `threads.rs`).
pub(crate) fn main(shared: Arc<Shared>, index: usize, mut seat: Seat) {
    // No two threads under one index at once: the one that had it before may still be in its
    // stop hook.
    shared.threads.wait_for_predecessor(index);
    as_worker(&shared, index, || {
        let hooks = &shared.threads.hooks;
        run_hook(&shared, hooks.on_start.as_ref(), index);
        // Tasks run under their own `catch_unwind`; what is left is user code that runs once a
        // task's slot is settled (a waker, the `Drop` of a result nobody joined or of a
        // cancelled closure). A panic there is contained: discarded (its payload's `Drop`
        // included), and the worker goes round again.
        // `seat` lives out here: a panic only ever comes from running a task, never from the
        // bookkeeping of waiting, so it is exact whenever the loop starts again.
        while let Err(payload) =
            panic::catch_unwind(AssertUnwindSafe(|| work(&shared, index, &mut seat)))
        {
            unwind::discard(payload);
        }
        shared.threads.count_exit();
        // Its index was freed as it decided to exit; a successor there waits for this hook to
        // return, and a `shutdown` for the thread's end (it joins every thread).
        if let Some(hook) = hooks.on_stop.as_ref() {
            run_hook(&shared, Some(hook), index);
            shared.threads.stop_hook_returned(index);
        }
    });
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
fn work(shared: &Arc<Shared>, index: usize, seat: &mut Seat) {
    let threads = &shared.threads;
    while let Some(message) = threads.next_message(shared, seat) {
        match message {
            Message::Run(job) => {
                // During a shrink, a worker beyond the new maximum leaves the task to those
                // that stay (see `Threads::retire_if_over_max`).
                if threads.shrinking() && threads.retire_if_over_max(shared, seat) {
                    Shared::push_task(shared, Message::Run(job));
                    return;
                }
                shared.execute(job, PoppedBy::Worker(index))
            }
            Message::Stop => return threads.exit_on_stop(shared, seat),
            Message::Retire => {
                if threads.retire_over_max(shared, seat) {
                    return;
                }
            }
        }
    }
}
