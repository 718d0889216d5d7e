//! One run owns its output directory (issue 21): a second run on the same `--out` is refused
//! while the first holds it, two runs started together never mix their results, and a lock left
//! by a killed run does not block the next one.

mod common;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use common::{command, entries, finish, read_out_dir, run, scratch};

/// The lock file a run holds in `--out`.
const LOCK: &str = ".polars-filter.lock";

/// `rows` rows over `codes` codes, with `tag` in every name: whose rows they are.
fn people(rows: usize, codes: usize, tag: &str) -> String {
    let mut text = String::from("code,name,age\n");
    for i in 0..rows {
        text.push_str(&format!("{:04},{tag}{i},{}\n", i % codes, i % 100));
    }
    text
}

fn codes_arg(codes: usize) -> String {
    (0..codes).map(|i| format!("{i:04}")).collect::<Vec<_>>().join(",")
}

/// Whether process `pid` holds a `flock` on the file at `path` (Linux: `/proc/locks`).
#[cfg(target_os = "linux")]
fn holds_flock(pid: u32, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = fs::metadata(path) else { return false };
    let locks = fs::read_to_string("/proc/locks").unwrap();
    // "1: FLOCK  ADVISORY  WRITE 4242 00:2a:123456 0 EOF": the pid, then MAJ:MIN:INODE.
    locks.lines().any(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        fields.get(1) == Some(&"FLOCK")
            && fields.get(4) == Some(&pid.to_string().as_str())
            && fields.get(5).is_some_and(|id| id.ends_with(&format!(":{}", meta.ino())))
    })
}

#[cfg(target_os = "linux")]
#[test]
fn a_second_run_on_the_same_out_is_refused_while_the_first_holds_it() {
    let _watchdog =
        common::test_watchdog("a_second_run_on_the_same_out_is_refused_while_the_first_holds_it");
    // Issue 21, case 1: two runs on one --out wrote each other's `.part` files, and one vouched
    // for the mixture with its `_SUCCESS`.
    let dir = scratch("two-runs");
    let fifo = dir.join("slow.csv");
    common::mkfifo(&fifo);
    let other = dir.join("other.csv");
    fs::write(&other, people(40, 4, "other")).unwrap();
    let out = dir.join("out");
    // The first run reads a FIFO this test holds open: it keeps --out as long as the test wants.
    let first = command()
        .arg("--csv")
        .arg(&fifo)
        .arg("--out")
        .arg(&out)
        .args(["--codes", &codes_arg(4)])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut writer = fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    common::wait_until("the first run locks --out", 60, || {
        holds_flock(first.id(), &out.join(LOCK))
    });

    let second = run([
        "--csv".as_ref(),
        other.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
        "--codes".as_ref(),
        codes_arg(4).as_ref(),
    ]);
    second.fails_with(&["is in use by another run", &format!("(pid {})", first.id())]);

    writer.write_all(people(40, 4, "first").as_bytes()).unwrap();
    drop(writer);
    let first = finish(first, 60).ok();
    assert!(first.summary().starts_with("done: 4 codes, 40 rows selected"), "{}", first.summary());
    let files = read_out_dir(&out);
    assert_eq!(files.len(), 4);
    for (code, rows) in &files {
        assert_eq!(rows.len(), 10, "{code}");
        assert!(rows.iter().all(|r| r.contains(",first")), "{code}: {rows:?}");
    }
    assert_eq!(entries(&out).len(), 5, "4 results and _SUCCESS; the lock is gone");
}

/// What a run of `people(rows, codes, tag)` writes for every code: code -> rows.
fn expected(
    rows: usize,
    codes: usize,
    tag: &str,
) -> std::collections::BTreeMap<String, Vec<String>> {
    let text = people(rows, codes, tag);
    let mut files = std::collections::BTreeMap::<String, Vec<String>>::new();
    for line in text.lines().skip(1) {
        files.entry(line[..4].to_owned()).or_default().push(line.to_owned());
    }
    files
}

