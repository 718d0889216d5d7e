//! Worker threads: how many are alive, starting them (at build, then on demand), and waiting for
//! work, retiring idle ones after the keep-alive. Leaving (the `Stop` and `Retire` relays,
//! helping producers awaited at shutdown, joining) and resizing are in `threads/exit.rs`.
//!
//! # The threads word
//!
//! One atomic word holds the live workers, the *idle* ones among them, the *notified* ones (idle
//! workers a push has claimed), 21 bits each, and `STOPPED`. Every change is a read-modify-write
//! of this word (a CAS even when a decision changes nothing), so a push's spawn decision, an idle
//! worker's retirement and a shrink's retirement are totally ordered, each made on the latest
//! value.
//!
//! | field | raised by | lowered by |
//! |---|---|---|
//! | live | a reservation, before the thread is spawned: `fill_to_min` (at build, or a resize that raises `min_workers`), or a push that finds no worker idle | a worker that exits (`Stop`, `Retire`, keep-alive), or a spawn that failed |
//! | idle | a worker of a lazy executor about to wait for a message; a thread `fill_to_min` reserves is born idle | a push, which moves one to notified (its *claim*); a waiting worker that leaves the wait when no token is left (with a message, or to retire) |
//! | notified | a push that finds a worker idle | a waiting worker that leaves the wait: with a message, or when its keep-alive runs out (it then looks for the task itself) |
//! | `STOPPED` | `stop`, once the executor is shut down and every accepted task has run | never |
//!
//! Idle + notified is the number of workers waiting for a message. Whichever waiting worker
//! comes back first answers a push's claim (takes its token), whichever task it got: the counts
//! are what matter, not which worker a push thought of.
//!
//! # Lazy threads
//!
//! With `min_workers < max_workers` the executor is *lazy*. After every push, the pusher
//! *claims* an idle worker for its task (idle to notified), or, if none is idle and fewer than
//! `max_workers` are alive, reserves one more (born claimed: its first look at the queue is for
//! that task) and spawns it. So every push has a thread of its own that will look at the queue
//! after the task is in it, unless `max_workers` are alive: N pushes against k idle workers
//! start N - k threads, up to the maximum, and tasks that wait for each other get a thread each.
//! (A busy worker that takes a claimed task first only leaves a claimed worker with nothing to
//! do: one thread more than needed, never one less.)
//!
//! A worker that finds the queue empty counts itself idle and waits at most `keep_alive`. If a
//! message comes, it leaves the wait (takes a token if one is left, else its idle seat). If the
//! keep-alive runs out:
//!
//! - a token is left: a push claimed a waiting worker, and its RMW came before ours, so its task
//!   is in the queue (it was pushed before the claim): the worker takes the token and looks for
//!   it with `try_pop` (another thread may have taken it meanwhile: then it waits again);
//! - no token, more than `min_workers` alive: it retires, lowering live and idle in one RMW. No
//!   push counted on it: a push that comes after sees it gone and spawns;
//! - otherwise it stays, and waits as long as it takes.
//!
//! The failure this closes is a task queued while no thread will take it: a push that counted
//! on a worker that was about to take another task, or to retire. Modelled in
//! `loom_tests/threads.rs`.

mod exit;

use std::time::Duration;

use super::{worker, Shared};
use crate::hooks::Hooks;
use crate::queue::Message;
use crate::stats::{bump, Padded};
use crate::sync::thread::{self, JoinHandle};
use crate::sync::{
    self, Arc, AtomicBool, AtomicU64, AtomicUsize, Condvar, Mutex, Ordering, Parked,
};

/// Bits per count: room for `Builder::MAX_WORKERS` (2^16) and far beyond.
const FIELD_BITS: u32 = 21;
const FIELD_MASK: u64 = (1 << FIELD_BITS) - 1;
const LIVE: u64 = 1;
const IDLE: u64 = 1 << FIELD_BITS;
const NOTIFIED: u64 = 1 << (2 * FIELD_BITS);
const STOPPED: u64 = 1 << 63;

fn live(word: u64) -> usize {
    (word & FIELD_MASK) as usize
}

fn idle(word: u64) -> usize {
    ((word >> FIELD_BITS) & FIELD_MASK) as usize
}

