//! The task queue: a crossbeam channel of type-erased jobs. It needs no bound of its own,
//! because a slot is taken before anything is pushed (see `shared`); it holds at most
//! `capacity()` live tasks plus the husks of tasks cancelled or run by a joining worker before a
//! worker popped them, and at most one `Stop` and one `Retire` at a time (each is passed on by
//! the worker it reaches; see `shared::threads`). Under `--cfg loom`, a mutex and condition
//! variable stand in for it.

use crate::sync::TaskArc;
use crate::task::Job;

/// A queued task.
pub(crate) type JobRef = TaskArc<dyn Job>;

/// What a worker pops: a job, or an order about the worker itself.
pub(crate) enum Message {
    Run(JobRef),
    /// Exit: the executor is shut down and every accepted task has run.
    Stop,
    /// Exit if more workers are alive than `max_workers` (the pool was shrunk).
    Retire,
}

#[cfg(not(loom))]
pub(crate) struct Queue {
    tx: crossbeam_channel::Sender<Message>,
    rx: crossbeam_channel::Receiver<Message>,
}

/// Above this many entries, the queue is a linked list of blocks instead of one array.
#[cfg(not(loom))]
const LARGEST_ARRAY: usize = 1 << 16;

#[cfg(not(loom))]
impl Queue {
    /// A queue for an executor of `capacity` slots and `workers` workers.
    ///
    /// Until the executor is resized, it never holds more than `capacity + 2` messages: every
    /// `Run` holds a slot until it is popped, and at most one `Stop` and one `Retire` are queued
    /// at a time. So an array of `capacity + workers` (at least that) is never full:
    /// crossbeam's array flavor, which stays in cache and allocates nothing per message, is
    /// used whenever that array is small enough. Once `set_max_workers` or `set_capacity`
    /// raises the capacity past the array, a push can find it full: `try_push` says so, and
    /// the pusher runs a queued task itself (see `Shared::push`).
    pub(crate) fn new(capacity: usize, workers: usize) -> Self {
        let (tx, rx) = match capacity.checked_add(workers) {
            Some(bound) if bound <= LARGEST_ARRAY => crossbeam_channel::bounded(bound),
            _ => crossbeam_channel::unbounded(),
        };
        Self { tx, rx }
    }

    /// Pushes `message` unless the queue is full (only possible past the capacity it was built
    /// for; see `new`): then it is handed back. Never waits.
    #[inline]
    pub(crate) fn try_push(&self, message: Message) -> Result<(), Message> {
        // The queue owns both ends, so the channel cannot be disconnected.
        self.tx.try_send(message).map_err(|err| err.into_inner())
    }

    /// Waits for the next message.
    #[inline]
    pub(crate) fn pop(&self) -> Message {
        self.rx.recv().unwrap_or(Message::Stop)
    }

    /// Waits at most `timeout` for the next message: `None` if none came.
    pub(crate) fn pop_timeout(&self, timeout: std::time::Duration) -> Option<Message> {
        self.rx.recv_timeout(timeout).ok()
    }

    pub(crate) fn try_pop(&self) -> Option<Message> {
        self.rx.try_recv().ok()
    }
}

#[cfg(loom)]
pub(crate) struct Queue {
    items: loom::sync::Mutex<std::collections::VecDeque<Message>>,
    ready: loom::sync::Condvar,
}

#[cfg(loom)]
impl Queue {
    pub(crate) fn new(_capacity: usize, _workers: usize) -> Self {
        Self {
            items: loom::sync::Mutex::new(Default::default()),
            ready: loom::sync::Condvar::new(),
        }
    }

    /// Never full under loom.
    pub(crate) fn try_push(&self, message: Message) -> Result<(), Message> {
        self.items.lock().unwrap().push_back(message);
        self.ready.notify_one();
        Ok(())
    }

    pub(crate) fn pop(&self) -> Message {
        let mut items = self.items.lock().unwrap();
        loop {
            if let Some(message) = items.pop_front() {
                return message;
            }
            items = self.ready.wait(items).unwrap();
        }
    }

    pub(crate) fn try_pop(&self) -> Option<Message> {
        self.items.lock().unwrap().pop_front()
    }

    /// Under loom, a timed wait may time out at once: the model explores an idle worker's
    /// keep-alive ending at every point (loom's own timed waits never time out).
    pub(crate) fn pop_timeout(&self, _timeout: std::time::Duration) -> Option<Message> {
        self.try_pop()
    }
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Queue { .. }")
    }
}
