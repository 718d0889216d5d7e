//! The command line: every option, its default and its validation.

use std::path::PathBuf;

use clap::{Parser, ValueEnum};

use crate::blocks::MAX_BLOCK_SIZE;

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

    /// Tasks in flight per worker: the executor's capacity, and so the most blocks (stream) or
    /// result frames (per-code) alive at once, is workers × this.
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

    /// Distinct codes in the generated file (at most a million: by default each becomes a result
    /// file).
    #[arg(long, value_name = "K", default_value_t = 1000, requires = "generate",
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub(crate) distinct_codes: u64,

    /// With --generate: overwrite an existing --csv file (without it, an existing file is refused).
    #[arg(long, requires = "generate")]
    pub(crate) force: bool,

    /// Seed of the generated file: the same seed gives the same bytes.
    #[arg(long, value_name = "S", default_value_t = 42, requires = "generate")]
    pub(crate) seed: u64,

    /// The stream strategy with each block handled by a freshly spawned child process (never a
    /// fork) that reads only its block's bytes, at most --workers at once.
    #[arg(long, conflicts_with = "strategy")]
    pub(crate) processes: bool,

    /// How to get the answer: stream the file through the executor in blocks (bounded memory),
    /// one executor task per code on the whole frame, one `partition_by` pass, or every code
    /// submitted at once with every result kept (the unbounded baseline).
    #[arg(long, value_enum, default_value_t = Strategy::Stream)]
    pub(crate) strategy: Strategy,

    /// Bytes per block of the stream strategy (suffixes K, M, G: powers of 1024), at most 256M.
    /// Each block is cut at a row end; at most capacity() blocks are alive at once.
    #[arg(long, value_name = "BYTES", default_value = "2M", value_parser = parse_block_size)]
    pub(crate) block_size: usize,

    /// Print only the summary line (results are still computed and, with --out, written).
    #[arg(long, short)]
    pub(crate) quiet: bool,

    /// Bytes of results the stream strategy holds before appending them to their files (suffixes
    /// K, M, G). Each append opens, writes and closes one file at a time, whatever the number of
    /// codes.
    #[arg(long, value_name = "BYTES", default_value = "64M", value_parser = parse_size)]
    pub(crate) buffer_size: usize,

    /// Print the plan of --csv and exit: where its blocks are cut (at --block-size, as the
    /// stream cuts them), the input's identity, the header, and the code list, exactly as
    /// numbered. A distributed run hands each range to a `--range` task (see
    /// examples/polars-filter/distributed/).
    #[arg(long, requires = "csv", conflicts_with_all = ["out", "processes", "plan_file"])]
    pub(crate) plan: bool,

    /// Range mode: the plan (written by --plan) whose range --range runs.
    #[arg(long, value_name = "PATH", requires_all = ["range", "pieces", "csv"],
          conflicts_with_all = ["out", "processes", "codes", "codes_file"])]
    pub(crate) plan_file: Option<PathBuf>,

    /// Range mode: run range K (from 0) of --plan-file alone: read its bytes only, select, parse
    /// and split them as a stream task does, and write its pieces to --pieces.
    #[arg(long, value_name = "K", requires = "plan_file")]
    pub(crate) range: Option<usize>,

    /// Range mode: the new (or empty) directory for the range's pieces: `<code>.rows` (rows
    /// without a header) for each code with rows, then `_RANGE`, which says it is complete.
    #[arg(long, value_name = "DIR", requires = "plan_file")]
    pub(crate) pieces: Option<PathBuf>,

    /// Hidden worker mode of --processes: the block to handle, as OFFSET:LEN in bytes.
    #[arg(long, hide = true, value_name = "OFFSET:LEN", requires_all = ["worker_header", "worker_codes"])]
    pub(crate) worker_range: Option<String>,

    /// Hidden worker mode of --processes: the parent's code list, exactly (see `processes.rs`).
    #[arg(long, hide = true, value_name = "PATH", requires = "worker_range")]
    pub(crate) worker_codes: Option<PathBuf>,

    /// Hidden worker mode of --processes: the identity (device, inode, size, modification time) of
    /// the file the parent cut, so that a child never reads another version of it.
    #[arg(long, hide = true, value_name = "ID", requires = "worker_range")]
    pub(crate) worker_input: Option<String>,

    /// Hidden worker mode of --processes: exit as soon as stdin ends (the parent is gone).
    #[arg(long, hide = true, requires = "worker_range")]
    pub(crate) worker_watch_stdin: bool,

    /// Hidden worker mode of --processes: the header's length in bytes, from offset 0.
    #[arg(long, hide = true, value_name = "LEN", requires = "worker_range")]
    pub(crate) worker_header: Option<usize>,
}

/// `2M`, `512K`, `1G` or plain bytes; at least 1.
fn parse_size(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let (digits, shift) = match text.char_indices().last() {
        Some((i, 'k' | 'K')) => (&text[..i], 10),
        Some((i, 'm' | 'M')) => (&text[..i], 20),
        Some((i, 'g' | 'G')) => (&text[..i], 30),
        _ => (text, 0),
    };
    let n: usize = digits.parse().map_err(|_| format!("not a size: {text:?} (try 2M)"))?;
    match n.checked_mul(1 << shift) {
        Some(0) => Err("the block size must be at least 1 byte".to_owned()),
        Some(bytes) => Ok(bytes),
        None => Err(format!("too large: {text}")),
    }
}

/// A size for `--block-size`: at most [`MAX_BLOCK_SIZE`].
fn parse_block_size(text: &str) -> Result<usize, String> {
    match parse_size(text)? {
        bytes if bytes > MAX_BLOCK_SIZE => {
            Err(format!("{text} is more than the largest block size, {}M", MAX_BLOCK_SIZE >> 20))
        }
        bytes => Ok(bytes),
    }
}

/// The ways to the same answer (see the example's README for which to use when).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Strategy {
    /// The file read in blocks, each block filtered and split by code on a `BoundedExecutor`.
    Stream,
    /// The whole file in one frame, one task per code on a `BoundedExecutor`.
    #[value(alias = "executor")]
    PerCode,
    /// One `DataFrame::partition_by_stable("code")` pass, then a lookup per code.
    PartitionBy,
    /// Every code submitted at once to an executor as large as the code list; all results kept.
    Naive,
}

impl Strategy {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Strategy::Stream => "stream",
            Strategy::PerCode => "per-code",
            Strategy::PartitionBy => "partition-by",
            Strategy::Naive => "naive",
        }
    }
}
