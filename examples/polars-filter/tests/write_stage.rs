//! The stream's write stage (issue 22): per-code writes as tasks on a second bounded executor,
//! the bound holding the bytes in flight. Each code's rows land in input order however many
//! flushes there are and whichever writer runs them, the bytes in the writers' hands never pass
//! `--buffer-size`, and printing spools through the same stage.

mod common;

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};

use common::{run, scratch};

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            (path.file_name().unwrap().to_string_lossy().into_owned(), fs::read(&path).unwrap())
        })
        .collect();
    files.sort();
    files
}

/// `rows` rows over `codes` codes, names that need quoting among them; row `i` says `i` in its
/// name, so that order is visible.
fn csv(dir: &Path, rows: usize, codes: usize) -> PathBuf {
    let mut text = String::from("code,name,age\n");
    for i in 0..rows {
        let name = match i % 4 {
            0 => format!("\"r{i},x\""),
            1 => format!("\"r{i}\nsecond line\""),
            _ => format!("r{i}"),
        };
        text.push_str(&format!("{:04},{name},{}\n", (i * 7) % codes, i % 100));
    }
    let path = dir.join("in.csv");
    fs::write(&path, text).unwrap();
    path
}

fn run_to(csv: &Path, codes: &str, out: Option<&Path>, extra: &[&str]) -> common::Run {
    let mut args: Vec<&OsStr> = vec![
        "--csv".as_ref(),
        csv.as_os_str(),
        "--codes".as_ref(),
        codes.as_ref(),
        "--workers".as_ref(),
        "2".as_ref(),
    ];
    if let Some(out) = out {
        args.extend(["--out".as_ref(), out.as_os_str()]);
    }
    args.extend(extra.iter().map(OsStr::new));
    run(args).ok()
}

/// The bytes the summary says the writers held at most ("at most N KiB in flight").
fn writes_in_flight(summary: &str) -> f64 {
    let tail = summary.split("writes: ").nth(1).unwrap_or_else(|| panic!("{summary}"));
    let tail = tail.split("at most ").nth(1).unwrap_or_else(|| panic!("{summary}"));
    let mut words = tail.split(' ');
    let value: f64 = words.next().unwrap().parse().unwrap_or_else(|_| panic!("{summary}"));
    value
        * match words.next() {
            Some("B") => 1.0,
            Some("KiB") => 1024.0,
            Some("MiB") => 1024.0 * 1024.0,
            _ => panic!("{summary}"),
        }
}

#[test]
fn many_flushes_keep_each_codes_rows_in_input_order() {
    let _watchdog = common::test_watchdog("many_flushes_keep_each_codes_rows_in_input_order");
    let dir = scratch("write-stage-order");
    let csv = csv(&dir, 4000, 9);
    let codes = "0000,0001,0002,0003,0004,0005,0006,0007,0008,0042";
    let reference = dir.join("per-code");
    run_to(&csv, codes, Some(&reference), &["--strategy", "per-code"]);
    let expected = files(&reference);
    assert_eq!(expected.len(), 11);
    // A 1-byte budget hands every piece over at once: hundreds of writes per code, two writers.
    for (buffer, block) in [("1", "97"), ("1K", "1K"), ("64K", "300"), ("64M", "2M")] {
        for extra in [&[][..], &["--processes"]] {
            if buffer == "1" && !extra.is_empty() {
                continue; // a child per 97-byte block: too many spawns for a test
            }
            let out = dir.join(format!("stream-{buffer}-{block}{}", extra.join("")));
            let mut args = vec!["--buffer-size", buffer, "--block-size", block, "-q"];
            args.extend(extra);
            let run = run_to(&csv, codes, Some(&out), &args);
            assert!(
                files(&out) == expected,
                "--buffer-size {buffer}: output differs from per-code's"
            );
            assert!(run.summary().contains("writes: 2 threads"), "{}", run.summary());
        }
    }
}

#[test]
fn the_writers_never_hold_more_than_the_buffer_size() {
    let _watchdog = common::test_watchdog("the_writers_never_hold_more_than_the_buffer_size");
    let dir = scratch("write-stage-bound");
    let csv = csv(&dir, 20000, 3);
    for (buffer, bytes) in [("16K", 16384.0), ("100K", 102400.0)] {
        let out = dir.join(format!("out-{buffer}"));
        let run = run_to(&csv, "0000,0001,0002", Some(&out), &["--buffer-size", buffer, "-q"]);
        let peak = writes_in_flight(run.summary());
        // The file's results are about 20 times the budget: the writers were kept busy and full.
        assert!(peak > 0.0 && peak <= bytes, "--buffer-size {buffer}: {}", run.summary());
    }
}

#[test]
fn printing_spools_through_the_writers_and_prints_the_same() {
    let _watchdog =
        common::test_watchdog("printing_spools_through_the_writers_and_prints_the_same");
    let dir = scratch("write-stage-print");
    let csv = csv(&dir, 600, 5);
    let whole = run_to(&csv, "0001,0003,0009", None, &[]);
    let spooled =
        run_to(&csv, "0001,0003,0009", None, &["--buffer-size", "1", "--block-size", "64"]);
    let body = |stdout: &str| {
        stdout.lines().take_while(|l| !l.starts_with("done:")).collect::<Vec<_>>().join("\n")
    };
    assert_eq!(body(&whole.stdout), body(&spooled.stdout));
    assert!(whole.stdout.contains("code 0001: 120 rows"), "{}", whole.stdout);
}
