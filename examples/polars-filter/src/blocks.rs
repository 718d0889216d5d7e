//! The producer of `--strategy stream`: the CSV read once, sequentially, and cut into blocks of
//! about `--block-size` bytes, each ending at a row end.
//!
//! # Where a row ends (RFC 4180)
//!
//! A row ends at a `\n` outside quotes (a CRLF row end is a `\r\n`: its `\n` ends the row and the
//! `\r` stays with the row, for Polars to strip). A quoted field may hold commas, doubled quotes
//! (`""`) and line breaks; every `"` toggles "inside quotes", so a doubled quote toggles twice and
//! changes nothing. A block always starts outside quotes, because the previous one was cut at a row
//! end, so a block can be scanned on its own. When a block has no `"` at all (the common case),
//! its last row end is simply its last `\n`.

use std::io::{self, Read};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

/// The longest row the producer accepts before it calls the input broken: a row longer than this
/// is almost surely a quote that is never closed, and growing a block without end would undo the
/// bound on memory.
const MAX_ROW: usize = 256 << 20;

/// The largest `--block-size`: as long as the longest row. Blocks past a few MiB only lose
/// parallelism at the end of the file (see the README's measurements), and `capacity()` of them
/// are alive at once.
pub(crate) const MAX_BLOCK_SIZE: usize = MAX_ROW;

/// The first read into an empty buffer. After it, each read asks for as much as the buffer holds
/// already, so the buffer grows with the data that arrives, never to the block size up front:
/// a 25-byte file costs 64 KiB at any `--block-size`.
const FIRST_READ: usize = 64 << 10;

/// The row ends (offsets just past each `\n` outside quotes) of `bytes`, which starts outside
/// quotes. After the iterator is exhausted, [`RowEnds::open_quote`] says whether `bytes` ends inside
/// a quoted field, and where that field opened.
#[derive(Debug)]
pub(crate) struct RowEnds<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// False when `bytes` holds no `"`: then every `\n` is a row end.
    quotes: bool,
    quoted: bool,
    opened: usize,
}

impl<'a> RowEnds<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        let quotes = memchr::memchr(b'"', bytes).is_some();
        RowEnds { bytes, pos: 0, quotes, quoted: false, opened: 0 }
    }

    /// The offset of the `"` that opened a quoted field still open where the scan stopped.
    pub(crate) fn open_quote(&self) -> Option<usize> {
        self.quoted.then_some(self.opened)
    }

    /// The last row end of the whole of `bytes`.
    pub(crate) fn last(mut self) -> Option<usize> {
        if !self.quotes {
            return memchr::memrchr(b'\n', self.bytes).map(|i| i + 1);
        }
        let mut last = None;
        for end in &mut self {
            last = Some(end);
        }
        last
    }
}

impl Iterator for RowEnds<'_> {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        let rest = &self.bytes[self.pos..];
        if !self.quotes {
            let i = memchr::memchr(b'\n', rest)?;
            self.pos += i + 1;
            return Some(self.pos);
        }
        for i in memchr::memchr2_iter(b'"', b'\n', rest) {
            let at = self.pos + i;
            if self.bytes[at] == b'"' {
                self.quoted = !self.quoted;
                if self.quoted {
                    self.opened = at;
                }
            } else if !self.quoted {
                self.pos = at + 1;
                return Some(self.pos);
            }
        }
        self.pos = self.bytes.len();
        None
    }
}

/// Whether `bytes` holds nothing but line breaks.
pub(crate) fn is_blank(bytes: &[u8]) -> bool {
    bytes.iter().all(|&b| b == b'\n' || b == b'\r')
}

/// Where `bytes`, which starts at a row start, ends once the blank lines at its end are left out:
/// just past its last row's line break (0 when it holds nothing but line breaks).
pub(crate) fn without_trailing_blank_lines(bytes: &[u8]) -> usize {
    let start = bytes.iter().rposition(|&b| b != b'\n' && b != b'\r').map_or(0, |p| p + 1);
    if start == 0 {
        return 0;
    }
    match memchr::memchr(b'\n', &bytes[start..]) {
        Some(p) => start + p + 1,
        None => bytes.len(),
    }
}

