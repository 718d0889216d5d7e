//! An input that changes during the run is never taken for a whole one (issue 21): every mode
//! proves at the end that it read the file it opened, all of it, and no strategy dies of SIGBUS.
//!
//! Each test waits until the run has the input open (`/proc/PID/fd`), then changes it. The run
//! identified the file before it opened it, so the change is always seen; and the runs are made
//! slow enough (one row a block, one worker) that they are still reading when it comes.
#![cfg(target_os = "linux")]

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use common::{command, entries, finish, scratch};

fn people(rows: usize) -> String {
    let mut text = String::from("code,name,age\n");
    for i in 0..rows {
        text.push_str(&format!("{:04},name{i},{}\n", i % 7, i % 100));
    }
    text
}

/// Whether process `pid` has `path` open.
fn has_open(pid: u32, path: &Path) -> bool {
    let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else { return false };
    fds.flatten().any(|fd| fs::read_link(fd.path()).is_ok_and(|target| target == path))
}

/// Runs on a copy of `text` with `extra`, changes the file with `change` once the run has it
/// open, and checks the refusal: exit status 1 (not a signal), one line saying the input
/// changed, and nothing in `--out` (no result, no `.part`, no `_SUCCESS`, no lock).
fn refuses_a_changed_input(name: &str, text: &str, extra: &[&str], change: impl Fn(&Path)) {
    let dir = scratch(name);
    let csv = fs::canonicalize(&dir).unwrap().join("in.csv");
    fs::write(&csv, text).unwrap();
    let out: PathBuf = dir.join("out");
    let child = command()
        .arg("--csv")
        .arg(&csv)
        .arg("--out")
        .arg(&out)
        .args(["--codes", "0001,0003,0005"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    common::wait_until("the run opens its input", 60, || has_open(child.id(), &csv));
    change(&csv);
    let run = finish(child, 120);
    assert_ne!(run.code, None, "{name}: killed by a signal (SIGBUS?): {run:?}");
    // The change comes once the run has the file open, which may still be while it proves the
    // file it opened is the one it looked at: either refusal is right.
    let line = run.fails_with(&["the input"]);
    assert!(
        line.contains("changed during the run") || line.contains("changed as it was opened"),
        "{name}: {line}"
    );
    assert!(entries(&out).is_empty(), "{name}: left in --out: {:?}", entries(&out));
}

/// Cuts the file to `keep` of its size, as a log rotation or a rewrite in place would.
fn shrink(keep: f64) -> impl Fn(&Path) {
    move |path: &Path| {
        let file = fs::OpenOptions::new().write(true).open(path).unwrap();
        let len = file.metadata().unwrap().len();
        file.set_len((len as f64 * keep) as u64).unwrap();
    }
}

const SLOW: [&str; 8] =
    ["--workers", "1", "--queue-ratio", "1", "--block-size", "1", "--buffer-size", "1M"];

#[test]
fn an_input_that_shrinks_while_the_stream_reads_it_fails_the_run() {
    let _watchdog =
        common::test_watchdog("an_input_that_shrinks_while_the_stream_reads_it_fails_the_run");
    // Issue 21, case 3: 2.7M of 3.2M rows, exit 0 and `_SUCCESS`. The size was known at the
    // open but never compared with what was read.
    refuses_a_changed_input("shrink-stream", &people(20_000), &SLOW, shrink(0.1));
}

#[test]
fn an_input_that_shrinks_while_the_children_read_it_fails_the_run() {
    let _watchdog =
        common::test_watchdog("an_input_that_shrinks_while_the_children_read_it_fails_the_run");
    let mut extra = SLOW.to_vec();
    extra[5] = "256";
    extra.push("--processes");
    refuses_a_changed_input("shrink-processes", &people(20_000), &extra, shrink(0.1));
}

#[test]
fn an_input_rewritten_in_place_at_the_same_size_fails_the_run() {
    let _watchdog =
        common::test_watchdog("an_input_rewritten_in_place_at_the_same_size_fails_the_run");
    // The same bytes count, other bytes: only the modification time tells.
    let text = people(20_000);
    let rewrite = |path: &Path| {
        let mut bytes = fs::read(path).unwrap();
        let at = bytes.len() / 2;
        bytes[at..].reverse();
        // In place, never truncated: `fs::write` would leave the file empty for a moment, and a
        // run reading it then refuses an empty CSV instead of a changed one (1 in ~35 runs).
        let mut file = fs::OpenOptions::new().write(true).open(path).unwrap();
        std::io::Write::write_all(&mut file, &bytes).unwrap();
    };
    refuses_a_changed_input("rewrite-stream", &text, &SLOW, rewrite);
}

#[test]
fn an_input_that_shrinks_while_a_whole_frame_strategy_reads_it_never_kills_the_run() {
    let _watchdog = common::test_watchdog(
        "an_input_that_shrinks_while_a_whole_frame_strategy_reads_it_never_kills_the_run",
    );
    // Issue 21, case 4: Polars mapped the file, and the truncation killed `per-code` and
    // `partition-by` with SIGBUS (exit 135, no message), 6 of 6 times. The file is read into
    // memory now, and proven whole before and after the work.
    let text = people(200_000);
    for strategy in ["per-code", "partition-by", "naive"] {
        let extra = ["--strategy", strategy];
        refuses_a_changed_input(&format!("shrink-{strategy}"), &text, &extra, shrink(0.5));
    }
}
