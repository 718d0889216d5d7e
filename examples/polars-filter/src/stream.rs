//! `--strategy stream`, the default: the CSV flows through the executor in blocks.
//!
//! The producer ([`Blocks`]) reads the file once, sequentially, and cuts it at row ends. The
//! executor's `map` pulls a block only when a slot is free and hands results back in input order,
//! so at most `capacity()` blocks (and their results) are alive, whatever the file's size. A task
//! parses its block with Polars under the header's schema, keeps the rows whose code is wanted,
//! groups them by code (stable), and writes them as CSV text: one buffer, cut into one piece per
//! code. The consumer ([`Collector`]) appends each piece, in block order, to its code's output.
//!
//! # Open files and memory
//!
//! The consumer buffers pieces per code, up to `--buffer-size` bytes in all (64 MiB by default),
//! then appends each code's buffer to `DIR/<code>.csv.part` (opened, written, closed: one file
//! open at a time, whatever the number of codes). Once every block is in, the `.part` files are
//! renamed to `<code>.csv`. A run that fails on its input removes its `.part` files, so no output
//! looks complete unless the whole input was read.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use bounded_executor::{BoundedExecutor, TaskError};
use polars::prelude::*;

use crate::blocks::{count_lines, BlockError, Blocks, Counters, ErrorKind, RowEnds};
use crate::data::{self, Source, CODE};
use crate::error::polars_msg;
use crate::sink::{Outcome, Scratch, Sink};

/// The longest Polars message quoted in an error line.
const MAX_MESSAGE: usize = 160;

/// The wanted codes, each with its index in the code list.
#[derive(Debug)]
pub(crate) struct Wanted {
    /// Polars' fast hasher: this lookup runs once per input row.
    index: PlHashMap<String, u32>,
    /// The codes themselves when they are few: a vectorised comparison with each beats hashing.
    few: Vec<String>,
}

/// Up to this many codes, a row's code is compared with each instead of hashed.
const FEW: usize = 8;

impl Wanted {
    pub(crate) fn new(codes: &[String]) -> Self {
        let index = codes.iter().enumerate().map(|(i, code)| (code.clone(), i as u32)).collect();
        let few = if codes.len() <= FEW { codes.to_vec() } else { Vec::new() };
        Wanted { index, few }
    }

    fn len(&self) -> usize {
        self.index.len()
    }
}

/// One block's result: its selected rows as CSV text, cut into one piece per code.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Pieces {
    /// The selected rows, grouped by code, as CSV (no header).
    pub(crate) bytes: Vec<u8>,
    /// In order: each code's rows are `bytes[previous end..end]`.
    pub(crate) pieces: Vec<Piece>,
    /// Line breaks in the block (for line numbers in later errors).
    pub(crate) lines: u64,
    /// Rows in the block.
    pub(crate) rows: u64,
    /// The block's size in bytes (for the progress bar).
    pub(crate) input_len: u64,
}

/// The rows of one code in a block's [`Pieces`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Piece {
    pub(crate) code: u32,
    pub(crate) rows: u64,
    pub(crate) end: usize,
}

