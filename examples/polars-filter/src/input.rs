//! The input CSV: opened once, with what identified it then, and proven whole at the end.
//!
//! # Proven whole
//!
//! A file that changes while a run reads it gives a result that is neither the old file's nor the
//! new one's: an input that shrank mid-read gave `_SUCCESS` over 2.7M of 3.2M rows. So every
//! mode proves, before it commits a result, that it read the file it opened, all of it:
//!
//! - At the open, the path's `stat` is taken *before* the file is opened and must agree with the
//!   open file's `fstat`: the identity recorded is the file's as it was when the run began
//!   reading (a change between the two is refused at once).
//! - At the end ([`Input::verify`]): the bytes read equal the size at the open, the open file's
//!   size, modification and change times are the same, and the path still names the same
//!   device and inode. Otherwise the run fails and commits nothing.
//!
//! For a FIFO or a device only the path's device and inode are compared: their sizes and times
//! mean nothing, and they are read once, sequentially, so no part of them can be read twice.
//!
//! # Never mapped
//!
//! The whole-frame strategies read the file into memory with `read` and hand Polars the bytes;
//! they used to hand Polars the file, which maps it, and a file truncated while mapped kills the
//! process with SIGBUS (exit 135, no message). The stream strategies read it sequentially.
//! `--processes` children read their byte range with `pread` and check the identity before and
//! after.

use std::fs::{self, File};
use std::io::{self, Cursor, Read};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};

use crate::data::BUNDLED_CSV;
use crate::error;

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
            Source::File(path) => error::path(path),
        }
    }
}

/// What identifies one version of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Identity {
    dev: u64,
    ino: u64,
    len: u64,
    /// Modification and change times, in nanoseconds (the change time cannot be set back).
    mtime: i128,
    ctime: i128,
    /// A regular file: its size and times mean something.
    regular: bool,
}

impl Identity {
    #[cfg(unix)]
    fn of(meta: &fs::Metadata) -> Self {
        use std::os::unix::fs::MetadataExt;
        let ns = |secs: i64, nanos: i64| i128::from(secs) * 1_000_000_000 + i128::from(nanos);
        Identity {
            dev: meta.dev(),
            ino: meta.ino(),
            len: meta.len(),
            mtime: ns(meta.mtime(), meta.mtime_nsec()),
            ctime: ns(meta.ctime(), meta.ctime_nsec()),
            regular: meta.is_file(),
        }
    }

    #[cfg(not(unix))]
    fn of(meta: &fs::Metadata) -> Self {
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos() as i128);
        Identity { dev: 0, ino: 0, len: meta.len(), mtime, ctime: 0, regular: meta.is_file() }
    }

    /// How a `--processes` child is told which version to read (`--worker-input`).
    pub(crate) fn encode(&self) -> String {
        format!("{}:{}:{}:{}:{}", self.dev, self.ino, self.len, self.mtime, self.ctime)
    }

    /// What differs from `then`, in words; `None` if this is the same version.
    fn change_since(&self, then: &Identity) -> Option<String> {
        if (self.dev, self.ino) != (then.dev, then.ino) {
            return Some("another file took its place".to_owned());
        }
        if !then.regular {
            return None;
        }
        if self.len != then.len {
            return Some(format!("its size went from {} to {} bytes", then.len, self.len));
        }
        if self.mtime != then.mtime {
            return Some("it was modified".to_owned());
        }
        (self.ctime != then.ctime).then(|| "its status changed (ctime)".to_owned())
    }
}

/// The input, open.
#[derive(Debug)]
pub(crate) struct Input {
    source: Source,
    /// `None` for the bundled data, which cannot change.
    file: Option<(File, Identity)>,
    /// Bytes read through [`Input::reader`] or [`Input::read_all`].
    read: Arc<AtomicU64>,
}

impl Input {
    /// Opens the input and records its identity (see the module's docs). With `regular_only`, a
    /// FIFO or a device is refused before it is opened (opening a FIFO waits for a writer).
    pub(crate) fn open(source: &Source, regular_only: bool) -> Result<Input> {
        let read = Arc::default();
        let Source::File(path) = source else {
            return Ok(Input { source: source.clone(), file: None, read });
        };
        let shown = error::path(path);
        let before = fs::metadata(path).with_context(|| format!("cannot read CSV {shown}"))?;
        if before.is_dir() {
            bail!("cannot read CSV {shown}: it is a directory");
        }
        if regular_only && !before.is_file() {
            bail!(
                "--processes needs a regular file: {shown} is not one (its children re-read \
                 their blocks by offset); run without --processes"
            );
        }
        let file = File::open(path).with_context(|| format!("cannot read CSV {shown}"))?;
        let identity = Identity::of(&before);
        let opened =
            Identity::of(&file.metadata().with_context(|| format!("cannot read {shown}"))?);
        if let Some(change) = opened.change_since(&identity) {
            bail!("the input {shown} changed as it was opened: {change}");
        }
        Ok(Input { source: source.clone(), file: Some((file, identity)), read })
    }