fn notified(word: u64) -> usize {
    ((word >> (2 * FIELD_BITS)) & FIELD_MASK) as usize
}

/// How a thread a reservation counted starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Born {
    /// Counted idle (started by `fill_to_min`): claimable by a push before it even runs.
    Idle,
    /// For a push that found no worker idle: its first look at the queue is for that task.
    Claimed,
}

/// What a worker knows about its own place: in the threads word, and its index.
#[derive(Debug)]
pub(crate) struct Seat {
    /// Counted among the waiting (idle + notified).
    idle: bool,
    /// Its index (`0..max_workers` as of its spawn): its name, its hooks', its counters'.
    pub(crate) index: usize,
}

/// What a push decided (see `Threads::claim_or_spawn`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Push {
    /// An idle worker claimed (or the threads are stopped).
    Claimed,
    /// A new thread reserved.
    Spawn,
    /// `max_workers` alive, none idle: nothing to do.
    AtMax,
}

/// What a waiting worker's keep-alive ran out into (see `Threads::expire`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expired {
    /// A push's token taken: look for its task.
    Claimed,
    /// Counted out: the worker exits.
    Retired,
    /// `min_workers` are alive: wait as long as it takes.
    Stays,
}

/// How an executor's threads are started and how many there may be.
pub(crate) struct ThreadsConfig {
    pub(crate) max_workers: usize,
    /// `None`: follows `max_workers` (every thread started at once, never retired).
    pub(crate) min_workers: Option<usize>,
    pub(crate) keep_alive: Duration,
    pub(crate) name: String,
    pub(crate) stack_size: Option<usize>,
    pub(crate) hooks: Hooks,
}

/// The workers' join handles and indices.
///
/// An index is taken by a spawn (the lowest free one) and freed by its thread's decision to
/// exit, made under this lock with the RMW that counts the thread out of live. So a reservation
/// (live below `max_workers`) always finds a free index below `max_workers`: at most
/// `max_workers - 1` other threads hold one. The thread that freed it may still be running its
/// stop hook (`stopping`): its successor at that index waits for that hook to return before its
/// own start hook, so that no two threads ever run hooks or tasks under one index at once.
/// Without a stop hook nothing is left to wait for, and a successor never waits for the end of
/// the thread itself.
///
/// # Joining
///
/// Nobody ever joins a thread while holding this lock, and only a shutdown joins a thread that
/// has not finished. A thread that decided to exit still has steps to take, and one of them can
/// be this lock: a worker beyond a lowered `max_workers` that popped a task frees its index,
/// then queues the task again, and that push may spawn a thread (`spawn_reserved`). A spawn
/// that joined such a thread under the lock waited for it forever, and so did the producer
/// whose submit made the spawn (issue 19: once in ~550 runs of the resize stress test). So a
/// spawn moves the handle it replaces into `exited` and, after the lock, joins only the
/// threads there that have finished (their joins wait for nothing but their teardown).
#[derive(Default)]
struct Pool {
    /// `Some` from the spawn of the thread at that index until it is joined (at shutdown) or
    /// replaced by the next thread at that index (then moved to `exited`).
    handles: Vec<Option<JoinHandle<()>>>,
    /// Threads replaced at their index, which decided to exit, not joined yet: joined by a
    /// later spawn once finished, or at shutdown. At most the threads still on their way out.
    exited: Vec<JoinHandle<()>>,
    /// Whether the index belongs to a thread that has not decided to exit.
    in_use: Vec<bool>,
    /// Whether the thread that last had the index is still to return from its stop hook.
    stopping: Vec<bool>,
    /// Finished threads a spawn took out of `exited` and is joining after the lock: a shutdown
    /// waits for those joins too (on `Threads::stopped`), so that it returns with every thread
    /// joined.
    joins_elsewhere: usize,
}

