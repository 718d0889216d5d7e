//! Starting and ending tasks: counting an admitted task in and queueing it (or running it
//! inline), a task's run by a worker or a helping producer, husks (see `mod.rs`, `# Husks`),
//! settling a task ended off the queue (joined or cancelled by its handle), and the helping
//! scopes a producer runs tasks in.

use super::*;

impl Shared {
    /// Counts an admitted task in and starts it: queues it (`job` holds a slot), or runs it
    /// right here for an inline admission. [`TaskHandle`](crate::TaskHandle)'s constructors in
    /// `handle.rs` call this, then wrap the same allocation.
    #[inline]
    pub(crate) fn enqueue(shared: &Arc<Self>, admission: Admission, job: JobRef) {
        let this = &**shared;
        // Counted before the task can finish, so `completed` never runs ahead of `submitted`.
        bump(&this.producers.submitted, 1);
        match admission {
            Admission::Slot(weight) => {
                debug_assert_eq!(job.header().weight(), weight, "a task gives back what it took");
                Self::push_task(shared, Message::Run(job));
            }
            Admission::Inline(index) => this.run_inline(index, job),
        }
    }

    /// Runs an inline admission's task right here, on worker `index` (out of line: the queued
    /// path above stays small enough to inline into every submit).
    #[cold]
    #[inline(never)]
    fn run_inline(&self, index: usize, job: JobRef) {
        let counters = self.counters(index);
        // Never queued, so never popped: nothing to settle afterwards. (Nothing is detached or
        // awaited yet either, so no user code runs after the closure.) Not counted by `start`:
        // it holds no slot, so it is neither in flight nor running.
        let claim = job.run(&mut |panicked, _| {
            counters.finished(panicked);
            counters.finished_inline();
        });
        if let Claim::Won(ended) = claim {
            ended.late_panic.resume();
        }
    }

    /// Handles a job popped from the queue: runs it, or cancels it during `shutdown_now`; a husk
    /// just gives its slot back.
    ///
    /// # Panics
    ///
    /// With a panic from user code that ran after the task's outcome was published (see
    /// [`Ended::late_panic`]) or as the entry's reference freed the task, once the slot is
    /// settled.
    #[inline]
    pub(crate) fn execute(&self, job: JobRef, by: PoppedBy) {
        let counters = match by {
            PoppedBy::Worker(index) => Some(self.counters(index)),
            PoppedBy::Drain => None,
        };
        let (late_panic, _) = self.end_popped(job, counters, None);
        late_panic.resume();
    }

    /// Ends a job popped from the queue: runs it, counted in `counters`, or cancels it (the
    /// drain passes no counters; and once `shutdown_now` began), or, for a husk (claimed
    /// elsewhere), settles its slot. Then drops the entry's reference. Returns the panics of
    /// user code that ran after the task's outcome was published, and whether its slot was
    /// kept.
    ///
    /// The slot (and units) of a task this call ends is given back in `done`, unless `keep` is
    /// the task's weight: then it is left to the caller, a helping producer about to take a slot
    /// of that weight (see `help_while_full`).
    ///
    /// The reference is dropped here, inside the same containment as the run: it may be the
    /// task's last, and freeing a task runs user code too (the `Drop` of a waker its handle left
    /// stored before it was detached). A panic there must not escape before the caller has used
    /// or given back a kept slot.
    #[inline]
    pub(super) fn end_popped(
        &self,
        job: JobRef,
        counters: Option<&WorkerCounters>,
        keep: Option<u64>,
    ) -> (LatePanic, bool) {
        let (mut late_panic, kept) = self.end_popped_job(&*job, counters, keep).unwrap_or_default();
        late_panic.catch(move || drop(job));
        (late_panic, kept)
    }

