//! The selection before parsing: a byte-level pass over a block that finds the rows whose code is
//! wanted, and proves every other row good, before Polars builds any column.
//!
//! Polars then parses only the selected rows. A block where 3 codes of 20,000 are wanted costs a
//! scan of its bytes instead of a parse of every row into columns.
//!
//! # What the pass accepts, and what it hands to Polars
//!
//! The pass never refuses a row itself: it says either "every row of this block is one Polars
//! accepts, and these are the wanted ones" ([`scan`] returns the selection), or "some row needs
//! Polars' judgement" (`None`), and then the block is parsed whole by Polars as before, which
//! accepts it or names the bad row in the usual words. So a row it calls good must be one Polars
//! reads the same way, and everything else goes to Polars:
//!
//! - the block is valid UTF-8 (every column but the integers is a string);
//! - each row has exactly as many fields as the header, and is not blank;
//! - each integer column (`age`) holds `-?[0-9]{1,18}`, unquoted: a value Polars parses as an
//!   `i64` (a `+`, a quoted number, 19 digits and more go to Polars, which may still accept them);
//! - each quoted field is canonical RFC 4180: it opens with `"` at its start, closes with `"` at
//!   its end, and every `"` inside is doubled. Anything else (`a"b`, `"a"b`) is where CSV readers
//!   disagree, and where the block cutter's "every quote toggles" might not match: Polars decides.
//! - the block does not start with a BOM (it is data there, and `csv-core` would strip it).
//!
//! A row's last field loses one `\r` before `\n` (a CRLF row end), as Polars reads it.
//!
//! # The state machine
//!
//! Fields are split by `csv-core` (the state machine of the `csv` crate and `xsv`), with `\n` as
//! the only row end: a lone `\r` is data, as for Polars and the block cutter. `csv-core` skips
//! blank lines, which Polars reads as rows: the pass sees them coming and hands the block to
//! Polars. Each field's raw bytes (what `csv-core` consumed for it) are kept beside its unescaped
//! value, so that a quoted field can be proven canonical.

use csv_core::{ReadFieldResult, ReaderBuilder, Terminator};
use polars::prelude::{DataType, Schema};

use crate::blocks::count_lines;
use crate::data::{BOM, CODE};
use crate::stream::Wanted;

/// Where the fields the pass looks at are, from the header's schema.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    /// Fields in each row.
    fields: usize,
    /// What the pass checks in each field.
    kinds: Vec<Kind>,
}

/// What the pass does with a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A string: any UTF-8.
    Text,
    /// An `Int64` column: proven an integer.
    Int,
    /// The `code` column (a string): looked up among the wanted codes.
    Code,
}

impl Layout {
    /// The layout of rows read under `schema`; `None` if it has a column type the pass does not
    /// know how Polars parses (every block then goes to Polars whole).
    pub(crate) fn of(schema: &Schema) -> Option<Layout> {
        let code = schema.index_of(CODE)?;
        let mut kinds = Vec::with_capacity(schema.len());
        for (i, dtype) in schema.iter_values().enumerate() {
            kinds.push(match dtype {
                DataType::String if i == code => Kind::Code,
                DataType::String => Kind::Text,
                DataType::Int64 if i != code => Kind::Int,
                _ => return None,
            });
        }
        Some(Layout { fields: schema.len(), kinds })
    }
}

/// One selected row: `block[start..end]` (its line break included, if it has one), and its code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Hit {
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) code: u32,
}

/// What the pass found in a block whose every row is good.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Selection {
    /// Rows in the block.
    pub(crate) rows: u64,
    /// Line breaks in the block.
    pub(crate) lines: u64,
    /// The selected rows, in block order.
    pub(crate) hits: Vec<Hit>,
}

/// Scans `block` (whole rows, starting outside quotes, never at byte 0 of the file): the rows
/// whose code is wanted, or `None` if some row must be judged by Polars (see the module's docs).
pub(crate) fn scan(block: &[u8], layout: &Layout, wanted: &Wanted) -> Option<Selection> {
    if block.starts_with(BOM) || std::str::from_utf8(block).is_err() {
        return None;
    }
    if memchr::memchr(b'"', block).is_none() {
        return scan_unquoted(block, layout, wanted);
    }
    scan_quoted(block, layout, wanted)
}

