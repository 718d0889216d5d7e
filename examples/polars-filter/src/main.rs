//! `polars-filter`: for each code of a list, the rows of a CSV whose `code` equals it, computed in
//! parallel through a [`BoundedExecutor`], so that at most `capacity()` result frames are alive
//! however many codes there are.
//!
//! `cargo run --release -p polars-filter` runs on the bundled data; `--help` lists the options.
//! See the README's "Polars filter example" section for the measurements.

mod cli;
mod data;
mod error;
mod generate;
mod processes;
mod sink;
mod threads;

use std::process::ExitCode;
use std::time::Instant;

use anyhow::{anyhow, bail, Result};
use bounded_executor::BoundedExecutor;
use clap::Parser;

use crate::cli::{Args, Strategy};
use crate::data::Source;
use crate::sink::Sink;

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("polars-filter: error: {}", error::one_line(&format!("{err:#}")));
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<()> {
    let source = match &args.csv {
        Some(path) => Source::File(path.clone()),
        None => Source::Bundled,
    };
    if let Some(code) = &args.worker_code {
        let out = args.worker_out.as_deref().ok_or_else(|| anyhow!("--worker-out missing"))?;
        return processes::child(&source, code, out);
    }

    let start = Instant::now();
    if let (Some(rows), Some(path)) = (args.generate, &args.csv) {
        generate::write(path, rows, args.distinct_codes, args.seed)?;
        eprintln!(
            "generated {} ({rows} rows, {} codes, seed {}) in {:.3} s",
            path.display(),
            args.distinct_codes,
            args.seed,
            start.elapsed().as_secs_f64()
        );
    }

    let codes = match (&args.codes, &args.codes_file) {
        (Some(list), _) => data::parse_codes(list.split(','), "--codes")?,
        (None, Some(path)) => data::read_codes_file(path)?,
        (None, None) if args.generate.is_some() => generate::codes(args.distinct_codes),
        (None, None) if matches!(source, Source::Bundled) => {
            data::BUNDLED_CODES.iter().map(|c| c.to_string()).collect()
        }
        (None, None) => bail!("empty code list: give --codes A,B,C or --codes-file PATH"),
    };
    if args.out.is_some() || args.processes {
        data::check_file_names(&codes)?;
    }
    if let Some(dir) = &args.out {
        sink::prepare_out(dir)?;
    }

    let workers = match args.workers {
        Some(n) => n as usize,
        None => std::thread::available_parallelism().map_or(2, |n| n.get()),
    };
    let ratio = args.queue_ratio as usize;
    let mut sink = Sink::new(args.out.clone(), args.quiet, codes.len());

    // Read once, in the parent, in every mode: bad input fails here with one clear line instead
    // of once per code.
    let read_start = Instant::now();
    let frame = data::read_frame(&source)?;
    let read_secs = read_start.elapsed().as_secs_f64();
    let rows_in = frame.height();

    let how = if args.processes {
        drop(frame);
        let exec = build(workers, ratio)?;
        let peak = processes::run(&exec, &source, &codes, &mut sink)?;
        format!(
            "processes: {workers} at once, capacity {}, at most {peak} results unconsumed",
            exec.capacity()
        )
    } else {
        let report = match args.strategy {
            Strategy::Executor => {
                threads::executor(&build(workers, ratio)?, frame, &codes, &mut sink)?
            }
            Strategy::Naive => {
                let exec = BoundedExecutor::builder()
                    .max_workers(workers)
                    .capacity(codes.len())
                    .thread_name("naive")
                    .build()
                    .map_err(|e| anyhow!("cannot build the executor: {e}"))?;
                threads::naive(&exec, frame, &codes, &mut sink)?
            }
            Strategy::PartitionBy => threads::partition_by(frame, &codes, &mut sink)?,
        };
        let bound = match report.capacity {
            Some(capacity) => format!("{workers} workers, capacity {capacity}, "),
            None => String::new(),
        };
        format!(
            "{}: {bound}at most {} result frames alive",
            args.strategy.name(),
            report.peak_frames
        )
    };
    let how = format!("{how}; {rows_in} input rows read in {read_secs:.3} s");
    sink.finish(&how, start.elapsed())
}

fn build(workers: usize, ratio: usize) -> Result<BoundedExecutor> {
    BoundedExecutor::builder()
        .max_workers(workers)
        .queue_ratio(ratio)
        .thread_name("filter")
        .build()
        .map_err(|e| anyhow!("cannot build the executor: {e}"))
}