    /// `end_popped` up to the reference's drop: `None` for a husk.
    #[inline]
    fn end_popped_job(
        &self,
        job: &dyn Job,
        counters: Option<&WorkerCounters>,
        keep: Option<u64>,
    ) -> Option<(LatePanic, bool)> {
        let mut kept = false;
        let mut give_back = |weight: u64| {
            if keep == Some(weight) {
                kept = true;
            } else {
                self.release(weight);
            }
        };
        // ORDERING: Relaxed; a job popped just as `shutdown_now` begins may still start, which is
        // what "not yet started" means for it. (`shutdown_now` drains the queue itself too.)
        let (claim, started) = match counters {
            Some(counters) if !self.cancelling.load(Ordering::Relaxed) => {
                counters.start();
                let claim = job.run(&mut |panicked, weight| {
                    counters.finished(panicked);
                    give_back(weight);
                });
                (claim, Some(counters))
            }
            _ => {
                let claim = job.cancel(&mut |weight| {
                    self.count_cancel(true);
                    give_back(weight);
                });
                (claim, None)
            }
        };
        match claim {
            // Popped by us, so nobody else could have: the slot was settled in `done`.
            Claim::Won(ended) => Some((ended.late_panic, kept)),
            // Claimed by a canceller or a joining worker: if it is done, this entry was the last
            // thing holding its slot; if not, whoever finishes it gives the slot back.
            Claim::Lost => {
                if let Some(counters) = started {
                    counters.unstart();
                }
                if job.header().mark_popped() {
                    self.settle_husk(job.header().weight());
                }
                None
            }
        }
    }

    /// Counts a task that ended off the queue, of `weight`, as a husk until its entry is popped.
    fn count_husk(&self, weight: u64) {
        // ORDERING: Relaxed; statistics (see `in_flight`).
        self.husks.fetch_add(1, Ordering::Relaxed);
        if weight != 0 {
            self.husk_units.fetch_add(weight, Ordering::Relaxed);
        }
    }

    /// Gives back the slot and units of a task of `weight` that ended off the queue, once its
    /// entry is popped too.
    fn settle_husk(&self, weight: u64) {
        // ORDERING: Relaxed; statistics (see `in_flight`), counted before the task's DONE was
        // published, so never taken below zero here.
        self.husks.fetch_sub(1, Ordering::Relaxed);
        if weight != 0 {
            self.husk_units.fetch_sub(weight, Ordering::Relaxed);
        }
        self.release(weight);
    }

    /// After a run or cancel of `job` off the queue: settles its slot if the entry was popped
    /// meanwhile, then raises a late panic. Returns true if this call ended the task.
    fn settle_off_queue(&self, job: &dyn Job, claim: Claim) -> bool {
        match claim {
            Claim::Lost => false,
            Claim::Won(Ended { entry_popped, late_panic }) => {
                if entry_popped {
                    self.settle_husk(job.header().weight());
                }
                late_panic.resume();
                true
            }
        }
    }

    /// Ends `job` on worker `index` of this executor, off the queue (a worker joining a task
    /// that has not started), unless it was claimed already: runs it, or, once `shutdown_now`
    /// began, cancels it, as the drain would have. Its queue entry becomes a husk. Returns true
    /// if this call ended it.
    ///
    /// Cancelling here is what lets `shutdown_now` finish when a task is pushed after its drain
    /// (by a producer that took its slot before the shutdown) and the only worker that could
    /// pop it is the one joining it.
    ///
    /// # Panics
    ///
    /// As [`execute`](Self::execute).
    pub(crate) fn run_off_queue(&self, job: &dyn Job, index: usize) -> bool {
        if self.cancelling.load(Ordering::Relaxed) {
            return self.cancel_off_queue_by(job, true);
        }
        let counters = self.counters(index);
        counters.start();
        let claim = job.run(&mut |panicked, weight| {
            counters.finished(panicked);
            self.count_husk(weight);
        });
        if let Claim::Lost = claim {
            counters.unstart();
        }
        self.settle_off_queue(job, claim)
    }

