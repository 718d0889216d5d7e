//! The stream's second bounded stage: each code's pieces, collected in input order and written
//! to its file by tasks on an executor of their own, with the bytes in their hands bounded by
//! weight.
//!
//! # Two bounded stages, one feeding the other
//!
//! ```text
//! blocks ──exec.map──► pieces, in input order ──► per-code buffers ──writers.submit_weighted──► DIR/<code>.csv.part
//!          (capacity() blocks alive)               (--buffer-size)     (weight = bytes: at most --buffer-size in flight)
//! ```
//!
//! The consumer appends each block's pieces to its code's buffer. A buffer is handed to the write
//! stage as one task when it reaches [`CHUNK`] bytes, and every non-empty buffer is when all of them
//! hold more than `--buffer-size` bytes: a flush. Each task opens its file once (creating it with
//! its header the first time), writes its bytes, and closes it. The tasks run on `writers`, an
//! executor with `--workers` threads whose weight capacity is `--buffer-size`: a task weighs its
//! bytes, so while the writers hold that many bytes, the consumer's next hand-over waits, the
//! block stage's results wait for the consumer, and the producer waits for a free slot. Memory
//! stays flat end to end: `capacity()` blocks and their results, at most `--buffer-size` bytes in
//! the buffers and at most as many more in the writers' hands.
//!
//! # Order within a code
//!
//! A code's writes must land in input order, but the tasks of two flushes could otherwise run
//! in either order on two writers. So each code has at most one write in flight: before its
//! next hand-over, the consumer joins the previous one (long finished, in practice: a whole
//! buffer of other results came in between). The library has no ordered per-key execution that
//! would do this itself (see the example's README, "What the library is missing").
//!
//! # The end
//!
//! Once every block is in and the input is proven whole, each code's last task appends what is
//! left (or creates the file with its header alone, for a code that matched nothing) and renames
//! `<code>.csv.part` to `<code>.csv`: each file is renamed once, by the task that completed it.
//! A run that fails on its input first waits for every write in flight, then removes what it
//! wrote ([`writes::discard`]): no file is created after the cleanup has looked.

use std::fs;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{anyhow, Context, Result};
use bounded_executor::{BoundedExecutor, TaskHandle};

use crate::data;
use crate::error;
use crate::outdir;
use crate::sink::{Outcome, Sink};
use crate::stream::Pieces;
use crate::writes::{self, Access, FileKey, Scratch};

/// A code's buffer is handed to the writers once it holds this much, whatever the others hold:
/// a code with many rows is written as the file is read, in chunks of this size.
const CHUNK: usize = 1 << 20;

/// The most write tasks in flight: enough that the weight (bytes) is the bound that binds, few
/// enough that their handles and file names stay small beside the bytes.
const WRITES_IN_FLIGHT: usize = 4096;

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

/// What a write task gives back: the key of the file it wrote (created, or the one it was
/// given), or why it could not.
type Written = std::result::Result<FileKey, String>;

/// One code's output in the making.
#[derive(Debug, Default)]
struct Part {
    buf: Vec<u8>,
    rows: u64,
    /// Its `.part` file, once created (holding the header and everything written before `buf`).
    file: Option<FileKey>,
    /// Its write in flight, if any: joined before the next, so writes land in input order.
    pending: Option<TaskHandle<Written>>,
    failed: Option<String>,
}

impl Part {
    /// Waits for this code's write in flight, if any, and takes in what it did.
    fn settle(&mut self) {
        let Some(handle) = self.pending.take() else { return };
        match handle.join() {
            Ok(Ok(key)) => self.file = Some(key),
            Ok(Err(why)) => self.failed = Some(why),
            Err(err) => self.failed = Some(format!("a write task failed: {err}")),
        }
    }
}

/// One write task: append `bytes` to the `.part` file at `path` (creating it, header first, if
/// `file` is `None`), then, at the end, rename it to `done`.
#[derive(Debug)]
struct WriteTask {
    path: PathBuf,
    file: Option<FileKey>,
    header: Arc<Vec<u8>>,
    bytes: Vec<u8>,
    access: Access,
    done: Option<PathBuf>,
}

