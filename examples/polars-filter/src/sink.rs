//! Where results go as they complete: printed, or written to `DIR/<code>.csv`; the tallies, the
//! progress bar and the summary line.

use std::fs;
use std::io::{self, IsTerminal, Write};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use polars::prelude::DataFrame;

use crate::error;
use crate::outdir::OutDir;

/// Below this many codes a run is too short for a progress bar to help.
const PROGRESS_MIN_CODES: usize = 100;

/// What one task produced for one code.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// The matching rows (threads), to print or write.
    Frame(DataFrame),
    /// A child process wrote this many rows to `<code>.csv` in the output directory.
    Written(u64),
}

/// Consumes results one at a time, in whatever order they complete.
#[derive(Debug)]
pub(crate) struct Sink {
    /// Held until the manifest is written: dropping it releases `--out`.
    out: Option<OutDir>,
    quiet: bool,
    bar: Option<ProgressBar>,
    /// The bar follows bytes read (the stream strategies), not codes.
    by_bytes: bool,
    codes: usize,
    rows: u64,
    empty: Vec<String>,
    failed: Vec<(String, String)>,
    /// The files written to `out`, for the manifest.
    written: Vec<String>,
}

impl Sink {
    /// `out`: the directory for `<code>.csv` files, locked and prepared, or `None` to print.
    pub(crate) fn new(out: Option<OutDir>, quiet: bool, total: usize, stream: bool) -> Self {
        let wanted = stream || total >= PROGRESS_MIN_CODES;
        let bar = (wanted && io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new(total as u64);
            if let Ok(style) =
                ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {pos}/{len} codes {msg}")
            {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        });
        Sink {
            out,
            quiet,
            bar,
            by_bytes: false,
            codes: 0,
            rows: 0,
            empty: Vec::new(),
            failed: Vec::new(),
            written: Vec::new(),
        }
    }

    /// Whether only the summary line is printed.
    pub(crate) fn quiet(&self) -> bool {
        self.quiet
    }

    /// Makes the progress bar follow bytes read (of `total`, `done` of which are read already)
    /// instead of codes.
    pub(crate) fn track_bytes(&mut self, total: u64, done: u64) {
        self.by_bytes = true;
        if let Some(bar) = &self.bar {
            bar.set_length(total);
            bar.set_position(done);
            if let Ok(style) = ProgressStyle::with_template(
                "{elapsed_precise} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} {msg}",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
        }
    }

    /// `bytes` more of the input consumed.
    pub(crate) fn advance_bytes(&self, bytes: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(bytes);
        }
    }

    /// The output directory, if results are written rather than printed.
    pub(crate) fn out_dir(&self) -> Option<&OutDir> {
        self.out.as_ref()
    }

    /// Takes one code's result: prints it or writes it. An error here (stdout closed, a file that
    /// cannot be written) stops the run.
    pub(crate) fn deliver(&mut self, code: &str, outcome: Outcome) -> Result<()> {
        let rows = match outcome {
            Outcome::Written(rows) => rows,
            Outcome::Frame(mut frame) => {
                let rows = frame.height() as u64;
                match &self.out {
                    Some(dir) => {
                        if let Err(err) = dir.write_frame(code, &mut frame) {
                            // One unwritable file fails its code; the others still finish.
                            self.fail(code, format!("{err:#}"));
                            return Ok(());
                        }
                    }
                    None if self.quiet => {}
                    None => {
                        let text = format!("code {code}: {}\n{frame}\n\n", plural(rows, "row"));
                        self.print(&text)?;
                    }
                }
                rows
            }
        };
        self.codes += 1;
        self.rows += rows;
        if self.out.is_some() {
            self.written.push(format!("{code}.csv"));
        }
        if rows == 0 {
            self.empty.push(error::code(code));
        }
        if let (Some(bar), false) = (&self.bar, self.by_bytes) {
            bar.inc(1);
        }
        Ok(())
    }

    /// Records a code whose task failed; the run goes on and fails at the end.
    pub(crate) fn fail(&mut self, code: &str, why: String) {
        self.codes += 1;
        if let Some(bar) = &self.bar {
            bar.set_message(format!("({} failed)", self.failed.len() + 1));
            if !self.by_bytes {
                bar.inc(1);
            }
        }
        self.failed.push((code.to_owned(), why));
    }

    fn print(&self, text: &str) -> Result<()> {
        let write = || {
            let mut out = io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.flush()
        };
        match &self.bar {
            Some(bar) => bar.suspend(write),
            None => write(),
        }
        .context("cannot write to standard output")
    }

    /// Prints the summary line, then fails if any code failed (naming each).
    pub(crate) fn finish(self, how: &str, elapsed: Duration) -> Result<()> {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        // Only a run that wrote every result says so.
        if let (Some(dir), true) = (&self.out, self.failed.is_empty()) {
            dir.commit(&self.written)?;
        }
        let empty = if self.empty.is_empty() {
            String::new()
        } else {
            format!(" ({})", list(&self.empty, 5))
        };
        let line = format!(
            "done: {}, {} selected, {} empty{empty}, {} failed; {how}; {:.3} s\n",
            plural(self.codes as u64, "code"),
            plural(self.rows, "row"),
            self.empty.len(),
            self.failed.len(),
            elapsed.as_secs_f64(),
        );
        self.print(&line)?;
        if !self.failed.is_empty() {
            let each: Vec<String> = self
                .failed
                .iter()
                .map(|(code, why)| format!("{}: {why}", error::code(code)))
                .collect();
            bail!(
                "{} of {} failed: {}",
                self.failed.len(),
                plural(self.codes as u64, "code"),
                list(&each, 10)
            );
        }
        Ok(())
    }
}

fn plural(n: u64, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// The first `max` items joined with `, `, and how many more.
fn list(items: &[String], max: usize) -> String {
    let mut text = items[..items.len().min(max)].join(", ");
    if items.len() > max {
        text.push_str(&format!(", and {} more", items.len() - max));
    }
    text
}

/// The peak resident set size of this process (`VmHWM` in `/proc/self/status`), where the
/// system tells it.
pub(crate) fn peak_rss() -> Option<u64> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
