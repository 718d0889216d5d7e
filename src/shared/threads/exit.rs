//! Worker threads leaving: retiring past `max_workers`, exiting at `Stop`, waiting for helping
//! producers, joining the threads, and resizing (see `threads.rs` for the threads word).
//!
//! # Stopping and shrinking
//!
//! `Stop` and `Retire` travel as a relay: at most one of each is queued. The worker that takes
//! a `Stop` exits and, if workers are left, pushes the next `Stop`; one that takes a `Retire`
//! exits if more than `max_workers` are alive, and pushes the next `Retire` while that is still
//! so. So neither ever needs more room in the queue than one message, whatever the number of
//! workers, and a `Retire` left over from an earlier shrink is simply dropped.

use std::time::Instant;

use super::*;

impl Threads {
    // ---- exiting -------------------------------------------------------------------------

    /// A worker that took `Retire`: true if it is to exit (more than `max_workers` alive), in
    /// which case it is no longer counted live and has passed the relay on.
    pub(in crate::shared) fn retire_over_max(&self, shared: &Shared, seat: &Seat) -> bool {
        self.retire_taken();
        self.retire_if_over_max(shared, seat)
    }

    /// During a shrink: more than `max_workers` may be alive.
    #[inline]
    pub(in crate::shared) fn shrinking(&self) -> bool {
        self.over_max.load(Ordering::Relaxed)
    }

    /// Counts the calling worker out if more than `max_workers` are alive, and passes the
    /// `Retire` relay on; true if so. Clears the `shrinking` hint once the count is down.
    ///
    /// Also called by a worker that popped a task during a shrink: if it is to exit, the
    /// caller queues the task again for the workers that stay. Without this, idle workers
    /// beyond the new maximum took tasks pushed after the shrink (their pushes woke them before
    /// the `Retire` relay reached them), and more than `max_workers` ran at once.
    pub(in crate::shared) fn retire_if_over_max(&self, shared: &Shared, seat: &Seat) -> bool {
        let max = self.max();
        let retired = {
            // A retirement frees the index, under the pool lock (see `Pool`).
            let mut pool = self.pool.lock();
            let previous = self.update(|word| {
                if live(word) > max {
                    (word - LIVE, Some(word))
                } else {
                    (word, None)
                }
            });
            if previous.is_some() {
                self.free_index(&mut pool, seat.index);
            }
            previous
        };
        match retired {
            Some(previous) => {
                self.exited_from(previous);
                self.pass_retire_on(shared);
                true
            }
            None => {
                // ORDERING: SeqCst on this rare path and in `note_over_max`: a shrink that
                // stores `true` after lowering `max` either comes after our `false` or is seen
                // by our second look at `max`, so the hint is never left cleared while more
                // than `max_workers` are alive.
                self.over_max.store(false, Ordering::SeqCst);
                self.note_over_max();
                false
            }
        }
    }

    /// Sets the `shrinking` hint if more than `max_workers` are alive.
    fn note_over_max(&self) {
        if self.live() > self.max.load(Ordering::SeqCst) {
            self.over_max.store(true, Ordering::SeqCst);
        }
    }

    /// Sends a `Retire` while more than `max_workers` are alive, unless one is queued.
    fn pass_retire_on(&self, shared: &Shared) {
        // ORDERING: Relaxed; the flag only keeps `Retire`s from piling up. A worker clears it
        // before it reads the live count, so a shrink that finds it set has one coming.
        if self.live() > self.max() && !self.retire_queued.swap(true, Ordering::Relaxed) {
            shared.queue.push(Message::Retire);
        }
    }

    /// A `Retire` was taken off the queue (by a worker, or dropped for want of one).
    pub(in crate::shared) fn retire_taken(&self) {
        self.retire_queued.store(false, Ordering::Relaxed);
    }

    /// A worker that took `Stop` leaves, and passes it on to the next one, if any.
    pub(in crate::shared) fn exit_on_stop(&self, shared: &Shared, seat: &Seat) {
        let previous = {
            let mut pool = self.pool.lock();
            self.free_index(&mut pool, seat.index);
            self.word.fetch_sub(LIVE, Ordering::AcqRel)
        };
        if !self.exited_from(previous) {
            shared.queue.push(Message::Stop);
        }
    }