/// An executor's worker threads (see the module docs).
pub(crate) struct Threads {
    word: AtomicU64,
    max: AtomicUsize,
    /// The effective `min_workers`: never above `max`.
    min: AtomicUsize,
    /// `min < max`: workers wait at most `keep_alive`, and a push may spawn one.
    lazy: AtomicBool,
    /// A `Retire` is queued (or in the hands of a thread that will queue it again): at most one
    /// is, however many resizes there are.
    retire_queued: AtomicBool,
    /// More than `max_workers` may be alive (a shrink is under way): a worker checks before it
    /// runs a task it popped (see `retire_if_over_max`). A hint, read with one `Relaxed`
    /// load per task; the threads word decides.
    over_max: AtomicBool,
    /// `min_workers` as configured (`None`: follows `max_workers`).
    min_config: Option<usize>,
    keep_alive: Duration,
    name: String,
    stack_size: Option<usize>,
    pub(super) hooks: Hooks,
    pool: Mutex<Pool>,
    /// Signalled as a stop hook returns (`Pool::stopping`), and as a spawn has joined the
    /// finished threads it took (`Pool::joins_elsewhere`).
    stopped: Condvar,
    /// Held by whoever joins the threads, so that concurrent shutdowns all return once they are
    /// joined.
    joining: Mutex<()>,
    pub(super) started: AtomicU64,
    pub(super) exited: AtomicU64,
    /// Threads that are not this executor's workers but are running one of its tasks now
    /// (`Shared::helping`), in the low bits, and `HELPERS_AWAITED`: a shutdown waits for them
    /// as it waits for the workers. On a line of its own: every helping producer writes it.
    helpers: Padded<AtomicUsize>,
}

/// In `Threads::helpers`: a shutdown is waiting (or has waited) for the count to reach zero.
const HELPERS_AWAITED: usize = 1 << (usize::BITS - 1);

impl Threads {
    /// Threads not started yet; `BoundedExecutor::start` starts `min_workers` of them.
    pub(crate) fn new(config: ThreadsConfig) -> Self {
        let max = config.max_workers;
        let min = config.min_workers.map_or(max, |min| min.min(max));
        Self {
            word: AtomicU64::new(0),
            max: AtomicUsize::new(max),
            min: AtomicUsize::new(min),
            lazy: AtomicBool::new(min < max),
            retire_queued: AtomicBool::new(false),
            over_max: AtomicBool::new(false),
            min_config: config.min_workers,
            keep_alive: config.keep_alive,
            name: config.name,
            stack_size: config.stack_size,
            hooks: config.hooks,
            pool: Mutex::new(Pool::default()),
            stopped: Condvar::new(),
            joining: Mutex::new(()),
            started: AtomicU64::new(0),
            exited: AtomicU64::new(0),
            helpers: Padded(AtomicUsize::new(0)),
        }
    }

    /// `workers` threads run by the caller (tests and loom models drive `Shared` by hand): they
    /// count as live, so that a shutdown sends them a `Stop`.
    pub(crate) fn external(workers: usize) -> Self {
        let threads = Self::new(ThreadsConfig {
            max_workers: workers,
            min_workers: None,
            keep_alive: Duration::ZERO,
            name: String::new(),
            stack_size: None,
            hooks: Hooks::default(),
        });
        threads.word.store(workers as u64, Ordering::Relaxed);
        threads
    }

    fn key(&self) -> usize {
        &self.word as *const AtomicU64 as usize
    }

    pub(crate) fn max(&self) -> usize {
        self.max.load(Ordering::Relaxed)
    }

    /// Live worker threads (started and not exited, or reserved and about to start).
    pub(crate) fn live(&self) -> usize {
        live(self.word.load(Ordering::Relaxed))
    }

    /// True if a push may have to start a thread.
    #[inline]
    pub(super) fn is_lazy(&self) -> bool {
        self.lazy.load(Ordering::Relaxed)
    }

    // ---- starting ------------------------------------------------------------------------

    /// Changes the word as `decide` says, with one RMW (a CAS even when nothing changes, so
    /// that the decision is made on the latest value: see the module docs), and returns what it
    /// decided along.
    fn update<T>(&self, decide: impl Fn(u64) -> (u64, T)) -> T {
        let mut current = self.word.load(Ordering::Relaxed);
        loop {
            let (next, decided) = decide(current);
            // ORDERING: AcqRel: a push's claim is acquired by the worker that takes the token,
            // which then sees the pushed task (see the module docs); an exit is acquired by the
            // shutdown that sees no thread left.
            match self.word.compare_exchange_weak(
                current,
                next,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return decided,
                Err(actual) => current = actual,
            }
        }
    }

