//! `polars-filter`: for each code of a list, the rows of a CSV whose `code` equals it, computed in
//! parallel through a [`BoundedExecutor`]. The default strategy streams the file through the
//! executor in blocks, so at most `capacity()` blocks are alive whatever the file's size.
//!
//! `cargo run --release -p polars-filter` runs on the bundled data; `--help` lists the options.
//! See `examples/polars-filter/README.md` for the design and the measurements.

mod blocks;
mod cli;
mod collect;
mod data;
mod error;
mod generate;
mod input;
mod interrupt;
mod outdir;
mod plan;
mod processes;
mod select;
mod sink;
mod stream;
mod threads;
mod writes;

use std::fs;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{anyhow, bail, Result};
use bounded_executor::BoundedExecutor;
use clap::Parser as _;

use crate::cli::{Args, Strategy};
use crate::input::{Input, Source};
use crate::outdir::OutDir;
use crate::sink::Sink;

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(args) => args,
        // --help and --version are not errors.
        Err(err) if !err.use_stderr() => {
            let _ = err.print();
            return ExitCode::SUCCESS;
        }
        // The documented contract for every error: one line, exit status 1.
        Err(err) => {
            let text = err.to_string();
            let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("bad arguments");
            let first = first.strip_prefix("error: ").unwrap_or(first);
            eprintln!("polars-filter: error: {} (see --help)", error::one_line(first));
            return ExitCode::FAILURE;
        }
    };
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        // A closed stdout (`| head`) is the reader saying "enough": end quietly.
        Err(err) if error::is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("polars-filter: error: {}", error::short(&format!("{err:#}")));
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<()> {
    let source = match &args.csv {
        Some(path) => Source::File(path.clone()),
        None => Source::Bundled,
    };
    if let Some(range) = &args.worker_range {
        if args.worker_watch_stdin {
            processes::exit_with_parent();
        }
        let codes =
            args.worker_codes.as_deref().ok_or_else(|| anyhow!("--worker-codes missing"))?;
        let header = args.worker_header.ok_or_else(|| anyhow!("--worker-header missing"))?;
        return processes::child(&source, codes, range, header, args.worker_input.as_deref());
    }

    interrupt::install()?;
    let start = Instant::now();
    if let (Some(rows), Some(path)) = (args.generate, &args.csv) {
        generate::write(path, rows, args.distinct_codes, args.seed, args.force)?;
        eprintln!(
            "generated {} ({rows} rows, {} codes, seed {}) in {:.3} s",
            path.display(),
            args.distinct_codes,
            args.seed,
            start.elapsed().as_secs_f64()
        );
    }

    if let (Some(plan_file), Some(range), Some(pieces)) =
        (&args.plan_file, args.range, &args.pieces)
    {
        if let Source::File(path) = &source {
            writes::protect(path, "the input given as --csv");
        }
        return plan::run_range(&source, plan_file, range, pieces);
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
    if args.out.is_some() || args.processes || args.plan {
        data::check_file_names(&codes)?;
    }
    // Never written, renamed over or removed, whatever their names.
    if let Source::File(path) = &source {
        writes::protect(path, "the input given as --csv");
    }
    if let Some(path) = &args.codes_file {
        writes::protect(path, "the codes file given as --codes-file");
    }
    // Opened before --out is touched: a missing or unreadable input costs no previous result.
    if let (true, Source::File(path)) = (args.plan, &source) {
        // Checked before the open: opening a FIFO waits for a writer.
        if fs::metadata(path).is_ok_and(|meta| !meta.is_file()) {
            bail!(
                "--plan needs a regular file: {} is not one (each range is read again by offset)",
                error::path(path)
            );
        }
    }
    let input = Input::open(&source, args.processes)?;
    if args.plan {
        return plan::print(&input, &codes, args.block_size);
    }
    let out = match &args.out {
        Some(dir) => {
            let out = OutDir::open(dir, &codes)?;
            interrupt::watch_out(dir);
            Some(out)
        }
        None => None,
    };

    let workers = match args.workers {
        Some(n) => n as usize,
        None => std::thread::available_parallelism().map_or(2, |n| n.get()),
    };
    let ratio = args.queue_ratio as usize;
    let streaming = args.processes || args.strategy == Strategy::Stream;
    let mut sink = Sink::new(out, args.quiet, codes.len(), streaming);

    let how = if streaming {
        let exec = build(workers, ratio)?;
        let opts =
            stream::Options { block_size: args.block_size, buffer_size: args.buffer_size, workers };
        let (name, totals) = if args.processes {
            ("processes", processes::run(&exec, &input, &codes, &mut sink, opts)?)
        } else {
            ("stream", stream::run(&exec, &input, &codes, &mut sink, opts)?)
        };
        let writes = match totals.writers {
            Some((threads, peak)) => {
                format!("; writes: {threads} threads, at most {} in flight", size(peak))
            }
            None => String::new(),
        };
        format!(
            "{name}: {workers} workers, capacity {}, at most {} in flight, {} read ({} each); {} \
             input rows{writes}{}",
            exec.capacity(),
            plural(totals.peak_blocks as u64, "block"),
            plural(totals.blocks, "block"),
            size(args.block_size as u64),
            totals.rows,
            timings(&exec.stats().timings),
        )
    } else {
        // Read once, in the parent: bad input fails here with one clear line instead of once per
        // code.
        let read_start = Instant::now();
        let frame = data::read_frame(&input)?;
        let read_secs = read_start.elapsed().as_secs_f64();
        let rows_in = frame.height();
        let report = match args.strategy {
            Strategy::Stream => unreachable!("streaming is handled above"),
            Strategy::PerCode => {
                threads::per_code(&build(workers, ratio)?, frame, &codes, &mut sink)?
            }
            Strategy::Naive => {
                // The executor holds every code at once; a worker more than there are codes
                // would never run anything.
                let exec = BoundedExecutor::builder()
                    .max_workers(workers.min(codes.len()))
                    .capacity(codes.len())
                    .thread_name("naive")
                    .build()
                    .map_err(|e| anyhow!("cannot build the executor: {e}"))?;
                threads::naive(&exec, frame, &codes, &mut sink)?
            }
            Strategy::PartitionBy => threads::partition_by(frame, &codes, &mut sink)?,
        };
        // The results were computed from a copy in memory, proven whole when it was read; the
        // file must still be that version when they are committed.
        if let Err(err) = input.verify() {
            writes::discard();
            return Err(err);
        }
        let bound = match report.executor {
            Some((workers, capacity)) => format!("{workers} workers, capacity {capacity}, "),
            None => String::new(),
        };
        format!(
            "{}: {bound}at most {} alive; {rows_in} input rows read in {read_secs:.3} s",
            args.strategy.name(),
            plural(report.peak_frames as u64, "result frame"),
        )
    };
    let rss = match sink::peak_rss() {
        Some(bytes) => format!("; peak RSS {}", size(bytes)),
        None => String::new(),
    };
    sink.finish(&format!("{how}{rss}"), start.elapsed())
}

/// The executor's task timings for the summary line: how long a block's task took (p50, p99)
/// and how long the producer waited for room (p99 of the submits that waited).
fn timings(timings: &bounded_executor::Timings) -> String {
    let (Some(p50), Some(p99)) = (timings.run_time.p50(), timings.run_time.p99()) else {
        return String::new();
    };
    let waits = match timings.submit_wait.p99() {
        Some(p99) => format!(
            "producer waited in {}, p99 {}",
            plural(timings.submit_wait.count(), "submit"),
            duration(p99)
        ),
        None => "producer never waited".to_owned(),
    };
    format!("; block time p50 {}, p99 {}; {waits}", duration(p50), duration(p99))
}

/// A duration in the unit that keeps it readable (`850 µs`, `12.5 ms`, `3.20 s`).
fn duration(d: std::time::Duration) -> String {
    let micros = d.as_secs_f64() * 1e6;
    if micros < 1_000.0 {
        format!("{micros:.0} µs")
    } else if micros < 1_000_000.0 {
        format!("{:.1} ms", micros / 1e3)
    } else {
        format!("{:.2} s", micros / 1e6)
    }
}

fn plural(n: u64, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// Bytes as the largest binary unit that keeps them at or above 1 (`4 MiB`, `289.3 MiB`).
fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if value.fract() == 0.0 {
        format!("{value} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

fn build(workers: usize, ratio: usize) -> Result<BoundedExecutor> {
    BoundedExecutor::builder()
        .max_workers(workers)
        .queue_ratio(ratio)
        .thread_name("filter")
        .build()
        .map_err(|e| anyhow!("cannot build the executor: {e}"))
}