/// The task: parse, filter, split by code, write as CSV.
pub(crate) fn process_block(
    block: &[u8],
    schema: &SchemaRef,
    wanted: &Wanted,
) -> Result<Pieces, BlockError> {
    let frame = match check(block, schema) {
        Ok(frame) => frame,
        Err(_) => return Err(locate(block, schema)),
    };
    let mut pieces = Pieces {
        lines: count_lines(block),
        rows: frame.height() as u64,
        input_len: block.len() as u64,
        ..Pieces::default()
    };
    let other = |e: PolarsError| BlockError {
        line: 0,
        row: None,
        kind: ErrorKind::Other,
        message: polars_msg(&e),
    };
    let codes = frame.column(CODE).and_then(|c| c.str().cloned()).map_err(other)?;

    // A counting sort of the selected rows by code index: stable, so each code's rows stay in
    // file order.
    let mut counts = vec![0 as IdxSize; wanted.len()];
    let mut selected: Vec<(IdxSize, u32)> = Vec::new();
    if wanted.few.is_empty() {
        for (row, code) in codes.iter().enumerate() {
            if let Some(i) = code.and_then(|code| wanted.index.get(code)) {
                counts[*i as usize] += 1;
                selected.push((row as IdxSize, *i));
            }
        }
    } else {
        // A few codes: one vectorised comparison each (a short string is compared inside its
        // 16-byte view), in row order, so each code's rows stay in file order.
        for (i, code) in wanted.few.iter().enumerate() {
            let hits = codes.equal(code.as_str());
            let mut offset = 0;
            for chunk in hits.downcast_iter() {
                // The code column has no nulls (checked above): the value bits are the answer.
                for row in chunk.values().true_idx_iter() {
                    counts[i] += 1;
                    selected.push(((offset + row) as IdxSize, i as u32));
                }
                offset += chunk.len();
            }
        }
    }
    if selected.is_empty() {
        return Ok(pieces);
    }
    let mut next = Vec::with_capacity(counts.len());
    let mut total = 0;
    for &count in &counts {
        next.push(total);
        total += count;
    }
    let mut order = vec![0 as IdxSize; selected.len()];
    for (row, i) in selected {
        order[next[i as usize] as usize] = row;
        next[i as usize] += 1;
    }
    let mut taken = frame.take(&IdxCa::from_vec(PlSmallStr::EMPTY, order)).map_err(other)?;
    drop(frame);
    CsvWriter::new(&mut pieces.bytes)
        .include_header(false)
        .n_threads(1)
        .finish(&mut taken)
        .map_err(other)?;

    // Cut the text at record ends (quote-aware: a field may hold a line break).
    let mut ends = RowEnds::new(&pieces.bytes);
    for (code, &count) in counts.iter().enumerate().filter(|(_, &count)| count > 0) {
        let end = ends.nth(count as usize - 1).unwrap_or(pieces.bytes.len());
        pieces.pieces.push(Piece { code: code as u32, rows: u64::from(count), end });
    }
    Ok(pieces)
}

/// Parses rows and refuses a row with a missing field.
fn check(rows: &[u8], schema: &SchemaRef) -> Result<DataFrame, (ErrorKind, String, u64)> {
    let frame = parse_rows(rows, schema)?;
    match data::first_null(&frame) {
        Some((row, column)) => Err((ErrorKind::Missing, column, row as u64)),
        None => Ok(frame),
    }
}

fn parse_rows(rows: &[u8], schema: &SchemaRef) -> Result<DataFrame, (ErrorKind, String, u64)> {
    data::parse_rows(rows, schema).map_err(|e| {
        // What Polars says of a lone record with a field too many, in the words it uses for a
        // whole file.
        let message = polars_msg(&e).replace(
            "provided schema does not match number of columns in file",
            "found more fields than the header has",
        );
        (ErrorKind::Parse, message, 0)
    })
}

/// The first bad record of a block Polars refused, found by bisection: the shortest prefix of
/// records that fails ends with it. Only runs on bad input, so its cost does not matter.
fn locate(block: &[u8], schema: &SchemaRef) -> BlockError {
    let mut starts = vec![0];
    starts.extend(RowEnds::new(block).filter(|&end| end < block.len()));
    let end = |k: usize| starts.get(k).copied().unwrap_or(block.len());
    let (mut good, mut bad) = (0, starts.len());
    while bad - good > 1 {
        let mid = (good + bad) / 2;
        if check(&block[..end(mid)], schema).is_err() {
            bad = mid;
        } else {
            good = mid;
        }
    }
    let record = bad - 1;
    let start = starts[record];
    let (kind, message) = match check(&block[start..end(bad)], schema) {
        Err((kind, message, _)) => (kind, message),
        // The record fails only after others (it should not happen): report the whole block.
        Ok(_) => match check(block, schema) {
            Err((kind, message, _)) => (kind, message),
            Ok(_) => (ErrorKind::Parse, "refused, then accepted".to_owned()),
        },
    };
    BlockError { line: count_lines(&block[..start]), row: Some(record as u64), kind, message }
}

