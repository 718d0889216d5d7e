//! The user's data is never destroyed or misreported (issue 14): the output never overwrites the
//! input, a BOM in the codes file is not part of a code, `--generate` never overwrites a file
//! unasked, and a symlink planted where a result is written is never followed.

mod common;

use std::ffi::OsStr;
use std::fs;
use std::path::Path;

use common::{read_out_dir, run, scratch};

const PEOPLE: &str = "code,name,age\n2023,hoge,20\n2024,fuga,10\n2024,piyo,32\n";

/// The first line of the code list a `--processes` child is given (`processes::write_codes`).
const CHILD_CODES: &str = "polars-filter codes, exactly as numbered:";

fn refuses_an_out_that_would_overwrite_the_input(extra: &[&str]) {
    let dir = scratch(&format!("overwrite-input{}", extra.join("")));
    let csv = dir.join("2024.csv");
    fs::write(&csv, PEOPLE).unwrap();
    let mut argv = Vec::<&OsStr>::from([
        "--csv".as_ref(),
        csv.as_os_str(),
        "--codes".as_ref(),
        "2023,2024".as_ref(),
        "--out".as_ref(),
        dir.as_os_str(),
    ]);
    argv.extend(extra.iter().map(OsStr::new));
    run(argv).fails_with(&["2024.csv", "would overwrite the input"]);
    assert_eq!(fs::read_to_string(&csv).unwrap(), PEOPLE, "the input is untouched");
    assert!(!dir.join("2023.csv").exists(), "nothing was started");
}

#[test]
fn out_that_would_overwrite_the_input_is_refused() {
    let _watchdog = common::test_watchdog("out_that_would_overwrite_the_input_is_refused");
    refuses_an_out_that_would_overwrite_the_input(&[]);
}

#[test]
fn out_that_would_overwrite_the_input_is_refused_with_processes() {
    let _watchdog =
        common::test_watchdog("out_that_would_overwrite_the_input_is_refused_with_processes");
    refuses_an_out_that_would_overwrite_the_input(&["--processes"]);
}

#[test]
fn out_that_would_overwrite_the_input_is_refused_per_code() {
    let _watchdog = common::test_watchdog("out_that_would_overwrite_the_input_is_refused_per_code");
    refuses_an_out_that_would_overwrite_the_input(&["--strategy", "per-code"]);
}

#[test]
fn bom_and_crlf_in_the_codes_file_are_not_part_of_a_code() {
    let _watchdog = common::test_watchdog("bom_and_crlf_in_the_codes_file_are_not_part_of_a_code");
    let dir = scratch("codes-bom");
    let csv = dir.join("in.csv");
    fs::write(&csv, PEOPLE).unwrap();
    let codes = dir.join("codes.txt");
    fs::write(&codes, "\u{FEFF}2023\r\n2024\r\n").unwrap();
    let out = dir.join("out");
    let run = run(Vec::<&OsStr>::from([
        "--csv".as_ref(),
        csv.as_os_str(),
        "--codes-file".as_ref(),
        codes.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ]))
    .ok();
    assert!(
        run.summary().starts_with("done: 2 codes, 3 rows selected, 0 empty"),
        "{}",
        run.summary()
    );
    let files = read_out_dir(&out);
    assert_eq!(files.keys().collect::<Vec<_>>(), ["2023", "2024"]);
}

#[test]
fn generate_refuses_an_existing_file_unless_forced() {
    let _watchdog = common::test_watchdog("generate_refuses_an_existing_file_unless_forced");
    let dir = scratch("generate-existing");
    let csv = dir.join("precious.csv");
    fs::write(&csv, PEOPLE).unwrap();
    let generate = |force: bool| {
        let mut argv = Vec::<&OsStr>::from([
            "--generate".as_ref(),
            "10".as_ref(),
            "--csv".as_ref(),
            csv.as_os_str(),
            "--quiet".as_ref(),
        ]);
        if force {
            argv.push("--force".as_ref());
        }
        run(argv)
    };
    generate(false).fails_with(&["precious.csv", "already exists", "--force"]);
    assert_eq!(fs::read_to_string(&csv).unwrap(), PEOPLE, "the file is untouched");
    generate(true).ok();
    assert_ne!(fs::read_to_string(&csv).unwrap(), PEOPLE, "--force overwrote it");
}

