//! Every path this run creates, renames or removes, in `--out` and in its scratch directories:
//! one gate that an interrupt closes before it cleans up, and one registry of what the run
//! created, so that an interrupted run leaves nothing behind.
//!
//! # The gate
//!
//! Each operation here (create, open for append, rename, remove) holds the gate shared while it
//! runs, so operations run side by side (one thread or many), but never beside the cleanup. The
//! interrupt handler ([`stop`]) takes the gate exclusively: it waits for the operations under way
//! to end, closes the gate for good, removes every path in the registry, and the process exits
//! with the gate still closed, so no file is created after the cleanup has looked. (The handler
//! used to delete while the main thread kept creating: 12 of 12 runs interrupted at 20,000 codes
//! left `.part` files behind.) Bytes written through a handle opened earlier may still land
//! after the cleanup, but in a file that no longer has a name.
//!
//! Operations never nest: none calls another while it holds the gate (a shared lock taken twice
//! by one thread can deadlock behind a waiting exclusive one).
//!
//! # The registry
//!
//! Every file and directory this run created, under the name it has now (a rename moves its
//! entry). A failed run removes the files ([`discard`]); a complete run's results leave it when
//! the manifest is renamed into place ([`commit_rename`]), in the same step, so an interrupt
//! either removes everything or finds the run complete. Scratch directories ([`Scratch`]) are
//! created private (0700) and their files 0600: spooled results are nobody else's to read.
//!
//! # Files given on the command line
//!
//! `--csv` and `--codes-file` are never written, renamed over or removed, whatever their names
//! ([`protect`]). Each operation compares the path it is about to replace or remove, by device
//! and inode, with theirs (both the path given and, for a symlink, its target), the manifest and
//! the lock file included: `--csv DIR/_SUCCESS` was removed before it was read, and
//! `--csv DIR/_SUCCESS.part` replaced by the manifest. A file this run created with `O_EXCL` is
//! new, so it cannot be one of them; an append proves its file is the one created.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{LazyLock, Mutex, MutexGuard, RwLock, RwLockReadGuard};

use anyhow::{bail, Context, Result};

use crate::error;

/// The gate: `true` once an interrupt has closed it.
static GATE: RwLock<bool> = RwLock::new(false);

/// What this run created and has not yet committed or removed.
#[derive(Debug, Default)]
struct Registry {
    files: HashSet<PathBuf>,
    /// Scratch directories: removed with everything in them.
    dirs: Vec<PathBuf>,
    /// The lock file of `--out`, removed last.
    lock: Option<PathBuf>,
    /// The manifest was renamed into place: the results are complete and stay.
    committed: bool,
    /// The files given on the command line, and what each is ("the input given as --csv").
    protected: Vec<(FileKey, String)>,
}

static REGISTRY: LazyLock<Mutex<Registry>> = LazyLock::new(Mutex::default);

fn registry() -> MutexGuard<'static, Registry> {
    // A panic elsewhere while holding it leaves valid data: keep going.
    REGISTRY.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Enters the gate, or fails once an interrupt has closed it (the caller never gets that far in
/// practice: the gate stays held until the process exits).
fn enter() -> io::Result<RwLockReadGuard<'static, bool>> {
    let gate = GATE.read().unwrap_or_else(|poisoned| poisoned.into_inner());
    if *gate {
        return Err(io::Error::new(io::ErrorKind::Interrupted, "the run was interrupted"));
    }
    Ok(gate)
}

/// Who may read a file this run creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// A result in `--out`: the usual mode (0666 less the umask).
    Shared,
    /// A spooled result or a code list in a scratch directory: 0600.
    Private,
}

/// What identifies a file this run created: its device and inode, so that reopening it by path
/// can prove it is still the same file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileKey {
    dev: u64,
    ino: u64,
}

impl FileKey {
    #[cfg(unix)]
    pub(crate) fn of(meta: &fs::Metadata) -> Self {
        use std::os::unix::fs::MetadataExt;
        FileKey { dev: meta.dev(), ino: meta.ino() }
    }

