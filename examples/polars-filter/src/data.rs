//! The inputs: the bundled data, reading and validating a CSV, the code list, and the one filter
//! every strategy applies.

use std::collections::HashSet;
use std::fs::File;
use std::io::{Cursor, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use polars::prelude::*;

use crate::blocks::{self, Blocks, RowEnds};
use crate::error::polars_msg;
use crate::stream;

/// The classic example file, compiled into the binary so that a fresh clone runs with no setup.
pub(crate) const BUNDLED_CSV: &str = include_str!("../data/people.csv");

/// The default code list: `00002` is a typo that matches nothing and must give an empty result.
pub(crate) const BUNDLED_CODES: [&str; 3] = ["0001", "00002", "0005"];

/// The column every strategy selects on.
pub(crate) const CODE: &str = "code";

/// Where the rows come from.
#[derive(Debug, Clone)]
pub(crate) enum Source {
    Bundled,
    File(PathBuf),
}

impl Source {
    pub(crate) fn describe(&self) -> String {
        match self {
            Source::Bundled => "the bundled data".to_owned(),
            Source::File(path) => path.display().to_string(),
        }
    }

    /// Opens the input for a sequential read; also gives its size in bytes (for the progress
    /// bar).
    pub(crate) fn open(&self) -> Result<(Box<dyn Read + Send>, u64)> {
        match self {
            Source::Bundled => {
                Ok((Box::new(Cursor::new(BUNDLED_CSV.as_bytes())), BUNDLED_CSV.len() as u64))
            }
            Source::File(path) => {
                let file = open_file(path, "CSV")?;
                let len = file.metadata().map(|m| m.len()).unwrap_or(0);
                Ok((Box::new(file), len))
            }
        }
    }

    /// What identifies this version of the input: device, inode, size and modification time
    /// (`None` for the bundled data, which cannot change).
    pub(crate) fn identity(&self) -> Result<Option<String>> {
        match self {
            Source::Bundled => Ok(None),
            Source::File(path) => {
                let meta = open_file(path, "CSV")?
                    .metadata()
                    .with_context(|| format!("cannot read CSV {}", path.display()))?;
                Ok(Some(identity(&meta)))
            }
        }
    }

    /// The `len` bytes at `offset`: how a `--processes` child reads its block, never the whole
    /// file. With `expected`, the file must still be the version the parent cut.
    pub(crate) fn read_range(
        &self,
        offset: u64,
        len: usize,
        expected: Option<&str>,
    ) -> Result<Vec<u8>> {
        let mut bytes = vec![0; len];
        match self {
            Source::Bundled => {
                let start = usize::try_from(offset).unwrap_or(usize::MAX);
                let range = BUNDLED_CSV.as_bytes().get(start..start.saturating_add(len));
                bytes.copy_from_slice(range.ok_or_else(|| anyhow!("range past the bundled data"))?);
            }
            Source::File(path) => {
                let mut file = open_file(path, "CSV")?;
                if let Some(expected) = expected {
                    let meta = file
                        .metadata()
                        .with_context(|| format!("cannot read CSV {}", path.display()))?;
                    if identity(&meta) != expected {
                        bail!(
                            "the input {} changed during the run: a child would read another \
                             version of it than the one the parent cut into blocks",
                            path.display()
                        );
                    }
                }
                file.seek(SeekFrom::Start(offset))
                    .and_then(|_| file.read_exact(&mut bytes))
                    .with_context(|| format!("cannot read CSV {}", path.display()))?;
            }
        }
        Ok(bytes)
    }
}

/// Every column is read as a string (so `0001` stays `0001`: inference would make it the integer
/// 1), except `age`, which is Int64. Empty fields stay empty strings; fields missing from a short
/// row come back null and are refused by [`validate`].
fn read_options() -> CsvReadOptions {
    let schema = Schema::from_iter([
        Field::new(CODE.into(), DataType::String),
        Field::new("name".into(), DataType::String),
        Field::new("age".into(), DataType::Int64),
    ]);
    CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(Some(0))
        .with_schema_overwrite(Some(Arc::new(schema)))
        .map_parse_options(|parse| parse.with_missing_is_null(false))
}

/// The schema of the whole file, from its header row alone: the same names and types as
/// [`read_frame`] gives, so that every block parses exactly as the whole file would.
pub(crate) fn header_schema(header: &[u8], what: &str) -> Result<SchemaRef> {
    check_duplicate_names(header, what)?;
    let frame = read_options()
        .into_reader_with_file_handle(Cursor::new(header))
        .finish()
        .map_err(|e| anyhow!("cannot parse CSV {what}: {}", polars_msg(&e)))?;
    validate(&frame, what)?;
    Ok(frame.schema().clone())
}

/// Refuses a header that names a column twice: Polars would rename or drop one silently. The
/// header is read as a data row, so the names come back exactly as written.
fn check_duplicate_names(header: &[u8], what: &str) -> Result<()> {
    let Ok(raw) = CsvReadOptions::default()
        .with_has_header(false)
        .with_infer_schema_length(Some(0))
        .into_reader_with_file_handle(Cursor::new(header))
        .finish()
    else {
        // Not even one row: the real read says why, in its own words.
        return Ok(());
    };
    let mut seen = HashSet::new();
    let mut twice = Vec::new();
    for column in raw.columns() {
        if let Ok(Some(name)) = column.str().map(|names| names.get(0)) {
            if !seen.insert(name.to_owned()) && !twice.contains(&name.to_owned()) {
                twice.push(name.to_owned());
            }
        }
    }
    if !twice.is_empty() {
        bail!("duplicate column names in the header of {what}: {}", twice.join(", "));
    }
    Ok(())
}

/// Parses rows with no header under `schema`, on the calling thread only: the executor is what
/// runs blocks in parallel.
pub(crate) fn parse_rows(rows: &[u8], schema: &SchemaRef) -> PolarsResult<DataFrame> {
    CsvReadOptions::default()
        .with_has_header(false)
        .with_schema(Some(schema.clone()))
        .with_n_threads(Some(1))
        .map_parse_options(|parse| parse.with_missing_is_null(false))
        .into_reader_with_file_handle(Cursor::new(rows))
        .finish()
}

/// The first row with a missing field, and that field's column.
pub(crate) fn first_null(frame: &DataFrame) -> Option<(usize, String)> {
    frame.columns().iter().filter(|c| c.null_count() > 0).find_map(|column| {
        let row = column.is_null().iter().position(|null| null == Some(true))?;
        Some((row, column.name().to_string()))
    })
}

/// The header line Polars writes for `schema`: what every `<code>.csv` starts with.
pub(crate) fn header_line(schema: &SchemaRef) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    CsvWriter::new(&mut out)
        .include_header(true)
        .finish(&mut DataFrame::empty_with_schema(schema))
        .map_err(|e| anyhow!("cannot write a CSV header: {}", polars_msg(&e)))?;
    Ok(out)
}

