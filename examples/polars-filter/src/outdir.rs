//! `--out DIR`, owned by one run: locked for the whole run, made to say "incomplete" at its
//! start, and committed by `DIR/_SUCCESS` at its end.
//!
//! # One run per directory
//!
//! A run takes an exclusive `flock` on `DIR/.polars-filter.lock` before it touches anything else
//! in `DIR`, and holds it until it has written its manifest. A second run on the same directory
//! is refused at once, with one line and exit status 1: two runs used to write each other's
//! `.part` files (the names are fixed per code) and one of them vouched for the mixture with its
//! `_SUCCESS`. The lock is the kernel's, so it dies with its process (even by `kill -9`); the
//! file stays then, and the next run takes the lock on it.
//!
//! A run removes the lock file while it still holds the lock. So a run that opened the file just
//! before may get the lock on a file no longer in the directory: after locking, each run checks
//! that the file at the path is the one it locked, and starts again if not.
//!
//! # Complete or not
//!
//! At its start a run removes the previous `_SUCCESS` and the files it lists; it writes its own
//! results as `<code>.csv.part`, renames them when complete, and writes `_SUCCESS` last, only if
//! every code succeeded (see [`OutDir::commit`]). A directory without `_SUCCESS` is incomplete.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use polars::prelude::{CsvWriter, DataFrame, SerWriter};

use crate::error::{self, polars_msg};
use crate::writes::{self, Access, FileKey};

/// The manifest a complete run writes last, listing the files it wrote.
pub(crate) const MANIFEST: &str = "_SUCCESS";

/// The lock file held for the whole run.
pub(crate) const LOCK: &str = ".polars-filter.lock";

/// An output directory this run holds the lock of. Dropping it removes the lock file, then
/// releases the lock.
#[derive(Debug)]
pub(crate) struct OutDir {
    dir: PathBuf,
    lock_path: PathBuf,
    /// Held open: closing it releases the lock.
    _lock: File,
}

impl OutDir {
    /// Creates `dir` if needed, takes its lock (refusing a directory another run holds), proves
    /// it writable, and removes the previous run's manifest and the files it lists, so that the
    /// directory says "incomplete" until this run commits.
    pub(crate) fn open(dir: &Path, codes: &[String]) -> Result<OutDir> {
        let shown = error::path(dir);
        fs::create_dir_all(dir)
            .with_context(|| format!("cannot create output directory {shown}"))?;
        refuse_protected_names(dir, codes)?;
        let lock_path = dir.join(LOCK);
        let lock = lock(&lock_path, &shown)?;
        let out = OutDir { dir: dir.to_path_buf(), lock_path, _lock: lock };
        let probe = dir.join(format!(".polars-filter-probe-{}", std::process::id()));
        writes::create_new(&probe, Access::Shared)
            .with_context(|| format!("output directory {shown} is not writable"))?;
        let _ = writes::remove(&probe);
        out.remove_previous()?;
        Ok(out)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.dir
    }

    /// Writes `frame` as `<code>.csv` with a header, through its `.part` name, so that a failure
    /// never leaves a partial `<code>.csv` behind.
    pub(crate) fn write_frame(&self, code: &str, frame: &mut DataFrame) -> Result<()> {
        let (partial, path) = (part_path(&self.dir, code), result_path(&self.dir, code));
        let result = (|| {
            let (file, _) = writes::create_new(&partial, Access::Shared)?;
            CsvWriter::new(file)
                .include_header(true)
                .finish(frame)
                .map_err(|e| io::Error::other(polars_msg(&e)))?;
            writes::rename(&partial, &path)
        })();
        if result.is_err() {
            let _ = writes::remove(&partial);
        }
        result.with_context(|| format!("cannot write {}", error::path(&path)))
    }

