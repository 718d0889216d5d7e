//! Input hygiene in every strategy (issue 14): the same input gets the same answer, or the same
//! one-line refusal naming the right line, whichever strategy reads it.

mod common;

use std::ffi::OsStr;
use std::fs;

use common::{refuses, run, scratch, STRATEGIES};

#[test]
fn trailing_blank_lines_are_accepted_in_every_strategy() {
    let _watchdog = common::test_watchdog("trailing_blank_lines_are_accepted_in_every_strategy");
    let dir = scratch("trailing-blank");
    // With `age` a blank line used to be refused as a data row that does not exist; without it,
    // it was counted as a row.
    for (i, text) in [
        "code,name,age\n0001,hoge,20\n0002,fuga,10\n\n",
        "code,name,age\r\n0001,hoge,20\r\n0002,fuga,10\r\n\r\n\r\n\n",
        "code,name\n0001,hoge\n0002,fuga\n\n\n",
    ]
    .iter()
    .enumerate()
    {
        let csv = dir.join(format!("blank{i}.csv"));
        fs::write(&csv, text).unwrap();
        for strategy in STRATEGIES {
            let out = dir.join(format!("out{i}{}", strategy.join("")));
            let mut argv = Vec::<&OsStr>::from([
                "--csv".as_ref(),
                csv.as_os_str(),
                "--codes".as_ref(),
                "0001".as_ref(),
                "--out".as_ref(),
                out.as_os_str(),
            ]);
            argv.extend(strategy.iter().map(OsStr::new));
            let run = run(argv).ok();
            assert!(run.summary().contains("; 2 input rows"), "{strategy:?}: {}", run.summary());
            assert!(out.join("_SUCCESS").exists(), "{strategy:?}");
            let header = text.lines().next().unwrap().trim_end();
            let result = fs::read_to_string(out.join("0001.csv")).unwrap();
            assert_eq!(
                result,
                format!(
                    "{header}\n{}\n",
                    &text[header.len()..].trim_start().lines().next().unwrap().trim_end()
                ),
                "{strategy:?}"
            );
        }
    }
}

#[test]
fn a_blank_line_before_more_rows_is_named_by_its_line_in_every_strategy() {
    let _watchdog = common::test_watchdog(
        "a_blank_line_before_more_rows_is_named_by_its_line_in_every_strategy",
    );
    let dir = scratch("middle-blank");
    let csv = dir.join("blank.csv");
    fs::write(&csv, "code,name,age\n0001,hoge,20\n\n0002,fuga,10\n").unwrap();
    for strategy in STRATEGIES {
        let out = dir.join(format!("out{}", strategy.join("")));
        refuses(&csv, &out, "0001", strategy, &["line 3 (data row 2)", "column `age`"]);
    }
}

#[test]
fn duplicate_column_names_are_refused_by_name_in_every_strategy() {
    let _watchdog =
        common::test_watchdog("duplicate_column_names_are_refused_by_name_in_every_strategy");
    let dir = scratch("duplicate-columns-all");
    for (i, (header, named)) in
        [("code,name,name,age", ": name"), ("code,code,age", ": code")].iter().enumerate()
    {
        let csv = dir.join(format!("dup{i}.csv"));
        fs::write(&csv, format!("{header}\n0001,a,b,20\n")).unwrap();
        for strategy in STRATEGIES {
            let out = dir.join(format!("out{i}{}", strategy.join("")));
            refuses(&csv, &out, "0001", strategy, &["duplicate column names", named]);
        }
    }
}

#[test]
fn a_row_with_too_many_fields_is_named_by_its_line_in_every_strategy() {
    let _watchdog =
        common::test_watchdog("a_row_with_too_many_fields_is_named_by_its_line_in_every_strategy");
    let dir = scratch("long-row-all");
    let csv = dir.join("long.csv");
    fs::write(&csv, "code,name,age\n0001,hoge,20\n0002,fuga,10,99\n").unwrap();
    for strategy in STRATEGIES {
        let out = dir.join(format!("out{}", strategy.join("")));
        let line = refuses(&csv, &out, "0001", strategy, &["line 3 (data row 2)", "more fields"]);
        assert!(!line.contains("'Schema'"), "{strategy:?}: {line}");
    }
}

