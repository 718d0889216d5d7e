//! Bad input: each case gives one clear line on stderr and exit status 1, never a panic, and no
//! silent partial success.

mod common;

use std::fs;
use std::path::Path;

use common::{read_out_dir, run, scratch};

fn csv_run(csv: &Path, extra: &[&str]) -> common::Run {
    let mut args: Vec<&std::ffi::OsStr> = vec!["--csv".as_ref(), csv.as_os_str()];
    args.extend(extra.iter().map(std::ffi::OsStr::new));
    run(args)
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    fs::write(&path, text).unwrap();
    path
}

#[test]
fn missing_csv() {
    let _watchdog = common::test_watchdog("missing_csv");
    let dir = scratch("missing-csv");
    let line = csv_run(&dir.join("absent.csv"), &["--codes", "0001"]).fails_with(&[
        "cannot read CSV",
        "absent.csv",
        "No such file",
    ]);
    assert!(!line.contains('\n'));
}

#[test]
fn csv_that_is_a_directory() {
    let _watchdog = common::test_watchdog("csv_that_is_a_directory");
    let dir = scratch("csv-dir");
    csv_run(&dir, &["--codes", "0001"]).fails_with(&["cannot read CSV", "is a directory"]);
}

#[test]
fn empty_csv() {
    let _watchdog = common::test_watchdog("empty_csv");
    let dir = scratch("empty-csv");
    let csv = write(&dir, "empty.csv", "");
    csv_run(&csv, &["--codes", "0001"]).fails_with(&["cannot parse CSV", "empty"]);
}

#[test]
fn no_code_column() {
    let _watchdog = common::test_watchdog("no_code_column");
    let dir = scratch("no-code");
    let csv = write(&dir, "kode.csv", "kode,name,age\n0001,hoge,20\n");
    csv_run(&csv, &["--codes", "0001"]).fails_with(&["no `code` column", "kode, name, age"]);
}

#[test]
fn row_with_too_many_fields() {
    let _watchdog = common::test_watchdog("row_with_too_many_fields");
    let dir = scratch("long-row");
    let csv = write(&dir, "long.csv", "code,name,age\n0001,hoge,20\n0002,fuga,10,99\n");
    csv_run(&csv, &["--codes", "0001"]).fails_with(&["cannot parse CSV", "more fields"]);
}

#[test]
fn row_with_too_few_fields() {
    let _watchdog = common::test_watchdog("row_with_too_few_fields");
    let dir = scratch("short-row");
    let csv = write(&dir, "short.csv", "code,name,age\n0001,hoge,20\n0002,fuga\n");
    csv_run(&csv, &["--codes", "0001"]).fails_with(&[
        "malformed row",
        "data row 2",
        "column `age`",
    ]);
}

#[test]
fn age_that_is_not_an_integer() {
    let _watchdog = common::test_watchdog("age_that_is_not_an_integer");
    let dir = scratch("bad-age");
    let csv = write(&dir, "age.csv", "code,name,age\n0001,hoge,20\n0002,fuga,ten\n");
    csv_run(&csv, &["--codes", "0001"]).fails_with(&["cannot parse CSV", "`ten`", "age"]);
}

#[test]
fn unterminated_quote_stays_on_one_line() {
    let _watchdog = common::test_watchdog("unterminated_quote_stays_on_one_line");
    let dir = scratch("quote");
    let csv = write(&dir, "quote.csv", "code,name,age\n0001,\"hoge,20\n0002,fuga,10\n");
    csv_run(&csv, &["--codes", "0001"]).fails_with(&["cannot parse CSV"]);
}

#[test]
fn empty_code_lists() {
    let _watchdog = common::test_watchdog("empty_code_lists");
    let dir = scratch("empty-codes");
    run(["--codes", ""]).fails_with(&["empty code list", "--codes"]);
    run(["--codes", " , ,"]).fails_with(&["empty code list"]);
    let blank = write(&dir, "blank.txt", "\n  \n\n");
    run(["--codes-file".as_ref(), blank.as_os_str()]).fails_with(&["empty code list", "blank.txt"]);
    run(["--codes-file".as_ref(), dir.join("absent.txt").as_os_str()])
        .fails_with(&["cannot read codes file", "absent.txt"]);
    // A CSV of one's own needs a code list: there is no default for it.
    let csv = write(&dir, "people.csv", "code,name,age\n0001,hoge,20\n");
    csv_run(&csv, &[]).fails_with(&["empty code list"]);
}