/// The error line the stream strategies give for the first bad row of `reader` (`None` when every
/// row parses): how the whole-frame strategies name a bad row by its line.
pub(crate) fn first_bad_row(reader: Box<dyn std::io::Read + Send>, what: &str) -> Option<String> {
    let (header, blocks) = Blocks::new(reader, 2 << 20, true).ok()?;
    let schema = data::header_schema(&header, what).ok()?;
    let wanted = Wanted::new(&[]);
    let (mut lines_before, mut rows_before) = (count_lines(&header), 0);
    for block in blocks {
        match block.and_then(|block| process_block(&block.bytes, &schema, &wanted)) {
            Ok(pieces) => {
                lines_before += pieces.lines;
                rows_before += pieces.rows;
            }
            Err(err) => return Some(describe(&err, what, lines_before, rows_before)),
        }
    }
    None
}

/// The one error line for a bad block, with the line number in the file.
pub(crate) fn describe(
    err: &BlockError,
    what: &str,
    lines_before: u64,
    rows_before: u64,
) -> String {
    let line = lines_before + err.line + 1;
    let row = match err.row {
        Some(row) => format!(" (data row {})", rows_before + row + 1),
        None => String::new(),
    };
    let mut message = err.message.clone();
    if message.len() > MAX_MESSAGE {
        let mut cut = MAX_MESSAGE;
        while !message.is_char_boundary(cut) {
            cut -= 1;
        }
        message.truncate(cut);
        message.push_str("...");
    }
    match err.kind {
        ErrorKind::Parse | ErrorKind::Quote => {
            format!("cannot parse CSV {what}: line {line}{row}: {message}")
        }
        ErrorKind::Missing => {
            format!("malformed row in {what}: line {line}{row} has no value for column `{message}`")
        }
        ErrorKind::Other => message,
    }
}

/// What the stream strategies report for the summary line.
#[derive(Debug)]
pub(crate) struct Totals {
    pub(crate) rows: u64,
    pub(crate) blocks: u64,
    pub(crate) peak_blocks: usize,
}

/// The input opened and its header read and checked.
#[derive(Debug)]
pub(crate) struct Opened {
    pub(crate) header: Vec<u8>,
    pub(crate) schema: SchemaRef,
    pub(crate) blocks: Blocks,
    pub(crate) len: u64,
}

pub(crate) fn open(source: &Source, block_size: usize, keep_bytes: bool) -> Result<Opened> {
    let what = source.describe();
    let (reader, len) = source.open()?;
    let (header, blocks) = Blocks::new(reader, block_size, keep_bytes)
        .with_context(|| format!("cannot read CSV {what}"))?;
    let schema = data::header_schema(&header, &what)?;
    Ok(Opened { header, schema, blocks, len })
}

/// Threads: each block parsed, filtered and split on the executor's workers.
pub(crate) fn run(
    exec: &BoundedExecutor,
    source: &Source,
    codes: &[String],
    sink: &mut Sink,
    opts: Options,
) -> Result<Totals> {
    let Opened { header, schema, blocks, len } = open(source, opts.block_size, true)?;
    let counters = blocks.counters();
    let wanted = Arc::new(Wanted::new(codes));
    let task_schema = schema.clone();
    let results = exec.map(blocks, move |block| {
        block.and_then(|block| process_block(&block.bytes, &task_schema, &wanted))
    });
    let input = Input { header: &header, schema: &schema, source, len };
    consume(results, &counters, input, codes, sink, opts)
}

