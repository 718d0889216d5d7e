//! `--processes`: the stream strategy with each block handled by a freshly spawned child, and the
//! hidden worker mode each child runs.
//!
//! The parent reads the file once to cut it into blocks at row ends (the same producer as the
//! threads), but keeps only each block's byte range. A child is given its range and the length of
//! the header, reads exactly those bytes (never the whole file), parses, filters and splits them
//! as a thread would, and sends the pieces back on its stdout. The parent's consumer appends them
//! in input order, exactly as in thread mode, so both modes write the same bytes.
//!
//! # The code list
//!
//! A child must number the codes exactly as the parent does: a piece's code is an index into the
//! parent's list. So the parent writes its list as it is, after trimming, BOM stripping and
//! de-duplication, into a file of its scratch directory, and the child reads it back without any
//! of those: [`write_codes`] and [`read_codes`], one code a line under a first line that says how
//! many. (A code cannot hold a line break: `--processes` refuses control characters in codes.)
//! Re-reading it as a `--codes-file` would strip a BOM from `<BOM>A` and then drop it as a
//! duplicate of `A`, and every later code's rows would go to the wrong file.
//!
//! # Spawn, never fork
//!
//! `fork()` copies only the calling thread. A child of a threaded process inherits every lock in
//! the state its owner left it, and those owners do not exist in the child: the first time the
//! child touches Polars' thread pool (or the allocator, or stdio) it can wait forever. So each
//! child is a new process image from `std::process::Command` (posix_spawn or fork+exec with
//! nothing run in between), which starts with no threads and no inherited locks.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use bounded_executor::BoundedExecutor;

use crate::blocks::{BlockError, ErrorKind};
use crate::data;
use crate::error::{self, one_line};
use crate::input::{Identity, Input, Source};
use crate::sink::Sink;
use crate::stream::{self, Opened, Options, Piece, Pieces, Reading, Totals, Wanted};
use crate::writes::{self, Access, Scratch};

/// The environment variable Polars reads for the size of its pool.
const POLARS_MAX_THREADS: &str = "POLARS_MAX_THREADS";

/// Runs every block in its own child, at most `capacity()` blocks alive (`max_workers` children
/// running at once).
pub(crate) fn run(
    exec: &BoundedExecutor,
    input: &Input,
    codes: &[String],
    sink: &mut Sink,
    opts: Options,
) -> Result<Totals> {
    let exe = std::env::current_exe().context("cannot find this program's own path")?;
    // (A pipe or a device, which children could not read again, was refused by `Input::open`.)
    let Opened { header, schema, blocks } = stream::open(input, opts.block_size, false)?;
    // The version of the input the parent cuts: each child checks it reads the same one.
    let identity = input.identity().map(Identity::encode);
    let counters = blocks.counters();
    // The code list goes to the children in a file: 20,000 codes do not fit on a command line.
    let scratch = Scratch::new()?;
    let codes_file = scratch.path().join("codes.txt");
    write_codes(&codes_file, codes)?;
    // Each child is one of `max_workers` running at once: one Polars thread each fills the cores
    // without oversubscribing them. A POLARS_MAX_THREADS set by the user is passed through as is.
    let polars_threads = std::env::var(POLARS_MAX_THREADS).unwrap_or_else(|_| "1".to_owned());
    let csv = match input.source() {
        Source::File(path) => Some(path.clone()),
        Source::Bundled => None,
    };
    let header_len = header.len();
    let spawn = Arc::new(move |offset: u64, len: usize| {
        let mut command = Command::new(&exe);
        // `--name=value`: a value that starts with `-` stays a value.
        if let Some(path) = &csv {
            command.arg(joined("--csv=", path.as_os_str()));
        }
        command
            .arg(joined("--worker-codes=", codes_file.as_os_str()))
            .arg(format!("--worker-range={offset}:{len}"))
            .arg(format!("--worker-header={header_len}"));
        if let Some(identity) = &identity {
            command.arg(format!("--worker-input={identity}"));
        }
        command
            .env(POLARS_MAX_THREADS, &polars_threads)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        run_child(command)
    });
    let results = exec.map(blocks, move |block| block.and_then(|b| spawn(b.offset, b.len)));
    let read = Reading { header: &header, schema: &schema, input };
    let totals = stream::consume(results, &counters, read, codes, sink, opts);
    drop(scratch);
    totals
}