    /// A worker that left its loop, before its stop hook runs: counted in
    /// `Stats::threads_exited`.
    pub(in crate::shared) fn count_exit(&self) {
        bump(&self.exited, 1);
    }

    /// A worker that decided to exit frees its index (under the pool lock, with the RMW that
    /// counted it out): the next thread at that index waits for its stop hook, if any.
    pub(super) fn free_index(&self, pool: &mut Pool, index: usize) {
        pool.in_use[index] = false;
        pool.stopping[index] = self.hooks.on_stop.is_some();
    }

    /// A worker thread's first step: waits until the thread that had its index before it has
    /// returned from its stop hook, if it had one to run.
    pub(in crate::shared) fn wait_for_predecessor(&self, index: usize) {
        let mut pool = self.pool.lock();
        while pool.stopping[index] {
            self.stopped.wait(&mut pool);
        }
    }

    /// A worker's stop hook returned: the next thread at its index may start.
    pub(in crate::shared) fn stop_hook_returned(&self, index: usize) {
        let mut pool = self.pool.lock();
        pool.stopping[index] = false;
        drop(pool);
        self.stopped.notify_all();
    }

    /// After live went down from `previous`: wakes the shutdown if that was the last thread.
    pub(super) fn exited_from(&self, previous: u64) -> bool {
        let none_left = live(previous) == 1;
        if none_left && previous & STOPPED != 0 {
            sync::unpark_all(self.key());
        }
        none_left
    }

    /// Once shut down with nothing in flight: marks the threads stopped and starts the `Stop`
    /// relay.
    pub(in crate::shared) fn stop(&self, shared: &Shared) {
        let previous = self.word.fetch_or(STOPPED, Ordering::AcqRel);
        if previous & STOPPED != 0 {
            return;
        }
        if live(previous) == 0 {
            sync::unpark_all(self.key());
        } else {
            shared.queue.push(Message::Stop);
        }
    }

    /// Waits until the threads are stopped and every one has exited, then until no helper is
    /// left ending a task (see `enter_helper`), or `deadline`; true if so.
    pub(crate) fn wait_exited(&self, deadline: Option<Instant>) -> bool {
        let done = |word: u64| word & STOPPED != 0 && live(word) == 0;
        loop {
            // ORDERING: Acquire pairs with the exits' AcqRel: a shutdown that sees no thread
            // left sees every task's effects.
            if done(self.word.load(Ordering::Acquire)) {
                break;
            }
            let should_park = || !done(self.word.load(Ordering::Relaxed));
            if sync::park(self.key(), should_park, deadline) == Parked::TimedOut {
                if done(self.word.load(Ordering::Acquire)) {
                    break;
                }
                return false;
            }
        }
        self.wait_helpers(deadline)
    }

    // ---- helpers -------------------------------------------------------------------------

    fn helpers_key(&self) -> usize {
        &*self.helpers as *const AtomicUsize as usize
    }

    /// A thread that is not one of the workers is about to run tasks of this executor: a
    /// producer helping, a caller running its own task (`submit_or_run`), or `run_queued_here`.
    /// Until `leave_helper`, a shutdown waits for it.
    ///
    /// Why a shutdown that has seen the workers exit also sees this count (or its decrement):
    /// a helper registers before it pops a task, and gives the task's slot back (with
    /// `Release`) after; the release that takes the count to zero after `SHUTDOWN` acquires
    /// (`Shared::release_slow`, or `begin_shutdown` itself if it finds zero) before it stops
    /// the workers, and the shutdown acquires their exit. A caller-runs task holds no slot: its
    /// caller checks for `SHUTDOWN` with an RMW after registering (see `Shared::helping`).
    pub(in crate::shared) fn enter_helper(&self) {
        // ORDERING: AcqRel (see above). Every change of this word is an RMW, so its order with
        // the shutdown's `fetch_or` below decides who sees whom.
        self.helpers.fetch_add(1, Ordering::AcqRel);
    }

