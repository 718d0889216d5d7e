//! The stream strategy: byte-identical output to the whole-frame strategies on awkward CSV
//! (quoted commas, doubled quotes, line breaks in quotes, CRLF, a BOM, no final line break, a size
//! that is an exact multiple of the block size), a bound on blocks in flight, bad rows named by
//! line, and many codes under a small limit of open files.

mod common;

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};

use common::{bin, run, scratch};

/// A tiny deterministic generator, so every run writes the same file.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// Names that need quoting, each written as a CSV field: a comma, doubled quotes, line breaks.
const AWKWARD: [&str; 6] =
    ["plain", "\"a,b\"", "\"say \"\"hi\"\"\"", "\"two\nlines\"", "\"\"", "\"x,\"\"y\"\"\n,z\""];

/// `rows` rows over `codes` codes with awkward names, line ends `eol`.
fn awkward_csv(rows: usize, codes: u64, eol: &str, seed: u64) -> String {
    let mut rng = Rng(seed);
    let mut text = format!("code,name,age{eol}");
    for _ in 0..rows {
        let code = rng.below(codes);
        let name = AWKWARD[rng.below(AWKWARD.len() as u64) as usize];
        text.push_str(&format!("{code:04},{name},{}{eol}", rng.below(100)));
    }
    text
}

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

/// Runs per-code (the reference), partition-by, and stream at each block size (threads and
/// processes) on `csv`, and asserts every output directory holds the same bytes.
fn assert_identical(dir: &Path, csv: &Path, block_sizes: &[usize]) {
    let codes: Vec<String> = (0..12).map(|i| format!("{i:04}")).chain(["9999".into()]).collect();
    let codes = codes.join(",");
    let reference = dir.join("per-code");
    run_to(csv, &codes, &reference, &["--strategy", "per-code"]).ok();
    let expected = files(&reference);
    // 13 result files and the `_SUCCESS` manifest (the same in every run: the files, in order).
    assert_eq!(expected.len(), 14);
    assert_eq!(expected[12], ("9999.csv".to_owned(), b"code,name,age\n".to_vec()));
    assert_eq!(expected[13].0, "_SUCCESS");
    let check = |name: String, extra: &[&str]| {
        let out = dir.join(&name);
        run_to(csv, &codes, &out, extra).ok();
        assert!(files(&out) == expected, "{name}: output differs from per-code's");
    };
    check("partition-by".into(), &["--strategy", "partition-by"]);
    for &size in block_sizes {
        let size_arg = size.to_string();
        check(format!("stream-{size}"), &["--block-size", &size_arg]);
        // A child per block: only sizes that keep the number of children small.
        if size >= 1000 {
            check(format!("processes-{size}"), &["--processes", "--block-size", &size_arg]);
        }
    }
    check("stream-default".into(), &[]);
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, text).unwrap();
    path
}

#[test]
fn quoted_commas_quotes_and_line_breaks_give_identical_output() {
    let _watchdog =
        common::test_watchdog("quoted_commas_quotes_and_line_breaks_give_identical_output");
    let dir = scratch("stream-quoted");
    let csv = write(&dir, "in.csv", &awkward_csv(3000, 10, "\n", 1));
    assert_identical(&dir, &csv, &[1, 97, 4096]);
}

#[test]
fn crlf_line_ends_give_identical_output() {
    let _watchdog = common::test_watchdog("crlf_line_ends_give_identical_output");
    let dir = scratch("stream-crlf");
    let csv = write(&dir, "in.csv", &awkward_csv(3000, 10, "\r\n", 2));
    assert_identical(&dir, &csv, &[50, 1000]);
}

#[test]
fn a_bom_crlf_and_no_final_line_break_give_identical_output() {
    let _watchdog =
        common::test_watchdog("a_bom_crlf_and_no_final_line_break_give_identical_output");
    let dir = scratch("stream-bom");
    let text = awkward_csv(2000, 10, "\r\n", 4);
    let text = format!("\u{FEFF}{}", text.strip_suffix("\r\n").unwrap());
    let csv = write(&dir, "in.csv", &text);
    assert_identical(&dir, &csv, &[64, 1000]);
}