fn joined(name: &str, value: &std::ffi::OsStr) -> OsString {
    let mut arg = OsString::from(name);
    arg.push(value);
    arg
}

/// Spawns one child and waits for it; its pieces come back on stdout, its error on stderr.
fn run_child(command: Command) -> Result<Pieces, BlockError> {
    let failed =
        |message: String| BlockError { line: 0, row: None, kind: ErrorKind::Other, message };
    let output =
        watched_output(command).map_err(|e| failed(format!("cannot run a child process: {e}")))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .map(|l| l.strip_prefix("polars-filter: error: ").unwrap_or(l));
        return Err(failed(format!(
            "child process failed ({}): {}",
            output.status,
            last.map(one_line).unwrap_or_else(|| "no message".to_owned())
        )));
    }
    decode(&output.stdout)
        .ok_or_else(|| failed("a child process sent a malformed result".into()))?
}

/// `Command::output`, except that the child's stdin stays open (and silent) until the child has
/// exited: the child watches it, and its end of file means "the parent is gone, stop". So a
/// child never outlives a killed parent by more than the moment it takes to notice.
fn watched_output(mut command: Command) -> std::io::Result<Output> {
    let mut child = command.arg("--worker-watch-stdin").stdin(Stdio::piped()).spawn()?;
    let stdin = child.stdin.take();
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    // stdout first: a child writes at most one short line to stderr, which its pipe holds.
    if let Some(mut out) = child.stdout.take() {
        out.read_to_end(&mut stdout)?;
    }
    if let Some(mut err) = child.stderr.take() {
        err.read_to_end(&mut stderr)?;
    }
    let status = child.wait()?;
    drop(stdin);
    Ok(Output { status, stdout, stderr })
}

/// In a child: exits as soon as stdin reaches its end, which happens when the parent dies (the
/// parent never writes to it, and closes it only after the child has exited).
pub(crate) fn exit_with_parent() {
    std::thread::spawn(|| {
        let mut byte = [0u8; 1];
        let _ = std::io::stdin().read(&mut byte);
        std::process::exit(3);
    });
}

/// The hidden worker mode: one block of the CSV, read by range, its pieces written to stdout.
pub(crate) fn child(
    source: &Source,
    codes_file: &Path,
    range: &str,
    header_len: usize,
    identity: Option<&str>,
) -> Result<()> {
    let (offset, len) = range
        .split_once(':')
        .and_then(|(offset, len)| Some((offset.parse().ok()?, len.parse().ok()?)))
        .context("--worker-range wants OFFSET:LEN")?;
    let input = Input::open_expecting(source, identity)?;
    let header = input.read_range(0, header_len)?;
    let schema = data::header_schema(&header, &input.describe())?;
    let codes = read_codes(codes_file)?;
    let block = input.read_range(offset, len)?;
    // What was read is the version the parent cut, unchanged until now.
    input.check_unchanged()?;
    let result = stream::process_block(&block, &schema, &Wanted::new(&codes));
    drop(block);
    let mut out = Vec::new();
    encode(&result, &mut out);
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(&out).and_then(|()| stdout.flush()).context("cannot write to standard output")
}

/// The first line of the code list a child is given, before the number of codes.
const CODES_HEADER: &str = "polars-filter codes, exactly as numbered:";

/// Writes the code list for the children: a first line with the count, then one code a line.
fn write_codes(path: &Path, codes: &[String]) -> Result<()> {
    let mut text = format!("{CODES_HEADER} {}\n", codes.len());
    for code in codes {
        debug_assert!(!code.contains(['\n', '\r']), "refused by check_file_names");
        text.push_str(code);
        text.push('\n');
    }
    writes::create_new(path, Access::Private)
        .and_then(|(mut file, _)| file.write_all(text.as_bytes()))
        .with_context(|| format!("cannot write {}", error::path(path)))
}

