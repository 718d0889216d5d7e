//! The task queue: a crossbeam channel of type-erased jobs. It needs no bound of its own,
//! because a slot is taken before anything is pushed (see `shared`); it holds at most
//! `capacity()` live tasks plus the husks of tasks cancelled or run by a joining worker before a
//! worker popped them, and at most one `Stop` and one `Retire` at a time (each is passed on by
//! the worker it reaches; see `shared::threads`). Under `--cfg loom`, a mutex and condition
//! variable stand in for it.
//!
//! # Overflow
//!
//! The channel is crossbeam's array flavour, sized for the capacity the executor was built
//! with: it stays in cache and allocates nothing per message. A resize can raise the capacity
//! past that room. Then a push that finds the array full puts its message on an overflow list
//! instead of waiting, and every pop *refills* the array from that list, oldest first, so that
//! workers only ever wait on the array and never miss a message. The overflow list is counted
//! by `overflowing`, which a pop reads (one load) to skip the refill while the list is empty,
//! as it always is for an executor never raised past its room.
//!
//! No message is stranded on the list while the array has room: a push adds to the list and
//! then refills itself; a pop takes from the array and then refills. Either the pusher's refill
//! finds the room a pop made, or that pop's refill finds the pushed message. That is a store
//! (the count, or crossbeam's head) against a load (crossbeam's head, or the count) on each
//! side; both are `SeqCst` (crossbeam's head update and the fence before its full check are), so
//! the two cannot both miss.

#[cfg(not(loom))]
use std::collections::VecDeque;
#[cfg(not(loom))]
use std::time::Duration;

#[cfg(not(loom))]
use crate::sync::{AtomicUsize, Mutex, Ordering};
pub(crate) use crate::task::JobRef;

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
    /// Messages that found the array full (only past the room it was built with).
    overflow: Mutex<VecDeque<Message>>,
    /// `overflow.len()`, readable without the lock.
    overflowing: AtomicUsize,
}

/// Above this many entries, the queue is a linked list of blocks instead of one array.
#[cfg(not(loom))]
const LARGEST_ARRAY: usize = 1 << 16;

/// Room for the relays besides the tasks: one `Stop` and one `Retire`.
#[cfg(not(loom))]
const RELAYS: usize = 2;

#[cfg(not(loom))]
impl Queue {
    /// A queue for an executor of `capacity` slots.
    ///
    /// Until a resize raises the capacity, it never holds more than `capacity + RELAYS`
    /// messages: every `Run` holds a slot until it is popped, and at most one `Stop` and one
    /// `Retire` are queued at a time. An array of that size is never full, so nothing ever
    /// goes to the overflow list.
    pub(crate) fn new(capacity: usize) -> Self {
        let (tx, rx) = match capacity.checked_add(RELAYS) {
            Some(bound) if bound <= LARGEST_ARRAY => crossbeam_channel::bounded(bound),
            _ => crossbeam_channel::unbounded(),
        };
        Self { tx, rx, overflow: Mutex::new(VecDeque::new()), overflowing: AtomicUsize::new(0) }
    }

    /// Pushes `message`. Never waits: if the array is full, the message goes to the overflow
    /// list (see the module docs).
    #[inline]
    pub(crate) fn push(&self, message: Message) {
        // The queue owns both ends, so the channel cannot be disconnected.
        if let Err(crossbeam_channel::TrySendError::Full(message)) = self.tx.try_send(message) {
            self.overflow(message);
        }
    }

    #[cold]
    fn overflow(&self, message: Message) {
        {
            let mut overflow = self.overflow.lock();
            overflow.push_back(message);
            // ORDERING: SeqCst, against the load in `after_pop` (see the module docs).
            self.overflowing.fetch_add(1, Ordering::SeqCst);
        }
        self.refill();
    }

    /// Moves overflowed messages into the array while it has room, oldest first.
    #[cold]
    fn refill(&self) {
        let mut overflow = self.overflow.lock();
        while let Some(message) = overflow.pop_front() {
            if let Err(crossbeam_channel::TrySendError::Full(message)) = self.tx.try_send(message) {
                overflow.push_front(message);
                return;
            }
            self.overflowing.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// After a pop made room: refills the array if anything overflowed.
    #[inline]
    fn after_pop(&self) {
        // ORDERING: SeqCst, against the count's increment in `overflow` (see the module docs).
        if self.overflowing.load(Ordering::SeqCst) != 0 {
            self.refill();
        }
    }

    /// Waits for the next message.
    #[inline]
    pub(crate) fn pop(&self) -> Message {
        let message = self.rx.recv().unwrap_or(Message::Stop);
        self.after_pop();
        message
    }

    /// Waits at most `timeout` for the next message: `None` if none came.
    pub(crate) fn pop_timeout(&self, timeout: Duration) -> Option<Message> {
        let message = self.rx.recv_timeout(timeout).ok()?;
        self.after_pop();
        Some(message)
    }

    #[inline]
    pub(crate) fn try_pop(&self) -> Option<Message> {
        let message = self.rx.try_recv().ok()?;
        self.after_pop();
        Some(message)
    }

    /// Messages queued now (the array and the overflow list; a snapshot).
    pub(crate) fn len(&self) -> usize {
        self.rx.len() + self.overflowing.load(Ordering::Relaxed)
    }
}

#[cfg(loom)]
pub(crate) struct Queue {
    items: loom::sync::Mutex<std::collections::VecDeque<Message>>,
    ready: loom::sync::Condvar,
}

#[cfg(loom)]
impl Queue {
    pub(crate) fn new(_capacity: usize) -> Self {
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

    pub(crate) fn len(&self) -> usize {
        self.items.lock().unwrap().len()
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