impl WriteTask {
    /// Writes, and renames at the end. On failure the code fails; a `.part` file this task
    /// opened or created is removed (it can only be incomplete now), never one it refused.
    fn run(self) -> Written {
        let mut ours = false;
        let written = (|| -> std::io::Result<FileKey> {
            let (mut file, key) = match self.file {
                // The file this run created, or none: never another one put in its place.
                Some(key) => (writes::open_append(&self.path, key)?, key),
                None => {
                    let (mut file, key) = writes::create_new(&self.path, self.access)?;
                    ours = true;
                    // Header and rows in one write: most files get no other.
                    let mut first = Vec::with_capacity(self.header.len() + self.bytes.len());
                    first.extend_from_slice(&self.header);
                    first.extend_from_slice(&self.bytes);
                    file.write_all(&first)?;
                    return Ok(key);
                }
            };
            ours = true;
            file.write_all(&self.bytes)?;
            Ok(key)
        })();
        let result = match written {
            Err(err) => Err(format!("cannot write {}: {err}", error::path(&self.path))),
            Ok(key) => match &self.done {
                Some(done) => writes::rename(&self.path, done)
                    .map(|()| key)
                    .map_err(|err| format!("cannot write {}: {err}", error::path(done))),
                None => Ok(key),
            },
        };
        if result.is_err() && ours {
            let _ = writes::remove(&self.path);
        }
        result
    }
}

/// The consumer's side: each code's pieces, appended in input order, and the writers.
#[derive(Debug)]
pub(crate) struct Collector {
    codes: Vec<String>,
    header: Arc<Vec<u8>>,
    target: Target,
    parts: Vec<Part>,
    buffered: usize,
    budget: usize,
    /// A code's share of the budget (at most [`CHUNK`]): what its buffer starts with.
    share: usize,
    /// The write stage (none when nothing is written: `--quiet` without `--out`).
    writers: Option<BoundedExecutor>,
}

impl Collector {
    /// `workers` writer threads; `budget` bytes buffered before a flush, and as many in the
    /// writers' hands at most.
    pub(crate) fn new(
        codes: &[String],
        header: Vec<u8>,
        sink: &Sink,
        budget: usize,
        workers: usize,
    ) -> Result<Self> {
        let target = match (sink.out_dir(), sink.quiet()) {
            (Some(dir), _) => Target::Out(dir.path().to_path_buf()),
            (None, true) => Target::Count,
            (None, false) => Target::Print(None),
        };
        let writers = match target {
            Target::Count => None,
            _ => Some(
                BoundedExecutor::builder()
                    .max_workers(workers)
                    // The bytes bind, not the number of tasks: a flush of 20,000 small buffers
                    // is handed over without waiting for each.
                    .capacity(WRITES_IN_FLIGHT)
                    .weight_capacity(budget.max(1) as u64)
                    .thread_name("write")
                    .build()
                    .map_err(|e| anyhow!("cannot build the writers' executor: {e}"))?,
            ),
        };
        let parts = codes.iter().map(|_| Part::default()).collect();
        Ok(Collector {
            codes: codes.to_vec(),
            header: Arc::new(header),
            target,
            parts,
            buffered: 0,
            budget,
            share: (budget / codes.len().max(1)).min(CHUNK),
            writers,
        })
    }