/// Parses a CSV held in memory (with its header), as [`read_frame`] would read it from a file.
pub(crate) fn read_frame_bytes(bytes: &[u8], what: &str) -> Result<DataFrame> {
    let frame = read_options()
        .into_reader_with_file_handle(Cursor::new(bytes))
        .finish()
        .map_err(|e| anyhow!("cannot parse CSV {what}: {}", polars_msg(&e)))?;
    validate(&frame, what)?;
    Ok(frame)
}

/// Reads the whole CSV once and checks it, or says in one line why it cannot: in the same words
/// as the stream strategies, which name a bad row by its line.
pub(crate) fn read_frame(source: &Source) -> Result<DataFrame> {
    let what = source.describe();
    let whole = Whole::open(source)?;
    // The header on its own first, as the stream reads it: a column named twice is refused here
    // (Polars would rename it), and an empty input gives the stream's message.
    header_schema(&whole.header().with_context(|| format!("cannot read CSV {what}"))?, &what)?;
    let frame = whole.parse().map(|mut frame| {
        // Polars reads each blank line at the end of the file as a row of empty fields.
        let blank = whole.trailing_blank_lines().unwrap_or(0);
        if blank > 0 && blank <= frame.height() && all_blank(&frame.slice(-(blank as i64), blank)) {
            frame = frame.slice(0, frame.height() - blank);
        }
        frame
    });
    let checked = frame
        .map_err(|e| anyhow!("cannot parse CSV {what}: {}", polars_msg(&e)))
        .and_then(|frame| validate(&frame, &what).map(|()| frame));
    match checked {
        Ok(frame) => Ok(frame),
        // Find the bad row as the stream does, to name its line; only on bad input.
        Err(err) => match whole.reader().ok().and_then(|r| stream::first_bad_row(r, &what)) {
            Some(line) => bail!("{line}"),
            None => Err(err),
        },
    }
}

