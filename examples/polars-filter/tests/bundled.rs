//! The first run a newcomer makes: no arguments, the bundled five rows and the codes
//! 0001, 00002, 0005.

mod common;

use std::fs;

use common::{read_out_dir, run, scratch};

/// The cells of each table row of a printed frame, for the block that follows `code <code>:`.
fn printed_rows(stdout: &str, code: &str) -> Vec<Vec<String>> {
    let header = format!("code {code}: ");
    let block = stdout
        .split("\n\n")
        .find(|block| block.starts_with(&header))
        .unwrap_or_else(|| panic!("no block for {code} in:\n{stdout}"));
    block
        .lines()
        .skip_while(|line| !line.starts_with('╞'))
        .skip(1)
        .filter(|line| line.starts_with('│'))
        .map(|line| line.trim_matches('│').split('┆').map(|cell| cell.trim().to_owned()).collect())
        .collect()
}

#[test]
fn bundled_run_prints_exactly_the_matching_rows() {
    let _watchdog = common::test_watchdog("bundled_run_prints_exactly_the_matching_rows");
    let run = run::<_, &str>([]).ok();
    assert_eq!(printed_rows(&run.stdout, "0001"), [["0001", "hoge", "20"]]);
    assert_eq!(printed_rows(&run.stdout, "0005"), [["0005", "bar", "60"]]);
    assert!(printed_rows(&run.stdout, "00002").is_empty());
    assert!(run.stdout.contains("code 00002: 0 rows"), "{}", run.stdout);
    // Each column's type is shown under its name: the codes are strings, the ages integers.
    assert!(run.stdout.contains("│ str  ┆ str  ┆ i64 │"), "{}", run.stdout);
    let summary = run.summary();
    assert!(
        summary.starts_with("done: 3 codes, 2 rows selected, 1 empty (00002), 0 failed"),
        "{summary}"
    );
    assert!(run.stderr.is_empty(), "{}", run.stderr);
}

#[test]
fn out_files_keep_leading_zeros_and_input_column_order() {
    let _watchdog = common::test_watchdog("out_files_keep_leading_zeros_and_input_column_order");
    let dir = scratch("bundled-out");
    let out = dir.join("out");
    run(["--out".as_ref(), out.as_os_str()]).ok();
    assert_eq!(fs::read_to_string(out.join("0001.csv")).unwrap(), "code,name,age\n0001,hoge,20\n");
    assert_eq!(fs::read_to_string(out.join("0005.csv")).unwrap(), "code,name,age\n0005,bar,60\n");
    assert_eq!(fs::read_to_string(out.join("00002.csv")).unwrap(), "code,name,age\n");
    assert_eq!(read_out_dir(&out).len(), 3, "exactly one file per code");
}

#[test]
fn processes_mode_gives_the_same_files_as_threads() {
    let _watchdog = common::test_watchdog("processes_mode_gives_the_same_files_as_threads");
    let dir = scratch("bundled-processes");
    let threads = dir.join("threads");
    let processes = dir.join("processes");
    run(["--out".as_ref(), threads.as_os_str()]).ok();
    let run = run(["--processes".as_ref(), "--out".as_ref(), processes.as_os_str()]).ok();
    assert!(run.summary().contains("processes: "), "{}", run.summary());
    assert_eq!(read_out_dir(&threads), read_out_dir(&processes));
}

#[test]
fn processes_mode_prints_without_out() {
    let _watchdog = common::test_watchdog("processes_mode_prints_without_out");
    let run = run(["--processes"]).ok();
    assert_eq!(printed_rows(&run.stdout, "0001"), [["0001", "hoge", "20"]]);
    assert_eq!(printed_rows(&run.stdout, "0005"), [["0005", "bar", "60"]]);
    assert!(printed_rows(&run.stdout, "00002").is_empty());
}

#[test]
fn explicit_codes_are_trimmed_and_deduplicated() {
    let _watchdog = common::test_watchdog("explicit_codes_are_trimmed_and_deduplicated");
    let run = run(["--codes", " 0003 ,0003,,0004"]).ok();
    assert_eq!(printed_rows(&run.stdout, "0003"), [["0003", "piyo", "32"]]);
    assert_eq!(printed_rows(&run.stdout, "0004"), [["0004", "foo", "15"]]);
    assert!(
        run.summary().starts_with("done: 2 codes, 2 rows selected, 0 empty"),
        "{}",
        run.summary()
    );
}

#[test]
fn summary_says_1_result_frame_in_the_singular() {
    let _watchdog = common::test_watchdog("summary_says_1_result_frame_in_the_singular");
    for strategy in ["per-code", "naive"] {
        let run = run(["--codes", "0001", "--strategy", strategy]).ok();
        assert!(run.summary().contains("at most 1 result frame alive"), "{}", run.summary());
    }
}

#[test]
fn naive_reports_no_more_workers_than_codes_and_a_capacity_that_holds_them() {
    let _watchdog = common::test_watchdog(
        "naive_reports_no_more_workers_than_codes_and_a_capacity_that_holds_them",
    );
    // `--workers 4096` used to print "4096 workers, capacity 2": a bound below the workers.
    let run = run(["--workers", "4096", "--strategy", "naive", "--codes", "0001,0005"]).ok();
    assert!(run.summary().contains("naive: 2 workers, capacity 2, "), "{}", run.summary());
}