#[cfg(unix)]
fn planted_symlink_is_not_followed(extra: &[&str]) {
    let dir = scratch(&format!("symlink{}", extra.join("")));
    let victim = dir.join("victim.txt");
    fs::write(&victim, "precious\n").unwrap();
    let out = dir.join("out");
    fs::create_dir(&out).unwrap();
    std::os::unix::fs::symlink(&victim, out.join("0001.csv.part")).unwrap();
    let mut argv = Vec::<&OsStr>::from(["--out".as_ref(), out.as_os_str()]);
    argv.extend(extra.iter().map(OsStr::new));
    run(argv).ok();
    assert_eq!(fs::read_to_string(&victim).unwrap(), "precious\n", "{extra:?}");
    assert_eq!(read_out_dir(&out)["0001"], ["0001,hoge,20"], "{extra:?}");
    assert!(!Path::new(&out.join("0001.csv.part")).exists());
}

#[cfg(unix)]
#[test]
fn a_symlink_planted_at_a_part_file_is_never_followed() {
    let _watchdog = common::test_watchdog("a_symlink_planted_at_a_part_file_is_never_followed");
    planted_symlink_is_not_followed(&[]);
    planted_symlink_is_not_followed(&["--processes"]);
    planted_symlink_is_not_followed(&["--strategy", "per-code"]);
    planted_symlink_is_not_followed(&["--strategy", "partition-by"]);
}

fn out_run(out: &Path, codes: &str, csv: Option<&Path>) -> common::Run {
    let mut argv = Vec::<&OsStr>::from([
        "--out".as_ref(),
        out.as_os_str(),
        "--codes".as_ref(),
        codes.as_ref(),
    ]);
    if let Some(csv) = csv {
        argv.extend(["--csv".as_ref(), csv.as_os_str()]);
    }
    run(argv)
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    names
}

#[test]
fn a_complete_run_ends_with_a_manifest_and_a_rerun_clears_the_previous_results() {
    let _watchdog = common::test_watchdog(
        "a_complete_run_ends_with_a_manifest_and_a_rerun_clears_the_previous_results",
    );
    let dir = scratch("manifest-rerun");
    let out = dir.join("out");
    fs::create_dir(&out).unwrap();
    fs::write(out.join("notes.txt"), "mine\n").unwrap();
    out_run(&out, "0001,0005", None).ok();
    assert_eq!(names(&out), ["0001.csv", "0005.csv", "_SUCCESS", "notes.txt"]);
    assert_eq!(fs::read_to_string(out.join("_SUCCESS")).unwrap(), "0001.csv\n0005.csv\n");
    // Fewer codes: the first run's 0005.csv must not pass for a result of this one.
    out_run(&out, "0001", None).ok();
    assert_eq!(names(&out), ["0001.csv", "_SUCCESS", "notes.txt"], "files it did not write stay");
}

#[test]
fn a_failed_run_leaves_no_manifest_and_no_old_result_that_looks_current() {
    let _watchdog = common::test_watchdog(
        "a_failed_run_leaves_no_manifest_and_no_old_result_that_looks_current",
    );
    let dir = scratch("manifest-failed");
    let out = dir.join("out");
    out_run(&out, "0001,0005", None).ok();
    assert!(out.join("_SUCCESS").exists());
    let bad = dir.join("bad.csv");
    fs::write(&bad, "code,name,age\n0001,hoge,20\n0005,bar,sixty\n").unwrap();
    out_run(&out, "0001,0005", Some(&bad)).fails_with(&["line 3", "`sixty`"]);
    assert!(names(&out).is_empty(), "left behind: {:?}", names(&out));
}