    /// Opens the input as a `--processes` child: it must be the version the parent opened,
    /// `expected` ([`Identity::encode`]).
    pub(crate) fn open_expecting(source: &Source, expected: Option<&str>) -> Result<Input> {
        let input = Input::open(source, false)?;
        if let (Some(expected), Some((_, identity))) = (expected, &input.file) {
            if identity.encode() != expected {
                bail!(
                    "the input {} changed during the run: a child would read another version of \
                     it than the one the parent cut into blocks",
                    source.describe()
                );
            }
        }
        Ok(input)
    }

    pub(crate) fn source(&self) -> &Source {
        &self.source
    }

    pub(crate) fn describe(&self) -> String {
        self.source.describe()
    }

    /// The size when opened (0 for a FIFO), for the progress bar.
    pub(crate) fn len(&self) -> u64 {
        match &self.file {
            Some((_, identity)) => identity.len,
            None => BUNDLED_CSV.len() as u64,
        }
    }

    /// The identity children must find (`None` for the bundled data).
    pub(crate) fn identity(&self) -> Option<&Identity> {
        self.file.as_ref().map(|(_, identity)| identity)
    }

    /// A sequential reader from the start, counting what it reads. One reader at a time: it
    /// shares the open file's offset.
    pub(crate) fn reader(&self) -> Result<Box<dyn Read + Send>> {
        let inner: Box<dyn Read + Send> = match &self.file {
            None => Box::new(Cursor::new(BUNDLED_CSV.as_bytes())),
            Some((file, _)) => Box::new(
                file.try_clone().with_context(|| format!("cannot read {}", self.describe()))?,
            ),
        };
        Ok(Box::new(Counted { inner, read: Arc::clone(&self.read) }))
    }

    /// The whole input in memory, proven whole: what the whole-frame strategies parse.
    pub(crate) fn read_all(&self) -> Result<Vec<u8>> {
        let mut bytes = Vec::with_capacity(usize::try_from(self.len()).unwrap_or(0));
        self.reader()?
            .read_to_end(&mut bytes)
            .with_context(|| format!("cannot read CSV {}", self.describe()))?;
        self.verify()?;
        Ok(bytes)
    }

    /// The `len` bytes at `offset`: how a `--processes` child reads its block (with `pread`,
    /// never the whole file).
    pub(crate) fn read_range(&self, offset: u64, len: usize) -> Result<Vec<u8>> {
        let Some((file, _)) = &self.file else {
            let start = usize::try_from(offset).unwrap_or(usize::MAX);
            let range = BUNDLED_CSV.as_bytes().get(start..start.saturating_add(len));
            return Ok(range.ok_or_else(|| anyhow!("range past the bundled data"))?.to_vec());
        };
        let mut bytes = vec![0; len];
        read_exact_at(file, &mut bytes, offset)
            .with_context(|| format!("cannot read CSV {}", self.describe()))?;
        Ok(bytes)
    }

    /// Proves that the input read is the file opened, whole (see the module's docs).
    pub(crate) fn verify(&self) -> Result<()> {
        let Some((_, identity)) = &self.file else { return Ok(()) };
        // ORDERING: Relaxed: every read was made on this thread (the executor's `map` pulls the
        // producer's blocks on the thread that advances it, the consumer's).
        let read = self.read.load(Ordering::Relaxed);
        if identity.regular && read != identity.len {
            bail!(
                "the input {} changed during the run: {read} bytes read, {} when it was opened",
                self.describe(),
                identity.len
            );
        }
        self.check_unchanged()
    }

    /// The open file and the path still are the version opened (a child reads only a range, so
    /// this is all it can check).
    pub(crate) fn check_unchanged(&self) -> Result<()> {
        let (Some((file, identity)), Source::File(path)) = (&self.file, &self.source) else {
            return Ok(());
        };
        let what = self.describe();
        let now = Identity::of(&file.metadata().with_context(|| format!("cannot read {what}"))?);
        let at_path = fs::metadata(path).map(|meta| Identity::of(&meta));
        let change = match at_path {
            Ok(at_path) => now.change_since(identity).or_else(|| {
                ((at_path.dev, at_path.ino) != (identity.dev, identity.ino))
                    .then(|| "another file took its place".to_owned())
            }),
            Err(err) => Some(format!("it is gone ({err})")),
        };
        match change {
            Some(change) => bail!("the input {what} changed during the run: {change}"),
            None => Ok(()),
        }
    }
}

#[cfg(unix)]
fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(not(unix))]
fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    use std::io::{Seek, SeekFrom};
    let mut file = file;
    file.seek(SeekFrom::Start(offset))?;
    file.read_exact(buf)
}

/// A reader that adds what it reads to a shared count.
struct Counted {
    inner: Box<dyn Read + Send>,
    read: Arc<AtomicU64>,
}

impl Read for Counted {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        // ORDERING: Relaxed: see `Input::verify`.
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}
