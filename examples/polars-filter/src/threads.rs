//! The whole-frame strategies: one bounded task per code, one `partition_by` pass, and the naive
//! unbounded baseline. Each reads the whole CSV into one frame first.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use anyhow::{anyhow, Result};
use bounded_executor::BoundedExecutor;
use polars::prelude::*;

use crate::data::{select, CODE};
use crate::error::polars_msg;
use crate::sink::{Outcome, Sink};

/// What a strategy reports for the summary line.
#[derive(Debug)]
pub(crate) struct Report {
    /// Result frames that were alive at once, at most.
    pub(crate) peak_frames: usize,
    /// The executor's workers and its bound on tasks in flight, if an executor ran.
    pub(crate) executor: Option<(usize, usize)>,
}

/// One task per code (`--strategy per-code`, the seed's pattern). The frame is shared through an
/// `Arc` (one pointer copy per task; the data is never copied). The executor's `map` keeps at most
/// `capacity()` tasks and untaken results, so no more than `capacity()` result frames are ever
/// alive, however many codes there are. Results come back in code-list order; every task scans
/// the whole frame, so the tasks cost the same and order costs no parallelism.
pub(crate) fn per_code(
    exec: &BoundedExecutor,
    frame: DataFrame,
    codes: &[String],
    sink: &mut Sink,
) -> Result<Report> {
    let frame = Arc::new(frame);
    // Result frames made and not yet consumed.
    let alive = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let (counter, task_peak) = (Arc::clone(&alive), Arc::clone(&peak));
    let results = exec.map(codes.to_vec(), move |code| {
        let found = run_one(&frame, &code);
        // ORDERING: Relaxed: counts for the summary line, no data is published through them.
        let now = counter.fetch_add(1, Ordering::Relaxed) + 1;
        task_peak.fetch_max(now, Ordering::Relaxed);
        found
    });
    for (code, result) in codes.iter().zip(results) {
        match result {
            Ok(found) => {
                match found {
                    Ok(found) => sink.deliver(code, Outcome::Frame(found))?,
                    Err(why) => sink.fail(code, why),
                }
                alive.fetch_sub(1, Ordering::Relaxed);
            }
            // The executor caught the panic: it fails this code only.
            Err(err) => sink.fail(code, err.to_string()),
        }
    }
    Ok(Report {
        peak_frames: peak.load(Ordering::Relaxed),
        executor: Some((exec.max_workers(), exec.capacity())),
    })
}

/// Every code submitted at once to an executor whose capacity is the whole list (in effect an
/// unbounded pool), every handle kept, every result joined before any is consumed: the memory
/// baseline the bounded version avoids.
pub(crate) fn naive(
    exec: &BoundedExecutor,
    frame: DataFrame,
    codes: &[String],
    sink: &mut Sink,
) -> Result<Report> {
    let frame = Arc::new(frame);
    let mut handles = Vec::with_capacity(codes.len());
    for code in codes {
        let frame = Arc::clone(&frame);
        let code = code.clone();
        let handle = exec
            .submit(move || run_one(&frame, &code))
            .map_err(|err| anyhow!("cannot submit a task: {err}"))?;
        handles.push(handle);
    }
    let results: Vec<_> = handles.into_iter().map(|h| h.join()).collect();
    let peak = results.len();
    for (code, result) in codes.iter().zip(results) {
        match result {
            Ok(Ok(found)) => sink.deliver(code, Outcome::Frame(found))?,
            Ok(Err(why)) => sink.fail(code, why),
            Err(err) => sink.fail(code, err.to_string()),
        }
    }
    Ok(Report { peak_frames: peak, executor: Some((exec.max_workers(), exec.capacity())) })
}

/// Polars' own way: one stable `partition_by("code")` pass splits the frame into one frame per
/// distinct code (in parallel on Polars' pool), then each requested code is a lookup. Every
/// partition is alive at once: together about one more copy of the input.
pub(crate) fn partition_by(frame: DataFrame, codes: &[String], sink: &mut Sink) -> Result<Report> {
    let parts = frame
        .partition_by_stable([CODE], true)
        .map_err(|e| anyhow!("partition_by failed: {}", polars_msg(&e)))?;
    let peak = parts.len();
    let mut by_code: HashMap<String, DataFrame> = HashMap::with_capacity(parts.len());
    for part in parts {
        let key = part
            .column(CODE)
            .and_then(|c| c.str().map(|s| s.get(0).map(str::to_owned)))
            .map_err(|e| anyhow!("partition_by failed: {}", polars_msg(&e)))?;
        if let Some(key) = key {
            by_code.insert(key, part);
        }
    }
    for code in codes {
        let found = by_code.remove(code).unwrap_or_else(|| frame.clear());
        sink.deliver(code, Outcome::Frame(found))?;
    }
    Ok(Report { peak_frames: peak, executor: None })
}

/// One code's filter; a Polars error becomes a message for that code alone (a panic is caught by
/// the executor and comes back through `join`).
fn run_one(frame: &DataFrame, code: &str) -> std::result::Result<DataFrame, String> {
    select(frame, code).map_err(|e| polars_msg(&e))
}