#[test]
fn two_runs_started_together_never_mix_their_results() {
    let _watchdog = common::test_watchdog("two_runs_started_together_never_mix_their_results");
    // The same case as the issue measured it: two inputs, 1,000 codes, started at once; one run
    // exited 0 with 925 to 1,000 of its files holding the other's rows. Whatever the schedule,
    // each run now either completes alone or is refused, and the `_SUCCESS` left lists the files
    // of the last run that completed, holding its rows only.
    let dir = scratch("two-at-once");
    let (rows, codes) = (5000, 1000);
    let inputs: Vec<PathBuf> = ["a", "b"]
        .iter()
        .map(|tag| {
            let path = dir.join(format!("{tag}.csv"));
            fs::write(&path, people(rows, codes, tag)).unwrap();
            path
        })
        .collect();
    let codes_file = dir.join("codes.txt");
    fs::write(&codes_file, codes_arg(codes).replace(',', "\n")).unwrap();
    for round in 0..3 {
        let out = dir.join(format!("out{round}"));
        let start = |csv: &Path| {
            command()
                .arg("--csv")
                .arg(csv)
                .arg("--out")
                .arg(&out)
                .arg("--codes-file")
                .arg(&codes_file)
                .args(["--buffer-size", "1M", "--block-size", "4K", "--quiet"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        };
        let children = [start(&inputs[0]), start(&inputs[1])];
        let runs: Vec<common::Run> = children.into_iter().map(|c| finish(c, 120)).collect();
        for run in &runs {
            match run.code {
                Some(0) => {}
                Some(1) => {
                    run.fails_with(&["is in use by another run"]);
                }
                _ => panic!("round {round}: {run:?}"),
            }
        }
        assert!(runs.iter().any(|r| r.code == Some(0)), "round {round}: neither ran: {runs:?}");
        let files = read_out_dir(&out);
        let (a, b) = (expected(rows, codes, "a"), expected(rows, codes, "b"));
        assert!(files == a || files == b, "round {round}: the results mix both inputs");
        assert!(!entries(&out).contains(&LOCK.to_owned()), "round {round}: the lock stayed");
    }
}

#[test]
fn a_lock_file_left_by_a_killed_run_does_not_block_the_next() {
    let _watchdog =
        common::test_watchdog("a_lock_file_left_by_a_killed_run_does_not_block_the_next");
    // `kill -9` leaves the lock file (the kernel drops the lock itself): the next run takes it.
    let dir = scratch("stale-lock");
    let out = dir.join("out");
    fs::create_dir(&out).unwrap();
    fs::write(out.join(LOCK), "4242\n").unwrap();
    run(["--out".as_ref(), out.as_os_str()]).ok();
    assert_eq!(entries(&out), ["00002.csv", "0001.csv", "0005.csv", "_SUCCESS"]);
}

/// Runs with `--out out` and `args`, expects the one-line refusal naming `needles`, and checks
/// that `protected` still holds `text`.
fn refused_and_kept(
    out: &Path,
    args: &[&std::ffi::OsStr],
    protected: &Path,
    text: &str,
    needles: &[&str],
) {
    let mut argv: Vec<&std::ffi::OsStr> = vec!["--out".as_ref(), out.as_os_str()];
    argv.extend_from_slice(args);
    run(argv).fails_with(needles);
    assert_eq!(fs::read_to_string(protected).unwrap(), text, "{} changed", protected.display());
}

#[test]
fn an_input_named_like_the_manifest_is_never_removed_or_replaced() {
    let _watchdog =
        common::test_watchdog("an_input_named_like_the_manifest_is_never_removed_or_replaced");
    // Issue 21, case 7: with `--csv o/_SUCCESS --out o` the input was removed before it was
    // read; with `o/_SUCCESS.part` it was replaced by the manifest, and the run exited 0.
    let dir = scratch("input-as-manifest");
    let out = dir.join("out");
    fs::create_dir(&out).unwrap();
    let text = people(6, 2, "mine");
    for name in ["_SUCCESS", "_SUCCESS.part", LOCK] {
        let csv = out.join(name);
        fs::write(&csv, &text).unwrap();
        for strategy in
            [&["--strategy", "stream"][..], &["--processes"], &["--strategy", "per-code"]]
        {
            let mut args =
                vec!["--csv".as_ref(), csv.as_os_str(), "--codes".as_ref(), "0001".as_ref()];
            args.extend(strategy.iter().map(std::ffi::OsStr::new));
            let needles = ["would overwrite the input given as --csv", "a name the run writes"];
            refused_and_kept(&out, &args, &csv, &text, &needles);
        }
        fs::remove_file(&csv).unwrap();
    }
}

#[test]
fn a_codes_file_in_the_output_directory_is_never_removed_or_replaced() {
    let _watchdog =
        common::test_watchdog("a_codes_file_in_the_output_directory_is_never_removed_or_replaced");
    // Issue 21, case 8: a --codes-file in --out was deleted when the previous _SUCCESS listed it,
    // and overwritten when named like a result (`--codes-file o/A.csv` holding `A`).
    let dir = scratch("codes-file-in-out");
    let out = dir.join("out");
    fs::create_dir(&out).unwrap();
    let codes = out.join("0001.csv");
    fs::write(&codes, "0001\n0005\n").unwrap();
    let args = ["--codes-file".as_ref(), codes.as_os_str()];
    let needles = ["would overwrite the codes file given as --codes-file", "code 0001"];
    refused_and_kept(&out, &args, &codes, "0001\n0005\n", &needles);

    // An earlier result reused as the code list: the previous manifest lists it.
    let listed = out.join("0005.csv");
    fs::write(&listed, "0001\n").unwrap();
    fs::write(out.join("_SUCCESS"), "0005.csv\n").unwrap();
    fs::remove_file(&codes).unwrap();
    run(["--out".as_ref(), out.as_os_str(), "--codes-file".as_ref(), listed.as_os_str()]).ok();
    assert_eq!(fs::read_to_string(&listed).unwrap(), "0001\n", "the codes file changed");
    assert_eq!(entries(&out), ["0001.csv", "0005.csv", "_SUCCESS"]);
    assert_eq!(fs::read_to_string(out.join("_SUCCESS")).unwrap(), "0001.csv\n");
}

#[cfg(unix)]
#[test]
fn an_input_linked_into_out_during_the_run_is_never_renamed_over() {
    let _watchdog =
        common::test_watchdog("an_input_linked_into_out_during_the_run_is_never_renamed_over");
    // The check is made by every operation, not only before the run: here the input (a FIFO)
    // gets a second name in --out, `_SUCCESS`, while the run reads it. The manifest's rename
    // would replace it; the run fails instead, and the link stays.
    use std::os::unix::fs::FileTypeExt;
    let dir = scratch("input-linked-late");
    let fifo = dir.join("in.csv");
    common::mkfifo(&fifo);
    let out = dir.join("out");
    let child = command()
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
    writer.write_all(people(100, 2, "x").as_bytes()).unwrap();
    writer.flush().unwrap();
    // A `.part` file: the run is at work, every check before the work is done.
    common::wait_until("a .part file", 60, || out.join("0001.csv.part").exists());
    fs::hard_link(&fifo, out.join("_SUCCESS")).unwrap();
    writer.write_all(b"0001,last,1\n").unwrap();
    drop(writer);
    let run = finish(child, 60);
    run.fails_with(&[
        "cannot write",
        "_SUCCESS",
        "given as --csv, which this program never writes",
    ]);
    let kept = fs::symlink_metadata(out.join("_SUCCESS")).unwrap();
    assert!(kept.file_type().is_fifo(), "the input's second name was replaced");
}