/// A block with no `"` at all (the common case): no field is quoted, so there is no state to
/// keep. Each `,` ends a field and each `\n` a row: one pass over the bytes, with nothing copied.
/// (Measured on the 5M-row file, 3 codes: this pass costs about a tenth of the CPU time of
/// `csv-core`'s, which copies every field out and steps its automaton byte by byte.)
fn scan_unquoted(block: &[u8], layout: &Layout, wanted: &Wanted) -> Option<Selection> {
    let mut selection = Selection::default();
    let (mut row_start, mut field_start, mut field) = (0, 0, 0);
    let mut code = None;
    for i in Separators::new(block) {
        let row_end = block[i] == b'\n';
        // A CRLF row end: the `\r` is not part of the last field.
        let end = if row_end && i > field_start && block[i - 1] == b'\r' { i - 1 } else { i };
        let value = &block[field_start..end];
        match layout.kinds.get(field) {
            Some(Kind::Text) => {}
            Some(Kind::Int) if is_i64(value) => {}
            Some(Kind::Code) => code = wanted.find_in(block, field_start, end),
            _ => return None,
        }
        field += 1;
        field_start = i + 1;
        if !row_end {
            continue;
        }
        // (A blank line in a one-column file is its one empty field: Polars' to read.)
        if field != layout.fields || (field == 1 && value.is_empty()) {
            return None;
        }
        selection.rows += 1;
        if let Some(code) = code.take() {
            selection.hits.push(Hit { start: row_start, end: i + 1, code });
        }
        (field, row_start) = (0, i + 1);
    }
    // Every line break ended a row.
    selection.lines = selection.rows;
    if row_start < block.len() {
        // The file's last row, with no line break after it (a lone `\r` there: Polars decides).
        let value = &block[field_start..];
        match layout.kinds.get(field) {
            Some(Kind::Text) => {}
            Some(Kind::Int) if is_i64(value) => {}
            Some(Kind::Code) => code = wanted.find(value),
            _ => return None,
        }
        if field + 1 != layout.fields || value.ends_with(b"\r") || (field == 0 && value.is_empty())
        {
            return None;
        }
        selection.rows += 1;
        if let Some(code) = code {
            selection.hits.push(Hit { start: row_start, end: block.len(), code });
        }
    }
    Some(selection)
}

/// The offsets of every `,` and `\n` in a block, found eight bytes at a time (SWAR: each byte
/// equal to one of them sets its top bit in a mask). Separators come every few bytes in a CSV, so
/// this beats a search that returns to its caller for each (`memchr2`: about 1.5x the time).
struct Separators<'a> {
    words: std::slice::ChunksExact<'a, u8>,
    /// The bytes past the last whole word.
    tail: &'a [u8],
    /// Offset of the word in `mask`.
    base: usize,
    mask: u64,
}

impl<'a> Separators<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        let words = bytes.chunks_exact(8);
        let tail = words.remainder();
        Separators { words, tail, base: 0, mask: 0 }
    }
}

const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
const ONES: u64 = 0x0101_0101_0101_0101;

/// The top bit of each byte of `word` that equals `byte` (exact: no carry crosses bytes).
#[inline(always)]
fn equal_bytes(word: u64, byte: u8) -> u64 {
    let x = word ^ (ONES * u64::from(byte));
    !(((x & LOW7) + LOW7) | x | LOW7)
}

impl Iterator for Separators<'_> {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        while self.mask == 0 {
            match self.words.next() {
                Some(word) => {
                    let word = u64::from_le_bytes(word.try_into().unwrap_or_default());
                    self.base += 8;
                    self.mask = equal_bytes(word, b',') | equal_bytes(word, b'\n');
                }
                None => {
                    let at = self.tail.iter().position(|&b| b == b',' || b == b'\n')?;
                    self.tail = &self.tail[at + 1..];
                    // The tail starts where the last word ended.
                    let offset = self.base + at;
                    self.base += at + 1;
                    return Some(offset);
                }
            }
        }
        let offset = self.base - 8 + (self.mask.trailing_zeros() / 8) as usize;
        self.mask &= self.mask - 1;
        Some(offset)
    }
}