/// How many blank lines end `bytes`, which starts at a row start (Polars reads each as a row).
pub(crate) fn trailing_blank_lines(bytes: &[u8]) -> usize {
    let kept = without_trailing_blank_lines(bytes);
    bytes[kept..].iter().filter(|&&b| b == b'\n').count()
}

/// The number of line breaks in `bytes`: how line numbers advance over a block.
pub(crate) fn count_lines(bytes: &[u8]) -> u64 {
    // A plain count: the compiler vectorises it, where an iterator of matches pays per match.
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

/// Why the input cannot be cut into rows, at a place in one block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BlockError {
    /// Line breaks in the block before the record at fault (0: its first line).
    pub(crate) line: u64,
    /// The record's index in the block, when known.
    pub(crate) row: Option<u64>,
    pub(crate) kind: ErrorKind,
    pub(crate) message: String,
}

/// What kind of fault a [`BlockError`] is: decides how the one error line reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorKind {
    /// Polars refused the row (a field too many, a bad integer, ...).
    Parse = 0,
    /// The row lacks a field; `message` is the column's name.
    Missing = 1,
    /// A quoted field is never closed (or a row is longer than [`MAX_ROW`]).
    Quote = 2,
    /// Anything else (a read error, a child that failed); `message` says it all.
    Other = 3,
}

impl ErrorKind {
    pub(crate) fn from_u8(byte: u8) -> Self {
        match byte {
            1 => ErrorKind::Missing,
            2 => ErrorKind::Quote,
            3 => ErrorKind::Other,
            _ => ErrorKind::Parse,
        }
    }
}

/// The longest header row accepted, in bytes: a header is a few dozen column names, and one with
/// no row end this far in is a quote never closed (or not a CSV), refused before more is read.
pub(crate) const MAX_HEADER: usize = 1 << 20;

/// Finds where the header row ends as its bytes arrive, scanning each byte once (the header reader
/// rescanned from the start after every read: 12 s for 48 MB), and refuses a header that leaves a
/// quoted field open or runs past [`MAX_HEADER`], as strictly as the blocks refuse a row.
#[derive(Debug, Default)]
pub(crate) struct HeaderScan {
    scanned: usize,
    quoted: bool,
}

impl HeaderScan {
    /// The header's end (just past its row end) in `bytes`, everything read so far; `None` while
    /// more must be read. At the end of the input (`eof`), the header is the whole input unless a
    /// quoted field is still open. The error is `InvalidData`, with the reason as its message.
    pub(crate) fn end(&mut self, bytes: &[u8], eof: bool) -> io::Result<Option<usize>> {
        let upto = bytes.len().min(MAX_HEADER + 1);
        for i in memchr::memchr2_iter(b'"', b'\n', &bytes[self.scanned..upto]) {
            let at = self.scanned + i;
            if bytes[at] == b'"' {
                self.quoted = !self.quoted;
            } else if !self.quoted {
                return Ok(Some(at + 1));
            }
        }
        self.scanned = upto;
        let refuse = |why: String| Err(io::Error::new(io::ErrorKind::InvalidData, why));
        if upto > MAX_HEADER {
            return refuse(format!(
                "the header (line 1) is longer than {} MiB{}",
                MAX_HEADER >> 20,
                if self.quoted { ": a quoted field opened in it is never closed" } else { "" }
            ));
        }
        match (eof, self.quoted) {
            (true, true) => {
                refuse("the header (line 1) opens a quoted field that is never closed".to_owned())
            }
            (true, false) => Ok(Some(bytes.len())),
            (false, _) => Ok(None),
        }
    }

    /// The header of an input held whole in memory.
    pub(crate) fn whole(bytes: &[u8]) -> io::Result<usize> {
        Ok(HeaderScan::default().end(bytes, true)?.unwrap_or(bytes.len()))
    }
}