    #[cfg(not(unix))]
    pub(crate) fn of(meta: &fs::Metadata) -> Self {
        // Without inodes, the size and modification time stand in (refusing too much is the
        // safe side).
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos() as u64);
        FileKey { dev: meta.len(), ino: mtime }
    }
}

/// Never writes, renames over or removes the file at `path` (`what`: how the user gave it, such as
/// "the input given as --csv"): neither the path itself nor, if it is a symlink, its target. A
/// path that does not exist protects nothing.
pub(crate) fn protect(path: &Path, what: &str) {
    let mut registry = registry();
    for meta in [fs::symlink_metadata(path), fs::metadata(path)].into_iter().flatten() {
        registry.protected.push((FileKey::of(&meta), what.to_owned()));
    }
}

/// What the file at `path` (not following a symlink) is, if it was given on the command line.
pub(crate) fn protected(path: &Path) -> Option<String> {
    let key = FileKey::of(&fs::symlink_metadata(path).ok()?);
    registry().protected.iter().find(|(protected, _)| *protected == key).map(|(_, w)| w.clone())
}

/// Whether a directory entry may be a file given on the command line: its inode, which comes
/// with the entry on Unix (no `stat`), is one of theirs.
pub(crate) fn may_be_protected(entry: &fs::DirEntry) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirEntryExt;
        let ino = entry.ino();
        registry().protected.iter().any(|(key, _)| key.ino == ino)
    }
    #[cfg(not(unix))]
    {
        let _ = entry;
        true
    }
}

/// Fails if `path` is a file given on the command line.
fn check(path: &Path) -> io::Result<()> {
    match protected(path) {
        Some(what) => Err(io::Error::other(format!(
            "it is {what}, which this program never writes or removes"
        ))),
        None => Ok(()),
    }
}

fn open_options(access: Access) -> OpenOptions {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    if access == Access::Private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = access;
    options
}

/// Creates `path` afresh with `O_EXCL`, so no existing path, a symlink planted in a shared
/// directory included, is ever written through: whatever is there is removed first (unlinking a
/// symlink removes the link, not its target). Returns the file and its key.
pub(crate) fn create_new(path: &Path, access: Access) -> io::Result<(File, FileKey)> {
    let _gate = enter()?;
    let options = open_options(access);
    let file = match options.open(path) {
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {
            check(path)?;
            fs::remove_file(path)?;
            registry().files.remove(path);
            options.open(path)?
        }
        file => file?,
    };
    registry().files.insert(path.to_path_buf());
    let key = FileKey::of(&file.metadata()?);
    Ok((file, key))
}

/// Opens for appending a file this run created as `key`, refusing any other file now at `path`
/// (one swapped in during the run: nothing is written to it).
pub(crate) fn open_append(path: &Path, key: FileKey) -> io::Result<File> {
    let _gate = enter()?;
    let file = OpenOptions::new().append(true).open(path)?;
    if FileKey::of(&file.metadata()?) != key {
        return Err(io::Error::other("another file took its place during the run"));
    }
    Ok(file)
}

/// Renames a file this run created; the registry follows it.
pub(crate) fn rename(from: &Path, to: &Path) -> io::Result<()> {
    let _gate = enter()?;
    rename_registered(from, to)
}

fn rename_registered(from: &Path, to: &Path) -> io::Result<()> {
    check(to)?;
    fs::rename(from, to)?;
    let mut registry = registry();
    registry.files.remove(from);
    registry.files.insert(to.to_path_buf());
    Ok(())
}

/// Renames the manifest into place and, in the same step, commits the run: from then on an
/// interrupt leaves the results (they are complete) and removes only the lock.
pub(crate) fn commit_rename(from: &Path, to: &Path) -> io::Result<()> {
    let _gate = enter()?;
    rename_registered(from, to)?;
    let mut registry = registry();
    registry.committed = true;
    let dirs = registry.dirs.clone();
    registry.files.retain(|file| dirs.iter().any(|dir| file.starts_with(dir)));
    Ok(())
}