#[cfg(unix)]
#[test]
fn dev_null_reads_as_an_empty_csv_in_thread_strategies() {
    let _watchdog = common::test_watchdog("dev_null_reads_as_an_empty_csv_in_thread_strategies");
    let dir = scratch("dev-null");
    let empty = dir.join("empty.csv");
    fs::write(&empty, "").unwrap();
    // `--processes` refuses a device outright (its children re-read by offset): tested with the
    // FIFO in safety.rs.
    for strategy in STRATEGIES.iter().filter(|s| s[0] != "--processes") {
        let out = dir.join(format!("out{}", strategy.join("")));
        let null = refuses("/dev/null".as_ref(), &out, "0001", strategy, &["/dev/null"]);
        let file = refuses(&empty, &out, "0001", strategy, &["empty.csv"]);
        assert_eq!(
            null.replace("/dev/null", "X"),
            file.replace(&empty.display().to_string(), "X"),
            "{strategy:?}"
        );
        assert!(null.ends_with("no data: empty CSV"), "{strategy:?}: {null}");
    }
}

#[test]
fn a_long_bad_field_is_quoted_in_about_80_characters_in_every_strategy() {
    let _watchdog = common::test_watchdog(
        "a_long_bad_field_is_quoted_in_about_80_characters_in_every_strategy",
    );
    let dir = scratch("long-field");
    fs::write(
        dir.join("field.csv"),
        format!("code,name,age\n0001,hoge,20\n0002,fuga,{}\n", "9x".repeat(5000)),
    )
    .unwrap();
    for strategy in STRATEGIES {
        // Relative paths, run in the scratch directory: the line's length is then the program's
        // doing alone, wherever the target directory lives (a scratch path of 75 bytes or more
        // pushed the line past 240 bytes, and its middle cut took the row's position with it).
        let out = format!("out{}", strategy.join(""));
        let mut command = common::command();
        command.current_dir(&dir).args(["--csv", "field.csv", "--out", &out, "--codes", "0001"]);
        let line = common::output(command.args(strategy))
            .fails_with(&["field.csv: line 3 (data row 2)", "` as dtype `i64` at column 'age'"]);
        assert!(line.len() < 240, "{strategy:?}: {} bytes: {line}", line.len());
        assert!(!dir.join(&out).join("_SUCCESS").exists(), "{strategy:?}: {out} looks complete");
        // The 10,000-byte field is shortened to an excerpt, and the words after it stay.
        let cause = line.split("(data row 2): ").nth(1).unwrap_or_default();
        let excerpt = cause.split("` as dtype").next().unwrap_or_default();
        assert!((20..=120).contains(&excerpt.len()), "{strategy:?}: {line}");
    }
}

#[test]
fn a_header_is_refused_as_strictly_as_a_row_in_every_strategy() {
    let _watchdog =
        common::test_watchdog("a_header_is_refused_as_strictly_as_a_row_in_every_strategy");
    // Issue 21, case 2: `code,"name,age` exited 0 with "0 rows selected" and `_SUCCESS`, each
    // result's "header" a copy of the whole input; and reading it was quadratic (48 MB: 12 s).
    let dir = scratch("header-quote");
    let rows = "0001,hoge,20\n".repeat(2000);
    let open = dir.join("open.csv");
    fs::write(&open, format!("code,\"name,age\n{rows}")).unwrap();
    // No line break in the first 1 MiB and more: a header past the limit.
    let long = dir.join("long.csv");
    fs::write(&long, format!("code,name,age{}\n{rows}", ",x".repeat(600 << 10))).unwrap();
    for strategy in STRATEGIES {
        let out = dir.join(format!("out{}", strategy.join("")));
        let line = refuses(&open, &out, "0001", strategy, &["cannot parse CSV", "open.csv"]);
        assert!(
            line.contains("header (line 1) opens a quoted field that is never closed"),
            "{line}"
        );
        let line = refuses(&long, &out, "0001", strategy, &["cannot parse CSV", "long.csv"]);
        assert!(line.contains("header (line 1) is longer than 1 MiB"), "{line}");
    }
}