    /// Removes the previous run's [`MANIFEST`] and every file it lists (the previous results).
    /// Files this program did not write are never touched.
    fn remove_previous(&self) -> Result<()> {
        let manifest = self.dir.join(MANIFEST);
        let listed = match fs::symlink_metadata(&manifest) {
            Ok(meta) if meta.is_file() => fs::read_to_string(&manifest).unwrap_or_default(),
            _ => String::new(),
        };
        match writes::remove(&manifest) {
            Err(err) if err.kind() != io::ErrorKind::NotFound => {
                return Err(err)
                    .with_context(|| format!("cannot remove {}", error::path(&manifest)))
            }
            _ => {}
        }
        for name in listed.lines() {
            // Only plain `<code>.csv` names of this directory: a tampered manifest cannot reach
            // out.
            let plain = name.ends_with(".csv") && !name.contains('/') && !name.contains('\\');
            if !plain {
                continue;
            }
            let stale = self.dir.join(name);
            // An earlier result now given as --csv or --codes-file stays.
            if writes::protected(&stale).is_some() {
                continue;
            }
            match writes::remove(&stale) {
                Err(err) if err.kind() != io::ErrorKind::NotFound => {
                    return Err(err)
                        .with_context(|| format!("cannot remove {}", error::path(&stale)))
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Writes [`MANIFEST`], listing `files`: through a `.part` name, so it appears complete or
    /// not at all, and in the same step as the registry lets the results go (an interrupt after
    /// it leaves a complete directory).
    pub(crate) fn commit(&self, files: &[String]) -> Result<()> {
        let path = self.dir.join(MANIFEST);
        let partial = self.dir.join(format!("{MANIFEST}.part"));
        let result = (|| {
            let (mut file, _) = writes::create_new(&partial, Access::Shared)?;
            let mut text = String::with_capacity(files.iter().map(|f| f.len() + 1).sum());
            for name in files {
                text.push_str(name);
                text.push('\n');
            }
            file.write_all(text.as_bytes())?;
            file.sync_all()?;
            writes::commit_rename(&partial, &path)
        })();
        if result.is_err() {
            let _ = writes::remove(&partial);
        }
        result.with_context(|| format!("cannot write {}", error::path(&path)))
    }
}

impl Drop for OutDir {
    fn drop(&mut self) {
        // While the lock is still held (the file closes after this body).
        writes::remove_lock(&self.lock_path);
    }
}

/// Refuses, before any work, an `--out` holding a file given on the command line under a name this
/// run writes, renames over or removes: a result or its `.part`, the manifest or its `.part`, the
/// lock. One pass over the directory: an entry's inode comes with it, so only an entry with a
/// protected inode is looked at further. (Each operation checks again as it happens: see
/// `writes.rs`.)
fn refuse_protected_names(dir: &Path, codes: &[String]) -> Result<()> {
    let fixed = [MANIFEST.to_owned(), format!("{MANIFEST}.part"), LOCK.to_owned()];
    let mut codes_set = None;
    for entry in fs::read_dir(dir).with_context(|| format!("cannot read {}", error::path(dir)))? {
        let Ok(entry) = entry else { continue };
        if !writes::may_be_protected(&entry) {
            continue;
        }
        let path = entry.path();
        let Some(what) = writes::protected(&path) else { continue };
        let name = entry.file_name().to_string_lossy().into_owned();
        let codes = codes_set.get_or_insert_with(|| {
            codes.iter().map(String::as_str).collect::<std::collections::HashSet<&str>>()
        });
        let code = name.strip_suffix(".csv.part").or_else(|| name.strip_suffix(".csv"));
        let why = match code {
            Some(code) if codes.contains(code) => {
                format!("the result for code {}", error::code(code))
            }
            _ if fixed.contains(&name) => "a name the run writes".to_owned(),
            _ => continue,
        };
        bail!("--out would overwrite {what}, {}: it is {why}", error::path(&path));
    }
    Ok(())
}

/// Where a result is written in `dir` until it is complete (also a spooled result's name in a
/// scratch directory).
pub(crate) fn part_path(dir: &Path, code: &str) -> PathBuf {
    dir.join(format!("{code}.csv.part"))
}

/// Where a complete result is in `dir`.
pub(crate) fn result_path(dir: &Path, code: &str) -> PathBuf {
    dir.join(format!("{code}.csv"))
}

/// Takes the lock of `path` (`shown` is the directory, for the messages).
fn lock(path: &Path, shown: &str) -> Result<File> {
    for _ in 0..100 {
        let locked = writes::create_lock(path, || {
            let mut file = open_lock_file(path)?;
            match file.try_lock() {
                Ok(()) => {}
                Err(TryLockError::WouldBlock) => {
                    // The holder's pid, which it wrote there, as the error's message.
                    let mut pid = String::new();
                    let _ = file.read_to_string(&mut pid);
                    return Err(io::Error::new(io::ErrorKind::WouldBlock, pid.trim().to_owned()));
                }
                Err(TryLockError::Error(err)) => return Err(err),
            }
            // The path must still name the file locked (see the module's docs).
            let here = fs::symlink_metadata(path)?;
            if here.file_type().is_symlink() {
                return Err(io::Error::other(format!("{LOCK} is a symlink (remove it)")));
            }
            if FileKey::of(&here) != FileKey::of(&file.metadata()?) {
                return Err(io::Error::new(io::ErrorKind::NotFound, "replaced while locked"));
            }
            file.set_len(0)?;
            file.rewind()?;
            writeln!(file, "{}", std::process::id())?;
            Ok(file)
        });
        match locked {
            Ok(file) => return Ok(file),
            // Removed or replaced by the run that held it, as it ended: try again.
            Err(err) if err.kind() == io::ErrorKind::NotFound => continue,
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                let pid = err.to_string();
                let pid = if !pid.is_empty() && pid.chars().all(|c| c.is_ascii_digit()) {
                    format!(" (pid {pid})")
                } else {
                    String::new()
                };
                bail!(
                    "--out {shown} is in use by another run{pid}: wait for it to end, or choose \
                     another directory"
                );
            }
            Err(err) => return Err(err).with_context(|| format!("cannot lock --out {shown}")),
        }
    }
    bail!("cannot lock --out {shown}: its lock file kept being replaced")
}

/// Creates the lock file, or opens the one there (held by another run, or left by one killed
/// with `kill -9`). It is never truncated before it is locked and proved to be the file at the
/// path, so a symlink planted there is never written through.
fn open_lock_file(path: &Path) -> io::Result<File> {
    let mut create = OpenOptions::new();
    create.read(true).write(true).create_new(true);
    match create.open(path) {
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {
            OpenOptions::new().read(true).write(true).open(path)
        }
        file => file,
    }
}