    /// Takes one block's pieces, in input order.
    pub(crate) fn take(&mut self, pieces: Pieces) {
        let mut start = 0;
        let counting = matches!(self.target, Target::Count);
        for piece in pieces.pieces {
            let i = piece.code as usize;
            let part = &mut self.parts[i];
            part.rows += piece.rows;
            if !counting && part.failed.is_none() {
                let piece_bytes = &pieces.bytes[start..piece.end];
                if part.buf.capacity() == 0 {
                    // A code's share of the budget at once, instead of a buffer that doubles
                    // its way there (20,000 codes: 180,000 reallocations, each a copy).
                    part.buf.reserve(piece_bytes.len().max(self.share));
                }
                part.buf.extend_from_slice(piece_bytes);
                self.buffered += piece.end - start;
                if part.buf.len() >= CHUNK {
                    self.hand_over(i, None);
                }
            }
            start = piece.end;
        }
        if self.buffered > self.budget {
            for i in 0..self.parts.len() {
                if !self.parts[i].buf.is_empty() {
                    self.hand_over(i, None);
                }
            }
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

    fn access(&self) -> Access {
        match self.target {
            Target::Out(_) => Access::Shared,
            _ => Access::Private,
        }
    }

    /// Hands code `i`'s buffer to the writers as one task, after its previous write (order
    /// within a code); with `done`, the task renames the file there once it is complete. Waits
    /// while the writers hold `--buffer-size` bytes. A failure fails that code only.
    fn hand_over(&mut self, i: usize, done: Option<PathBuf>) {
        let access = self.access();
        let dir = self.dir();
        let part = &mut self.parts[i];
        self.buffered -= part.buf.len();
        let bytes = std::mem::take(&mut part.buf);
        part.settle();
        if part.failed.is_some() {
            return;
        }
        let dir = match dir {
            Ok(dir) => dir,
            Err(err) => {
                part.failed = Some(format!("{err:#}"));
                return;
            }
        };
        let Some(writers) = &self.writers else { return };
        let task = WriteTask {
            path: outdir::part_path(&dir, &self.codes[i]),
            file: part.file,
            header: Arc::clone(&self.header),
            bytes,
            access,
            done,
        };
        let weight = (task.bytes.len() as u64).min(writers.weight_capacity());
        match writers.submit_weighted(weight, move || task.run()) {
            Ok(handle) => part.pending = Some(handle),
            Err(err) => part.failed = Some(format!("cannot hand a write over: {err}")),
        }
    }

    /// Waits for every write in flight.
    fn settle_all(&mut self) {
        for part in &mut self.parts {
            part.settle();
        }
    }

    /// Every code's output completed, in code-list order: written and renamed into place, or
    /// printed. Returns the writers' threads and the most bytes they held at once (`None`:
    /// nothing was written).
    pub(crate) fn finish(mut self, sink: &mut Sink) -> Result<Option<(usize, u64)>> {
        match &self.target {
            Target::Count => {
                for (code, part) in self.codes.iter().zip(&self.parts) {
                    sink.deliver(code, Outcome::Written(part.rows))?;
                }
            }
            Target::Out(dir) => {
                let dir = dir.clone();
                // Each code's last task completes its file and renames it into place.
                for i in 0..self.parts.len() {
                    let done = outdir::result_path(&dir, &self.codes[i]);
                    self.hand_over(i, Some(done));
                }
                for (code, part) in self.codes.iter().zip(&mut self.parts) {
                    part.settle();
                    match part.failed.take() {
                        Some(why) => {
                            if part.file.is_some() {
                                let _ = writes::remove(&outdir::part_path(&dir, code));
                            }
                            sink.fail(code, why);
                        }
                        None => sink.deliver(code, Outcome::Written(part.rows))?,
                    }
                }
            }
            Target::Print(_) => {
                self.settle_all();
                for i in 0..self.parts.len() {
                    let code = self.codes[i].clone();
                    if let Some(why) = self.parts[i].failed.take() {
                        sink.fail(&code, why);
                        continue;
                    }
                    let mut text = self.header.to_vec();
                    if self.parts[i].file.is_some() {
                        let path = outdir::part_path(&self.dir()?, &code);
                        let spooled = fs::read(&path)
                            .with_context(|| format!("cannot read back {}", error::path(&path)))?;
                        let _ = writes::remove(&path);
                        text = spooled;
                    }
                    text.extend_from_slice(&std::mem::take(&mut self.parts[i].buf));
                    let frame = data::read_frame_bytes(&text, &format!("result for {code}"))?;
                    sink.deliver(&code, Outcome::Frame(frame))?;
                }
            }
        }
        let writers = self.writers.as_ref();
        Ok(writers.map(|w| (w.max_workers(), w.stats().peak_weight_in_flight)))
    }

    /// The run failed: once no write is in flight, no `.part` file stays behind to look like a
    /// result.
    pub(crate) fn abort(&mut self) {
        self.settle_all();
        writes::discard();
    }
}