    /// Takes back a reservation whose thread did not start (`born`: how it was counted); true
    /// if no thread is left.
    fn unreserve(&self, born: Born) -> bool {
        let previous = self.update(|word| {
            let mut next = word - LIVE;
            if born == Born::Idle {
                // Its idle seat, or the token a push left on it.
                next -= if idle(word) > 0 { IDLE } else { NOTIFIED };
            }
            (next, word)
        });
        self.exited_from(previous)
    }

    /// After a push on a lazy executor: *claims* an idle worker for the task (moves it from
    /// idle to notified), or, if none is idle, reserves and starts a new one, up to
    /// `max_workers`. So N pushes against k idle workers start N - k threads: an idle worker
    /// is never counted on by two pushes.
    pub(super) fn claim_or_spawn(&self, shared: &Arc<Shared>) {
        loop {
            let max = self.max();
            let decided = self.update(|word| {
                if word & STOPPED != 0 {
                    (word, Push::Claimed)
                } else if idle(word) > 0 {
                    (word - IDLE + NOTIFIED, Push::Claimed)
                } else if live(word) < max {
                    (word + LIVE, Push::Spawn)
                } else {
                    // `max_workers` are alive and none is idle: the task waits for the first
                    // to come back for work.
                    (word, Push::AtMax)
                }
            });
            match decided {
                Push::Claimed => return,
                // Born claimed: its first look at the queue is for this task. A refused thread
                // is handled there; the task waits for the threads alive.
                Push::Spawn => {
                    let _ = self.spawn_reserved(shared, Born::Claimed);
                    return;
                }
                // A resize that raised the maximum makes an RMW of the word before it counts
                // the queued tasks: if our RMW came after its, we now see its maximum (and try
                // again); if before, it counts our task (see `set_max`).
                Push::AtMax if self.max() > max => continue,
                Push::AtMax => return,
            }
        }
    }

    /// Starts threads until `min_workers` are alive: at build, and after a resize. Each is
    /// counted idle from its reservation on, so that a push right after `build` claims it
    /// rather than starting one more.
    pub(crate) fn fill_to_min(&self, shared: &Arc<Shared>) -> std::io::Result<()> {
        loop {
            let min = self.min.load(Ordering::Relaxed);
            let reserved = self.update(|word| {
                if word & STOPPED == 0 && live(word) < min {
                    (word + LIVE + IDLE, true)
                } else {
                    (word, false)
                }
            });
            if !reserved {
                return Ok(());
            }
            self.spawn_reserved(shared, Born::Idle)?;
        }
    }

    /// Spawns the thread a reservation counted, at the lowest free index. If the OS refuses it,
    /// the reservation is taken back; should no worker be left while tasks are queued, the
    /// caller runs them itself, so that none waits for a thread that will not come.
    fn spawn_reserved(&self, shared: &Arc<Shared>, born: Born) -> std::io::Result<()> {
        let mut pool = self.pool.lock();
        let index = pool.in_use.iter().position(|used| !used).unwrap_or(pool.in_use.len());
        if index == pool.in_use.len() {
            pool.in_use.push(false);
            pool.handles.push(None);
            pool.stopping.push(false);
        }
        // The thread that last had this index decided to exit, and may still be in its stop
        // hook: the new one waits for that (see `wait_for_predecessor`), never this spawner,
        // which may be a producer in the middle of a submit. Nor is it joined here: it may
        // need this very lock on its way out (see `Pool`, `# Joining`).
        if let Some(previous) = pool.handles[index].take() {
            pool.exited.push(previous);
        }
        let finished = take_finished(&mut pool.exited);
        pool.joins_elsewhere += usize::from(!finished.is_empty());
        let name = format!("{}-{index}", self.name);
        let for_thread = Arc::clone(shared);
        let seat = Seat { idle: born == Born::Idle, index };
        let spawned =
            thread::spawn(name, self.stack_size, move || worker::main(for_thread, index, seat));
        let result = match spawned {
            Ok(handle) => {
                pool.in_use[index] = true;
                pool.handles[index] = Some(handle);
                bump(&self.started, 1);
                drop(pool);
                Ok(())
            }
            Err(err) => {
                drop(pool);
                if self.unreserve(born) {
                    shared.run_queued_here();
                }
                Err(err)
            }
        };
        if !finished.is_empty() {
            for handle in finished {
                // Workers catch every panic of user code: nothing to report.
                let _ = handle.join();
            }
            self.pool.lock().joins_elsewhere -= 1;
            self.stopped.notify_all();
        }
        result
    }

