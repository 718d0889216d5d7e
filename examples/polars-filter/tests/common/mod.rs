//! Helpers shared by the integration tests: run the built binary, make a fresh scratch directory,
//! read result files back.
#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The binary under test, built by Cargo for the integration tests.
pub const BIN: &str = env!("CARGO_BIN_EXE_polars-filter");

/// What one run of the binary did.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Panics with both streams unless the run exited 0.
    pub fn ok(self) -> Self {
        assert_eq!(self.code, Some(0), "run failed:\n{}{}", self.stdout, self.stderr);
        self
    }

    /// The last line of stdout: the summary.
    pub fn summary(&self) -> &str {
        self.stdout.lines().last().unwrap_or_default()
    }

    /// Asserts a failure with exactly one line on stderr that contains each of `needles`, and no
    /// panic; returns that line.
    pub fn fails_with(&self, needles: &[&str]) -> String {
        assert_eq!(self.code, Some(1), "expected exit 1:\n{}{}", self.stdout, self.stderr);
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "expected one stderr line, got:\n{}", self.stderr);
        let line = lines[0];
        assert!(line.starts_with("polars-filter: error: "), "{line}");
        assert!(!line.contains("panicked"), "{line}");
        for needle in needles {
            assert!(line.contains(needle), "{needle:?} not in {line:?}");
        }
        line.to_owned()
    }
}

/// Runs the binary with `args`, with Polars' pool small so that tests share the cores fairly.
pub fn run<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let Output { status, stdout, stderr } = Command::new(BIN)
        .args(args)
        .env("POLARS_MAX_THREADS", "2")
        .output()
        .expect("spawn the polars-filter binary");
    Run {
        code: status.code(),
        stdout: String::from_utf8(stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(stderr).expect("stderr is UTF-8"),
    }
}

/// A new empty directory for one test, under Cargo's per-target scratch directory.
pub fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("polars-filter-tests").join(name);
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("create the test's scratch directory");
    dir
}

/// Every `<code>.csv` of an output directory: code → data lines (header checked and removed). The
/// `_SUCCESS` manifest is skipped.
pub fn read_out_dir(dir: &Path) -> BTreeMap<String, Vec<String>> {
    let mut files = BTreeMap::new();
    for entry in fs::read_dir(dir).expect("read the output directory") {
        let path = entry.expect("directory entry").path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if name == "_SUCCESS" {
            continue;
        }
        let code = name
            .strip_suffix(".csv")
            .unwrap_or_else(|| panic!("stray file {name} in {}", dir.display()));
        let text = fs::read_to_string(&path).expect("read a result file");
        let mut lines = text.lines().map(str::to_owned);
        assert_eq!(lines.next().as_deref(), Some("code,name,age"), "{name}");
        files.insert(code.to_owned(), lines.collect());
    }
    files
}

/// Every strategy and mode, as the arguments that pick it.
pub const STRATEGIES: [&[&str]; 5] = [
    &["--strategy", "stream"],
    &["--processes"],
    &["--strategy", "per-code"],
    &["--strategy", "partition-by"],
    &["--strategy", "naive"],
];

/// Runs on `csv` with `--out out`, `--codes codes` and `extra`, and checks the bad-input
/// contract: exit status 1, a single stderr line under 300 bytes that holds each of `needles`,
/// and nothing in `out` that looks complete (no `_SUCCESS`, no `<code>.csv`). Returns the line.
pub fn refuses(csv: &Path, out: &Path, codes: &str, extra: &[&str], needles: &[&str]) -> String {
    let mut argv: Vec<&std::ffi::OsStr> = vec![
        "--csv".as_ref(),
        csv.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
        "--codes".as_ref(),
        codes.as_ref(),
    ];
    argv.extend(extra.iter().map(std::ffi::OsStr::new));
    let line = run(argv).fails_with(needles);
    assert!(line.len() < 300, "{extra:?}: {} bytes: {line}", line.len());
    if out.exists() {
        for entry in fs::read_dir(out).expect("read the output directory") {
            let name = entry.expect("directory entry").file_name();
            let name = name.to_string_lossy();
            assert!(
                name != "_SUCCESS" && !name.ends_with(".csv"),
                "{extra:?}: {name} in {} looks complete",
                out.display()
            );
        }
    }
    line
}
