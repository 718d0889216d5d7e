//! The selection before parsing (issue 22): the stream finds the wanted rows at the byte level and
//! parses only those, yet every row is still checked, wanted or not, and the outputs stay
//! byte-identical to `per-code`'s, wherever the header puts `code`, with quoted fields, line
//! breaks in quotes, CRLF, a BOM, and values only Polars can judge.

mod common;

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};

use common::{refuses, run, scratch};

/// Every file of an output directory, by name, as bytes.
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

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, text).unwrap();
    path
}

fn run_to(csv: &Path, codes: &str, out: &Path, extra: &[&str]) -> common::Run {
    let mut args: Vec<&OsStr> = vec![
        "--csv".as_ref(),
        csv.as_os_str(),
        "--codes".as_ref(),
        codes.as_ref(),
        "--out".as_ref(),
        out.as_os_str(),
        "--workers".as_ref(),
        "2".as_ref(),
    ];
    args.extend(extra.iter().map(OsStr::new));
    run(args)
}

/// `per-code` is the reference; `partition-by` and the stream at each block size (threads, and
/// processes for the larger ones) must write the same bytes. Returns the reference.
fn assert_identical(dir: &Path, csv: &Path, codes: &str, sizes: &[&str]) -> Vec<(String, Vec<u8>)> {
    let reference = dir.join("per-code");
    run_to(csv, codes, &reference, &["--strategy", "per-code"]).ok();
    let expected = files(&reference);
    let check = |name: String, extra: &[&str]| {
        let out = dir.join(&name);
        run_to(csv, codes, &out, extra).ok();
        assert!(files(&out) == expected, "{name}: output differs from per-code's");
    };
    check("partition-by".into(), &["--strategy", "partition-by"]);
    for &size in sizes {
        check(format!("stream-{size}"), &["--block-size", size]);
        if size.len() > 2 {
            check(format!("processes-{size}"), &["--processes", "--block-size", size]);
        }
    }
    expected
}

/// Names a CSV writer must quote: a comma, doubled quotes, line breaks (LF and CRLF).
const AWKWARD: [&str; 6] =
    ["plain", "\"a,b\"", "\"say \"\"hi\"\"\"", "\"two\nlines\"", "\"\"", "\"x,\r\ny\""];

#[test]
fn the_code_field_wherever_the_header_puts_it_gives_identical_output() {
    let _watchdog =
        common::test_watchdog("the_code_field_wherever_the_header_puts_it_gives_identical_output");
    let dir = scratch("select-code-last");
    // `code` last, with CRLF row ends: its `\r` is not part of the code.
    let mut text = String::from("age,name,code\r\n");
    for i in 0..600 {
        let name = AWKWARD[i % AWKWARD.len()];
        // Some codes quoted: `"0001"` is the code 0001.
        let code = if i % 7 == 0 { format!("\"{:04}\"", i % 5) } else { format!("{:04}", i % 5) };
        text.push_str(&format!("{},{name},{code}\r\n", i % 90));
    }
    let csv = write(&dir, "in.csv", &text);
    let expected = assert_identical(&dir, &csv, "0001,0003,0009", &["1", "61", "4096"]);
    let rows = |name: &str| {
        let (_, bytes) = expected.iter().find(|(n, _)| n == name).unwrap();
        bytes.len()
    };
    assert!(rows("0001.csv") > 1000 && rows("0003.csv") > 1000, "the reference selected rows");
}

#[test]
fn quoted_codes_and_codes_with_quotes_give_identical_output() {
    let _watchdog =
        common::test_watchdog("quoted_codes_and_codes_with_quotes_give_identical_output");
    let dir = scratch("select-quoted-codes");
    let mut text = String::from("code,name,age\n");
    for (i, code) in
        ["A", "\"A\"", "\"A,B\"", "\"say \"\"A\"\"\"", "\"A\nB\"", "B"].iter().enumerate()
    {
        for k in 0..20 {
            text.push_str(&format!("{code},n{i}{k},{k}\n"));
        }
    }
    let csv = write(&dir, "in.csv", &text);
    let expected = assert_identical(&dir, &csv, "A,\"A,B\",say \"A\",B", &["1", "50", "2M"]);
    let (_, a) = expected.iter().find(|(n, _)| n == "A.csv").unwrap();
    // `A` and `"A"` are the same code.
    assert_eq!(String::from_utf8_lossy(a).lines().count(), 1 + 40);
}

