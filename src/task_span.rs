//! The `tracing` feature: a span per task, for the `tracing` ecosystem's subscribers.
//!
//! With the feature on, and a subscriber that wants them (`TRACE` level, target
//! `bounded_executor::task`), every task runs inside a span named `task`, opened on the thread
//! that runs it as the run starts and closed as it ends, with these fields:
//!
//! - `worker`: the worker's index, absent on a thread that is not one of the executor's workers
//!   (a helping producer, a `submit_or_run` caller);
//! - `queue_wait_ns`: from admission to the start of the run;
//! - `run_time_ns` and `panicked`: recorded as the closure returns or panics.
//!
//! Whether a task gets a span is asked on the thread that submits it, and the span is made on
//! the thread that runs it: install the subscriber as the global default
//! (`tracing::subscriber::set_global_default`), which every thread sees. A subscriber set for
//! one thread only (`with_default`) sees the spans of the tasks that thread both submits and
//! runs. While spans are wanted, every task is timed (as with a per-task hook), so
//! `Stats::timings` counts every task. When no subscriber wants them, the test is tracing's own
//! cached check of the callsite: a load and a branch per submit.

use std::time::Duration;

use tracing::field::Empty;
use tracing::{Level, Span};

/// The spans' target, for a subscriber's filter.
pub(crate) const TARGET: &str = "bounded_executor::task";

/// True if a subscriber wants task spans now.
#[inline]
pub(crate) fn wanted() -> bool {
    tracing::enabled!(target: TARGET, Level::TRACE)
}

/// The span of a task that starts now on worker `worker` (`None`: not a worker), after
/// `queue_wait` in the queue.
pub(crate) fn start(worker: Option<usize>, queue_wait: Duration) -> Span {
    tracing::span!(
        target: TARGET,
        Level::TRACE,
        "task",
        worker = worker.map(|index| index as u64),
        queue_wait_ns = nanos(queue_wait),
        run_time_ns = Empty,
        panicked = Empty,
    )
}

/// Records how the task's closure ended, before the span closes.
pub(crate) fn end(span: &Span, run_time: Duration, panicked: bool) {
    span.record("run_time_ns", nanos(run_time));
    span.record("panicked", panicked);
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}