/// The stream strategies' sizes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Options {
    /// Bytes per block (`--block-size`).
    pub(crate) block_size: usize,
    /// Bytes of results held before appending to files (`--buffer-size`).
    pub(crate) buffer_size: usize,
}

/// What [`consume`] needs to know of the input.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Input<'a> {
    pub(crate) header: &'a [u8],
    pub(crate) schema: &'a SchemaRef,
    pub(crate) source: &'a Source,
    pub(crate) len: u64,
}

/// Consumes block results in input order: the one loop both modes share.
pub(crate) fn consume(
    results: bounded_executor::Map<Result<Pieces, BlockError>>,
    counters: &Counters,
    input: Input<'_>,
    codes: &[String],
    sink: &mut Sink,
    opts: Options,
) -> Result<Totals> {
    let Input { header, schema, source, len } = input;
    let what = source.describe();
    let mut collector = Collector::new(codes, data::header_line(schema)?, sink, opts.buffer_size);
    sink.track_bytes(len, header.len() as u64);
    let mut lines_before = count_lines(header);
    let mut rows = 0;
    for result in results {
        let pieces = match result {
            Ok(Ok(pieces)) => pieces,
            Ok(Err(err)) => {
                collector.abort();
                bail!("{}", describe(&err, &what, lines_before, rows));
            }
            Err(err) => {
                collector.abort();
                bail!("a block task failed: {}", task_error(err));
            }
        };
        lines_before += pieces.lines;
        rows += pieces.rows;
        sink.advance_bytes(pieces.input_len);
        collector.take(pieces);
        counters.consumed();
    }
    collector.finish(sink)?;
    Ok(Totals { rows, blocks: counters.blocks(), peak_blocks: counters.peak() })
}

fn task_error(err: TaskError) -> String {
    if err.is_panic() {
        let payload = err.into_panic();
        let msg = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        format!("panicked: {msg}")
    } else {
        err.to_string()
    }
}

/// Where the pieces go.
#[derive(Debug)]
enum Target {
    /// `--out DIR`.
    Out(PathBuf),
    /// Printing: pieces over the budget are spooled to a private directory, made when needed.
    Print(Option<Scratch>),
    /// `--quiet` without `--out`: only the row counts matter.
    Count,
}

/// One code's output in the making.
#[derive(Debug, Default)]
struct Part {
    buf: Vec<u8>,
    rows: u64,
    /// Its `.part` file exists (holding the header and everything before `buf`).
    started: bool,
    failed: Option<String>,
}

/// The consumer's side: each code's pieces, appended in input order.
#[derive(Debug)]
pub(crate) struct Collector {
    codes: Vec<String>,
    header: Vec<u8>,
    target: Target,
    parts: Vec<Part>,
    buffered: usize,
    budget: usize,
}

impl Collector {
    fn new(codes: &[String], header: Vec<u8>, sink: &Sink, budget: usize) -> Self {
        let target = match (sink.out_dir(), sink.quiet()) {
            (Some(dir), _) => Target::Out(dir.to_path_buf()),
            (None, true) => Target::Count,
            (None, false) => Target::Print(None),
        };
        let parts = codes.iter().map(|_| Part::default()).collect();
        Collector { codes: codes.to_vec(), header, target, parts, buffered: 0, budget }
    }

    fn take(&mut self, pieces: Pieces) {
        let mut start = 0;
        for piece in pieces.pieces {
            let part = &mut self.parts[piece.code as usize];
            part.rows += piece.rows;
            if !matches!(self.target, Target::Count) && part.failed.is_none() {
                part.buf.extend_from_slice(&pieces.bytes[start..piece.end]);
                self.buffered += piece.end - start;
            }
            start = piece.end;
        }
        if self.buffered > self.budget {
            for i in 0..self.parts.len() {
                if !self.parts[i].buf.is_empty() {
                    self.append(i);
                }
            }
            self.buffered = 0;
        }
    }

