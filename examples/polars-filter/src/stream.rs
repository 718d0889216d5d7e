//! `--strategy stream`, the default: the CSV flows through the executor in blocks.
//!
//! The producer ([`Blocks`]) reads the file once, sequentially, and cuts it at row ends. The
//! executor's `map` pulls a block only when a slot is free and hands results back in input order,
//! so at most `capacity()` blocks (and their results) are alive, whatever the file's size. A task
//! finds the wanted rows of its block before parsing ([`select`]), parses those with Polars under
//! the header's schema, groups them by code (stable), and writes them as CSV text: one buffer,
//! cut into one piece per code. The consumer ([`Collector`]) appends each piece, in block order,
//! to its code's buffer, and hands the buffers to the write stage, a second bounded executor
//! (see `collect.rs`).
//!
//! # Open files and memory
//!
//! The consumer buffers pieces per code, up to `--buffer-size` bytes in all (64 MiB by default),
//! then hands each code's buffer to a write task that appends it to `DIR/<code>.csv.part`
//! (opened, written, closed: at most one file open per writer thread, whatever the number of
//! codes). Once every block is in, each `.part` file is completed and renamed to `<code>.csv`.
//! A run that fails on its input removes its `.part` files, so no output looks complete unless
//! the whole input was read.

use std::sync::Arc;

use anyhow::{bail, Result};
use bounded_executor::{BoundedExecutor, TaskError};
use polars::prelude::*;

use crate::blocks::{count_lines, BlockError, Blocks, Counters, ErrorKind, RowEnds};
use crate::collect::Collector;
use crate::data::{self, CODE};
use crate::error::polars_msg;
use crate::input::Input;
use crate::select;
use crate::sink::Sink;

/// The longest Polars message quoted in an error line.
const MAX_MESSAGE: usize = 160;

/// The wanted codes, each with its index in the code list.
#[derive(Debug)]
pub(crate) struct Wanted {
    /// The codes of up to 7 bytes, by their [`packed`] key: this lookup runs once per input row,
    /// and an integer key is hashed and compared without a call. Polars' fast hasher.
    short: PlHashMap<u64, u32>,
    /// The longer codes, by their bytes (as the selection before parsing sees them).
    long: PlHashMap<Vec<u8>, u32>,
    /// The codes themselves when they are few: comparing with each beats hashing.
    few: Vec<String>,
    /// [`packed`] keys of the few codes, in the same order; `u64::MAX`, which no code packs to,
    /// for a code longer than 7 bytes (a row code that long is compared with `few`).
    few_packed: Vec<u64>,
    len: usize,
}

/// Up to this many codes, a row's code is compared with each instead of hashed.
const FEW: usize = 8;

impl Wanted {
    pub(crate) fn new(codes: &[String]) -> Self {
        let (mut short, mut long) = (PlHashMap::default(), PlHashMap::default());
        for (i, code) in codes.iter().enumerate() {
            match packed(code.as_bytes()) {
                Some(key) => short.insert(key, i as u32),
                None => long.insert(code.as_bytes().to_vec(), i as u32),
            };
        }
        let few = if codes.len() <= FEW { codes.to_vec() } else { Vec::new() };
        let few_packed =
            few.iter().map(|code| packed(code.as_bytes()).unwrap_or(u64::MAX)).collect();
        Wanted { short, long, few, few_packed, len: codes.len() }
    }

    fn len(&self) -> usize {
        self.len
    }

    /// The index of `code` in the code list, if it is wanted.
    #[inline(always)]
    pub(crate) fn find(&self, code: &[u8]) -> Option<u32> {
        self.find_keyed(packed(code), code)
    }

    /// [`Wanted::find`] of `bytes[start..end]`, its key read as one word where 8 bytes are
    /// there to read (the selection's hot path: no loop over the code's bytes).
    #[inline(always)]
    pub(crate) fn find_in(&self, bytes: &[u8], start: usize, end: usize) -> Option<u32> {
        let len = end - start;
        let key = match bytes.get(start..start + 8) {
            Some(word) if len <= 7 => {
                let word = u64::from_le_bytes(word.try_into().unwrap_or_default());
                Some((word & ((1u64 << (8 * len)) - 1)) | ((len as u64) << 56))
            }
            _ => packed(&bytes[start..end]),
        };
        self.find_keyed(key, &bytes[start..end])
    }

