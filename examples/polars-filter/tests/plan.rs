//! `--plan` and range mode (issue 22): the plan covers every byte of the rows once, at row ends;
//! its ranges, each run alone and merged in input order, give the stream's files byte for byte;
//! a range refuses another version of the input, names a bad row by its line in the file, and
//! never writes into a directory that holds something.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::{run, scratch};

/// Rows over 7 codes with names that need quoting (line breaks included), CRLF row ends.
fn csv(dir: &Path, rows: usize) -> PathBuf {
    let mut text = String::from("code,name,age\r\n");
    for i in 0..rows {
        let name = match i % 3 {
            0 => format!("\"r{i}\r\nline, two\""),
            1 => format!("\"say \"\"{i}\"\"\""),
            _ => format!("r{i}"),
        };
        text.push_str(&format!("{:04},{name},{}\r\n", (i * 5) % 7, i % 100));
    }
    let path = dir.join("in.csv");
    fs::write(&path, text).unwrap();
    path
}

/// `--plan`'s output, run on `csv`.
fn plan(csv: &Path, codes: &str, block_size: &str) -> String {
    let csv = csv.to_str().unwrap();
    run(["--csv", csv, "--codes", codes, "--plan", "--block-size", block_size]).ok().stdout
}

/// A plan's ranges: (offset, len, lines before, rows before).
fn ranges(plan: &str) -> Vec<(u64, u64, u64, u64)> {
    plan.lines()
        .filter_map(|line| line.strip_prefix("range "))
        .map(|r| {
            let n: Vec<u64> = r.split(' ').map(|x| x.parse().unwrap()).collect();
            (n[0], n[1], n[2], n[3])
        })
        .collect()
}

fn field<'a>(plan: &'a str, name: &str) -> &'a str {
    plan.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')).unwrap()
}

fn run_range(csv: &Path, plan_file: &Path, k: usize, pieces: &Path) -> common::Run {
    run([
        format!("--csv={}", csv.display()),
        format!("--plan-file={}", plan_file.display()),
        format!("--range={k}"),
        format!("--pieces={}", pieces.display()),
    ])
}

#[test]
fn the_ranges_run_alone_and_merged_in_order_give_the_streams_files() {
    let _watchdog =
        common::test_watchdog("the_ranges_run_alone_and_merged_in_order_give_the_streams_files");
    let dir = scratch("plan-merge");
    let csv = csv(&dir, 3000);
    let codes = ["0001", "0003", "0006", "0042"];
    let text = plan(&csv, &codes.join(","), "1K");
    let plan_file = dir.join("plan.txt");
    fs::write(&plan_file, &text).unwrap();

    // The ranges follow each other from the header's end to the file's end, each at a row end.
    let bytes = fs::read(&csv).unwrap();
    let header: u64 = field(&text, "header").parse().unwrap();
    let ranges = ranges(&text);
    assert!(ranges.len() > 50, "{} ranges", ranges.len());
    let mut at = header;
    for &(offset, len, _, _) in &ranges {
        assert_eq!(offset, at);
        at += len;
        assert!(bytes[..at as usize].ends_with(b"\r\n"));
    }
    assert_eq!(at, bytes.len() as u64);
    assert!(text.ends_with("codes 4\n0001\n0003\n0006\n0042\n"), "{text}");

    // Each range alone, merged as a driver does: header, then each code's pieces in range order.
    let header_line: Vec<u8> = (0..field(&text, "header-line").len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&field(&text, "header-line")[i..i + 2], 16).unwrap())
        .collect();
    let mut merged: Vec<Vec<u8>> = codes.iter().map(|_| header_line.clone()).collect();
    let mut rows = 0;
    for k in 0..ranges.len() {
        let pieces = dir.join(format!("range-{k}"));
        run_range(&csv, &plan_file, k, &pieces).ok();
        let summary = fs::read_to_string(pieces.join("_RANGE")).unwrap();
        let data = fs::read(pieces.join("rows.csv")).unwrap();
        let lines: Vec<&str> = summary.lines().collect();
        assert_eq!(lines[..2], ["polars-filter range 1", &format!("range {k}")]);
        rows += lines[2].strip_prefix("rows ").unwrap().parse::<u64>().unwrap();
        let mut start = 0;
        for piece in &lines[5..] {
            let n: Vec<usize> = piece.split(' ').map(|x| x.parse().unwrap()).collect();
            merged[n[0]].extend_from_slice(&data[start..start + n[2]]);
            start += n[2];
        }
        assert_eq!(start, data.len());
    }
    assert_eq!(rows, 3000);

    let out = dir.join("stream");
    let csv_arg = csv.to_str().unwrap();
    let codes_arg = codes.join(",");
    run(["--csv", csv_arg, "--codes", &codes_arg, "--out", out.to_str().unwrap(), "-q"]).ok();
    for (code, merged) in codes.iter().zip(&merged) {
        let stream = fs::read(out.join(format!("{code}.csv"))).unwrap();
        assert!(&stream == merged, "{code}: the merged ranges differ from the stream's file");
    }
}

