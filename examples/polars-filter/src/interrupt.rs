//! Ctrl-C and SIGTERM: the writers are stopped, everything the run created is removed, then the
//! process exits with one line and status 128 + the signal's number.
//!
//! The handler is a thread of its own (`signal_hook`'s iterator), so it acts even while the main
//! thread is blocked in a read. It calls [`writes::stop`], which first waits for the file
//! operations under way and closes the gate to new ones, then removes every file, scratch
//! directory and lock this run created. A run interrupted after its `_SUCCESS` was renamed into
//! place is complete: its results stay. `--processes` children notice the parent's end through
//! their stdin.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::writes;

/// The output directory, for the handler's message.
static OUT: Mutex<Option<PathBuf>> = Mutex::new(None);

/// The output directory the handler's message names.
pub(crate) fn watch_out(dir: &Path) {
    *OUT.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(dir.to_path_buf());
}

/// Starts the handler thread (Unix; elsewhere the default handling stays).
#[cfg(unix)]
pub(crate) fn install() -> anyhow::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    use signal_hook::iterator::Signals;

    let mut signals = Signals::new([SIGINT, SIGTERM])?;
    std::thread::Builder::new().name("signals".to_owned()).spawn(move || {
        if let Some(signal) = signals.forever().next() {
            let stopped = writes::stop();
            let name = if signal == SIGINT { "SIGINT" } else { "SIGTERM" };
            let out = OUT.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
            let what = match (out, stopped.committed) {
                (Some(dir), true) => {
                    format!(" after {} was complete: its results stay", dir.display())
                }
                (Some(dir), false) => {
                    format!(": partial results removed; {} has no _SUCCESS", dir.display())
                }
                (None, _) => ": partial results removed".to_owned(),
            };
            eprintln!("polars-filter: error: interrupted by {name}{what}");
            std::process::exit(128 + signal);
        }
    })?;
    Ok(())
}

#[cfg(not(unix))]
pub(crate) fn install() -> anyhow::Result<()> {
    Ok(())
}
