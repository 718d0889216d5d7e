//! Ctrl-C and SIGTERM: the run's partial results and scratch directories are removed, then the
//! process exits with one line and status 128 + the signal's number.
//!
//! The handler is a thread of its own (`signal_hook`'s iterator), so it acts even while the main
//! thread is blocked in a read. It removes every `DIR/<code>.csv.part` of the run and every
//! scratch directory still registered; completed `<code>.csv` files of the whole-frame strategies
//! stay, but `DIR/_SUCCESS` was removed at the start and is never written, so the directory does
//! not pass for complete. `--processes` children notice the parent's end through their stdin.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

/// What to remove if the run is interrupted.
#[derive(Debug)]
struct Cleanup {
    out: Option<PathBuf>,
    codes: Vec<String>,
    scratch: Vec<PathBuf>,
}

static CLEANUP: Mutex<Cleanup> =
    Mutex::new(Cleanup { out: None, codes: Vec::new(), scratch: Vec::new() });

fn cleanup() -> MutexGuard<'static, Cleanup> {
    // A panic elsewhere while holding it leaves valid data: keep going.
    CLEANUP.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The output directory and codes whose `.part` files an interrupt removes.
pub(crate) fn watch_out(dir: &Path, codes: &[String]) {
    let mut state = cleanup();
    state.out = Some(dir.to_path_buf());
    state.codes = codes.to_vec();
}

/// A scratch directory an interrupt removes.
pub(crate) fn watch_scratch(dir: &Path) {
    cleanup().scratch.push(dir.to_path_buf());
}

/// The scratch directory is gone already.
pub(crate) fn unwatch_scratch(dir: &Path) {
    cleanup().scratch.retain(|d| d != dir);
}

/// Starts the handler thread (Unix; elsewhere the default handling stays).
#[cfg(unix)]
pub(crate) fn install() -> anyhow::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    use signal_hook::iterator::Signals;

    let mut signals = Signals::new([SIGINT, SIGTERM])?;
    std::thread::Builder::new().name("signals".to_owned()).spawn(move || {
        if let Some(signal) = signals.forever().next() {
            let state = cleanup();
            if let Some(dir) = &state.out {
                for code in &state.codes {
                    let _ = std::fs::remove_file(dir.join(format!("{code}.csv.part")));
                }
            }
            for dir in &state.scratch {
                let _ = std::fs::remove_dir_all(dir);
            }
            let name = if signal == SIGINT { "SIGINT" } else { "SIGTERM" };
            let out = match &state.out {
                Some(dir) => format!("; {} has no _SUCCESS", dir.display()),
                None => String::new(),
            };
            eprintln!("polars-filter: error: interrupted by {name}: partial results removed{out}");
            std::process::exit(128 + signal);
        }
    })?;
    Ok(())
}

#[cfg(not(unix))]
pub(crate) fn install() -> anyhow::Result<()> {
    Ok(())
}
