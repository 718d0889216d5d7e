//! The three in-process strategies: bounded executor, one `partition_by` pass, and the naive
//! unbounded baseline.

use std::collections::HashMap;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{mpsc, Arc};

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
    /// The executor's bound on tasks in flight, if an executor ran.
    pub(crate) capacity: Option<usize>,
}

type Message = (String, std::result::Result<DataFrame, String>);

/// One task per code. The frame is shared through an `Arc` (one pointer copy per task; the data
/// is never copied). Each task sends its result over a channel; the producer keeps at most
/// `capacity()` results unconsumed, taking finished ones as they come, so no more than
/// `capacity()` result frames are ever alive, however many codes there are.
pub(crate) fn executor(
    exec: &BoundedExecutor,
    frame: DataFrame,
    codes: &[String],
    sink: &mut Sink,
) -> Result<Report> {
    let frame = Arc::new(frame);
    let capacity = exec.capacity();
    let (tx, rx) = mpsc::channel::<Message>();
    let mut outstanding = 0usize;
    let mut peak = 0usize;
    let take = |msg: Message, sink: &mut Sink| -> Result<()> {
        match msg {
            (code, Ok(found)) => sink.deliver(&code, Outcome::Frame(found)),
            (code, Err(why)) => {
                sink.fail(&code, why);
                Ok(())
            }
        }
    };
    for code in codes {
        // Consume whatever has finished; wait for one result when `capacity()` are unconsumed.
        while let Ok(msg) = rx.try_recv() {
            outstanding -= 1;
            take(msg, sink)?;
        }
        if outstanding == capacity {
            let msg = rx.recv().map_err(|_| anyhow!("a filter task vanished"))?;
            outstanding -= 1;
            take(msg, sink)?;
        }
        let frame = Arc::clone(&frame);
        let tx = tx.clone();
        let code = code.clone();
        // The handle is dropped: the result comes back over the channel, in completion order.
        let submitted = exec.submit(move || {
            let result = run_one(&frame, &code);
            // The receiver lives until every result is in, unless the run already failed.
            let _ = tx.send((code, result));
        });
        if let Err(err) = submitted {
            return Err(anyhow!("cannot submit a task: {err}"));
        }
        outstanding += 1;
        peak = peak.max(outstanding);
    }
    while outstanding > 0 {
        let msg = rx.recv().map_err(|_| anyhow!("a filter task vanished"))?;
        outstanding -= 1;
        take(msg, sink)?;
    }
    Ok(Report { peak_frames: peak, capacity: Some(capacity) })
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
    Ok(Report { peak_frames: peak, capacity: Some(exec.capacity()) })
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
    Ok(Report { peak_frames: peak, capacity: None })
}

/// One code's filter; a Polars error or a panic becomes a message for that code alone.
fn run_one(frame: &DataFrame, code: &str) -> std::result::Result<DataFrame, String> {
    match panic::catch_unwind(AssertUnwindSafe(|| select(frame, code))) {
        Ok(Ok(found)) => Ok(found),
        Ok(Err(e)) => Err(polars_msg(&e)),
        Err(payload) => Err(match payload.downcast_ref::<&str>() {
            Some(msg) => format!("panicked: {msg}"),
            None => match payload.downcast_ref::<String>() {
                Some(msg) => format!("panicked: {msg}"),
                None => "panicked".to_owned(),
            },
        }),
    }
}
