//! `--processes`: one freshly spawned child per code, the executor bounding how many run at once,
//! and the hidden worker mode each child runs.
//!
//! # Spawn, never fork
//!
//! `fork()` copies only the calling thread. A child of a threaded process inherits every lock in
//! the state its owner left it, and those owners do not exist in the child: the first time the
//! child touches Polars' thread pool (or the allocator, or stdio) it can wait forever. So each
//! child is a new process image from `std::process::Command` (posix_spawn or fork+exec with
//! nothing run in between), which starts with no threads and no inherited locks.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;

use anyhow::{anyhow, bail, Context, Result};
use bounded_executor::BoundedExecutor;

use crate::data::{read_frame, select, write_csv, Source};
use crate::error::{one_line, polars_msg};
use crate::sink::{Outcome, Sink};

/// The environment variable Polars reads for the size of its pool.
const POLARS_MAX_THREADS: &str = "POLARS_MAX_THREADS";

/// Runs every code in its own child, at most `capacity()` children alive (`max_workers` of them
/// running, the rest waiting for a worker thread to spawn them). Results are taken in completion
/// order. A failing child fails its code only; the others still run.
pub(crate) fn run(
    exec: &BoundedExecutor,
    source: &Source,
    codes: &[String],
    sink: &mut Sink,
) -> Result<usize> {
    let exe = std::env::current_exe().context("cannot find this program's own path")?;
    // Printing needs somewhere for the children to write: a private directory, removed after.
    let scratch = match sink.out_dir() {
        Some(_) => None,
        None => Some(Scratch::new()?),
    };
    let dir: PathBuf = match (&scratch, sink.out_dir()) {
        (Some(scratch), _) => scratch.0.clone(),
        (None, Some(out)) => out.to_path_buf(),
        (None, None) => unreachable!("either --out or a scratch directory"),
    };
    // Each child is one of `max_workers` running at once: one Polars thread each fills the cores
    // without oversubscribing them. A POLARS_MAX_THREADS set by the user is passed through as is.
    let polars_threads = std::env::var(POLARS_MAX_THREADS).unwrap_or_else(|_| "1".to_owned());

    let capacity = exec.capacity();
    let (tx, rx) = mpsc::channel::<(String, std::result::Result<u64, String>)>();
    let mut outstanding = 0usize;
    let mut peak = 0usize;
    let take = |(code, result): (String, std::result::Result<u64, String>),
                sink: &mut Sink|
     -> Result<()> {
        match result {
            Ok(rows) if scratch.is_some() => {
                // Printing: read the child's file back (same schema), print it, remove it.
                let file = dir.join(format!("{code}.csv"));
                let frame = read_frame(&Source::File(file.clone()))
                    .with_context(|| format!("code {code}: child's result unreadable"));
                let _ = std::fs::remove_file(&file);
                let frame = frame?;
                debug_assert_eq!(frame.height() as u64, rows);
                sink.deliver(&code, Outcome::Frame(frame))
            }
            Ok(rows) => sink.deliver(&code, Outcome::Written(rows)),
            Err(why) => {
                sink.fail(&code, why);
                Ok(())
            }
        }
    };
    for code in codes {
        while let Ok(msg) = rx.try_recv() {
            outstanding -= 1;
            take(msg, sink)?;
        }
        if outstanding == capacity {
            let msg = rx.recv().map_err(|_| anyhow!("a child's task vanished"))?;
            outstanding -= 1;
            take(msg, sink)?;
        }
        let mut command = Command::new(&exe);
        if let Source::File(path) = source {
            command.arg("--csv").arg(path);
        }
        command
            .arg("--worker-code")
            .arg(code)
            .arg("--worker-out")
            .arg(dir.join(format!("{code}.csv")))
            .env(POLARS_MAX_THREADS, &polars_threads)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let tx = tx.clone();
        let code = code.clone();
        exec.submit(move || {
            let _ = tx.send((code, run_child(command)));
        })
        .map_err(|err| anyhow!("cannot submit a task: {err}"))?;
        outstanding += 1;
        peak = peak.max(outstanding);
    }
    while outstanding > 0 {
        let msg = rx.recv().map_err(|_| anyhow!("a child's task vanished"))?;
        outstanding -= 1;
        take(msg, sink)?;
    }
    Ok(peak)
}

/// Spawns one child and waits for it; its row count comes back on stdout, its error on stderr.
fn run_child(mut command: Command) -> std::result::Result<u64, String> {
    let output = command.output().map_err(|e| format!("cannot spawn a child process: {e}"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .map(|l| l.strip_prefix("polars-filter: error: ").unwrap_or(l));
        return Err(format!(
            "child process failed ({}): {}",
            output.status,
            last.map(one_line).unwrap_or_else(|| "no message".to_owned())
        ));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout
        .trim()
        .parse()
        .map_err(|_| format!("child process printed no row count: {:?}", stdout.trim()))
}

/// The hidden worker mode: read the CSV, select one code, write the result file, print the row
/// count.
pub(crate) fn child(source: &Source, code: &str, out: &Path) -> Result<()> {
    let frame = read_frame(source)?;
    let mut found = select(&frame, code).map_err(|e| anyhow!("{}", polars_msg(&e)))?;
    drop(frame);
    write_csv(&mut found, out)?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}", found.height()).context("cannot write to standard output")?;
    Ok(())
}

/// A private directory under the system's temporary directory, removed on drop.
#[derive(Debug)]
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Result<Self> {
        let dir = std::env::temp_dir().join(format!("polars-filter-{}", std::process::id()));
        if dir.exists() {
            bail!("scratch directory {} already exists (a crashed run?); remove it", dir.display());
        }
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create scratch directory {}", dir.display()))?;
        Ok(Scratch(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
