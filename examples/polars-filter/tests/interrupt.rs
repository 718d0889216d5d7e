//! Ctrl-C and SIGTERM stop the writers before the cleanup, and the cleanup removes everything the
//! run created (issue 21): `.part` files, results not yet committed, scratch directories and the
//! lock, at 20,000 codes, in every strategy that writes many files.
//!
//! Each case runs `INTERRUPT_RUNS` times per signal (default 2, for CI's time); the proof
//! is `INTERRUPT_RUNS=20 POLARS_FILTER_BIN=target/release/polars-filter cargo test -p
//! polars-filter --test interrupt`.
#![cfg(unix)]

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use common::{command, entries, finish, scratch};

const CODES: usize = 20_000;

fn runs() -> usize {
    std::env::var("INTERRUPT_RUNS").ok().and_then(|n| n.parse().ok()).unwrap_or(2)
}

/// A generated input of 40,000 rows over 20,000 codes, and a codes file listing them all.
fn input(dir: &Path) -> (PathBuf, PathBuf) {
    let csv = dir.join("in.csv");
    common::run([
        "--generate".as_ref(),
        "40000".as_ref(),
        "--distinct-codes".as_ref(),
        CODES.to_string().as_ref(),
        "--csv".as_ref(),
        csv.as_os_str(),
        "--codes".as_ref(),
        "none".as_ref(),
        "--quiet".as_ref(),
    ])
    .ok();
    let codes = dir.join("codes.txt");
    let width = 6; // generate::code's width for 20,000 codes
    let list: Vec<String> = (0..CODES).map(|i| format!("{i:0width$}")).collect();
    fs::write(&codes, list.join("\n")).unwrap();
    (csv, codes)
}

/// Starts a run writing to `out` (scratch directories under `tmp`), waits until it has made at
/// least `files` entries in `watch`, sends `signal`, and checks that the run exits with 128 + the
/// signal's number, one line, and leaves nothing: `out` and `tmp` empty.
fn interrupt_leaves_nothing(case: &str, extra: &[&str], signal: &str, files: usize) {
    let dir = scratch(&format!("interrupt-{case}-{signal}"));
    let (csv, codes) = input(&dir);
    let tmp = dir.join("tmp");
    fs::create_dir(&tmp).unwrap();
    let (mut interrupted, mut round) = (0, 0);
    while interrupted < runs() {
        round += 1;
        assert!(round <= 3 * runs(), "{case}: the runs kept ending before the signal came");
        let out = dir.join(format!("out{round}"));
        let writes_to_out = !extra.is_empty() && extra[0] != "--print";
        let args: Vec<&str> = extra.iter().copied().filter(|&a| a != "--print").collect();
        let mut run = command();
        run.arg("--csv").arg(&csv).arg("--codes-file").arg(&codes).args(&args).env("TMPDIR", &tmp);
        if writes_to_out {
            run.arg("--out").arg(&out);
        }
        let child = run.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
        let watch = if writes_to_out { out.clone() } else { tmp.clone() };
        common::wait_until(&format!("{case}: {files} files in {}", watch.display()), 120, || {
            let mut names = entries(&watch);
            if !writes_to_out {
                // The spooled files, inside the scratch directory.
                names = names.iter().flat_map(|d| entries(&watch.join(d))).collect();
            }
            names.len() >= files
        });
        common::kill(signal, child.id());
        let done = finish(child, 120);
        if done.code == Some(0) {
            // Done before the signal came (a loaded machine): complete, and nothing to prove.
            assert!(!writes_to_out || out.join("_SUCCESS").exists(), "{case}: {done:?}");
            continue;
        }
        interrupted += 1;
        let status = if signal == "INT" { 130 } else { 143 };
        assert_eq!(done.code, Some(status), "{case} round {round}: {}", done.stderr);
        assert_eq!(done.stderr.lines().count(), 1, "{case}: {}", done.stderr);
        assert!(done.stderr.contains(&format!("interrupted by SIG{signal}")), "{}", done.stderr);
        let left = entries(&out);
        assert!(left.is_empty(), "{case} round {round}: {} left in --out: {:?}", left.len(), {
            left.iter().take(5).collect::<Vec<_>>()
        });
        assert!(
            entries(&tmp).is_empty(),
            "{case} round {round}: scratch left: {:?}",
            entries(&tmp)
        );
    }
}

#[test]
fn sigint_while_the_stream_writes_20000_part_files_leaves_nothing() {
    let _watchdog =
        common::test_watchdog("sigint_while_the_stream_writes_20000_part_files_leaves_nothing");
    // Issue 21, case 5: the handler deleted while the main thread kept creating: 12 of 12 runs
    // left `.part` files. A 4 KiB buffer: the pieces are appended after nearly every block.
    let extra = ["--block-size", "2K", "--buffer-size", "4K", "--quiet"];
    interrupt_leaves_nothing("stream", &extra, "INT", 2000);
}

#[test]
fn sigterm_while_the_stream_writes_20000_part_files_leaves_nothing() {
    let _watchdog =
        common::test_watchdog("sigterm_while_the_stream_writes_20000_part_files_leaves_nothing");
    let extra = ["--block-size", "2K", "--buffer-size", "4K", "--quiet"];
    interrupt_leaves_nothing("stream", &extra, "TERM", 2000);
}

#[test]
fn an_interrupt_while_results_are_written_whole_leaves_none_of_them() {
    let _watchdog =
        common::test_watchdog("an_interrupt_while_results_are_written_whole_leaves_none_of_them");
    // `per-code` writes complete `<code>.csv` files as it goes: they are this run's, uncommitted,
    // and go too.
    interrupt_leaves_nothing("per-code", &["--strategy", "per-code", "--quiet"], "INT", 500);
    interrupt_leaves_nothing("partition-by", &["--strategy", "partition-by", "-q"], "TERM", 500);
}

#[test]
fn an_interrupt_while_printing_removes_the_scratch_directory() {
    let _watchdog =
        common::test_watchdog("an_interrupt_while_printing_removes_the_scratch_directory");
    // Printing spools past --buffer-size to a scratch directory (9 of 10 runs left it).
    let extra = ["--print", "--block-size", "2K", "--buffer-size", "4K"];
    interrupt_leaves_nothing("print", &extra, "INT", 500);
}