#[test]
fn values_only_polars_can_judge_give_identical_output() {
    let _watchdog = common::test_watchdog("values_only_polars_can_judge_give_identical_output");
    // The byte-level pass vouches only for plain integers and canonical quoting; everything else
    // goes to Polars, which accepts these (`+5`, `007`, a quoted integer, 19 digits) and must
    // read them as it always did.
    let dir = scratch("select-polars-judges");
    let mut text = String::from("code,name,age\n");
    let odd = ["+5", "007", "\"12\"", "1234567890123456789", "-0"];
    for i in 0..400 {
        let age =
            if i % 50 == 7 { odd[(i / 50) % odd.len()].to_owned() } else { (i % 90).to_string() };
        text.push_str(&format!("{:04},plain,{age}\n", i % 4));
    }
    let csv = write(&dir, "in.csv", &text);
    assert_identical(&dir, &csv, "0000,0001,0003", &["1", "200", "2M"]);
}

#[test]
fn a_bad_row_of_an_unwanted_code_fails_the_run_naming_its_line() {
    let _watchdog =
        common::test_watchdog("a_bad_row_of_an_unwanted_code_fails_the_run_naming_its_line");
    // Nobody asked for code 0009, and its rows are never parsed into a frame: the pass still
    // finds each bad one, and the run fails naming its line, as before.
    let dir = scratch("select-bad-unwanted");
    let good = |text: &mut String, rows: usize| {
        for i in 0..rows {
            text.push_str(&format!("{:04},\"n,{i}\",{}\n", i % 3, i % 90));
        }
    };
    for (case, bad, needles) in [
        ("integer", "0009,x,ten", &["line 502 (data row 501)", "`ten`"][..]),
        ("too-many", "0009,x,1,extra", &["line 502 (data row 501)", "more fields"][..]),
        ("too-few", "0009,x", &["line 502 (data row 501)", "no value for column `age`"][..]),
        ("empty-age", "0009,x,", &["line 502 (data row 501)", "`age`"][..]),
    ] {
        let mut text = String::from("code,name,age\n");
        good(&mut text, 500);
        text.push_str(bad);
        text.push('\n');
        good(&mut text, 300);
        let csv = write(&dir, &format!("{case}.csv"), &text);
        for extra in [&["--block-size", "1K"][..], &["--block-size", "2M"], &["--processes"]] {
            let out = dir.join(format!("out-{case}-{}", extra.join("")));
            refuses(&csv, &out, "0001", extra, needles);
        }
    }
}

#[test]
fn a_row_with_a_bom_keeps_it_and_embedded_line_breaks_count_as_lines() {
    let _watchdog =
        common::test_watchdog("a_row_with_a_bom_keeps_it_and_embedded_line_breaks_count_as_lines");
    // A BOM inside the file is data (only byte 0's is not); a bad row after quoted line breaks
    // is named by its line in the file, not its row.
    let dir = scratch("select-bom-lines");
    let mut text = String::from("\u{FEFF}code,name,age\n");
    for i in 0..30 {
        text.push_str(&format!("\u{FEFF}A,\"two\nlines\",{i}\r\nA,x,{i}\n"));
    }
    let csv = write(&dir, "in.csv", &text);
    let expected = assert_identical(&dir, &csv, "\u{FEFF}A,A", &["1", "40", "2M"]);
    let count = |name: &str| {
        let (_, bytes) = expected.iter().find(|(n, _)| n == name).unwrap();
        bytes.len()
    };
    assert!(count("\u{FEFF}A.csv") > 100 && count("A.csv") > 100);
    text.push_str("B,x,bad\n");
    let csv = write(&dir, "bad.csv", &text);
    // 1 header line, 30 × 3 lines of rows, then the bad one: line 92, data row 61.
    for size in ["1", "2M"] {
        let out = dir.join(format!("bad-{size}"));
        refuses(&csv, &out, "A", &["--block-size", size], &["line 92 (data row 61)", "`bad`"]);
    }
}
