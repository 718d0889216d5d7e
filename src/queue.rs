//! The task queue: a crossbeam channel of type-erased jobs. It needs no bound of its own,
//! because a slot is taken before anything is pushed (see `shared`); it holds at most
//! `capacity()` live tasks plus the husks of tasks cancelled or run by a joining worker before a
//! worker popped them, and at most one `Stop` and one `Retire` at a time (each is passed on by
//! the worker it reaches; see `shared::threads`). Under `--cfg loom`, a mutex and condition
//! variable stand in for it.
//!
//! # Spilling
//!
//! The channel is crossbeam's array flavour, sized for the capacity the executor was built
//! with: it stays in cache and allocates nothing per message. A resize can raise the capacity
//! past that room. Before it does, it turns *spilling* on, for good: a push that finds the array
//! full goes to an overflow list instead of waiting, and workers, which then look at both,
//! never wait on the array alone for more than `SPILL_POLL`. Turning it on also sends one
//! `Wake` per worker, so that none stays asleep on the array alone. Until then (and always,
//! for an executor never raised past its room), a push and a pop are the channel's own.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::sync::{AtomicBool, Mutex, Ordering, TaskArc};
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
    /// Nothing to do: look at the queue again (sent when spilling begins).
    Wake,
}

/// How long a worker of a spilling queue waits on the array before it looks at the overflow.
#[cfg(not(loom))]
const SPILL_POLL: Duration = Duration::from_millis(1);

#[cfg(not(loom))]
pub(crate) struct Queue {
    tx: crossbeam_channel::Sender<Message>,
    rx: crossbeam_channel::Receiver<Message>,
    /// How many `Run`s the array holds besides the relays (`usize::MAX` for the list flavour).
    room: usize,
    /// Set for good before the capacity may exceed `room` (see the module docs).
    spilling: AtomicBool,
    /// Messages that found the array full.
    overflow: Mutex<VecDeque<Message>>,
}

/// Above this many entries, the queue is a linked list of blocks instead of one array.
#[cfg(not(loom))]
const LARGEST_ARRAY: usize = 1 << 16;

/// Room for the relays besides the tasks: one `Stop` and one `Retire`.
const RELAYS: usize = 2;

#[cfg(not(loom))]
impl Queue {
    /// A queue for an executor of `capacity` slots.
    ///
    /// Until a resize raises the capacity, it never holds more than `capacity + RELAYS`
    /// messages: every `Run` holds a slot until it is popped, and at most one `Stop` and one
    /// `Retire` are queued at a time. An array of that size is never full, so a push never
    /// waits and never spills.
    pub(crate) fn new(capacity: usize) -> Self {
        let (tx, rx, room) = match capacity.checked_add(RELAYS) {
            Some(bound) if bound <= LARGEST_ARRAY => {
                let (tx, rx) = crossbeam_channel::bounded(bound);
                (tx, rx, capacity)
            }
            _ => {
                let (tx, rx) = crossbeam_channel::unbounded();
                (tx, rx, usize::MAX)
            }
        };
        Self {
            tx,
            rx,
            room,
            spilling: AtomicBool::new(false),
            overflow: Mutex::new(VecDeque::new()),
        }
    }

    /// The largest capacity the array serves without spilling.
    pub(crate) fn room(&self) -> usize {
        self.room
    }

    /// Turns spilling on, for good, and wakes up to `workers` workers asleep on the array.
    pub(crate) fn spill(&self, workers: usize) {
        // ORDERING: SeqCst, as the loads in `pop`: a worker that wakes on a `Wake` sent below
        // sees it (the channel orders the send before the receive), and the total order keeps
        // any later load from reading `false`.
        if self.spilling.swap(true, Ordering::SeqCst) {
            return;
        }
        for _ in 0..workers {
            if self.tx.try_send(Message::Wake).is_err() {
                // Full: no worker is asleep on an empty array.
                break;
            }
        }
    }

    #[inline]
    fn is_spilling(&self) -> bool {
        self.spilling.load(Ordering::SeqCst)
    }

    /// Pushes `message`. Never waits: the array is never full unless spilling is on (see the
    /// module docs), and then the message goes to the overflow.
    #[inline]
    pub(crate) fn push(&self, message: Message) {
        // The queue owns both ends, so the channel cannot be disconnected.
        if let Err(crossbeam_channel::TrySendError::Full(message)) = self.tx.try_send(message) {
            self.overflow.lock().push_back(message);
        }
    }

    /// Waits for the next message.
    #[inline]
    pub(crate) fn pop(&self) -> Message {
        if !self.is_spilling() {
            return self.rx.recv().unwrap_or(Message::Stop);
        }
        loop {
            if let Some(message) = self.pop_timeout(SPILL_POLL) {
                return message;
            }
        }
    }

    /// Waits at most `timeout` for the next message: `None` if none came.
    pub(crate) fn pop_timeout(&self, timeout: Duration) -> Option<Message> {
        if !self.is_spilling() {
            return self.rx.recv_timeout(timeout).ok();
        }
        let deadline = Instant::now().checked_add(timeout);
        loop {
            if let Some(message) = self.try_pop() {
                return Some(message);
            }
            let now = Instant::now();
            let left =
                deadline.map_or(SPILL_POLL, |deadline| deadline.saturating_duration_since(now));
            if left.is_zero() {
                return None;
            }
            if let Ok(message) = self.rx.recv_timeout(left.min(SPILL_POLL)) {
                return Some(message);
            }
        }
    }

    pub(crate) fn try_pop(&self) -> Option<Message> {
        match self.rx.try_recv() {
            Ok(message) => Some(message),
            Err(_) if self.is_spilling() => self.overflow.lock().pop_front(),
            Err(_) => None,
        }
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

    /// Never full under loom: no room to run out of, nothing to spill.
    pub(crate) fn room(&self) -> usize {
        usize::MAX
    }

    pub(crate) fn spill(&self, _workers: usize) {}

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
