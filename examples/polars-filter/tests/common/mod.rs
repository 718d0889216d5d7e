//! Helpers shared by the integration tests: run the built binary, make a fresh scratch directory,
//! read result files back.
//!
//! `POLARS_FILTER_BIN=/path/to/polars-filter cargo test -p polars-filter` runs the whole suite
//! against another build of the program (an older commit's, say): how a regression test is shown
//! to fail without the fix it guards.
#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

/// The binary Cargo built for the integration tests.
const BUILT: &str = env!("CARGO_BIN_EXE_polars-filter");

/// The binary under test: `POLARS_FILTER_BIN` if set, else the one Cargo built.
pub fn bin() -> OsString {
    std::env::var_os("POLARS_FILTER_BIN").unwrap_or_else(|| BUILT.into())
}

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

/// How long one run of the binary may take before [`finish`] kills it and fails the test (debug
/// builds, on a loaded 2-core machine: the slowest test run takes seconds, not minutes).
pub const RUN_LIMIT: u64 = 120;

/// How long one test may take in all before [`test_watchdog`] aborts the test binary: a backstop
/// above every bounded wait of its own ([`RUN_LIMIT`], [`wait_until`]), for the waits that have
/// no bound of their own (a FIFO's `open`, which blocks until the child opens its end).
pub const TEST_LIMIT: Duration = Duration::from_secs(300);

/// Runs the binary with `args`, with Polars' pool small so that tests share the cores fairly;
/// fails the test if it has not exited within [`RUN_LIMIT`] seconds.
pub fn run<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut command = command();
    command.args(args);
    output(&mut command)
}

/// Runs `command` to its end with its stdout and stderr captured, as [`Command::output`] does,
/// but kills it and fails the test if it has not exited within [`RUN_LIMIT`] seconds.
pub fn output(command: &mut Command) -> Run {
    let child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the command under test");
    let (code, stdout, stderr) = wait_within(child, RUN_LIMIT);
    Run {
        code,
        stdout: String::from_utf8(stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(stderr).expect("stderr is UTF-8"),
    }
}

/// A guard that aborts the test binary, naming the test, if the test has not ended (dropped the
/// guard) within [`TEST_LIMIT`]: a hang fails with a message instead of stalling CI. Every test's
/// first line (the library's `tests/common` does the same).
#[derive(Debug)]
pub struct Watchdog {
    done: Option<mpsc::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

/// Starts the [`Watchdog`] of test `test`.
pub fn test_watchdog(test: &str) -> Watchdog {
    let what = format!("test {test}");
    let (done, done_rx) = mpsc::channel::<()>();
    let thread = thread::Builder::new()
        .name("test-watchdog".into())
        .spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = done_rx.recv_timeout(TEST_LIMIT) {
                // Straight to the file descriptor: `eprintln!` in a thread spawned by a test goes
                // to the test's captured output, which the abort would throw away.
                let _ = writeln!(
                    std::io::stderr(),
                    "\nwatchdog: {what} still running after {TEST_LIMIT:?}: a hang. Aborting the \
                     test binary."
                );
                std::process::abort();
            }
        })
        .expect("spawn the watchdog thread");
    Watchdog { done: Some(done), thread: Some(thread) }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        drop(self.done.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A new empty directory for one test, under this process's scratch root (see `scratch_root`).
pub fn scratch(name: &str) -> PathBuf {
    let dir = scratch_root().join(name);
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("create the test's scratch directory");
    dir
}

/// This test process's directory under Cargo's per-target scratch directory:
/// `polars-filter-tests/<pid>`. Two runs of the suite at once (`cargo test` and
/// `cargo test --release` share `CARGO_TARGET_TMPDIR`) would otherwise write the same files, and
/// one run's input would change under the other's program. On Linux, the first call removes the
/// roots of processes that have exited, so the directory does not grow run after run.
fn scratch_root() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join("polars-filter-tests");
        if cfg!(target_os = "linux") {
            for entry in fs::read_dir(&base).into_iter().flatten().flatten() {
                let alive = entry
                    .file_name()
                    .to_str()
                    .and_then(|name| name.parse::<u32>().ok())
                    .is_some_and(|pid| Path::new("/proc").join(pid.to_string()).exists());
                if !alive {
                    let _ = fs::remove_dir_all(entry.path());
                }
            }
        }
        base.join(std::process::id().to_string())
    })
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

/// The binary under test as a command, with Polars' pool small, as [`run`] starts it.
pub fn command() -> Command {
    let mut command = Command::new(bin());
    command.env("POLARS_MAX_THREADS", "2");
    command
}

/// Waits until `ready()` holds, checking every millisecond; fails the test with `what` after
/// `secs` seconds. A bound on a wait for something that must happen, not a guess at when.
pub fn wait_until(what: &str, secs: u64, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !ready() {
        assert!(Instant::now() < deadline, "{what}: not after {secs} s");
        thread::sleep(Duration::from_millis(1));
    }
}

/// Waits for `child` to exit, for at most `secs` seconds (then kills it and fails the test);
/// returns its exit status and both streams (those that were piped). The pipes are drained by
/// threads of their own meanwhile, so a child that writes more than a pipe holds cannot block
/// on a full pipe while this waits for its exit.
pub fn finish(child: Child, secs: u64) -> Run {
    let (code, stdout, stderr) = wait_within(child, secs);
    Run {
        code,
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// [`finish`]'s wait: the exit code and the bytes of both streams.
fn wait_within(mut child: Child, secs: u64) -> (Option<i32>, Vec<u8>, Vec<u8>) {
    fn drain(pipe: Option<impl Read + Send + 'static>) -> thread::JoinHandle<Vec<u8>> {
        thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    }
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let deadline = Instant::now() + Duration::from_secs(secs);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the child") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the process under test ({}) did not exit within {secs} s: killed", child.id());
        }
        thread::sleep(Duration::from_millis(2));
    };
    // The child has exited: its pipes end once any grandchild holding them exits too (the
    // processes mode's children exit with their parent).
    let stdout = stdout.join().expect("read the child's stdout");
    let stderr = stderr.join().expect("read the child's stderr");
    (status.code(), stdout, stderr)
}

/// The names in `dir`, sorted (none if it does not exist).
pub fn entries(dir: &Path) -> Vec<String> {
    let Ok(read) = fs::read_dir(dir) else { return Vec::new() };
    let mut names: Vec<String> =
        read.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

/// Makes a FIFO at `path`.
#[cfg(unix)]
pub fn mkfifo(path: &Path) {
    let made = Command::new("mkfifo").arg(path).status().expect("run mkfifo");
    assert!(made.success(), "mkfifo {}", path.display());
}

/// Sends `signal` (`INT`, `TERM`, `STOP`, ...) to process `pid`.
#[cfg(unix)]
pub fn kill(signal: &str, pid: u32) {
    let sent = Command::new("kill").arg(format!("-{signal}")).arg(pid.to_string()).status();
    assert!(sent.expect("run kill").success(), "kill -{signal} {pid}");
}