    /// Cancels `job` through its handle, unless it was claimed already. Its queue entry becomes
    /// a husk, which gives the slot back when a worker passes over it.
    ///
    /// # Panics
    ///
    /// If dropping the closure panics, once the slot is settled.
    pub(crate) fn cancel_off_queue(&self, job: &dyn Job) -> bool {
        self.cancel_off_queue_by(job, false)
    }

    fn cancel_off_queue_by(&self, job: &dyn Job, by_shutdown: bool) -> bool {
        let claim = job.cancel(&mut |weight| {
            self.count_cancel(by_shutdown);
            self.count_husk(weight);
        });
        self.settle_off_queue(job, claim)
    }

    fn count_cancel(&self, by_shutdown: bool) {
        // ORDERING: Release, as `completed` in `WorkerCounters::finished`: a task is cancelled
        // after its submit was counted, and `stats` acquires this count before it reads
        // `submitted`, so `completed + cancelled <= submitted` in every snapshot.
        self.cancelled.fetch_add(1, Ordering::Release);
        if by_shutdown {
            bump(&self.cancelled_by_shutdown, 1);
        }
    }

    /// Pushes a task, and on a lazy executor claims an idle worker for it, or starts one if
    /// none is idle (see `threads.rs`).
    #[inline]
    pub(crate) fn push_task(shared: &Arc<Self>, message: Message) {
        shared.queue.push(message);
        if shared.threads.is_lazy() {
            shared.threads.claim_or_spawn(shared);
        }
    }

    /// Runs a popped job on the calling thread, under its worker index if it is one of this
    /// executor's workers, as a helping producer otherwise; a late panic is contained, as on a
    /// worker.
    fn run_here(&self, job: JobRef) {
        let run = |index| {
            let (late_panic, _) = self.end_popped(job, Some(self.counters(index)), None);
            let _ = late_panic.discard();
        };
        match worker::index_in(self) {
            // A worker, or a helper already: waited for as such.
            Some(index) => run(index),
            None => self.helping(|| run(self.helper_index())),
        }
    }

    /// Runs `f` on the calling thread, which is not one of this executor's workers, as a
    /// helper: under the helpers' worker index (so that its nested submits and joins follow the
    /// workers' rules, see the crate docs, `# Deadlocks`), and counted among the helpers a
    /// shutdown waits for, until `f` has returned or unwound. Whatever task `f` runs ends, its
    /// result and its queue entry dropped, before a shutdown can return.
    pub(crate) fn helping<R>(&self, f: impl FnOnce() -> R) -> R {
        /// Leaves, on unwinding too.
        struct Leave<'a>(&'a Threads);
        impl Drop for Leave<'_> {
            fn drop(&mut self) {
                self.0.leave_helper();
            }
        }
        self.threads.enter_helper();
        let _leave = Leave(&self.threads);
        worker::as_worker(self, self.helper_index(), f)
    }

    /// As [`helping`](Self::helping), for a task that holds no slot (caller-runs on a full
    /// executor): refused if a shutdown began, so that a shutdown that does not see this helper
    /// never has a task running behind its back.
    pub(crate) fn helping_unless_shut_down<R>(&self, f: impl FnOnce() -> R) -> Result<R, Refusal> {
        self.helping(|| {
            // ORDERING: an AcqRel RMW, not a load, in the slot word's modification order with
            // `begin_shutdown`'s: if it comes first, `begin_shutdown` acquires our registration
            // (made before it), and the shutdown waits for us; if not, we see `SHUTDOWN`.
            if self.slots.fetch_add(0, Ordering::AcqRel) & SHUTDOWN != 0 {
                return Err(Refusal::Shutdown);
            }
            Ok(f())
        })
    }

    /// Runs every queued task on the calling thread: when no worker is left to run them,
    /// because the OS refused to start one.
    pub(crate) fn run_queued_here(&self) {
        while let Some(message) = self.queue.try_pop() {
            match message {
                Message::Run(job) => self.run_here(job),
                // No worker left for any of these.
                Message::Retire => self.threads.retire_taken(),
                Message::Stop => {}
            }
        }
    }
}
