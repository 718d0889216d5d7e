//! The `tracing` feature (issue 24): a span per task, with its worker, queue wait, run time and
//! whether it panicked. Run with `cargo test -p bounded-executor --features tracing --test
//! tracing_spans` (`.ci/run` does). One test: the subscriber is the process's global default.
#![cfg(feature = "tracing")]

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bounded_executor::{BoundedExecutor, Builder};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// What the subscriber saw of one task span.
#[derive(Debug, Default, Clone)]
struct Seen {
    worker: Option<u64>,
    queue_wait_ns: Option<u64>,
    run_time_ns: Option<u64>,
    panicked: Option<bool>,
    entered: u32,
    closed: bool,
}

impl Visit for Seen {
    fn record_u64(&mut self, field: &Field, value: u64) {
        match field.name() {
            "worker" => self.worker = Some(value),
            "queue_wait_ns" => self.queue_wait_ns = Some(value),
            "run_time_ns" => self.run_time_ns = Some(value),
            _ => {}
        }
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        if field.name() == "panicked" {
            self.panicked = Some(value);
        }
    }
    fn record_debug(&mut self, _: &Field, _: &dyn std::fmt::Debug) {}
}

/// Keeps every task span it is given, by id.
#[derive(Default)]
struct Spans {
    next: AtomicU64,
    seen: Mutex<HashMap<u64, Seen>>,
}

/// The global subscriber: the test keeps the other handle.
struct Shared(Arc<Spans>);

impl std::ops::Deref for Shared {
    type Target = Spans;
    fn deref(&self) -> &Spans {
        &self.0
    }
}

impl Subscriber for Shared {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.target() == "bounded_executor::task"
    }
    fn new_span(&self, attributes: &Attributes<'_>) -> Id {
        assert_eq!(attributes.metadata().name(), "task");
        let id = self.next.fetch_add(1, Ordering::SeqCst) + 1;
        let mut seen = Seen::default();
        attributes.record(&mut seen);
        self.seen.lock().unwrap().insert(id, seen);
        Id::from_u64(id)
    }
    fn record(&self, span: &Id, values: &Record<'_>) {
        values.record(self.seen.lock().unwrap().get_mut(&span.into_u64()).unwrap());
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, _: &Event<'_>) {}
    fn enter(&self, span: &Id) {
        self.seen.lock().unwrap().get_mut(&span.into_u64()).unwrap().entered += 1;
    }
    fn exit(&self, _: &Id) {}
    fn try_close(&self, span: Id) -> bool {
        self.seen.lock().unwrap().get_mut(&span.into_u64()).unwrap().closed = true;
        true
    }
}

#[test]
fn every_task_runs_in_a_span_that_says_where_how_long_and_how_it_ended() {
    let _watchdog = common::test_watchdog(
        "tracing_spans::every_task_runs_in_a_span_that_says_where_how_long_and_how_it_ended",
    );
    let spans = Arc::new(Spans::default());
    tracing::subscriber::set_global_default(Shared(Arc::clone(&spans))).unwrap();

    // Workers (a producer that helps would run tasks here too: off, so that only the
    // caller-runs task below runs on this thread), panicking tasks, and caller-runs.
    let exec = Builder::new().max_workers(2).capacity(2).producer_helps(false).build().unwrap();
    const TASKS: u64 = 40;
    let handles: Vec<_> = (0..TASKS)
        .map(|i| {
            exec.submit(move || {
                if i % 10 == 3 {
                    panic!("task {i} panics in its span");
                }
            })
            .unwrap()
        })
        .collect();
    let mut panics = 0;
    for handle in handles {
        panics += u64::from(common::join_within(handle, "a spanned task").is_err());
    }
    let (gate, held) = common::occupy_workers(&exec);
    exec.submit_or_run(|| ()).unwrap();
    gate.open();
    for handle in held {
        common::join_within(handle, "a gated task").unwrap();
    }
    assert!(exec.wait_idle_timeout(common::WATCHDOG));
    exec.shutdown();
    let tasks = TASKS + 3; // the gated ones and the caller-run one

    let seen = spans.seen.lock().unwrap();
    assert_eq!(seen.len() as u64, tasks, "one span per task");
    for (id, span) in seen.iter() {
        assert!(span.closed && span.entered == 1, "span {id}: {span:?}");
        assert!(span.queue_wait_ns.is_some() && span.run_time_ns.is_some(), "span {id}: {span:?}");
        assert!(span.worker.is_none_or(|w| w < 2), "span {id}: {span:?}");
    }
    let panicked = seen.values().filter(|s| s.panicked == Some(true)).count() as u64;
    assert_eq!((panics, panicked), (4, 4));
    assert_eq!(seen.values().filter(|s| s.worker.is_none()).count(), 1, "the caller-run task");
    // While spans are wanted, every task is timed.
    assert_eq!(exec.stats().timings.run_time.count(), tasks);
    drop(seen);

    // Another executor in the same process, under the same subscriber, counts its tasks too.
    let plain = BoundedExecutor::new(1);
    plain.submit(|| ()).unwrap().join().unwrap();
    assert_eq!(plain.stats().completed, 1);
}