/// Removes a file (the run's own, or a previous run's result).
pub(crate) fn remove(path: &Path) -> io::Result<()> {
    let _gate = enter()?;
    check(path)?;
    fs::remove_file(path)?;
    registry().files.remove(path);
    Ok(())
}

/// The run failed: removes every file it created and has not committed, so that nothing left
/// looks like a result. Scratch directories and the lock go when their owners drop.
pub(crate) fn discard() {
    let Ok(_gate) = enter() else { return };
    let mut registry = registry();
    let dirs = registry.dirs.clone();
    registry.files.retain(|file| {
        if dirs.iter().any(|dir| file.starts_with(dir)) {
            return true;
        }
        let _ = fs::remove_file(file);
        false
    });
}

/// Runs `create`, which makes the lock file at `path` (and may fail, leaving nothing of this run
/// behind), and registers it: the lock file is removed last, by its owner or by [`stop`].
pub(crate) fn create_lock<T>(path: &Path, create: impl FnOnce() -> io::Result<T>) -> io::Result<T> {
    let _gate = enter()?;
    check(path)?;
    let made = create()?;
    registry().lock = Some(path.to_path_buf());
    Ok(made)
}

/// Removes the lock file (its owner holds the lock still: the next run finds no file, or makes
/// its own).
pub(crate) fn remove_lock(path: &Path) {
    let Ok(_gate) = enter() else { return };
    let _ = fs::remove_file(path);
    registry().lock = None;
}

/// What an interrupt removed.
#[derive(Debug)]
pub(crate) struct Stopped {
    /// The results were complete (the manifest in place) before the interrupt.
    pub(crate) committed: bool,
}

/// The interrupt: waits for the operations under way, closes the gate for good, and removes
/// everything this run created that is not committed: its files, its scratch directories and
/// its lock file. The gate stays closed until the process exits.
pub(crate) fn stop() -> Stopped {
    let mut gate = GATE.write().unwrap_or_else(|poisoned| poisoned.into_inner());
    *gate = true;
    let registry = registry();
    for file in &registry.files {
        let _ = fs::remove_file(file);
    }
    for dir in &registry.dirs {
        let _ = fs::remove_dir_all(dir);
    }
    if let Some(lock) = &registry.lock {
        let _ = fs::remove_file(lock);
    }
    let stopped = Stopped { committed: registry.committed };
    drop(registry);
    // Never opened again: the process is about to exit, and nothing may be created meanwhile.
    std::mem::forget(gate);
    stopped
}

/// A private directory under the system's temporary directory (0700), removed on drop.
#[derive(Debug)]
pub(crate) struct Scratch(PathBuf);

impl Scratch {
    pub(crate) fn new() -> Result<Self> {
        let base = std::env::temp_dir();
        for attempt in 0..100u32 {
            let dir = base.join(format!("polars-filter-{}-{attempt}", std::process::id()));
            // create_dir fails on an existing path, symlinks included: the directory is ours.
            match create_private_dir(&dir) {
                Ok(()) => return Ok(Scratch(dir)),
                Err(err) if err.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(err) => {
                    return Err(err).with_context(|| {
                        format!("cannot create scratch directory {}", error::path(&dir))
                    })
                }
            }
        }
        bail!("cannot create a scratch directory under {}", error::path(&base))
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

fn create_private_dir(dir: &Path) -> io::Result<()> {
    let _gate = enter()?;
    let mut builder = fs::DirBuilder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)?;
    registry().dirs.push(dir.to_path_buf());
    Ok(())
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let Ok(_gate) = enter() else { return };
        let _ = fs::remove_dir_all(&self.0);
        let mut registry = registry();
        registry.dirs.retain(|dir| dir != &self.0);
        registry.files.retain(|file| !file.starts_with(&self.0));
    }
}