    /// The directory of the `.part` files.
    fn dir(&mut self) -> Result<PathBuf> {
        match &mut self.target {
            Target::Out(dir) => Ok(dir.clone()),
            Target::Print(scratch) => {
                if scratch.is_none() {
                    *scratch = Some(Scratch::new()?);
                }
                Ok(scratch.as_ref().map(|s| s.path().to_path_buf()).unwrap_or_default())
            }
            Target::Count => Ok(PathBuf::new()),
        }
    }

    fn part_path(dir: &Path, code: &str) -> PathBuf {
        dir.join(format!("{code}.csv.part"))
    }

    /// Appends code `i`'s buffer to its `.part` file, creating it (header first) if needed. A
    /// failure fails that code only.
    fn append(&mut self, i: usize) {
        if self.parts[i].failed.is_some() {
            return;
        }
        let result = self.dir().and_then(|dir| {
            let path = Self::part_path(&dir, &self.codes[i]);
            let part = &mut self.parts[i];
            let mut write = || -> std::io::Result<()> {
                let mut file = if part.started {
                    OpenOptions::new().append(true).open(&path)?
                } else {
                    // Never through an existing path (a stale file, or a planted symlink).
                    let mut file = data::create_new(&path)?;
                    part.started = true;
                    file.write_all(&self.header)?;
                    file
                };
                file.write_all(&part.buf)
            };
            write().with_context(|| format!("cannot write {}", path.display()))
        });
        let part = &mut self.parts[i];
        part.buf = Vec::new();
        if let Err(err) = result {
            part.failed = Some(format!("{err:#}"));
        }
    }

    /// Every code's output completed, in code-list order: written and renamed into place, or
    /// printed.
    fn finish(mut self, sink: &mut Sink) -> Result<()> {
        match &self.target {
            Target::Count => {
                for (code, part) in self.codes.iter().zip(&self.parts) {
                    sink.deliver(code, Outcome::Written(part.rows))?;
                }
            }
            Target::Out(dir) => {
                let dir = dir.clone();
                // Every file complete before any is renamed into place.
                for i in 0..self.parts.len() {
                    self.append(i);
                }
                for (code, part) in self.codes.iter().zip(&mut self.parts) {
                    let path = Self::part_path(&dir, code);
                    if part.failed.is_none() {
                        let done = dir.join(format!("{code}.csv"));
                        if let Err(err) = fs::rename(&path, &done) {
                            part.failed = Some(format!("cannot write {}: {err}", done.display()));
                        }
                    }
                    match part.failed.take() {
                        Some(why) => {
                            if part.started {
                                let _ = fs::remove_file(&path);
                            }
                            sink.fail(code, why);
                        }
                        None => sink.deliver(code, Outcome::Written(part.rows))?,
                    }
                }
            }
            Target::Print(_) => {
                for i in 0..self.parts.len() {
                    let code = self.codes[i].clone();
                    if let Some(why) = self.parts[i].failed.take() {
                        sink.fail(&code, why);
                        continue;
                    }
                    let mut text = self.header.clone();
                    if self.parts[i].started {
                        let path = Self::part_path(&self.dir()?, &code);
                        let spooled = fs::read(&path)
                            .with_context(|| format!("cannot read back {}", path.display()))?;
                        let _ = fs::remove_file(&path);
                        text = spooled;
                    }
                    text.extend_from_slice(&std::mem::take(&mut self.parts[i].buf));
                    let frame = data::read_frame_bytes(&text, &format!("result for {code}"))?;
                    sink.deliver(&code, Outcome::Frame(frame))?;
                }
            }
        }
        Ok(())
    }

    /// The run failed: no `.part` file stays behind to look like a result.
    fn abort(&mut self) {
        if let Target::Out(dir) = &self.target {
            for (code, part) in self.codes.iter().zip(&self.parts) {
                if part.started {
                    let _ = fs::remove_file(Self::part_path(dir, code));
                }
            }
        }
    }
}