/// A block with quotes: `csv-core` splits the fields, and each quoted field is proven canonical
/// from its raw bytes.
fn scan_quoted(block: &[u8], layout: &Layout, wanted: &Wanted) -> Option<Selection> {
    let mut reader = ReaderBuilder::new().terminator(Terminator::Any(b'\n')).build();
    // A field's unescaped value is never longer than its raw bytes.
    let mut value = vec![0u8; block.len().max(1)];
    let mut selection = Selection::default();
    let (mut pos, mut row_start, mut field) = (0, 0, 0);
    let mut code = None;
    loop {
        if field == 0 {
            row_start = pos;
            let rest = &block[pos..];
            if rest.is_empty() {
                selection.lines = count_lines(block);
                return Some(selection);
            }
            // A blank line: csv-core would skip it, Polars reads it as a row.
            if rest[0] == b'\n' || rest.starts_with(b"\r\n") {
                return None;
            }
        }
        let (result, nin, nout) = reader.read_field(&block[pos..], &mut value);
        let mut raw = &block[pos..pos + nin];
        pos += nin;
        let row_end = match result {
            ReadFieldResult::Field { record_end } => record_end,
            // The last row has no line break: the empty input ends it.
            ReadFieldResult::InputEmpty if pos == block.len() => {
                match reader.read_field(&[], &mut value[nout..]) {
                    (ReadFieldResult::Field { record_end: true }, 0, _) => true,
                    _ => return None,
                }
            }
            _ => return None,
        };
        let mut text = &value[..nout];
        if row_end {
            match raw.strip_suffix(b"\n") {
                Some(line) => raw = line,
                // The file's last row, with no line break after it: a lone `\r` there is
                // Polars' to judge.
                None if raw.ends_with(b"\r") => return None,
                None => {}
            }
            if let Some(stripped) = raw.strip_suffix(b"\r") {
                raw = stripped;
                text = text.strip_suffix(b"\r")?;
            }
        } else {
            raw = raw.strip_suffix(b",")?;
        }
        if !canonical(raw, text) {
            return None;
        }
        match layout.kinds.get(field) {
            Some(Kind::Text) => {}
            Some(Kind::Int) if is_i64(raw) => {}
            Some(Kind::Code) => code = wanted.find(text),
            _ => return None,
        }
        field += 1;
        if row_end {
            // (A one-column row can be empty only as a blank line: Polars' to read.)
            if field != layout.fields || (field == 1 && raw.is_empty()) {
                return None;
            }
            selection.rows += 1;
            if let Some(code) = code.take() {
                selection.hits.push(Hit { start: row_start, end: pos, code });
            }
            field = 0;
        }
    }
}

/// Whether a field's raw bytes are either unquoted (no `"` at all) or one canonical quoted field
/// whose unescaped value is `text`.
fn canonical(raw: &[u8], text: &[u8]) -> bool {
    if memchr::memchr(b'"', raw).is_none() {
        return raw.len() == text.len();
    }
    let Some(inner) = raw.strip_prefix(b"\"").and_then(|r| r.strip_suffix(b"\"")) else {
        return false;
    };
    let quotes = memchr::memchr_iter(b'"', inner).count();
    // Every inner quote doubled: `""` → `"`, so the value is the inner bytes less half of them.
    quotes.is_multiple_of(2) && text.len() == inner.len() - quotes / 2
}