/// Whether every row of `frame` is what a blank line reads as: empty strings and nulls.
fn all_blank(frame: &DataFrame) -> bool {
    frame.columns().iter().all(|column| match column.str() {
        Ok(strings) => strings.iter().all(|s| s.is_none_or(str::is_empty)),
        Err(_) => column.null_count() == column.len(),
    })
}

/// The input of the whole-frame strategies: a regular file (Polars maps it), or the bytes of
/// anything else, read once (a FIFO or a device such as `/dev/null` cannot be mapped).
enum Whole {
    File(File),
    Bytes(Vec<u8>),
}

impl Whole {
    fn open(source: &Source) -> Result<Self> {
        let Source::File(path) = source else {
            return Ok(Whole::Bytes(BUNDLED_CSV.as_bytes().to_vec()));
        };
        let mut file = open_file(path, "CSV")?;
        if file.metadata().is_ok_and(|meta| meta.is_file()) {
            return Ok(Whole::File(file));
        }
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .with_context(|| format!("cannot read CSV {}", path.display()))?;
        Ok(Whole::Bytes(bytes))
    }

    /// A reader from the start (sharing the file's offset: one reader at a time).
    fn reader(&self) -> std::io::Result<Box<dyn Read + Send>> {
        Ok(match self {
            Whole::File(file) => {
                let mut file = file.try_clone()?;
                file.seek(SeekFrom::Start(0))?;
                Box::new(file)
            }
            Whole::Bytes(bytes) => Box::new(Cursor::new(bytes.clone())),
        })
    }

    fn header(&self) -> std::io::Result<Vec<u8>> {
        match self {
            Whole::File(_) => Ok(Blocks::new(self.reader()?, 64 << 10, false)?.0),
            Whole::Bytes(bytes) => {
                let end = RowEnds::new(bytes).next().unwrap_or(bytes.len());
                Ok(bytes[..end].to_vec())
            }
        }
    }

    fn parse(&self) -> PolarsResult<DataFrame> {
        match self {
            Whole::File(file) => {
                let mut file = file.try_clone()?;
                file.seek(SeekFrom::Start(0))?;
                read_options().into_reader_with_file_handle(file).finish()
            }
            Whole::Bytes(bytes) => {
                read_options().into_reader_with_file_handle(Cursor::new(bytes.as_slice())).finish()
            }
        }
    }

    /// How many blank lines end the input, read from its end.
    fn trailing_blank_lines(&self) -> std::io::Result<usize> {
        let file = match self {
            Whole::File(file) => file,
            Whole::Bytes(bytes) => return Ok(blocks::trailing_blank_lines(bytes)),
        };
        let mut file = file.try_clone()?;
        let mut end = file.metadata()?.len();
        let mut tail = Vec::new();
        // Back from the end, 64 KiB at a time, until a byte that is not a line break.
        while end > 0 {
            let start = end.saturating_sub(64 << 10);
            let mut chunk = vec![0; (end - start) as usize];
            file.seek(SeekFrom::Start(start))?;
            file.read_exact(&mut chunk)?;
            chunk.extend_from_slice(&tail);
            tail = chunk;
            end = start;
            if !blocks::is_blank(&tail) {
                break;
            }
        }
        Ok(blocks::trailing_blank_lines(&tail))
    }
}

fn open_file(path: &Path, what: &str) -> Result<File> {
    let file =
        File::open(path).with_context(|| format!("cannot read {what} {}", path.display()))?;
    let meta = file.metadata().with_context(|| format!("cannot read {what} {}", path.display()))?;
    if meta.is_dir() {
        bail!("cannot read {what} {}: it is a directory", path.display());
    }
    Ok(file)
}

/// A `code` column must exist, and no row may lack a field (a short row reads as nulls).
fn validate(frame: &DataFrame, what: &str) -> Result<()> {
    if frame.column(CODE).is_err() {
        let names: Vec<&str> = frame.get_column_names().into_iter().map(|n| n.as_str()).collect();
        bail!("no `{CODE}` column in {what} (its header has: {})", names.join(", "));
    }
    for column in frame.columns() {
        if column.null_count() == 0 {
            continue;
        }
        let row = column.is_null().iter().position(|null| null == Some(true)).unwrap_or(0);
        bail!(
            "malformed row in {what}: data row {} has no value for column `{}`",
            row + 1,
            column.name()
        );
    }
    Ok(())
}

