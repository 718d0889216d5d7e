//! Beyond one machine: `--plan` prints where a file's blocks are cut, and `--range K` runs one
//! of those blocks alone and writes its pieces to a directory. An engine that runs tasks
//! somewhere else (the Dask driver in `distributed/`) runs the ranges and merges the pieces.
//!
//! # The plan
//!
//! A byte range of a CSV can be parsed on its own only if it starts at a row start, and with
//! quoted line breaks (RFC 4180) finding row starts takes a sequential pass: this one. `--plan`
//! reads the file once, cuts it exactly as the stream does (`--block-size`), and prints, one item
//! a line:
//!
//! ```text
//! polars-filter plan 1
//! input 2049:1234567:84499483:1764600000123456789:1764600000123456789
//! header 14
//! header-line 636f64652c6e616d652c6167650a
//! block-size 67108864
//! ranges 2
//! range 14 67108850 1 0
//! range 67108864 17390619 3970123 3970122
//! codes 3
//! 0001
//! 00002
//! 0005
//! ```
//!
//! `input` is the identity of the version planned (device, inode, size, modification and change
//! times: a range task refuses any other version); `header` the header row's length;
//! `header-line` the header every result file starts with, as Polars writes it (hex); each
//! `range` is `OFFSET LEN LINES ROWS`: its bytes, and the line breaks and rows before it, so that
//! an error names its line in the file. The codes are the list exactly as this program numbers
//! them (trimmed, blanks and duplicates dropped, a BOM stripped from a code file), one a line: a
//! range task reads them as they are, never parses them again.
//!
//! # A range
//!
//! `--plan-file PLAN --range K --pieces DIR` reads range `K` (from 0) of the plan with `pread`,
//! never the rest of the file, checks it is the version planned, selects, parses and splits it
//! exactly as a stream task does, and writes into `DIR` (created; it must not exist or be empty)
//! two files: `rows.csv`, the range's selected rows grouped by code (CSV rows without a header,
//! codes in code-list order, each code's rows in file order), then `_RANGE`, last, which says the
//! range is complete and where each code's rows are in `rows.csv`:
//!
//! ```text
//! polars-filter range 1
//! range 0
//! rows 3970122
//! lines 3970122
//! pieces 2
//! 0 12 204
//! 2 7 119
//! ```
//!
//! (each piece: the code's index in the plan, its rows, its bytes; the pieces follow each other
//! in `rows.csv`). Two files, whatever the number of codes: a range of a 20,000-code run used
//! to write 20,000 small files. A bad row fails the task with
//! the usual one line naming its line in the file, and leaves nothing in `DIR`.

use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};

use crate::blocks::{count_lines, RowEnds};
use crate::data;
use crate::error;
use crate::input::{Input, Source};
use crate::stream::{self, Opened, Wanted};
use crate::writes::{self, Access};

/// The first line of a plan.
const PLAN_MAGIC: &str = "polars-filter plan 1";

/// The first line of a range's `_RANGE`.
const RANGE_MAGIC: &str = "polars-filter range 1";

/// What marks a range's directory complete, and indexes its rows.
const RANGE_FILE: &str = "_RANGE";

/// A range's selected rows, grouped by code.
const ROWS_FILE: &str = "rows.csv";

/// One byte range of the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Range {
    pub(crate) offset: u64,
    pub(crate) len: usize,
    /// Line breaks before it in the file (the header's included).
    pub(crate) lines: u64,
    /// Data rows before it.
    pub(crate) rows: u64,
}

/// A file's plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    /// `Identity::encode` of the version planned, or `bundled`.
    pub(crate) input: String,
    pub(crate) header: usize,
    pub(crate) header_line: Vec<u8>,
    pub(crate) block_size: usize,
    pub(crate) ranges: Vec<Range>,
    pub(crate) codes: Vec<String>,
}