/// Whether `raw` is an integer every `i64` parser reads alike: an optional `-`, then 1 to 18
/// digits (19 digits may overflow: Polars decides).
fn is_i64(raw: &[u8]) -> bool {
    let digits = raw.strip_prefix(b"-").unwrap_or(raw);
    (1..=18).contains(&digits.len()) && digits.iter().all(u8::is_ascii_digit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars::prelude::Field;

    fn layout(names: &[&str]) -> Layout {
        let schema = Schema::from_iter(names.iter().map(|&name| {
            let dtype = if name == "age" { DataType::Int64 } else { DataType::String };
            Field::new(name.into(), dtype)
        }));
        Layout::of(&schema).unwrap()
    }

    fn codes(block: &str, names: &[&str], wanted: &[&str]) -> Option<Vec<(String, u32)>> {
        let wanted = Wanted::new(&wanted.iter().map(|c| c.to_string()).collect::<Vec<_>>());
        let selection = scan(block.as_bytes(), &layout(names), &wanted)?;
        let rows = selection.hits.iter().map(|h| (block[h.start..h.end].to_owned(), h.code));
        Some(rows.collect())
    }

    const PEOPLE: [&str; 3] = ["code", "name", "age"];

    #[test]
    fn wanted_rows_are_found_with_their_line_breaks() {
        let block = "0001,a,1\n0002,b,2\r\n0001,\"x,\"\"y\"\"\nz\",-3\n0003,c,4";
        let found = codes(block, &PEOPLE, &["0001", "0003"]).unwrap();
        let expected = [("0001,a,1\n", 0), ("0001,\"x,\"\"y\"\"\nz\",-3\n", 0), ("0003,c,4", 1)];
        assert_eq!(found, expected.map(|(row, code)| (row.to_owned(), code)));
    }

    #[test]
    fn the_code_is_found_wherever_the_header_puts_it_quoted_or_not() {
        let names = ["age", "name", "code"];
        let block = "1,a,0001\r\n2,b,\"0001\"\r\n3,c,\"00\"\"01\"\n4,d,0002\n";
        let found = codes(block, &names, &["0001", "00\"01"]).unwrap();
        let rows: Vec<u32> = found.iter().map(|(_, code)| *code).collect();
        assert_eq!(rows, [0, 0, 1]);
    }

    #[test]
    fn rows_polars_must_judge_are_handed_to_it() {
        for block in [
            "0001,a,1\n0002,b\n",           // a field short
            "0001,a,1,x\n",                 // a field too many
            "0001,a,ten\n",                 // not an integer
            "0001,a,+1\n",                  // Polars accepts it, the pass does not decide
            "0001,a,\"1\"\n",               // a quoted integer
            "0001,a,1234567890123456789\n", // 19 digits
            "0001,a,\n",                    // an empty integer
            "0001,a,1\n\n0002,b,2\n",       // a blank line
            "0001,a,1\n\r\n0002,b,2\n",     // a blank CRLF line
            "0001,a\"b,1\n",                // a quote inside an unquoted field
            "0001,\"a\"b,1\n",              // text after a closing quote
            "0001,\"a\" ,1\n",              // a space after a closing quote
            "\u{FEFF}0001,a,1\n",           // a BOM that opens a block
        ] {
            assert_eq!(codes(block, &PEOPLE, &["0001"]), None, "{block:?}");
        }
        let invalid = b"0001,\xFF,1\n";
        let wanted = Wanted::new(&["0001".to_owned()]);
        assert_eq!(scan(invalid, &layout(&PEOPLE), &wanted), None);
    }

    #[test]
    fn bad_rows_in_unwanted_codes_are_seen_too() {
        assert_eq!(codes("0001,a,1\n0009,b,x\n", &PEOPLE, &["0001"]), None);
        assert_eq!(codes("0001,a,1\n0009,b,x\n", &PEOPLE, &[]), None);
        assert_eq!(codes("0001,a,1\n0009,b,2\n", &PEOPLE, &[]), Some(vec![]));
    }

    #[test]
    fn a_one_column_file_hands_its_blank_lines_to_polars() {
        assert_eq!(codes("A\nB\r\n", &["code"], &["B"]).unwrap(), [("B\r\n".to_owned(), 0)]);
        assert_eq!(codes("A\n\nB\n", &["code"], &["B"]), None);
        assert_eq!(codes("A\n\r\nB\n", &["code"], &["B"]), None);
    }

    #[test]
    fn separators_are_found_at_every_offset() {
        for len in 0..40 {
            for seed in 0..20u64 {
                let bytes: Vec<u8> = (0..len)
                    .map(|i| match (i as u64 * 7 + seed * 13) % 5 {
                        0 => b',',
                        1 => b'\n',
                        2 => 0xAC, // ',' with the top bit set
                        3 => b'\n' + 1,
                        _ => b'x',
                    })
                    .collect();
                let expected: Vec<usize> =
                    (0..len).filter(|&i| bytes[i] == b',' || bytes[i] == b'\n').collect();
                assert_eq!(Separators::new(&bytes).collect::<Vec<_>>(), expected, "{bytes:?}");
            }
        }
    }

    #[test]
    fn both_passes_agree_on_blocks_without_quotes() {
        // Every block of 4 symbols of a small alphabet, and a sample of blocks of 8: both passes
        // must give the same answer, selection or hand-over, for each.
        let wanted = Wanted::new(&["A".to_owned(), "-1".to_owned()]);
        let people = layout(&PEOPLE);
        let one = layout(&["code"]);
        let alphabet: [&[u8]; 8] = [b"A", b",", b"\n", b"\r", b"1", b"-", b"x", b"\r\n"];
        let mut block = Vec::new();
        let mut seed = 1u64;
        for n in 0..2 * 8u64.pow(4) {
            let (mut k, symbols) = if n < 8u64.pow(4) {
                (n, 4)
            } else {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                (seed >> 20, 8)
            };
            block.clear();
            for _ in 0..symbols {
                block.extend_from_slice(alphabet[(k % 8) as usize]);
                k /= 8;
            }
            for layout in [&people, &one] {
                let quoted = scan_quoted(&block, layout, &wanted);
                let unquoted = scan_unquoted(&block, layout, &wanted);
                assert_eq!(quoted, unquoted, "{:?}", String::from_utf8_lossy(&block));
            }
        }
    }

    #[test]
    fn a_bom_inside_a_block_is_part_of_its_code() {
        let found = codes("A,a,1\n\u{FEFF}A,b,2\n", &PEOPLE, &["\u{FEFF}A"]).unwrap();
        assert_eq!(found, [("\u{FEFF}A,b,2\n".to_owned(), 0)]);
    }
}