/// Reads what [`write_codes`] wrote, as it is: no trimming, no BOM stripping, no de-duplication.
fn read_codes(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the code list {}", error::path(path)))?;
    let mut lines = text.split_terminator('\n');
    let count = lines
        .next()
        .and_then(|first| first.strip_prefix(CODES_HEADER))
        .and_then(|count| count.trim().parse::<usize>().ok());
    let codes: Vec<String> = lines.map(str::to_owned).collect();
    match count {
        Some(count) if count == codes.len() => Ok(codes),
        _ => bail!("{} is not a code list written by this program", error::path(path)),
    }
}

/// The child's answer on the wire: a tag, then the pieces or the error, integers little-endian.
fn encode(result: &Result<Pieces, BlockError>, out: &mut Vec<u8>) {
    match result {
        Ok(p) => {
            out.push(0);
            for n in [p.lines, p.rows, p.input_len, p.pieces.len() as u64] {
                out.extend_from_slice(&n.to_le_bytes());
            }
            for piece in &p.pieces {
                for n in [u64::from(piece.code), piece.rows, piece.end as u64] {
                    out.extend_from_slice(&n.to_le_bytes());
                }
            }
            out.extend_from_slice(&(p.bytes.len() as u64).to_le_bytes());
            out.extend_from_slice(&p.bytes);
        }
        Err(e) => {
            out.push(1);
            out.push(e.kind as u8);
            for n in [e.line, e.row.unwrap_or(u64::MAX), e.message.len() as u64] {
                out.extend_from_slice(&n.to_le_bytes());
            }
            out.extend_from_slice(e.message.as_bytes());
        }
    }
}

/// The inverse of [`encode`]; `None` if the bytes are not an answer.
fn decode(bytes: &[u8]) -> Option<Result<Pieces, BlockError>> {
    let mut at: usize = 0;
    let mut take = |n: usize| -> Option<&[u8]> {
        let slice = bytes.get(at..at.checked_add(n)?)?;
        at += n;
        Some(slice)
    };
    let u64_of = |s: &[u8]| u64::from_le_bytes(s.try_into().unwrap_or_default());
    let tag = take(1)?[0];
    if tag == 0 {
        let lines = u64_of(take(8)?);
        let rows = u64_of(take(8)?);
        let input_len = u64_of(take(8)?);
        let count = usize::try_from(u64_of(take(8)?)).ok()?;
        let mut pieces = Vec::with_capacity(count.min(1 << 20));
        for _ in 0..count {
            let code = u32::try_from(u64_of(take(8)?)).ok()?;
            let rows = u64_of(take(8)?);
            let end = usize::try_from(u64_of(take(8)?)).ok()?;
            pieces.push(Piece { code, rows, end });
        }
        let len = usize::try_from(u64_of(take(8)?)).ok()?;
        let bytes = take(len)?.to_vec();
        Some(Ok(Pieces { bytes, pieces, lines, rows, input_len }))
    } else {
        let kind = ErrorKind::from_u8(take(1)?[0]);
        let line = u64_of(take(8)?);
        let row = Some(u64_of(take(8)?)).filter(|&r| r != u64::MAX);
        let len = usize::try_from(u64_of(take(8)?)).ok()?;
        let message = String::from_utf8_lossy(take(len)?).into_owned();
        Some(Err(BlockError { line, row, kind, message }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_round_trip() {
        let ok = Ok(Pieces {
            bytes: b"1,a,2\n".to_vec(),
            pieces: vec![Piece { code: 3, rows: 1, end: 6 }],
            lines: 4,
            rows: 4,
            input_len: 40,
        });
        let err = Err(BlockError {
            line: 7,
            row: None,
            kind: ErrorKind::Missing,
            message: "age".to_owned(),
        });
        for answer in [ok, err] {
            let mut bytes = Vec::new();
            encode(&answer, &mut bytes);
            assert_eq!(decode(&bytes), Some(answer));
        }
        assert_eq!(decode(b"\x00\x01"), None);
    }

    #[test]
    fn the_code_list_comes_back_exactly() {
        let dir = std::env::temp_dir().join(format!("polars-filter-codes-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("codes.txt");
        let codes: Vec<String> =
            ["\u{FEFF}A", "A", " padded ", ""].iter().map(|c| c.to_string()).collect();
        write_codes(&path, &codes).unwrap();
        assert_eq!(read_codes(&path).unwrap(), codes);
        std::fs::write(&path, "A\nB\n").unwrap();
        assert!(read_codes(&path).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