    // ---- waiting for work ----------------------------------------------------------------

    /// A worker's next message, or `None` if it retired after `keep_alive` without one.
    pub(super) fn next_message(&self, shared: &Arc<Shared>, seat: &mut Seat) -> Option<Message> {
        let queue = &shared.queue;
        if !seat.idle {
            if let Some(message) = queue.try_pop() {
                return Some(message);
            }
            // About to wait: wake a producer that a batched release left asleep.
            shared.before_worker_waits();
            if !self.is_lazy() {
                return Some(queue.pop());
            }
            // ORDERING: AcqRel, see `update`: a push that does not see this RMW made its spawn
            // decision without counting on us.
            self.word.fetch_add(IDLE, Ordering::AcqRel);
            seat.idle = true;
        }
        loop {
            let message =
                if self.is_lazy() { queue.pop_timeout(self.keep_alive) } else { Some(queue.pop()) };
            if let Some(message) = message {
                self.leave_idle(seat);
                return Some(message);
            }
            match self.expire(seat) {
                Expired::Retired => return None,
                Expired::Claimed => {
                    // The claim's push came before the token we took, and so did its task.
                    // Another thread may have popped it meanwhile: then wait again.
                    if let Some(message) = queue.try_pop() {
                        return Some(message);
                    }
                    // ORDERING: AcqRel, as above.
                    self.word.fetch_add(IDLE, Ordering::AcqRel);
                    seat.idle = true;
                }
                Expired::Stays => {
                    // `min_workers` are alive: this one stays, and waits as long as it takes.
                    let message = queue.pop();
                    self.leave_idle(seat);
                    return Some(message);
                }
            }
        }
    }

    /// A waiting worker has a message: it is no longer counted among the waiting. It takes a
    /// push's token if one is left (whichever worker a push claimed, the first that comes back
    /// with a task answers it), else its own idle seat.
    fn leave_idle(&self, seat: &mut Seat) {
        self.update(|word| {
            // The waiting are counted in idle + notified, and we are one of them.
            let next = if notified(word) > 0 { word - NOTIFIED } else { word - IDLE };
            (next, ())
        });
        seat.idle = false;
    }

    /// A waiting worker's keep-alive ran out without a message. If a push left a token, the
    /// worker takes it and looks for that push's task itself; otherwise, if more than
    /// `min_workers` are alive, it retires (lowers live and idle in the same RMW). A worker
    /// still counted idle was claimed by no push, so nothing waits for it.
    fn expire(&self, seat: &mut Seat) -> Expired {
        let min = self.min.load(Ordering::Relaxed);
        // A retirement frees the index, under the pool lock (see `Pool`).
        let mut pool = self.pool.lock();
        let expired = self.update(|word| {
            if notified(word) > 0 {
                (word - NOTIFIED, Expired::Claimed)
            } else if live(word) > min && word & STOPPED == 0 {
                (word - LIVE - IDLE, Expired::Retired)
            } else {
                (word, Expired::Stays)
            }
        });
        match expired {
            Expired::Claimed => seat.idle = false,
            // Never the exit a shutdown waits for: only taken before `STOPPED`, and `stop`
            // reads the live count this exit lowered.
            Expired::Retired => {
                seat.idle = false;
                self.free_index(&mut pool, seat.index);
            }
            Expired::Stays => {}
        }
        expired
    }
}

/// Takes out of `exited` the threads that have finished (returned from their body), to be
/// joined once the pool lock is released; the others stay for a later spawn or the shutdown.
fn take_finished(exited: &mut Vec<JoinHandle<()>>) -> Vec<JoinHandle<()>> {
    // Under loom none is ever finished (see `thread::is_finished`): shutdown joins them all.
    if exited.is_empty() {
        return Vec::new();
    }
    let mut finished = Vec::new();
    let mut i = 0;
    while i < exited.len() {
        if thread::is_finished(&exited[i]) {
            finished.push(exited.swap_remove(i));
        } else {
            i += 1;
        }
    }
    finished
}

