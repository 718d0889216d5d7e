//! At scale: on a generated file with thousands of codes, the per-code outputs together are the
//! input rows, nothing lost and nothing doubled, whichever strategy or mode produced them; and
//! the bounded strategies stay bounded.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use common::{read_out_dir, run, scratch};

const ROWS: &str = "6000";
const CODES: usize = 2000;

/// Generates the input (and runs the default strategy, stream, on every generated code into
/// `out`).
fn generate(dir: &Path) -> (PathBuf, PathBuf) {
    let csv = dir.join("input.csv");
    let out = dir.join("stream");
    let run = run([
        "--generate".as_ref(),
        ROWS.as_ref(),
        "--distinct-codes".as_ref(),
        CODES.to_string().as_ref(),
        "--seed".as_ref(),
        "7".as_ref(),
        "--csv".as_ref(),
        csv.as_os_str(),
        "--workers".as_ref(),
        "2".as_ref(),
        "--queue-ratio".as_ref(),
        "2".as_ref(),
        "--out".as_ref(),
        out.as_os_str(),
    ])
    .ok();
    // The bound: never more result frames alive than the capacity, 2 workers × 2.
    let summary = run.summary();
    assert!(summary.contains("capacity 4, at most "), "{summary}");
    assert!((1..=4).contains(&peak_frames(summary)), "{summary}");
    (csv, out)
}

/// The "at most N result frames alive" of a summary line.
fn peak_frames(summary: &str) -> usize {
    summary
        .split("at most ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no peak in {summary}"))
}

/// The input's data lines, sorted, and its distinct codes.
fn input_rows(csv: &Path) -> (Vec<String>, Vec<String>) {
    let text = fs::read_to_string(csv).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("code,name,age"));
    let mut rows: Vec<String> = lines.map(str::to_owned).collect();
    rows.sort();
    let mut codes: Vec<String> =
        rows.iter().map(|r| r.split(',').next().unwrap().to_owned()).collect();
    codes.dedup();
    (rows, codes)
}

/// Asserts that every file holds only its own code's rows, and that together they are `rows`.
fn assert_partition(files: &BTreeMap<String, Vec<String>>, rows: &[String]) {
    let mut union = Vec::with_capacity(rows.len());
    for (code, lines) in files {
        for line in lines {
            assert_eq!(line.split(',').next(), Some(code.as_str()), "row {line} in {code}.csv");
            union.push(line.clone());
        }
    }
    union.sort();
    assert_eq!(union.len(), rows.len(), "rows lost or doubled");
    assert_eq!(union, rows);
}

#[test]
fn every_strategy_and_mode_partitions_the_input_exactly() {
    let _watchdog = common::test_watchdog("every_strategy_and_mode_partitions_the_input_exactly");
    let dir = scratch("union");
    let (csv, stream_out) = generate(&dir);
    let (rows, present) = input_rows(&csv);
    assert_eq!(rows.len(), 6000);
    assert!(present.len() > 1500, "the generator scatters codes: {}", present.len());
    assert!(present.iter().all(|code| code.starts_with('0')), "leading zeros kept");

    // The stream strategy ran on every generated code, present in the data or not.
    let stream = read_out_dir(&stream_out);
    assert_eq!(stream.len(), CODES);
    assert_partition(&stream, &rows);

    // Every code of the list, once, through each other strategy and through child processes.
    let codes_file = dir.join("codes.txt");
    let listed: Vec<&str> = stream.keys().map(String::as_str).collect();
    fs::write(&codes_file, listed.join("\n")).unwrap();
    let cases: [&[&str]; 5] = [
        &["--strategy", "per-code"],
        &["--strategy", "partition-by"],
        &["--strategy", "naive"],
        &["--processes", "--workers", "2", "--block-size", "16K"],
        &["--block-size", "1K"],
    ];
    for (i, extra) in cases.into_iter().enumerate() {
        let out = dir.join(format!("case-{i}"));
        let mut args: Vec<&std::ffi::OsStr> = vec![
            "--csv".as_ref(),
            csv.as_os_str(),
            "--codes-file".as_ref(),
            codes_file.as_os_str(),
            "--out".as_ref(),
            out.as_os_str(),
        ];
        args.extend(extra.iter().map(std::ffi::OsStr::new));
        let run = run(args).ok();
        assert!(
            run.summary().starts_with(&format!("done: {CODES} codes, 6000 rows selected")),
            "{extra:?}: {}",
            run.summary()
        );
        let files = read_out_dir(&out);
        assert_eq!(files, stream, "{extra:?} differs from the stream strategy's output");
    }
}

#[test]
fn naive_keeps_every_result_frame_and_per_code_does_not() {
    let _watchdog = common::test_watchdog("naive_keeps_every_result_frame_and_per_code_does_not");
    let dir = scratch("bounds");
    let csv = dir.join("input.csv");
    let generate = run([
        "--generate".as_ref(),
        "3000".as_ref(),
        "--distinct-codes".as_ref(),
        "500".as_ref(),
        "--csv".as_ref(),
        csv.as_os_str(),
        "--workers".as_ref(),
        "1".as_ref(),
        "--queue-ratio".as_ref(),
        "3".as_ref(),
        "--strategy".as_ref(),
        "per-code".as_ref(),
        "--quiet".as_ref(),
    ])
    .ok();
    let summary = generate.summary();
    assert!(summary.starts_with("done: 500 codes, 3000 rows selected"), "{summary}");
    assert!(summary.contains("per-code: 1 workers, capacity 3, at most "), "{summary}");
    assert!((1..=3).contains(&peak_frames(summary)), "{summary}");

    let codes: Vec<String> = (0..500).map(|i| format!("{i:04}")).collect();
    let naive = run([
        "--csv".as_ref(),
        csv.as_os_str(),
        "--codes".as_ref(),
        codes.join(",").as_ref(),
        "--strategy".as_ref(),
        "naive".as_ref(),
        "--quiet".as_ref(),
    ])
    .ok();
    assert_eq!(peak_frames(naive.summary()), 500, "{}", naive.summary());
}