#[test]
fn a_range_refuses_another_version_of_the_input() {
    let _watchdog = common::test_watchdog("a_range_refuses_another_version_of_the_input");
    let dir = scratch("plan-changed");
    let csv = csv(&dir, 200);
    let plan_file = dir.join("plan.txt");
    fs::write(&plan_file, plan(&csv, "0001", "1K")).unwrap();
    // Same size, other bytes: rewritten in place after the plan was made.
    let mut bytes = fs::read(&csv).unwrap();
    let last = bytes.len() - 3;
    bytes[last] = if bytes[last] == b'7' { b'8' } else { b'7' };
    std::thread::sleep(std::time::Duration::from_millis(10)); // a new modification time
    fs::write(&csv, &bytes).unwrap();
    let pieces = dir.join("pieces");
    run_range(&csv, &plan_file, 0, &pieces).fails_with(&["changed during the run"]);
    assert!(!pieces.exists(), "nothing written for another version");
}

#[test]
fn a_bad_row_in_a_range_is_named_by_its_line_in_the_file() {
    let _watchdog = common::test_watchdog("a_bad_row_in_a_range_is_named_by_its_line_in_the_file");
    let dir = scratch("plan-bad-row");
    let csv = csv(&dir, 600);
    let mut text = fs::read_to_string(&csv).unwrap();
    // 600 rows of which 200 span two lines: 801 lines, then the bad row (an unwanted code).
    text.push_str("0009,bad,ten\r\n0001,x,1\r\n");
    fs::write(&csv, &text).unwrap();
    let plan_text = plan(&csv, "0001", "1K");
    let plan_file = dir.join("plan.txt");
    fs::write(&plan_file, &plan_text).unwrap();
    let last = ranges(&plan_text).len() - 1;
    let pieces = dir.join("pieces");
    run_range(&csv, &plan_file, last, &pieces).fails_with(&["line 802 (data row 601)", "`ten`"]);
    assert!(!pieces.exists() || common::entries(&pieces).is_empty());
}

#[test]
fn a_range_never_writes_into_a_directory_that_holds_something() {
    let _watchdog =
        common::test_watchdog("a_range_never_writes_into_a_directory_that_holds_something");
    let dir = scratch("plan-pieces-dir");
    let csv = csv(&dir, 100);
    let plan_file = dir.join("plan.txt");
    fs::write(&plan_file, plan(&csv, "0001,0002", "2M")).unwrap();
    let pieces = dir.join("pieces");
    fs::create_dir(&pieces).unwrap();
    fs::write(pieces.join("mine.txt"), "keep").unwrap();
    run_range(&csv, &plan_file, 0, &pieces).fails_with(&["exists and is not empty"]);
    assert_eq!(common::entries(&pieces), ["mine.txt"]);
    run_range(&csv, &plan_file, 1, &dir.join("p1")).fails_with(&["the plan has 1 ranges"]);
    // A file that is not a plan (here the input itself) is refused.
    run_range(&csv, &csv, 0, &dir.join("p2")).fails_with(&["is not a plan written by --plan"]);
    run_range(&csv, &plan_file, 0, &dir.join("p3")).ok();
    assert_eq!(common::entries(&dir.join("p3")), ["_RANGE", "rows.csv"]);
}