    #[inline(always)]
    fn find_keyed(&self, key: Option<u64>, code: &[u8]) -> Option<u32> {
        if self.few.is_empty() {
            return match key {
                Some(key) => self.short.get(&key).copied(),
                None => self.long.get(code).copied(),
            };
        }
        // A few codes of up to 7 bytes: one integer comparison each, no call per row.
        if let Some(key) = key {
            return self.few_packed.iter().position(|&wanted| wanted == key).map(|i| i as u32);
        }
        self.few.iter().position(|wanted| wanted.as_bytes() == code).map(|i| i as u32)
    }
}

/// A code of up to 7 bytes as one integer, its length in the top byte: equal codes give equal
/// keys and no two codes the same. `None` for a longer code.
#[inline]
fn packed(code: &[u8]) -> Option<u64> {
    if code.len() > 7 {
        return None;
    }
    let mut key = (code.len() as u64) << 56;
    for (i, &byte) in code.iter().enumerate() {
        key |= u64::from(byte) << (8 * i);
    }
    Some(key)
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

/// The task: select the wanted rows, parse them, split them by code, write them as CSV.
///
/// The selection before parsing ([`select::scan`]) finds the wanted rows and proves the others
/// good at the byte level; only the wanted rows are parsed by Polars. A block the selection
/// cannot vouch for (a bad row, or one only Polars can judge) is parsed whole, as it always was,
/// so a bad row fails the run in the same words, and a row Polars accepts gives the same bytes.
pub(crate) fn process_block(
    block: &[u8],
    schema: &SchemaRef,
    wanted: &Wanted,
) -> Result<Pieces, BlockError> {
    let selection =
        select::Layout::of(schema).and_then(|layout| select::scan(block, &layout, wanted));
    if let Some(selection) = selection {
        if let Some(pieces) = process_selection(block, selection, schema, wanted) {
            return Ok(pieces);
        }
    }
    process_whole(block, schema, wanted)
}

/// The rows the selection found, grouped by code (stable: each code's rows in file order),
/// parsed and written. `None` if Polars refuses them after all (then the whole block is parsed,
/// and the error found there).
fn process_selection(
    block: &[u8],
    selection: select::Selection,
    schema: &SchemaRef,
    wanted: &Wanted,
) -> Option<Pieces> {
    let mut pieces = Pieces {
        lines: selection.lines,
        rows: selection.rows,
        input_len: block.len() as u64,
        ..Pieces::default()
    };
    let hits = selection.hits;
    if hits.is_empty() {
        return Some(pieces);
    }
    // A counting sort of the hits by code index.
    let mut counts = vec![0 as IdxSize; wanted.len()];
    for hit in &hits {
        counts[hit.code as usize] += 1;
    }
    let mut next = starts(&counts);
    let mut order = vec![0u32; hits.len()];
    for (k, hit) in hits.iter().enumerate() {
        order[next[hit.code as usize] as usize] = k as u32;
        next[hit.code as usize] += 1;
    }
    let len: usize = hits.iter().map(|hit| hit.end - hit.start + 1).sum();
    let mut rows = Vec::with_capacity(len);
    for &k in &order {
        let hit = hits[k as usize];
        let row = &block[hit.start..hit.end];
        rows.extend_from_slice(row);
        // The last row of the file may have no line break.
        if !row.ends_with(b"\n") {
            rows.push(b'\n');
        }
    }
    drop(hits);
    let mut frame = check(&rows, schema).ok()?;
    drop(rows);
    if frame.height() != order.len() {
        return None;
    }
    write_pieces(&mut frame, &counts, &mut pieces).ok()?;
    Some(pieces)
}

/// Where each code's rows start in a grouping by code: the running sum of `counts`.
fn starts(counts: &[IdxSize]) -> Vec<IdxSize> {
    let mut next = Vec::with_capacity(counts.len());
    let mut total = 0;
    for &count in counts {
        next.push(total);
        total += count;
    }
    next
}

/// Writes `frame`, whose rows are grouped by code (`counts[i]` rows of code `i`, in code order),
/// as CSV text with one `CsvWriter` call, and cuts it into one piece per code.
fn write_pieces(
    frame: &mut DataFrame,
    counts: &[IdxSize],
    pieces: &mut Pieces,
) -> PolarsResult<()> {
    CsvWriter::new(&mut pieces.bytes).include_header(false).n_threads(1).finish(frame)?;
    // Cut the text at record ends (quote-aware: a field may hold a line break).
    let mut ends = RowEnds::new(&pieces.bytes);
    for (code, &count) in counts.iter().enumerate().filter(|(_, &count)| count > 0) {
        let end = ends.nth(count as usize - 1).unwrap_or(pieces.bytes.len());
        pieces.pieces.push(Piece { code: code as u32, rows: u64::from(count), end });
    }
    Ok(())
}

/// The block parsed whole by Polars, then filtered: for a block the selection hands over.
fn process_whole(block: &[u8], schema: &SchemaRef, wanted: &Wanted) -> Result<Pieces, BlockError> {
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
            if let Some(i) = code.and_then(|code| wanted.find(code.as_bytes())) {
                counts[i as usize] += 1;
                selected.push((row as IdxSize, i));
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
    let mut next = starts(&counts);
    let mut order = vec![0 as IdxSize; selected.len()];
    for (row, i) in selected {
        order[next[i as usize] as usize] = row;
        next[i as usize] += 1;
    }
    let mut taken = frame.take(&IdxCa::from_vec(PlSmallStr::EMPTY, order)).map_err(other)?;
    drop(frame);
    write_pieces(&mut taken, &counts, &mut pieces).map_err(other)?;
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
    /// The write stage's threads and the most bytes they held at once, if it ran.
    pub(crate) writers: Option<(usize, u64)>,
}

/// The input's header read and checked, and the producer of its blocks.
#[derive(Debug)]
pub(crate) struct Opened {
    pub(crate) header: Vec<u8>,
    pub(crate) schema: SchemaRef,
    pub(crate) blocks: Blocks,
}

pub(crate) fn open(input: &Input, block_size: usize, keep_bytes: bool) -> Result<Opened> {
    let what = input.describe();
    let (header, blocks) = Blocks::new(input.reader()?, block_size, keep_bytes)
        .map_err(|err| data::read_error(err, &what))?;
    let schema = data::header_schema(&header, &what)?;
    Ok(Opened { header, schema, blocks })
}

/// Threads: each block parsed, filtered and split on the executor's workers.
pub(crate) fn run(
    exec: &BoundedExecutor,
    input: &Input,
    codes: &[String],
    sink: &mut Sink,
    opts: Options,
) -> Result<Totals> {
    let Opened { header, schema, blocks } = open(input, opts.block_size, true)?;
    let counters = blocks.counters();
    let wanted = Arc::new(Wanted::new(codes));
    let task_schema = schema.clone();
    let results = exec.map(blocks, move |block| {
        block.and_then(|block| process_block(&block.bytes, &task_schema, &wanted))
    });
    let read = Reading { header: &header, schema: &schema, input };
    consume(results, &counters, read, codes, sink, opts)
}

/// The stream strategies' sizes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Options {
    /// Bytes per block (`--block-size`).
    pub(crate) block_size: usize,
    /// Bytes of results held before appending to files (`--buffer-size`), and the most the
    /// write stage holds.
    pub(crate) buffer_size: usize,
    /// Threads of the write stage (`--workers`).
    pub(crate) workers: usize,
}

/// What [`consume`] needs to know of the input.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reading<'a> {
    pub(crate) header: &'a [u8],
    pub(crate) schema: &'a SchemaRef,
    pub(crate) input: &'a Input,
}