impl std::fmt::Debug for Threads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let word = self.word.load(Ordering::Relaxed);
        f.debug_struct("Threads")
            .field("live", &live(word))
            .field("idle", &idle(word))
            .field("notified", &notified(word))
            .field("max", &self.max())
            .finish_non_exhaustive()
    }
}

/// The pool's joins, on real threads.
#[cfg(all(test, not(loom)))]
mod tests {
    use std::sync::mpsc;
    use std::time::Instant;

    use super::*;

    /// A thread standing for a worker that decided to exit and is still on its way out (a
    /// worker beyond a lowered maximum that queues its task again may need the pool lock for
    /// that): it ends once `release` is sent, and says so on `ended`.
    fn on_its_way_out(
        ended: mpsc::Sender<&'static str>,
        name: &'static str,
    ) -> (JoinHandle<()>, mpsc::Sender<()>) {
        let (release, wait) = mpsc::channel();
        let handle = std::thread::spawn(move || {
            let _ = wait.recv_timeout(Duration::from_secs(60));
            let _ = ended.send(name);
        });
        (handle, release)
    }

    #[test]
    #[cfg_attr(miri, ignore = "threads and their joins, no unsafe code")]
    fn a_spawn_never_waits_for_a_thread_on_its_way_out_and_shutdown_joins_it() {
        let shared = Arc::new(Shared::new(1, 4).with_threads(ThreadsConfig {
            max_workers: 1,
            min_workers: Some(0),
            keep_alive: Duration::from_secs(3600),
            name: "joins".into(),
            stack_size: None,
            hooks: Hooks::default(),
        }));
        let (ended, ends) = mpsc::channel();
        let (last_at_index, release_last) = on_its_way_out(ended.clone(), "last at index 0");
        let (older, release_older) = on_its_way_out(ended, "older");
        {
            let mut pool = shared.threads.pool.lock();
            pool.in_use.push(false);
            pool.stopping.push(false);
            pool.handles.push(Some(last_at_index));
            pool.exited.push(older);
        }
        // A push with no worker alive reserves one and spawns it at index 0, which the thread
        // on its way out had: the spawn must not join it (nor the older one), or this waits
        // until their 60 s run out.
        let started = Instant::now();
        shared.threads.claim_or_spawn(&shared);
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the spawn waited for an exiting thread"
        );
        assert_eq!(shared.stats().threads_started, 1);
        assert!(ends.try_recv().is_err(), "neither thread has ended yet");
        // Until they finish, they wait for a later spawn (which joins finished ones only, see
        // the next test) or for the shutdown.
        {
            let pool = shared.threads.pool.lock();
            assert_eq!(pool.exited.len(), 2, "both wait in `exited`");
        }
        release_older.send(()).unwrap();
        assert_eq!(ends.recv_timeout(Duration::from_secs(30)), Ok("older"));
        // Shutdown joins every thread, the ones on their way out included.
        release_last.send(()).unwrap();
        shared.begin_shutdown();
        assert!(shared.wait_workers_exited(Some(Instant::now() + Duration::from_secs(30))));
        shared.threads.join_all();
        assert_eq!(ends.recv_timeout(Duration::from_secs(30)), Ok("last at index 0"));
        let pool = shared.threads.pool.lock();
        assert!(pool.exited.is_empty() && pool.handles.iter().all(Option::is_none));
    }

    #[test]
    #[cfg_attr(miri, ignore = "threads and their joins, no unsafe code")]
    fn finished_threads_are_taken_out_and_the_others_stay() {
        let done = std::thread::spawn(|| {});
        let (tx, rx) = mpsc::channel::<()>();
        let running = std::thread::spawn(move || {
            let _ = rx.recv_timeout(Duration::from_secs(60));
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        while !done.is_finished() {
            assert!(Instant::now() < deadline, "a thread with an empty body did not finish");
            std::thread::yield_now();
        }
        let mut exited = vec![done, running];
        let finished = take_finished(&mut exited);
        assert_eq!((finished.len(), exited.len()), (1, 1));
        for handle in finished {
            handle.join().unwrap();
        }
        tx.send(()).unwrap();
        exited.pop().unwrap().join().unwrap();
    }
}