#[test]
fn a_previous_manifest_never_makes_the_input_go() {
    let _watchdog = common::test_watchdog("a_previous_manifest_never_makes_the_input_go");
    let dir = scratch("manifest-input");
    let out = dir.join("out");
    fs::create_dir(&out).unwrap();
    let csv = out.join("2024.csv");
    fs::write(&csv, PEOPLE).unwrap();
    // A manifest of an earlier run that wrote 2024.csv, now the input.
    fs::write(out.join("_SUCCESS"), "2024.csv\n").unwrap();
    out_run(&out, "2023", Some(&csv)).ok();
    assert_eq!(fs::read_to_string(&csv).unwrap(), PEOPLE);
}

#[test]
fn duplicate_column_names_are_refused_by_name() {
    let _watchdog = common::test_watchdog("duplicate_column_names_are_refused_by_name");
    let dir = scratch("duplicate-columns");
    for (header, named) in [("code,name,name,age", "name"), ("code,code,age", "code")] {
        let csv = dir.join("dup.csv");
        fs::write(&csv, format!("{header}\n0001,a,b,20\n")).unwrap();
        let argv = Vec::<&OsStr>::from([
            "--csv".as_ref(),
            csv.as_os_str(),
            "--codes".as_ref(),
            "0001".as_ref(),
        ]);
        run(argv).fails_with(&["duplicate column names", named]);
    }
}

#[test]
fn bad_option_values_give_one_line_and_exit_1() {
    let _watchdog = common::test_watchdog("bad_option_values_give_one_line_and_exit_1");
    for argv in [&["--workers", "0"][..], &["--block-size", "lots"], &["--no-such-option"]] {
        run(argv).fails_with(&["see --help"]);
    }
}

