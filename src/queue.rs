//! The task queue: a crossbeam channel of type-erased jobs. It needs no bound of its own,
//! because a slot is taken before anything is pushed (see `shared`); it holds at most
//! `capacity()` live tasks plus the husks of tasks cancelled or run by a joining worker before a
//! worker popped them. Under `--cfg loom`, a mutex and condition variable stand in for it.

use crate::sync::TaskArc;
use crate::task::Job;

/// A queued task.
pub(crate) type JobRef = TaskArc<dyn Job>;

/// What a worker pops: a job, or the order to stop.
pub(crate) enum Message {
    Run(JobRef),
    Stop,
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
    /// It never holds more than `capacity + workers` messages: every `Run` holds a slot until it
    /// is popped, and at most one `Stop` per worker exists (sent once, when the count reaches
    /// zero after shutdown, and only ever handed back after that). So an array of that size
    /// never makes `push` wait: crossbeam's array flavor, which stays in cache and allocates
    /// nothing per message, is used whenever that array is small enough.
    pub(crate) fn new(capacity: usize, workers: usize) -> Self {
        let (tx, rx) = match capacity.checked_add(workers) {
            Some(bound) if bound <= LARGEST_ARRAY => crossbeam_channel::bounded(bound),
            _ => crossbeam_channel::unbounded(),
        };
        Self { tx, rx }
    }

    #[inline]
    pub(crate) fn push(&self, message: Message) {
        // The queue owns both ends, so the channel cannot be disconnected; and it is never full
        // (see `new`), so this never waits.
        let _ = self.tx.send(message);
    }

    /// Waits for the next message.
    #[inline]
    pub(crate) fn pop(&self) -> Message {
        self.rx.recv().unwrap_or(Message::Stop)
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

    pub(crate) fn push(&self, message: Message) {
        self.items.lock().unwrap().push_back(message);
        self.ready.notify_one();
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
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Queue { .. }")
    }
}