/// One block: whole rows of the input, `offset` bytes from the file's start.
#[derive(Debug)]
pub(crate) struct Block {
    /// The rows, or nothing when the producer was told not to keep them (`--processes`: each
    /// child reads its own range).
    pub(crate) bytes: Vec<u8>,
    pub(crate) offset: u64,
    pub(crate) len: usize,
}

/// What the producer counts, shared with the consumer (which frees a block's slot).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// Blocks read and not yet fully consumed.
    alive: AtomicUsize,
    /// The most `alive` ever was.
    peak: AtomicUsize,
    /// Blocks read.
    blocks: AtomicU64,
}

impl Counters {
    /// Called by the consumer once a block's result has been used up.
    pub(crate) fn consumed(&self) {
        // ORDERING: Relaxed: one thread (the consumer, which also runs the producer) reads and
        // writes these; the atomics only make the struct shareable.
        self.alive.fetch_sub(1, Ordering::Relaxed);
    }

    pub(crate) fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    pub(crate) fn blocks(&self) -> u64 {
        self.blocks.load(Ordering::Relaxed)
    }
}

/// The producer: an iterator of blocks over a reader, pulled by the executor's `map` only when a
/// slot is free, so at most `capacity()` blocks are ever alive.
pub(crate) struct Blocks {
    reader: Box<dyn Read + Send>,
    block_size: usize,
    keep_bytes: bool,
    /// Bytes read past the last cut.
    pending: Vec<u8>,
    /// File offset of `pending[0]`.
    offset: u64,
    eof: bool,
    done: bool,
    counters: Arc<Counters>,
}

impl std::fmt::Debug for Blocks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Blocks").field("offset", &self.offset).finish_non_exhaustive()
    }
}

impl Blocks {
    /// Reads the header row (the first row, quote-aware) and returns it with the producer of the
    /// blocks after it. An empty input gives an empty header.
    pub(crate) fn new(
        reader: Box<dyn Read + Send>,
        block_size: usize,
        keep_bytes: bool,
    ) -> io::Result<(Vec<u8>, Self)> {
        let mut blocks = Blocks {
            reader,
            block_size: block_size.max(1),
            keep_bytes,
            pending: Vec::new(),
            offset: 0,
            eof: false,
            done: false,
            counters: Arc::default(),
        };
        let mut scan = HeaderScan::default();
        let header_end = loop {
            if let Some(end) = scan.end(&blocks.pending, blocks.eof)? {
                break end;
            }
            // One read at a time: from a pipe, the header may be all there is for now.
            blocks.read_once(64 << 10)?;
        };
        let rest = blocks.pending.split_off(header_end);
        let header = std::mem::replace(&mut blocks.pending, rest);
        blocks.offset = header.len() as u64;
        Ok((header, blocks))
    }

    pub(crate) fn counters(&self) -> Arc<Counters> {
        Arc::clone(&self.counters)
    }