#[cfg(unix)]
#[test]
fn a_closed_stdout_ends_the_run_quietly() {
    let _watchdog = common::test_watchdog("a_closed_stdout_ends_the_run_quietly");
    use std::process::{Command, Stdio};
    // Many codes printed into a pipe whose reader has gone: no "Broken pipe" error, exit 0.
    let mut child = Command::new(common::bin())
        .args(["--codes", "0001,0002,0003,0004,0005"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let run = common::finish(child, common::RUN_LIMIT);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stderr.is_empty(), "{}", run.stderr);
}

#[cfg(unix)]
#[test]
fn processes_mode_refuses_a_fifo_at_once_instead_of_hanging() {
    let _watchdog =
        common::test_watchdog("processes_mode_refuses_a_fifo_at_once_instead_of_hanging");
    let dir = scratch("fifo");
    let fifo = dir.join("in.csv");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let argv = Vec::<&OsStr>::from([
        "--csv".as_ref(),
        fifo.as_os_str(),
        "--codes".as_ref(),
        "0001".as_ref(),
        "--processes".as_ref(),
    ]);
    run(argv).fails_with(&["--processes needs a regular file", "in.csv"]);
}

#[test]
fn a_child_refuses_to_read_another_version_of_the_input() {
    let _watchdog = common::test_watchdog("a_child_refuses_to_read_another_version_of_the_input");
    // The hidden worker mode, as the parent would call it, but with the identity of a file that
    // has since been replaced.
    let dir = scratch("child-version");
    let csv = dir.join("in.csv");
    fs::write(&csv, PEOPLE).unwrap();
    let codes = dir.join("codes.txt");
    fs::write(&codes, format!("{CHILD_CODES} 1\n2024\n")).unwrap();
    let argv = Vec::<&OsStr>::from([
        "--csv".as_ref(),
        csv.as_os_str(),
        "--worker-codes".as_ref(),
        codes.as_os_str(),
        "--worker-range=14:13".as_ref(),
        "--worker-header=14".as_ref(),
        "--worker-input=0:0:1:2".as_ref(),
    ]);
    run(argv).fails_with(&["changed during the run"]);
}

#[test]
fn generate_refuses_an_absurd_number_of_codes_up_front() {
    let _watchdog = common::test_watchdog("generate_refuses_an_absurd_number_of_codes_up_front");
    let dir = scratch("generate-huge");
    let csv = dir.join("g.csv");
    let argv = Vec::<&OsStr>::from([
        "--generate".as_ref(),
        "10".as_ref(),
        "--distinct-codes".as_ref(),
        "100000000".as_ref(),
        "--csv".as_ref(),
        csv.as_os_str(),
    ]);
    run(argv).fails_with(&["--distinct-codes"]);
    assert!(!csv.exists());
}

#[test]
fn an_unterminated_quote_gives_a_short_line_in_every_strategy() {
    let _watchdog =
        common::test_watchdog("an_unterminated_quote_gives_a_short_line_in_every_strategy");
    let dir = scratch("quote-excerpt");
    let csv = dir.join("q.csv");
    let tail = "0002,fuga,10\n".repeat(20_000);
    fs::write(&csv, format!("code,name,age\n0001,\"hoge,20\n{tail}")).unwrap();
    for strategy in ["stream", "per-code", "partition-by"] {
        let argv = Vec::<&OsStr>::from([
            "--csv".as_ref(),
            csv.as_os_str(),
            "--codes".as_ref(),
            "0001".as_ref(),
            "--strategy".as_ref(),
            strategy.as_ref(),
        ]);
        let line = run(argv).fails_with(&["cannot parse CSV"]);
        assert!(line.len() < 300, "{strategy}: {} bytes: {line}", line.len());
    }
}

#[cfg(unix)]
#[test]
fn a_child_exits_as_soon_as_its_parent_is_gone() {
    let _watchdog = common::test_watchdog("a_child_exits_as_soon_as_its_parent_is_gone");
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};
    // A child whose input is a FIFO with no writer waits forever in open(); once its stdin ends,
    // which is what a dying parent's closed pipe looks like, it must exit at once.
    let dir = scratch("orphan");
    let fifo = dir.join("never.csv");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let codes = dir.join("codes.txt");
    fs::write(&codes, format!("{CHILD_CODES} 1\n0001\n")).unwrap();
    let mut child = Command::new(common::bin())
        .arg(format!("--csv={}", fifo.display()))
        .arg(format!("--worker-codes={}", codes.display()))
        .args(["--worker-range=0:1", "--worker-header=1", "--worker-watch-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    drop(child.stdin.take());
    // A bound on the wait for the exit, not a guess at when it happens.
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("the child outlived its parent's pipe by a minute");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(status.code(), Some(3));
}

#[cfg(unix)]
#[test]
fn an_interrupted_run_removes_its_partial_results_and_says_so() {
    let _watchdog =
        common::test_watchdog("an_interrupted_run_removes_its_partial_results_and_says_so");
    use std::io::Write;
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};
    // The input is a FIFO this test keeps open: the run reads what is written, writes its first
    // `.part` file (a 1-byte buffer appends after every block), then waits for more input. Then
    // SIGINT: the handler must act although the main thread is blocked in a read.
    let dir = scratch("interrupt");
    let fifo = dir.join("in.csv");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let out = dir.join("out");
    let child = Command::new(common::bin())
        .arg("--csv")
        .arg(&fifo)
        .arg("--out")
        .arg(&out)
        .args(["--codes", "0001", "--block-size", "64", "--buffer-size", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut writer = fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    writer.write_all(format!("code,name,age\n{}", "0001,hoge,20\n".repeat(50)).as_bytes()).unwrap();
    writer.flush().unwrap();
    let part = out.join("0001.csv.part");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !part.exists() {
        assert!(Instant::now() < deadline, "no .part file after a minute");
        std::thread::sleep(Duration::from_millis(10));
    }
    let killed = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let output = common::finish(child, common::RUN_LIMIT);
    drop(writer);
    assert_eq!(output.code, Some(130));
    let stderr = output.stderr;
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("interrupted by SIGINT"), "{stderr}");
    assert!(names(&out).is_empty(), "left behind: {:?}", names(&out));
}

#[test]
fn a_csv_path_and_a_code_starting_with_a_dash_work_in_processes_mode() {
    let _watchdog =
        common::test_watchdog("a_csv_path_and_a_code_starting_with_a_dash_work_in_processes_mode");
    // Each child gets its arguments as `--csv=PATH`: a path or code that starts with `-` must not
    // be taken for an option (clap's "unexpected argument ... try --help").
    let dir = scratch("dash");
    fs::write(dir.join("-in.csv"), "code,name,age\n-1,hoge,20\n0002,fuga,10\n-1,piyo,32\n")
        .unwrap();
    for extra in [&["--processes"][..], &[]] {
        let out = dir.join(format!("out{}", extra.join("")));
        let output = common::output(
            std::process::Command::new(common::bin())
                .current_dir(&dir)
                .args(["--csv=-in.csv", "--codes=-1,0002", "--block-size=16"])
                .arg("--out")
                .arg(&out)
                .args(extra),
        );
        let stderr = &output.stderr;
        assert_eq!(output.code, Some(0), "{extra:?}: {stderr}");
        assert!(stderr.is_empty(), "{extra:?}: {stderr}");
        let files = read_out_dir(&out);
        assert_eq!(files["-1"], ["-1,hoge,20", "-1,piyo,32"], "{extra:?}");
        assert_eq!(files["0002"], ["0002,fuga,10"], "{extra:?}");
        assert!(out.join("_SUCCESS").exists(), "{extra:?}");
    }
}

#[cfg(unix)]
#[test]
fn spooled_results_are_private_to_their_owner() {
    let _watchdog = common::test_watchdog("spooled_results_are_private_to_their_owner");
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    use std::process::{Command, Stdio};
    // Issue 21, case 6: the scratch directory was 0755 and its files 0644, in /tmp: spooled
    // results were readable by every local user. Printing with a 1-byte buffer spools after the
    // first block; the input is a FIFO this test holds open, so the run waits with its scratch
    // directory in place. The usual umask, 022, is what made them readable.
    let dir = scratch("scratch-mode");
    let fifo = dir.join("in.csv");
    common::mkfifo(&fifo);
    let tmp = dir.join("tmp");
    fs::create_dir(&tmp).unwrap();
    let child = Command::new("sh")
        .arg("-c")
        .arg("umask 022 && exec \"$0\" \"$@\"")
        .arg(common::bin())
        .arg("--csv")
        .arg(&fifo)
        .args(["--codes", "0001", "--block-size", "64", "--buffer-size", "1"])
        .env("TMPDIR", &tmp)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut writer = fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    writer.write_all(format!("code,name,age\n{}", "0001,hoge,20\n".repeat(20)).as_bytes()).unwrap();
    writer.flush().unwrap();
    let mut spooled = None;
    common::wait_until("a spooled result in the scratch directory", 60, || {
        let Some(name) = common::entries(&tmp).pop() else { return false };
        spooled = common::entries(&tmp.join(&name)).pop().map(|file| (name, file));
        spooled.is_some()
    });
    let (name, file) = spooled.unwrap();
    let mode = |path: &Path| fs::metadata(path).unwrap().permissions().mode() & 0o777;
    let (dir_mode, file_mode) = (mode(&tmp.join(&name)), mode(&tmp.join(&name).join(&file)));
    writer.write_all(b"0001,fuga,10\n").unwrap();
    drop(writer);
    let run = common::finish(child, 60).ok();
    assert!(run.summary().starts_with("done: 1 code, 21 rows selected"), "{}", run.summary());
    assert_eq!((dir_mode, file_mode), (0o700, 0o600), "{name}/{file}");
    assert!(common::entries(&tmp).is_empty(), "the scratch directory stayed");
}