#[test]
fn a_file_an_exact_multiple_of_the_block_size_gives_identical_output() {
    let _watchdog =
        common::test_watchdog("a_file_an_exact_multiple_of_the_block_size_gives_identical_output");
    let dir = scratch("stream-multiple");
    // Fixed-width rows: a 14-byte header, then 13-byte rows; 14 + 13 × 2998 = 38,988 = 4 × 9,747.
    let mut text = String::from("code,name,age\n");
    for i in 0..2998 {
        text.push_str(&format!("{:04},abcd,{:02}\n", i % 11, i % 100));
    }
    assert_eq!(text.len(), 4 * 9747);
    let csv = write(&dir, "in.csv", &text);
    // Block sizes that divide the file's size, down to one row a block (13 bytes).
    assert_identical(&dir, &csv, &[9747, 38988, 13]);
}

/// The summary's "at most N blocks in flight" and "B blocks read".
fn blocks_of(summary: &str) -> (usize, usize) {
    let number_after = |marker: &str| -> usize {
        let tail = summary.split(marker).nth(1).unwrap_or_else(|| panic!("{summary}"));
        tail.split(' ').next().unwrap().parse().unwrap_or_else(|_| panic!("{summary}"))
    };
    let number_before = |marker: &str| -> usize {
        let head = summary.split(marker).next().unwrap();
        head.rsplit(' ').next().unwrap().parse().unwrap_or_else(|_| panic!("{summary}"))
    };
    (number_after("at most "), number_before(" blocks read"))
}

#[test]
fn blocks_in_flight_never_exceed_capacity_on_a_file_far_larger_than_the_window() {
    let _watchdog = common::test_watchdog(
        "blocks_in_flight_never_exceed_capacity_on_a_file_far_larger_than_the_window",
    );
    let dir = scratch("stream-bound");
    let csv = dir.join("in.csv");
    let run = run([
        "--generate".as_ref(),
        "20000".as_ref(),
        "--distinct-codes".as_ref(),
        "50".as_ref(),
        "--csv".as_ref(),
        csv.as_os_str(),
        "--workers".as_ref(),
        "2".as_ref(),
        "--queue-ratio".as_ref(),
        "2".as_ref(),
        "--block-size".as_ref(),
        "512".as_ref(),
        "--quiet".as_ref(),
    ])
    .ok();
    let summary = run.summary();
    assert!(summary.contains("stream: 2 workers, capacity 4, "), "{summary}");
    let (peak, blocks) = blocks_of(summary);
    let size = fs::metadata(&csv).unwrap().len() as usize;
    // The file is over 100 windows of capacity × block size: the bound, not the file, limits.
    assert!(size > 100 * 4 * 512, "{size}");
    assert!(blocks > 100 * 4, "{summary}");
    assert!((1..=4).contains(&peak), "{summary}");
    assert!(summary.contains("peak RSS "), "{summary}");
    // The executor's timings (issue 24): the blocks' run times, and the producer's waits.
    assert!(summary.contains("; block time p50 ") && summary.contains(", p99 "), "{summary}");
    assert!(
        summary.contains("; producer waited in ") || summary.contains("; producer never waited"),
        "{summary}"
    );
}