/// The rows whose code equals `code`, in input order, with every column in input order. An
/// absent code gives an empty frame with the same columns.
pub(crate) fn select(frame: &DataFrame, code: &str) -> PolarsResult<DataFrame> {
    let mask = frame.column(CODE)?.str()?.equal(code);
    frame.filter(&mask)
}

/// The code list from `--codes` or `--codes-file`: trimmed, blanks dropped, duplicates removed
/// (first occurrence kept). An empty result is an error.
pub(crate) fn parse_codes<'a>(
    items: impl IntoIterator<Item = &'a str>,
    what: &str,
) -> Result<Vec<String>> {
    let mut seen = HashSet::new();
    let codes: Vec<String> = items
        .into_iter()
        .map(str::trim)
        .filter(|code| !code.is_empty())
        .filter(|code| seen.insert(code.to_string()))
        .map(str::to_owned)
        .collect();
    if codes.is_empty() {
        bail!("empty code list: {what} has no codes");
    }
    Ok(codes)
}

/// Reads `--codes-file`: one code a line.
pub(crate) fn read_codes_file(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read codes file {}", path.display()))?;
    // Windows editors start a UTF-8 file with a BOM: it is not part of the first code. (`lines`
    // and the trim take care of CRLF.)
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(&text);
    parse_codes(text.lines(), &format!("codes file {}", path.display()))
}

/// Creates `path` afresh: whatever was there is removed first (unlinking a symlink removes the
/// link, not its target), and the file is created with `O_EXCL`, so no existing path, a symlink
/// planted in a shared directory included, is ever written through.
pub(crate) fn create_new(path: &Path) -> std::io::Result<File> {
    match std::fs::remove_file(path) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => return Err(err),
        _ => {}
    }
    std::fs::OpenOptions::new().write(true).create_new(true).open(path)
}

/// Refuses an `--out` where a result file (or its `.part`) would be the input file itself:
/// `--csv 2024.csv --codes 2024 --out .` would replace the input with its own 2024 rows.
pub(crate) fn check_out_is_not_input(out: &Path, codes: &[String], source: &Source) -> Result<()> {
    let Source::File(csv) = source else { return Ok(()) };
    let Ok(input) = std::fs::metadata(csv) else { return Ok(()) };
    if !out.is_dir() {
        return Ok(());
    }
    for code in codes {
        for name in [format!("{code}.csv"), format!("{code}.csv.part")] {
            let target = out.join(&name);
            if std::fs::metadata(&target).is_ok_and(|meta| same_file(&meta, &input)) {
                bail!(
                    "--out {} would overwrite the input {}: the result for code {code} is {name}",
                    out.display(),
                    csv.display()
                );
            }
        }
    }
    Ok(())
}

/// Device, inode, size and modification time of a file, as one string.
fn identity(meta: &std::fs::Metadata) -> String {
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    #[cfg(unix)]
    let inode = {
        use std::os::unix::fs::MetadataExt;
        format!("{}:{}", meta.dev(), meta.ino())
    };
    #[cfg(not(unix))]
    let inode = String::from("-");
    format!("{inode}:{}:{mtime}", meta.len())
}

#[cfg(unix)]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    (a.dev(), a.ino()) == (b.dev(), b.ino())
}

#[cfg(not(unix))]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    // Without inodes: the same size and modification time is taken as the same file (refusing
    // too much is the safe side).
    a.len() == b.len() && a.modified().ok() == b.modified().ok()
}

/// A code becomes a file name in `--out` and in `--processes` mode: it must be one.
pub(crate) fn check_file_names(codes: &[String]) -> Result<()> {
    for code in codes {
        let bad = code == "."
            || code == ".."
            || code.chars().any(|c| c == '/' || c == '\\' || c == '\0' || c.is_control());
        if bad {
            bail!("code {code:?} cannot be used as a file name (<code>.csv)");
        }
    }
    Ok(())
}

/// Writes `frame` as CSV with a header, through a temporary name so that a failure never leaves
/// a partial `<code>.csv` behind.
pub(crate) fn write_csv(frame: &mut DataFrame, path: &Path) -> Result<()> {
    let mut partial = path.as_os_str().to_owned();
    partial.push(".part");
    let partial = PathBuf::from(partial);
    let result = (|| {
        let file = create_new(&partial)?;
        CsvWriter::new(file)
            .include_header(true)
            .finish(frame)
            .map_err(|e| std::io::Error::other(polars_msg(&e)))?;
        std::fs::rename(&partial, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result.with_context(|| format!("cannot write {}", path.display()))
}