#[test]
fn unwritable_out_fails_before_any_work() {
    let _watchdog = common::test_watchdog("unwritable_out_fails_before_any_work");
    let dir = scratch("unwritable-out");
    // A directory cannot be made under a regular file, even by root.
    let file = write(&dir, "file", "");
    let out = file.join("out");
    run(["--out".as_ref(), out.as_os_str()]).fails_with(&["cannot create output directory"]);
    run(["--processes".as_ref(), "--out".as_ref(), out.as_os_str()])
        .fails_with(&["cannot create output directory"]);
}

#[test]
fn code_that_cannot_be_a_file_name() {
    let _watchdog = common::test_watchdog("code_that_cannot_be_a_file_name");
    let dir = scratch("bad-name");
    let out = dir.join("out");
    run(["--codes".as_ref(), "0001,../x".as_ref(), "--out".as_ref(), out.as_os_str()])
        .fails_with(&["\"../x\"", "file name"]);
    assert!(!out.exists(), "nothing was started");
}

/// `DIR/0005.csv` is a directory, so the result for 0005 cannot be written: that code fails, by
/// name, and the others are still written.
fn one_code_cannot_be_written(processes: bool) {
    let dir = scratch(if processes { "child-fails" } else { "write-fails" });
    let out = dir.join("out");
    fs::create_dir_all(out.join("0005.csv")).unwrap();
    let mut args: Vec<&std::ffi::OsStr> = vec!["--out".as_ref(), out.as_os_str()];
    if processes {
        args.push("--processes".as_ref());
    }
    let run = run(args);
    // The children only compute; the parent writes, in both modes.
    run.fails_with(&["1 of 3 codes failed", "0005: ", "Is a directory"]);
    assert!(run.summary().contains("1 failed"), "{}", run.summary());
    fs::remove_dir(out.join("0005.csv")).unwrap();
    let files = read_out_dir(&out);
    assert_eq!(files["0001"], ["0001,hoge,20"]);
    assert!(files["00002"].is_empty());
    assert_eq!(files.len(), 2, "no partial file for 0005: {files:?}");
}

#[test]
fn failing_write_in_processes_mode_is_reported_by_code_and_the_others_finish() {
    let _watchdog = common::test_watchdog(
        "failing_write_in_processes_mode_is_reported_by_code_and_the_others_finish",
    );
    one_code_cannot_be_written(true);
}

#[test]
fn failing_write_in_thread_mode_is_reported_by_code_and_the_others_finish() {
    let _watchdog = common::test_watchdog(
        "failing_write_in_thread_mode_is_reported_by_code_and_the_others_finish",
    );
    one_code_cannot_be_written(false);
}

#[test]
fn failing_child_on_a_vanished_csv() {
    let _watchdog = common::test_watchdog("failing_child_on_a_vanished_csv");
    // The parent reads the CSV first, so a missing file is one clear error, not one per child.
    let dir = scratch("processes-missing");
    csv_run(&dir.join("absent.csv"), &["--processes", "--codes", "1,2,3"])
        .fails_with(&["cannot read CSV", "absent.csv"]);
}

#[test]
fn an_overlong_code_is_shortened_and_the_cause_stays_in_the_line() {
    let _watchdog =
        common::test_watchdog("an_overlong_code_is_shortened_and_the_cause_stays_in_the_line");
    // Issue 21, case 11: the line was cut at 240 bytes with the code first, so "File name too
    // long" never showed.
    let dir = scratch("long-code");
    let out = dir.join("out");
    let long = "x".repeat(300);
    for extra in [&[][..], &["--processes"], &["--strategy", "per-code"]] {
        let codes = format!("0001,{long}");
        let mut args: Vec<&std::ffi::OsStr> =
            vec!["--out".as_ref(), out.as_os_str(), "--codes".as_ref(), codes.as_ref()];
        args.extend(extra.iter().map(std::ffi::OsStr::new));
        let line = run(args).fails_with(&["1 of 2 codes failed", "(300 bytes)", "too long"]);
        assert!(line.len() < 300, "{extra:?}: {} bytes: {line}", line.len());
        assert!(!line.contains(&long), "{extra:?}: the code is quoted whole: {line}");
    }
}