    /// One read of up to `max` more bytes (none at the end of the input).
    fn read_once(&mut self, max: usize) -> io::Result<()> {
        let len = self.pending.len();
        self.pending.resize(len + max, 0);
        loop {
            match self.reader.read(&mut self.pending[len..]) {
                Ok(n) => {
                    self.pending.truncate(len + n);
                    self.eof = n == 0;
                    return Ok(());
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => {
                    self.pending.truncate(len);
                    return Err(err);
                }
            }
        }
    }

    /// Reads until `pending` holds `target` bytes or the input ends. Each read asks for at most
    /// what `pending` holds already (or [`FIRST_READ`]), so memory follows the data that arrives.
    fn fill(&mut self, target: usize) -> io::Result<()> {
        while !self.eof && self.pending.len() < target {
            let len = self.pending.len();
            let room = self.pending.capacity() - len;
            let step = (target - len).min(room.max(len).max(FIRST_READ));
            self.pending.resize(len + step, 0);
            match self.reader.read(&mut self.pending[len..]) {
                Ok(0) => {
                    self.pending.truncate(len);
                    self.eof = true;
                }
                Ok(n) => self.pending.truncate(len + n),
                Err(err) if err.kind() == io::ErrorKind::Interrupted => self.pending.truncate(len),
                Err(err) => {
                    self.pending.truncate(len);
                    return Err(err);
                }
            }
        }
        Ok(())
    }

    fn next_block(&mut self) -> Result<Option<Block>, BlockError> {
        let mut target = self.block_size;
        loop {
            self.fill(target).map_err(|err| BlockError {
                line: 0,
                row: None,
                kind: ErrorKind::Other,
                message: format!("read error: {err}"),
            })?;
            if self.pending.is_empty() {
                return Ok(None);
            }
            // The last row end within the target size; a single row longer than that makes the
            // block grow to hold it.
            let window = target.min(self.pending.len());
            let cut = match RowEnds::new(&self.pending[..window]).last() {
                Some(end) => end,
                None if self.eof && window == self.pending.len() => {
                    // The input's last row, with no line break after it.
                    let mut ends = RowEnds::new(&self.pending);
                    for _ in &mut ends {}
                    if let Some(open) = ends.open_quote() {
                        return Err(BlockError {
                            line: count_lines(&self.pending[..open]),
                            row: None,
                            kind: ErrorKind::Quote,
                            message: "a quoted field opened on this line is never closed"
                                .to_owned(),
                        });
                    }
                    self.pending.len()
                }
                None if window > MAX_ROW => {
                    return Err(BlockError {
                        line: 0,
                        row: None,
                        kind: ErrorKind::Quote,
                        message: format!(
                            "a row longer than {} MiB starts here (a quoted field never closed?)",
                            MAX_ROW >> 20
                        ),
                    });
                }
                None => {
                    target = window * 2;
                    continue;
                }
            };
            // Blank lines at the end of the window wait for the next block: before more rows
            // they are read as before, at the end of the input they are left out.
            let cut = match without_trailing_blank_lines(&self.pending[..cut]) {
                0 if self.eof && is_blank(&self.pending) => {
                    self.offset += self.pending.len() as u64;
                    self.pending.clear();
                    return Ok(None);
                }
                0 if (!self.eof || window < self.pending.len()) && window <= MAX_ROW => {
                    target = window * 2;
                    continue;
                }
                0 => cut,
                kept => kept,
            };
            // Room for a whole block once data arrives at that rate (this block was at least
            // half one): then the next block is one read, into memory allocated once.
            let next = if self.eof { 0 } else { self.block_size.min(cut.saturating_mul(2)) };
            let mut rest = Vec::with_capacity(next.max(self.pending.len() - cut));
            rest.extend_from_slice(&self.pending[cut..]);
            let mut bytes = std::mem::replace(&mut self.pending, rest);
            bytes.truncate(cut);
            let block = Block { offset: self.offset, len: cut, bytes };
            self.offset += cut as u64;
            return Ok(Some(block));
        }
    }
}

impl Iterator for Blocks {
    type Item = Result<Block, BlockError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let item = match self.next_block() {
            Ok(Some(mut block)) => {
                if !self.keep_bytes {
                    block.bytes = Vec::new();
                }
                Ok(block)
            }
            Ok(None) => {
                self.done = true;
                return None;
            }
            Err(err) => {
                self.done = true;
                Err(err)
            }
        };
        let counters = &self.counters;
        // ORDERING: Relaxed, see `Counters::consumed`.
        let alive = counters.alive.fetch_add(1, Ordering::Relaxed) + 1;
        counters.peak.fetch_max(alive, Ordering::Relaxed);
        counters.blocks.fetch_add(1, Ordering::Relaxed);
        Some(item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cut(text: &str, block_size: usize) -> (String, Vec<String>) {
        let reader = Box::new(io::Cursor::new(text.as_bytes().to_vec()));
        let (header, blocks) = Blocks::new(reader, block_size, true).unwrap();
        let blocks = blocks.map(|b| String::from_utf8(b.unwrap().bytes).unwrap()).collect();
        (String::from_utf8(header).unwrap(), blocks)
    }

    #[test]
    fn blocks_end_at_row_ends_and_rejoin_to_the_input() {
        let text = "code,name,age\n1,\"a,b\",2\n2,\"x\ny\",3\r\n3,\"q\"\"\n\",4\n4,z,5";
        for size in 1..text.len() + 2 {
            let (header, blocks) = cut(text, size);
            assert_eq!(header, "code,name,age\n");
            assert_eq!(header.clone() + &blocks.concat(), text, "block size {size}");
            for block in &blocks[..blocks.len() - 1] {
                assert!(block.ends_with('\n'), "{block:?} at block size {size}");
                let rows = RowEnds::new(block.as_bytes()).count();
                assert!(block.len() <= size || rows == 1, "{block:?} at block size {size}");
                let quotes = block.matches('"').count();
                assert_eq!(quotes % 2, 0, "{block:?} splits a quoted field");
            }
        }
    }

    #[test]
    fn unterminated_quote_is_reported_at_its_line() {
        let text = "code,name,age\n1,a,2\n2,\"b,3\n3,c,4\n";
        let reader = io::Cursor::new(text.as_bytes().to_vec());
        for size in [1, 8, 1 << 20] {
            let (_, blocks) = Blocks::new(Box::new(reader.clone()), size, true).unwrap();
            let (mut lines, mut errors) = (0, Vec::new());
            for block in blocks {
                match block {
                    Ok(block) => lines += count_lines(&block.bytes),
                    Err(err) => errors.push(err),
                }
            }
            assert_eq!(errors.len(), 1);
            // Line 3 of the file: two lines before it, header included (it is not counted here).
            assert_eq!((lines + errors[0].line, errors[0].kind), (1, ErrorKind::Quote));
        }
    }

    #[test]
    fn trailing_blank_lines_are_left_out_at_every_block_size() {
        let text = "code,name,age\n1,a,2\n\n2,b,3\r\n\r\n\n\n";
        for size in 1..text.len() + 2 {
            let (_, blocks) = cut(text, size);
            assert_eq!(blocks.concat(), "1,a,2\n\n2,b,3\r\n", "block size {size}");
        }
        assert_eq!(cut("code\n\n\n", 2).1, Vec::<String>::new());
        assert_eq!(trailing_blank_lines(b"code\n1\r\n\r\n\n"), 2);
        assert_eq!(trailing_blank_lines(b"code\n1"), 0);
    }

    #[test]
    fn a_header_is_refused_like_a_row() {
        let open = Box::new(io::Cursor::new(b"code,\"name,age\n0001,a,1\n".to_vec()));
        let err = Blocks::new(open, 4, true).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(err.to_string().contains("never closed"), "{err}");
        let long = [b"code,name,age".as_slice(), &vec![b'x'; MAX_HEADER], b"\n1,a,2\n"].concat();
        let err = Blocks::new(Box::new(io::Cursor::new(long)), 4, true).unwrap_err();
        assert!(err.to_string().contains("longer than 1 MiB"), "{err}");
        // Quoted line breaks and doubled quotes are part of a header as of a row.
        let (header, _) = cut("\"co\"\"\nde\",name\n1,2\n", 3);
        assert_eq!(header, "\"co\"\"\nde\",name\n");
        assert_eq!(HeaderScan::whole(b"code,name").unwrap(), 9);
        assert!(HeaderScan::whole(b"code,\"name").is_err());
    }

    #[test]
    fn header_alone_gives_no_blocks() {
        assert_eq!(cut("code,name,age", 4), ("code,name,age".to_owned(), vec![]));
        assert_eq!(cut("", 4), (String::new(), vec![]));
    }
}