impl Plan {
    /// Cuts `input` as the stream does, reading it once (and proving it whole at the end).
    pub(crate) fn make(input: &Input, codes: &[String], block_size: usize) -> Result<Plan> {
        let what = input.describe();
        let Opened { header, schema, blocks } = stream::open(input, block_size, true)?;
        let (mut lines, mut rows) = (count_lines(&header), 0);
        let mut ranges = Vec::new();
        for block in blocks {
            let block =
                block.map_err(|err| anyhow!("{}", stream::describe(&err, &what, lines, rows)))?;
            ranges.push(Range { offset: block.offset, len: block.len, lines, rows });
            lines += count_lines(&block.bytes);
            let ends = RowEnds::new(&block.bytes).count() as u64;
            rows += ends + u64::from(!block.bytes.ends_with(b"\n"));
        }
        input.verify()?;
        Ok(Plan {
            input: input.identity().map_or_else(|| "bundled".to_owned(), |id| id.encode()),
            header: header.len(),
            header_line: data::header_line(&schema)?,
            block_size,
            ranges,
            codes: codes.to_vec(),
        })
    }

    /// The plan as text (see the module's docs).
    pub(crate) fn encode(&self) -> String {
        let mut text = String::with_capacity(64 * (self.ranges.len() + 8) + 8 * self.codes.len());
        let hex: String = self.header_line.iter().map(|b| format!("{b:02x}")).collect();
        let _ = writeln!(text, "{PLAN_MAGIC}");
        let _ = writeln!(text, "input {}", self.input);
        let _ = writeln!(text, "header {}", self.header);
        let _ = writeln!(text, "header-line {hex}");
        let _ = writeln!(text, "block-size {}", self.block_size);
        let _ = writeln!(text, "ranges {}", self.ranges.len());
        for r in &self.ranges {
            let _ = writeln!(text, "range {} {} {} {}", r.offset, r.len, r.lines, r.rows);
        }
        let _ = writeln!(text, "codes {}", self.codes.len());
        for code in &self.codes {
            debug_assert!(!code.contains(['\n', '\r']), "refused by check_file_names");
            text.push_str(code);
            text.push('\n');
        }
        text
    }

    /// Reads a plan written by [`Plan::encode`]; `None` if `text` is not one.
    pub(crate) fn decode(text: &str) -> Option<Plan> {
        let mut lines = text.split_terminator('\n');
        if lines.next()? != PLAN_MAGIC {
            return None;
        }
        let mut field = |name: &str| -> Option<String> {
            let line = lines.next()?;
            Some(line.strip_prefix(name)?.strip_prefix(' ')?.to_owned())
        };
        let input = field("input")?;
        let header = field("header")?.parse().ok()?;
        let hex = field("header-line")?;
        let header_line = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
            .collect::<Option<Vec<u8>>>()?;
        let block_size = field("block-size")?.parse().ok()?;
        let count: usize = field("ranges")?.parse().ok()?;
        let mut ranges = Vec::with_capacity(count.min(1 << 20));
        for _ in 0..count {
            let line = field("range")?;
            let mut numbers = line.split(' ').map(str::parse::<u64>);
            let mut next = || numbers.next()?.ok();
            let (offset, len, lines, rows) = (next()?, next()?, next()?, next()?);
            ranges.push(Range { offset, len: usize::try_from(len).ok()?, lines, rows });
        }
        let count: usize = field("codes")?.parse().ok()?;
        let codes: Vec<String> = lines.map(str::to_owned).collect();
        (codes.len() == count).then_some(Plan {
            input,
            header,
            header_line,
            block_size,
            ranges,
            codes,
        })
    }

    /// Reads the plan file at `path`.
    pub(crate) fn read(path: &Path) -> Result<Plan> {
        let shown = error::path(path);
        let text =
            fs::read_to_string(path).with_context(|| format!("cannot read the plan {shown}"))?;
        Plan::decode(&text).ok_or_else(|| anyhow!("{shown} is not a plan written by --plan"))
    }
}