/// A bad row deep in a file: one line naming its line number, exit 1, and no `<code>.csv` (nor a
/// `.part`) left in `--out`.
fn bad_row_mid_file(processes: bool) {
    let dir = scratch(if processes { "bad-row-processes" } else { "bad-row-threads" });
    let text = awkward_csv(3000, 10, "\n", 3);
    // `awkward_csv` wrote some names over two lines: the bad row goes at the first line from
    // 4,000 on that starts a row (an even number of quotes before it).
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let at =
        (3999..lines.len()).find(|&k| lines[..k].concat().matches('"').count() % 2 == 0).unwrap();
    let text = format!("{}0003,bad,ten\n{}", lines[..at].concat(), lines[at..].concat());
    let csv = write(&dir, "in.csv", &text);
    let out = dir.join("out");
    let mut extra = vec!["--block-size", "1K"];
    if processes {
        extra.push("--processes");
    }
    let run = run_to(&csv, "0001,0003", &out, &extra);
    run.fails_with(&[&format!("line {} (data row", at + 1), "`ten`"]);
    let left: Vec<_> = files(&out).into_iter().map(|(name, _)| name).collect();
    assert!(left.is_empty(), "files left in --out: {left:?}");
}

#[test]
fn bad_row_mid_file_names_its_line_and_leaves_no_output() {
    let _watchdog = common::test_watchdog("bad_row_mid_file_names_its_line_and_leaves_no_output");
    bad_row_mid_file(false);
}

#[test]
fn bad_row_mid_file_in_processes_mode_names_its_line_and_leaves_no_output() {
    let _watchdog = common::test_watchdog(
        "bad_row_mid_file_in_processes_mode_names_its_line_and_leaves_no_output",
    );
    bad_row_mid_file(true);
}

#[test]
fn twenty_thousand_codes_under_a_limit_of_64_open_files() {
    let _watchdog = common::test_watchdog("twenty_thousand_codes_under_a_limit_of_64_open_files");
    let dir = scratch("stream-many-codes");
    let csv = dir.join("in.csv");
    let out = dir.join("out");
    // A 4 KiB buffer: the pieces are appended to their files after nearly every 2 KiB block.
    let script = format!(
        "ulimit -n 64 && exec \"$0\" --generate 40000 --distinct-codes 20000 --csv '{}' --out '{}' \
         --block-size 2K --buffer-size 4K --quiet",
        csv.display(),
        out.display()
    );
    let run = common::output(
        std::process::Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg(bin())
            .env("POLARS_MAX_THREADS", "2"),
    );
    let stdout = &run.stdout;
    assert_eq!(run.code, Some(0), "{stdout}{}", run.stderr);
    assert!(stdout.contains("done: 20000 codes, 40000 rows selected"), "{stdout}");
    assert_eq!(fs::read_dir(&out).unwrap().count(), 20000 + 1, "a file per code, and _SUCCESS");
}

/// The "peak RSS X MiB" of a summary line, in MiB.
fn peak_rss_mib(summary: &str) -> f64 {
    let tail = summary.split("peak RSS ").nth(1).unwrap_or_else(|| panic!("{summary}"));
    let mut words = tail.split([' ', ';']);
    let value: f64 = words.next().unwrap().parse().unwrap_or_else(|_| panic!("{summary}"));
    match words.next() {
        Some("KiB") => value / 1024.0,
        Some("MiB") => value,
        Some("GiB") => value * 1024.0,
        _ => panic!("{summary}"),
    }
}

#[test]
fn the_block_buffer_grows_with_the_data_not_to_the_block_size() {
    let _watchdog =
        common::test_watchdog("the_block_buffer_grows_with_the_data_not_to_the_block_size");
    // Issue 21, case 12: the buffer was zero-filled to the block size before the first read, so a
    // 25-byte file took 2 GiB at `--block-size 2G` (and 4G aborted).
    let dir = scratch("block-size-max");
    let csv = write(&dir, "tiny.csv", "code,name,age\n0001,a,1\n");
    for extra in [&[][..], &["--processes"]] {
        let mut args = vec!["--csv", csv.to_str().unwrap(), "--codes", "0001", "-q"];
        args.extend(["--block-size", "256M"]);
        args.extend(extra);
        let run = run(&args).ok();
        let rss = peak_rss_mib(run.summary());
        // The run itself needs about 25 MiB; 256 MiB touched would be far above the bound.
        assert!(rss < 128.0, "{extra:?}: {}", run.summary());
    }
    // Past the documented maximum: one line, exit 1, before any work.
    run(["--csv", csv.to_str().unwrap(), "--codes", "0001", "--block-size", "4G"])
        .fails_with(&["--block-size", "largest block size, 256M"]);
}