/// Consumes block results in input order: the one loop both modes share.
pub(crate) fn consume(
    results: bounded_executor::Map<Result<Pieces, BlockError>>,
    counters: &Counters,
    read: Reading<'_>,
    codes: &[String],
    sink: &mut Sink,
    opts: Options,
) -> Result<Totals> {
    let Reading { header, schema, input } = read;
    let what = input.describe();
    let header_line = data::header_line(schema)?;
    let mut collector = Collector::new(codes, header_line, sink, opts.buffer_size, opts.workers)?;
    sink.track_bytes(input.len(), header.len() as u64);
    let mut lines_before = count_lines(header);
    let mut rows = 0;
    for result in results {
        let failed = match result {
            Ok(Ok(pieces)) => {
                lines_before += pieces.lines;
                rows += pieces.rows;
                sink.advance_bytes(pieces.input_len);
                collector.take(pieces);
                counters.consumed();
                continue;
            }
            Ok(Err(err)) => describe(&err, &what, lines_before, rows),
            Err(err) => format!("a block task failed: {}", task_error(err)),
        };
        collector.abort();
        // A file cut short mid-row reads as a bad row: the change is the cause to report.
        input.check_unchanged()?;
        bail!("{failed}");
    }
    // Every block is in: the input must be the file opened, read whole, before any result is
    // renamed into place.
    if let Err(err) = input.verify() {
        collector.abort();
        return Err(err);
    }
    let writers = collector.finish(sink)?;
    Ok(Totals { rows, blocks: counters.blocks(), peak_blocks: counters.peak(), writers })
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