/// `--plan`: prints the plan of the input on stdout.
pub(crate) fn print(input: &Input, codes: &[String], block_size: usize) -> Result<()> {
    let plan = Plan::make(input, codes, block_size)?;
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(plan.encode().as_bytes())
        .and_then(|()| stdout.flush())
        .context("cannot write to standard output")
}

/// `--range K`: runs range `index` of the plan at `plan_path` on `source` and writes its pieces
/// to `dir` (see the module's docs).
pub(crate) fn run_range(source: &Source, plan_path: &Path, index: usize, dir: &Path) -> Result<()> {
    writes::protect(plan_path, "the plan given as --plan-file");
    let plan = Plan::read(plan_path)?;
    let range = *plan.ranges.get(index).ok_or_else(|| {
        anyhow!(
            "--range {index}: the plan has {} ranges (0 to {})",
            plan.ranges.len(),
            plan.ranges.len().saturating_sub(1)
        )
    })?;
    data::check_file_names(&plan.codes)?;
    let expected = (plan.input != "bundled").then_some(plan.input.as_str());
    let input = Input::open_expecting(source, expected)?;
    let what = input.describe();
    let header = input.read_range(0, plan.header)?;
    let schema = data::header_schema(&header, &what)?;
    let block = input.read_range(range.offset, range.len)?;
    // What was read is the version planned, unchanged until now.
    input.check_unchanged()?;
    let pieces = stream::process_block(&block, &schema, &Wanted::new(&plan.codes))
        .map_err(|err| anyhow!("{}", stream::describe(&err, &what, range.lines, range.rows)))?;
    drop(block);

    let shown = error::path(dir);
    match fs::create_dir(dir) {
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
            let empty = fs::read_dir(dir).map(|mut d| d.next().is_none()).unwrap_or(false);
            if !empty {
                bail!("--pieces {shown} exists and is not empty: give a new directory");
            }
        }
        made => made.with_context(|| format!("cannot create --pieces {shown}"))?,
    }
    let mut summary = format!(
        "{RANGE_MAGIC}\nrange {index}\nrows {}\nlines {}\npieces {}\n",
        pieces.rows,
        pieces.lines,
        pieces.pieces.len()
    );
    for (piece, start) in pieces
        .pieces
        .iter()
        .zip(std::iter::once(0).chain(pieces.pieces.iter().map(|piece| piece.end)))
    {
        let _ = writeln!(summary, "{} {} {}", piece.code, piece.rows, piece.end - start);
    }
    let written = [(ROWS_FILE, pieces.bytes.as_slice()), (RANGE_FILE, summary.as_bytes())]
        .into_iter()
        .try_for_each(|(name, bytes)| {
            let path = dir.join(name);
            writes::create_new(&path, Access::Shared)
                .and_then(|(mut file, _)| file.write_all(bytes))
                .with_context(|| format!("cannot write {}", error::path(&path)))
        });
    if written.is_err() {
        writes::discard();
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_reads_back_exactly() {
        let plan = Plan {
            input: "1:2:3:4:5".to_owned(),
            header: 14,
            header_line: b"code,\"na\nme\",age\n".to_vec(),
            block_size: 1 << 20,
            ranges: vec![
                Range { offset: 14, len: 100, lines: 1, rows: 0 },
                Range { offset: 114, len: 7, lines: 9, rows: 8 },
            ],
            codes: vec!["\u{FEFF}A".to_owned(), "A".to_owned(), " B ".to_owned()],
        };
        assert_eq!(Plan::decode(&plan.encode()), Some(plan.clone()));
        let no_ranges = Plan { ranges: Vec::new(), ..plan };
        assert_eq!(Plan::decode(&no_ranges.encode()), Some(no_ranges));
        assert_eq!(Plan::decode("polars-filter plan 1\ninput x\n"), None);
        assert_eq!(Plan::decode("code,name\n"), None);
    }
}