#[test]
fn a_code_is_the_same_at_every_block_size() {
    let _watchdog = common::test_watchdog("a_code_is_the_same_at_every_block_size");
    // Issue 21, case 9: Polars strips a BOM from the start of every buffer it parses, so a data
    // row whose code starts with U+FEFF lost it when the row opened a block, and its rows went to
    // another code's file. Only the BOM at byte 0 of the file is not data.
    let dir = scratch("bom-rows");
    let bom_a = "\u{FEFF}A";
    let mut text = String::from("\u{FEFF}code,name,age\n");
    text.push_str(&format!("{bom_a},first,1\n"));
    for i in 0..40 {
        let code = if i % 3 == 0 { bom_a } else { "A" };
        text.push_str(&format!("{code},n{i},{i}\n"));
        text.push_str(&format!("\u{FEFF}\u{FEFF}B,\"q\n{i}\",{i}\r\n"));
    }
    let csv = write(&dir, "in.csv", &text);
    let codes = format!("{bom_a},A,\u{FEFF}\u{FEFF}B,B");
    let reference = dir.join("per-code");
    run_to(&csv, &codes, &reference, &["--strategy", "per-code"]).ok();
    let expected = files(&reference);
    let rows = |name: &str| {
        let (_, bytes) = expected.iter().find(|(n, _)| n == name).unwrap();
        String::from_utf8_lossy(bytes).lines().count() - 1
    };
    assert_eq!((rows("\u{FEFF}A.csv"), rows("A.csv")), (15, 26), "the reference itself");
    for size in ["1", "7", "2M"] {
        let out = dir.join(format!("stream-{size}"));
        run_to(&csv, &codes, &out, &["--block-size", size]).ok();
        assert!(files(&out) == expected, "block size {size}: output differs from per-code's");
    }
}

#[test]
fn children_number_the_codes_as_the_parent_does() {
    let _watchdog = common::test_watchdog("children_number_the_codes_as_the_parent_does");
    // Issue 21, case 10: each child re-read the code list as a --codes-file, which strips a BOM
    // and removes duplicates: `<BOM>A,A` became `A` alone, so the child's index 0 was A where the
    // parent's was <BOM>A, and A's rows went to <BOM>A.csv (exit 0).
    let dir = scratch("child-codes");
    let mut text = String::from("code,name,age\n");
    for i in 0..30 {
        let code = ["A", "\u{FEFF}A", " B", "B"][i % 4];
        text.push_str(&format!("{code},n{i},{i}\n"));
    }
    let csv = write(&dir, "in.csv", &text);
    // " B" is trimmed to "B" by the parent, and B is then a duplicate: the list is <BOM>A, A, B.
    let codes = "\u{FEFF}A,A, B,B";
    let reference = dir.join("stream");
    run_to(&csv, codes, &reference, &["--block-size", "64"]).ok();
    let expected = files(&reference);
    let names: Vec<&str> = expected.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["A.csv", "B.csv", "_SUCCESS", "\u{FEFF}A.csv"]);
    for (name, bytes) in &expected[..2] {
        let code = name.strip_suffix(".csv").unwrap();
        let text = String::from_utf8_lossy(bytes);
        assert!(text.lines().skip(1).all(|l| l.split(',').next() == Some(code)), "{name}");
    }
    for size in ["64", "2M"] {
        let out = dir.join(format!("processes-{size}"));
        run_to(&csv, codes, &out, &["--processes", "--block-size", size]).ok();
        assert!(files(&out) == expected, "block size {size}: children sent rows to other codes");
    }
}
