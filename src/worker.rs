//! Worker threads: their loop, the thread-local that tells a thread which executor it serves, and
//! the help a worker gives while it waits on a task of its own executor.

use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::time::Instant;

use crate::executor::Shared;
use crate::queue::Message;
use crate::sync::Arc;
use crate::task::Completion;

/// Which executor the current thread works for, and its index there.
#[derive(Clone, Copy)]
struct Current {
    shared: *const Shared,
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
    CURRENT.with(|current| current.get()).filter(|c| c.shared == shared).map(|c| c.index)
}

/// A worker thread's body.
pub(crate) fn main(shared: Arc<Shared>, index: usize) {
    CURRENT.with(|current| current.set(Some(Current { shared: Arc::as_ptr(&shared), index })));
    // Tasks run under their own `catch_unwind`; what is left is user code in destructors (a
    // result nobody joined, dropped here). A panic there must not kill the worker: go round again.
    while panic::catch_unwind(AssertUnwindSafe(|| work(&shared, index))).is_err() {}
    CURRENT.with(|current| current.set(None));
    shared.worker_exited();
}

fn work(shared: &Shared, index: usize) {
    loop {
        match shared.queue.pop() {
            Message::Run(job) => shared.execute(&*job, index),
            Message::Stop => return,
        }
    }
}

/// Waits for `task`, a task of `shared`, on worker `index` of that same executor, without idling:
/// the task itself runs here if nobody has started it, and queued tasks run here while it runs
/// elsewhere. Returns true once it is done, false if `deadline` passed first (the check happens
/// between tasks, so a long task run meanwhile can make the return late).
pub(crate) fn wait_helping<T>(
    shared: &Shared,
    index: usize,
    task: &dyn Completion<T>,
    deadline: Option<Instant>,
) -> bool {
    if task.run(&mut |panicked| shared.finished(index, panicked)) {
        return true;
    }
    let header = task.header();
    loop {
        if header.is_done() {
            return true;
        }
        if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
            return false;
        }
        match shared.queue.try_pop() {
            Some(Message::Run(job)) => shared.execute(&*job, index),
            // The queue is empty of work: whatever we wait for is running on another thread,
            // which will finish it or help in turn.
            Some(Message::Stop) => {
                shared.queue.push(Message::Stop);
                return header.wait(deadline);
            }
            None => return header.wait(deadline),
        }
    }
}
