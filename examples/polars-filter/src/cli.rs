//! The command line: every option, its default and its validation.

use std::path::PathBuf;

use clap::{Parser, ValueEnum};

/// Select, for each code of a list, the rows of a CSV whose `code` column equals it, in parallel
/// through a bounded executor.
///
/// With no arguments it runs on the bundled data (five people) and the codes 0001, 00002, 0005.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
pub(crate) struct Args {
    /// CSV to read (columns `code`, then any of `name`, `age`, ...). Default: the bundled data.
    /// With --generate, the file to write first.
    #[arg(long, value_name = "PATH")]
    pub(crate) csv: Option<PathBuf>,

    /// Codes to select, comma-separated (blank entries are ignored, duplicates run once).
    #[arg(long, value_name = "A,B,C", conflicts_with = "codes_file")]
    pub(crate) codes: Option<String>,

    /// File with one code a line (blank lines are ignored).
    #[arg(long, value_name = "PATH")]
    pub(crate) codes_file: Option<PathBuf>,

    /// Executor workers (threads, or child processes running at once with --processes).
    /// Default: the number of cores.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub(crate) workers: Option<u32>,

    /// Tasks in flight per worker: the executor's capacity, and so the most result frames alive
    /// at once, is workers × this.
    #[arg(long, value_name = "R", default_value_t = 2,
          value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub(crate) queue_ratio: u32,

    /// Write each result to `DIR/<code>.csv` (header included) instead of printing it.
    #[arg(long, value_name = "DIR")]
    pub(crate) out: Option<PathBuf>,

    /// Write a synthetic CSV of this many rows to --csv's path, then run on it (by default on
    /// every generated code).
    #[arg(long, value_name = "ROWS", requires = "csv")]
    pub(crate) generate: Option<u64>,

    /// Distinct codes in the generated file.
    #[arg(long, value_name = "K", default_value_t = 1000, requires = "generate",
          value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    pub(crate) distinct_codes: u64,

    /// Seed of the generated file: the same seed gives the same bytes.
    #[arg(long, value_name = "S", default_value_t = 42, requires = "generate")]
    pub(crate) seed: u64,

    /// Run each code in a freshly spawned child process (never a fork), at most --workers at once.
    #[arg(long, conflicts_with = "strategy")]
    pub(crate) processes: bool,

    /// How to get the answer: one executor task per code (bounded), one `partition_by` pass, or
    /// every code submitted at once with every result kept (the unbounded baseline).
    #[arg(long, value_enum, default_value_t = Strategy::Executor)]
    pub(crate) strategy: Strategy,

    /// Print only the summary line (results are still computed and, with --out, written).
    #[arg(long, short)]
    pub(crate) quiet: bool,

    /// Hidden worker mode of --processes: select CODE from --csv and write the result to FILE.
    #[arg(long, hide = true, value_name = "CODE", requires = "worker_out")]
    pub(crate) worker_code: Option<String>,

    /// Hidden worker mode of --processes: where the child writes its result.
    #[arg(long, hide = true, value_name = "FILE", requires = "worker_code")]
    pub(crate) worker_out: Option<PathBuf>,
}

/// The three ways to the same answer (see the README for which to use when).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Strategy {
    /// One task per code on a `BoundedExecutor`; results consumed as they complete.
    Executor,
    /// One `DataFrame::partition_by_stable("code")` pass, then a lookup per code.
    PartitionBy,
    /// Every code submitted at once to an executor as large as the code list; all results kept.
    Naive,
}

impl Strategy {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Strategy::Executor => "executor",
            Strategy::PartitionBy => "partition-by",
            Strategy::Naive => "naive",
        }
    }
}
