//! The data: the bundled file, parsing and validating a CSV, the code list, and the one filter
//! every strategy applies.

use std::collections::HashSet;
use std::io::Cursor;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use polars::prelude::*;

use crate::blocks::{self, HeaderScan};
use crate::error::polars_msg;
use crate::input::Input;
use crate::stream;

/// The classic example file, compiled into the binary so that a fresh clone runs with no setup.
pub(crate) const BUNDLED_CSV: &str = include_str!("../data/people.csv");

/// The default code list: `00002` is a typo that matches nothing and must give an empty result.
pub(crate) const BUNDLED_CODES: [&str; 3] = ["0001", "00002", "0005"];

/// The column every strategy selects on.
pub(crate) const CODE: &str = "code";

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

/// The UTF-8 byte order mark. Only at byte 0 of the file is it not data (Polars strips it there,
/// in the header); anywhere else, the start of a data row's code included, it is part of a field.
pub(crate) const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Parses rows with no header under `schema`, on the calling thread only: the executor is what
/// runs blocks in parallel.
///
/// `rows` never starts at byte 0 of the file (the header is there), so a BOM at its start is data.
/// Polars strips a BOM from the start of every buffer it is given, and has no option to keep it:
/// so such rows are parsed behind one empty line that `skip_rows` drops, and the code of a row
/// is the same whichever block it starts.
pub(crate) fn parse_rows(rows: &[u8], schema: &SchemaRef) -> PolarsResult<DataFrame> {
    let options = CsvReadOptions::default()
        .with_has_header(false)
        .with_schema(Some(schema.clone()))
        .with_n_threads(Some(1))
        .map_parse_options(|parse| parse.with_missing_is_null(false));
    if !rows.starts_with(BOM) {
        return options.into_reader_with_file_handle(Cursor::new(rows)).finish();
    }
    // A copy of the block, only when a row starting with a BOM happens to open it.
    let mut shifted = Vec::with_capacity(rows.len() + 1);
    shifted.push(b'\n');
    shifted.extend_from_slice(rows);
    options.with_skip_rows(1).into_reader_with_file_handle(Cursor::new(shifted)).finish()
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

/// Reads the whole CSV once, proven whole ([`Input::read_all`]), and checks it, or says in one
/// line why it cannot: in the same words as the stream strategies, which name a bad row by its
/// line. Polars parses the bytes in memory: it is never given the file, which it would map (a
/// file truncated while mapped is a SIGBUS).
pub(crate) fn read_frame(input: &Input) -> Result<DataFrame> {
    let what = input.describe();
    let bytes = input.read_all()?;
    // The header on its own first, as the stream reads it: a column named twice is refused here
    // (Polars would rename it), and an empty input gives the stream's message.
    let header_end = HeaderScan::whole(&bytes).map_err(|err| read_error(err, &what))?;
    header_schema(&bytes[..header_end], &what)?;
    let frame = read_options().into_reader_with_file_handle(Cursor::new(bytes.as_slice())).finish();
    let frame = frame.map(|mut frame| {
        // Polars reads each blank line at the end of the file as a row of empty fields.
        let blank = blocks::trailing_blank_lines(&bytes);
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
        Err(err) => match stream::first_bad_row(Box::new(Cursor::new(bytes)), &what) {
            Some(line) => bail!("{line}"),
            None => Err(err),
        },
    }
}

/// An error reading the input: `InvalidData` is a header the reader refused ("cannot parse"),
/// anything else a failed read.
pub(crate) fn read_error(err: std::io::Error, what: &str) -> anyhow::Error {
    if err.kind() == std::io::ErrorKind::InvalidData {
        anyhow!("cannot parse CSV {what}: {err}")
    } else {
        anyhow!("cannot read CSV {what}: {err}")
    }
}

/// Whether every row of `frame` is what a blank line reads as: empty strings and nulls.
fn all_blank(frame: &DataFrame) -> bool {
    frame.columns().iter().all(|column| match column.str() {
        Ok(strings) => strings.iter().all(|s| s.is_none_or(str::is_empty)),
        Err(_) => column.null_count() == column.len(),
    })
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

/// A code becomes a file name in `--out` and in `--processes` mode: it must be one.
pub(crate) fn check_file_names(codes: &[String]) -> Result<()> {
    for code in codes {
        let bad = code == "."
            || code == ".."
            || code.chars().any(|c| c == '/' || c == '\\' || c == '\0' || c.is_control());
        if bad {
            bail!("code {:?} cannot be used as a file name (<code>.csv)", crate::error::code(code));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> SchemaRef {
        header_schema(b"code,name,age\n", "test").unwrap()
    }

    #[test]
    fn a_bom_that_opens_a_block_is_data() {
        for rows in ["\u{FEFF}A,x,1\nA,y,2\n", "\u{FEFF}A,\"x\ny\",1\r\n", "\u{FEFF}\u{FEFF}A,x,1"]
        {
            let frame = parse_rows(rows.as_bytes(), &schema()).unwrap();
            let first = frame.column(CODE).unwrap().str().unwrap().get(0).unwrap().to_owned();
            let expected = rows.split(',').next().unwrap();
            assert_eq!(first, expected, "{rows:?}");
            assert_eq!(frame.height(), rows.matches("A,").count(), "{rows:?}");
        }
    }

    #[test]
    fn a_bom_at_byte_0_of_the_file_is_not_data() {
        let frame = read_frame_bytes(b"\xEF\xBB\xBFcode,name,age\nA,x,1\n", "test").unwrap();
        assert_eq!(frame.get_column_names()[0].as_str(), CODE);
    }
}