    /// A helper is done: whatever it ran has ended (published, its result and its queue entry
    /// dropped). Wakes a waiting shutdown if it was the last.
    pub(in crate::shared) fn leave_helper(&self) {
        // ORDERING: Release, so that a shutdown that sees the count reach zero sees the ended
        // tasks' effects; Acquire for `HELPERS_AWAITED`, set by an RMW of this word.
        let previous = self.helpers.fetch_sub(1, Ordering::AcqRel);
        if previous == HELPERS_AWAITED | 1 {
            sync::unpark_all(self.helpers_key());
        }
    }

    /// Waits until no helper is left, or `deadline`; true if so.
    fn wait_helpers(&self, deadline: Option<Instant>) -> bool {
        let count = |helpers: usize| helpers & !HELPERS_AWAITED;
        loop {
            // ORDERING: Acquire pairs with `leave_helper`'s Release (see `enter_helper`).
            if count(self.helpers.load(Ordering::Acquire)) == 0 {
                return true;
            }
            // Under the bucket lock `unpark_all` takes: the last helper either sees the flag
            // (its RMW comes after ours) and wakes us, or we see it gone.
            let should_park =
                || count(self.helpers.fetch_or(HELPERS_AWAITED, Ordering::AcqRel)) != 0;
            if sync::park(self.helpers_key(), should_park, deadline) == Parked::TimedOut {
                return count(self.helpers.load(Ordering::Acquire)) == 0;
            }
        }
    }

    /// Joins every thread started so far (after `wait_exited`, they have all left their loop).
    pub(crate) fn join_all(&self) {
        let _joining = self.joining.lock();
        let handles: Vec<_> = {
            let mut pool = self.pool.lock();
            let pool = &mut *pool;
            let mut handles: Vec<_> = pool.handles.iter_mut().filter_map(Option::take).collect();
            handles.append(&mut pool.exited);
            handles
        };
        for handle in handles {
            // Workers catch every panic of user code, so join only fails if the runtime aborted
            // the thread in a way we cannot do anything about.
            let _ = handle.join();
        }
        // And the finished threads a spawn is joining right now (see `Pool::joins_elsewhere`):
        // their joins wait for nothing but their teardown, never for us.
        let mut pool = self.pool.lock();
        while pool.joins_elsewhere > 0 {
            self.stopped.wait(&mut pool);
        }
    }

    /// In a forked child: forgets the parent's threads (they do not exist here) without ever
    /// blocking on a lock another thread may have held at the fork.
    pub(crate) fn forget_all(&self) {
        if let Some(mut pool) = self.pool.try_lock() {
            std::mem::forget(std::mem::take(&mut pool.handles));
            std::mem::forget(std::mem::take(&mut pool.exited));
        }
    }

    // ---- resizing ------------------------------------------------------------------------

    /// Sets `max_workers` (and `min_workers`, if it follows it or is above it): the caller has
    /// validated `max`. Starts threads up to the new minimum, and on a lazy executor claims or
    /// starts a thread for each task queued (up to the new maximum); sends the `Retire` relay
    /// if more than `max` are alive.
    pub(crate) fn set_max(&self, shared: &Arc<Shared>, max: usize) -> std::io::Result<()> {
        {
            // Under the pool lock, so that concurrent resizes apply in one order.
            let _pool = self.pool.lock();
            let min = self.min_config.map_or(max, |min| min.min(max));
            // ORDERING: SeqCst, see `retire_if_over_max`.
            self.max.store(max, Ordering::SeqCst);
            self.min.store(min, Ordering::Relaxed);
            self.lazy.store(min < max, Ordering::Relaxed);
        }
        self.note_over_max();
        self.pass_retire_on(shared);
        self.fill_to_min(shared)?;
        // Tasks queued while `max_workers` were busy found no thread to claim or start: a
        // higher maximum owes them one each now (or the claim of an idle one), as their
        // pushes would have had it been in force. The RMW orders this count against a push
        // deciding on the old maximum (see `claim_or_spawn`): a push whose RMW comes before
        // ours has its task queued by now, and one whose RMW comes after sees the new maximum.
        self.update(|word| (word, ()));
        if self.is_lazy() {
            // Each claims an idle worker or starts one: past twice the maximum, none can.
            for _ in 0..shared.queue.len().min(2 * max) {
                self.claim_or_spawn(shared);
            }
        }
        Ok(())
    }
}
