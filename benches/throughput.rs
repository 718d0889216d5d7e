//! Throughput bench: end-to-end time for N tasks (submit them all, then wait until all have run)
//! on this crate and on what a user would pick instead, interleaved in one run so that every pool
//! sees the same machine. A custom harness rather than criterion: criterion measures one function
//! at a time and cannot interleave variants, and a single run here is already 10^6 tasks.
//!
//! ```text
//! cargo bench --bench throughput                 # full sizes, 5 rounds: a few minutes
//! cargo bench --bench throughput -- noop         # only scenarios whose name contains "noop"
//! BENCH_QUICK=1 cargo bench --bench throughput   # every size shrunk: seconds
//! BENCH_RATIOS=2,8,32 cargo bench --bench throughput -- noop   # our queue ratios to compare
//! BENCH_POOLS=ours-r2-drop,rayon,floor cargo bench --bench throughput   # only these pools
//! BENCH_ROUNDS=9 cargo bench --bench throughput  # more rounds (default 5; quick 3)
//! BENCH_RUNS=4 cargo bench --bench throughput    # back-to-back runs for stability (default 3; quick 2)
//! BENCH_ONLY=ours-default BENCH_N=100000 target/release/deps/throughput-<hash>   # one pool, once
//! ```
//!
//! Ends with the targets of issue 13, each with its measured figure and "met" or "not met":
//! the default (`BoundedExecutor::new(2)`, key `ours-default`) against threadpool and against the
//! `bounded4` pool (a crossbeam channel bounded at the default's capacity, no result delivery) on
//! 10^6 no-op tasks; its worker utilisation with 10 µs tasks; and its stability. For stability,
//! `noop 1p` and the utilisation scenario run `BENCH_RUNS` back-to-back runs of `BENCH_ROUNDS`
//! interleaved rounds each; the median of each run must be within 1.5× of every other's. Other
//! figures are medians over all rounds. The memory targets are printed by `benches/memory.rs`, the
//! instructions per task by `benches/callgrind.sh` (which uses `BENCH_ONLY`).
//!
//! Scenario `1cpu noop 1p` (Linux) pins the pool and its producer to one CPU: the default's
//! slow mode, made deterministic (`cargo bench --bench throughput -- 1cpu`).
//!
//! Writes every run to `target/bench-results/throughput.csv` and `utilisation.csv`.

mod common;

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;

use common::{median, Mode, Pool, Work, WORKERS};

/// One row of the output: a task kind, a size and how many threads submit.
#[derive(Clone, Debug)]
struct Scenario {
    name: String,
    work: Work,
    n: usize,
    producers: usize,
    /// Two threads spin on the cores for the whole scenario.
    hog: bool,
    /// Every thread of the scenario (pool, producers) pinned to one CPU (Linux only).
    one_cpu: bool,
    /// Back-to-back runs of `rounds` interleaved rounds each, for the stability target.
    runs: usize,
}

/// The figures of one pool in one scenario, one per round (ns/task, or a utilisation fraction).
#[derive(Debug)]
struct Row {
    pool: Pool,
    figures: Vec<f64>,
}

impl Row {
    fn median(&self) -> f64 {
        median(&mut self.figures.clone())
    }

    fn min_max(&self) -> (f64, f64) {
        min_max(&self.figures)
    }

    /// The median of each run: consecutive chunks of `rounds` rounds.
    fn run_medians(&self, rounds: usize) -> Vec<f64> {
        self.figures.chunks(rounds.max(1)).map(|c| median(&mut c.to_vec())).collect()
    }
}

fn env_usize(name: &str) -> Option<usize> {
    std::env::var(name).ok().and_then(|r| r.trim().parse().ok())
}

fn main() {
    let mode = Mode::from_env();
    let filter: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let rounds = env_usize("BENCH_ROUNDS").unwrap_or(mode.pick(5, 3, 1)).max(1);
    let runs = env_usize("BENCH_RUNS").unwrap_or(mode.pick(3, 2, 1)).max(1);
    let ratios: Vec<usize> = std::env::var("BENCH_RATIOS")
        .ok()
        .map(|r| r.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![2, 64, 512]);

    let mut pools = vec![Pool::OursDefault, Pool::OursExecute];
    for &ratio in &ratios {
        pools.push(Pool::Ours { ratio, window: false });
        pools.push(Pool::Ours { ratio, window: true });
    }
    pools.extend([
        Pool::Rayon,
        Pool::Threadpool,
        Pool::Tokio { keep_handles: false },
        Pool::NaiveBounded,
        Pool::Bounded4,
        Pool::Bounded4Counted,
        Pool::Floor,
    ]);
    if let Ok(key) = std::env::var("BENCH_ONLY") {
        only(&pools, key.trim());
        return;
    }
    if let Ok(keys) = std::env::var("BENCH_POOLS") {
        pools.retain(|p| keys.split(',').any(|k| k.trim() == p.key()));
    }

    let iters_per_us = common::calibrate();
    println!(
        "throughput: {WORKERS} workers, {rounds} rounds interleaved ({runs} back-to-back runs of \
         them for noop 1p and utilisation), {iters_per_us:.0} loop iterations/µs, \
         load average before start: {}",
        loadavg()
    );

    let mut scenarios = Vec::new();
    for producers in [1, 2] {
        for (label, ns, n) in [
            ("noop", 0, mode.pick(1_000_000, 20_000, 500)),
            ("1us", 1_000, mode.pick(1_000_000, 10_000, 200)),
            ("50us", 50_000, mode.pick(10_000, 200, 20)),
        ] {
            let work = if ns == 0 { Work::NOOP } else { Work::ns(ns, iters_per_us) };
            scenarios.push(Scenario {
                name: format!("{label} {producers}p"),
                work,
                n,
                producers,
                hog: false,
                one_cpu: false,
                runs: if ns == 0 && producers == 1 { runs } else { 1 },
            });
        }
    }
    scenarios.push(Scenario {
        name: "noop+hog 1p".into(),
        work: Work::NOOP,
        n: mode.pick(50_000, 5_000, 200),
        producers: 1,
        hog: true,
        one_cpu: false,
        runs: 1,
    });
    // The default's slow mode, made deterministic: with producer and workers on one CPU, every
    // hand-off is a context switch. A machine whose other core is busy (or whose vCPU the host
    // took away) runs like this; the signature (wall ≈ task-clock, ~1.7 context switches and ~1.6
    // futex calls per task for the default) matches the slow rounds seen on 2 cores.
    if cfg!(target_os = "linux") {
        scenarios.push(Scenario {
            name: "1cpu noop 1p".into(),
            work: Work::NOOP,
            n: mode.pick(100_000, 5_000, 200),
            producers: 1,
            hog: false,
            one_cpu: true,
            runs: 1,
        });
    }
    let selected =
        |name: &str| filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str()));

    let mut csv = String::from("scenario,pool,round,n,ns_per_task\n");
    let mut util_csv = String::from("pool,round,n,busy\n");
    let mut results: Vec<(Scenario, Vec<Row>)> = Vec::new();
    for sc in scenarios.into_iter().filter(|s| selected(&s.name)) {
        let rows = run_scenario(&sc, &pools, rounds, &mut csv);
        print!("{}", table(&sc, &rows));
        results.push((sc, rows));
    }

    let util = if selected("utilisation") {
        let util_pools: Vec<Pool> = [
            Pool::OursDefault,
            Pool::OursExecute,
            Pool::Ours { ratio: 2, window: false },
            Pool::Ours { ratio: 2, window: true },
            Pool::Ours { ratio: 64, window: false },
            Pool::Ours { ratio: 512, window: false },
            Pool::Rayon,
            Pool::Threadpool,
            Pool::NaiveBounded,
            Pool::Bounded4,
            Pool::Floor,
        ]
        .into_iter()
        .filter(|p| pools.contains(p))
        .collect();
        let work = Work::ns(10_000, iters_per_us);
        let n = mode.pick(100_000, 2_000, 100);
        Some(utilisation(&util_pools, n, work, rounds * runs, &mut util_csv))
    } else {
        None
    };

    print!("{}", targets(&results, util.as_deref(), rounds));
    println!("load average at the end: {}", loadavg());
    if mode != Mode::Smoke {
        let dir = common::results_dir();
        std::fs::write(dir.join("throughput.csv"), csv).expect("write throughput.csv");
        std::fs::write(dir.join("utilisation.csv"), util_csv).expect("write utilisation.csv");
        println!("wrote {0}/throughput.csv and {0}/utilisation.csv", dir.display());
    }
}

/// `BENCH_ONLY=<key>`: one run of one pool, `BENCH_N` no-op tasks (default 10^6)
/// from `BENCH_PRODUCERS` producers (default 1), and nothing else: no calibration, no other pool.
/// For `benches/callgrind.sh`, which counts the instructions of such a run, minus those of a run
/// with `BENCH_N=0`, to get instructions per task.
fn only(pools: &[Pool], key: &str) {
    let pool = pools.iter().find(|p| p.key() == key).unwrap_or_else(|| {
        let keys: Vec<String> = pools.iter().map(|p| p.key()).collect();
        panic!("BENCH_ONLY={key}: unknown pool; one of {}", keys.join(", "))
    });
    let n = env_usize("BENCH_N").unwrap_or(1_000_000);
    let producers = env_usize("BENCH_PRODUCERS").unwrap_or(1).max(1);
    let wall = pool.run(n, producers, Work::NOOP);
    println!("only: {} N = {n}, {producers} producer(s): {:?}", pool.name(), wall);
}

/// Worker utilisation with ~10 µs tasks and one producer: the time workers spent inside tasks
/// (each task times itself) / (workers × wall). A task preempted by the producer still counts as
/// busy, so the figure says how often a worker had no task, not how much CPU the producer took.
///
/// Returns every pool's figures, one per round, in round order (for the per-run medians).
fn utilisation(pools: &[Pool], n: usize, work: Work, rounds: usize, csv: &mut String) -> Vec<Row> {
    let mut rows: Vec<Row> = pools.iter().map(|&pool| Row { pool, figures: Vec::new() }).collect();
    for round in 0..rounds {
        for k in 0..pools.len() {
            let i = (k + round) % pools.len();
            let busy = common::leak(AtomicU64::new(0));
            let wall = pools[i].run(n, 1, work.timed(busy)).as_nanos() as f64;
            // ORDERING: Relaxed; the pool's completion signal (join, latch or shutdown) ordered
            // every task's add before `run` returned.
            let u = busy.load(Ordering::Relaxed) as f64 / (WORKERS as f64 * wall);
            rows[i].figures.push(u);
            let _ = writeln!(csv, "{},{round},{n},{u:.4}", pools[i].key());
        }
    }
    println!(
        "\n### Worker utilisation: ~10 µs tasks, 1 producer, N = {n}, {rounds} rounds\n\n\
         | pool | busy / ({WORKERS} × wall), median | min–max |\n|---|---:|---:|"
    );
    for row in &rows {
        let (lo, hi) = row.min_max();
        println!(
            "| {} | {:.1}% | {:.1}–{:.1}% |",
            row.pool.name(),
            row.median() * 100.0,
            lo * 100.0,
            hi * 100.0
        );
    }
    rows
}

/// Runs every pool `rounds × sc.runs` times, each round starting at the next pool so no pool
/// always runs first (or right after the same neighbour).
fn run_scenario(sc: &Scenario, pools: &[Pool], rounds: usize, csv: &mut String) -> Vec<Row> {
    let stop = AtomicBool::new(false);
    let _pinned = sc.one_cpu.then(Pinned::to_one_cpu);
    thread::scope(|s| {
        if sc.hog {
            for _ in 0..2 {
                s.spawn(|| {
                    // ORDERING: Relaxed; a stop flag that guards no data.
                    while !stop.load(Ordering::Relaxed) {
                        std::hint::spin_loop();
                    }
                });
            }
        }
        let mut rows: Vec<Row> =
            pools.iter().map(|&pool| Row { pool, figures: Vec::new() }).collect();
        for round in 0..rounds * sc.runs {
            for k in 0..pools.len() {
                let i = (k + round) % pools.len();
                let wall = pools[i].run(sc.n, sc.producers, sc.work);
                let ns = wall.as_nanos() as f64 / sc.n as f64;
                rows[i].figures.push(ns);
                let _ = writeln!(csv, "{},{},{round},{},{ns:.1}", sc.name, pools[i].key(), sc.n);
            }
        }
        // ORDERING: Relaxed, as the load above.
        stop.store(true, Ordering::Relaxed);
        rows
    })
}

/// The calling thread pinned to one CPU, and so every thread it spawns (pools are built on it, and
/// the producers are its children); the old affinity comes back on drop.
struct Pinned {
    #[cfg(target_os = "linux")]
    old: libc::cpu_set_t,
}

impl Pinned {
    #[cfg(target_os = "linux")]
    fn to_one_cpu() -> Pinned {
        // SAFETY: `cpu_set_t` is plain bits; zeroed is the empty set.
        let mut old: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        let size = std::mem::size_of::<libc::cpu_set_t>();
        // SAFETY: `old` is a valid, writable `cpu_set_t` of `size` bytes; 0 is this thread.
        let got = unsafe { libc::sched_getaffinity(0, size, &mut old) };
        assert_eq!(got, 0, "sched_getaffinity: {}", std::io::Error::last_os_error());
        let cpu = (0..libc::CPU_SETSIZE as usize)
            // SAFETY: `cpu` is below CPU_SETSIZE, the set's size in bits.
            .find(|&cpu| unsafe { libc::CPU_ISSET(cpu, &old) })
            .expect("this thread may run on some CPU");
        // SAFETY: as above.
        let mut one: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        // SAFETY: `cpu` is below CPU_SETSIZE.
        unsafe { libc::CPU_SET(cpu, &mut one) };
        // SAFETY: `one` is a valid `cpu_set_t` of `size` bytes.
        let set = unsafe { libc::sched_setaffinity(0, size, &one) };
        assert_eq!(set, 0, "sched_setaffinity: {}", std::io::Error::last_os_error());
        Pinned { old }
    }

    #[cfg(not(target_os = "linux"))]
    fn to_one_cpu() -> Pinned {
        Pinned {}
    }
}

impl Drop for Pinned {
    fn drop(&mut self) {
        #[cfg(target_os = "linux")]
        {
            let size = std::mem::size_of::<libc::cpu_set_t>();
            // SAFETY: `self.old` is the valid set `sched_getaffinity` filled in.
            unsafe { libc::sched_setaffinity(0, size, &self.old) };
        }
    }
}

fn min_max(xs: &[f64]) -> (f64, f64) {
    xs.iter().fold((f64::MAX, f64::MIN), |(lo, hi), &x| (lo.min(x), hi.max(x)))
}

fn find(rows: &[Row], pool: Pool) -> Option<&Row> {
    rows.iter().find(|r| r.pool == pool)
}

fn table(sc: &Scenario, rows: &[Row]) -> String {
    let floor = find(rows, Pool::Floor).map_or(f64::NAN, Row::median);
    let rayon = find(rows, Pool::Rayon).map_or(f64::NAN, Row::median);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\n### {}: N = {}, {} producer(s){}, {} rounds\n\n| pool | median ns/task | min–max | vs floor | vs rayon |\n|---|---:|---:|---:|---:|",
        sc.name,
        sc.n,
        sc.producers,
        if sc.hog {
            ", 2 threads hogging the cores"
        } else if sc.one_cpu {
            ", every thread pinned to one CPU"
        } else {
            ""
        },
        rows.first().map_or(0, |r| r.figures.len()),
    );
    for row in rows {
        let m = row.median();
        let (lo, hi) = row.min_max();
        let _ = writeln!(
            s,
            "| {} | {m:.0} | {lo:.0}–{hi:.0} | {:.2} | {:.2} |",
            row.pool.name(),
            m / floor,
            m / rayon
        );
    }
    s
}

/// "742 (650–1,303)": a row's median and range, ns/task.
fn ns_cell(row: &Row) -> String {
    let (lo, hi) = row.min_max();
    format!("{:.0} ns ({lo:.0}–{hi:.0})", row.median())
}

/// Every target of issue 13 this bench can measure, with the figure measured in this run; the
/// others are listed with the command that measures them. Ratios are of medians in this run.
fn targets(results: &[(Scenario, Vec<Row>)], util: Option<&[Row]>, rounds: usize) -> String {
    let ours = Pool::OursDefault;
    let mut s = format!(
        "\n### Targets of issue 13 (default = `BoundedExecutor::new({WORKERS})`, handles dropped)\n\n\
         | target | limit | measured: median (min–max) | ratio | met |\n|---|---|---|---:|---|\n"
    );
    let mut line = |what: &str, limit: &str, measured: String, ratio: String, met: Option<bool>| {
        let met = match met {
            Some(true) => "met",
            Some(false) => "**not met**",
            None => "not measured",
        };
        let _ = writeln!(s, "| {what} | {limit} | {measured} | {ratio} | {met} |");
    };
    let scenario = |name: &str| results.iter().find(|(sc, _)| sc.name == name);
    let not_run = |what: &str| format!("not run ({what} not selected)");

    // Speed against a peer in one scenario.
    let mut versus = |sc_name: &str, mine: Pool, peer: Pool, limit: f64| {
        let how = if mine == Pool::OursExecute { "default via `execute`" } else { "default" };
        let what = match scenario(sc_name) {
            Some((sc, _)) => format!("{how}, {sc_name}, N = {}: / {}", sc.n, peer.name()),
            None => format!("{how}, {sc_name}: / {}", peer.name()),
        };
        let lim = format!("≤ {limit:.1}×");
        match scenario(sc_name).map(|(_, rows)| (find(rows, mine), find(rows, peer))) {
            Some((Some(o), Some(p))) => {
                let r = o.median() / p.median();
                line(
                    &what,
                    &lim,
                    format!("{} vs {}", ns_cell(o), ns_cell(p)),
                    format!("{r:.2}×"),
                    Some(r <= limit),
                )
            }
            Some(_) => line(&what, &lim, not_run("pool"), "".into(), None),
            None => line(&what, &lim, not_run("scenario"), "".into(), None),
        }
    };
    versus("noop 1p", ours, Pool::Threadpool, 1.0);
    versus("noop 1p", ours, Pool::Bounded4, 1.0);
    versus("noop 2p", ours, Pool::Threadpool, 1.0);
    // Not issue 13's test (which drops `submit`'s handles), but the like-for-like with
    // threadpool's `execute`: no handle on either side.
    versus("noop 1p", Pool::OursExecute, Pool::Threadpool, 1.0);
    versus("noop 2p", Pool::OursExecute, Pool::Threadpool, 1.0);

    let util_row = util.and_then(|rows| find(rows, ours));
    match util_row {
        Some(row) => {
            let (lo, hi) = row.min_max();
            let m = row.median();
            line(
                "default, 10 µs tasks, 1 producer: worker utilisation",
                "≥ 95%",
                format!("{:.1}% ({:.1}–{:.1}%)", m * 100.0, lo * 100.0, hi * 100.0),
                "".into(),
                Some(m >= 0.95),
            )
        }
        None => line(
            "default, 10 µs tasks: worker utilisation",
            "≥ 95%",
            not_run("utilisation"),
            "".into(),
            None,
        ),
    }

    // Stability: the runs' medians, back to back in this process.
    let mut stability = |what: &str, row: Option<&Row>, fmt: &dyn Fn(f64) -> String| {
        let lim = "every run's median within 1.5× of the others'";
        let Some(row) = row else {
            return line(what, lim, not_run("scenario or pool"), "".into(), None);
        };
        let medians = row.run_medians(rounds);
        let shown: Vec<String> = medians.iter().map(|&m| fmt(m)).collect();
        if medians.len() < 2 {
            return line(what, lim, "one run only: set BENCH_RUNS ≥ 2".into(), "".into(), None);
        }
        let (lo, hi) = min_max(&medians);
        let r = hi / lo;
        line(
            what,
            lim,
            format!("{} runs of {rounds} rounds: {}", medians.len(), shown.join(", ")),
            format!("{r:.2}×"),
            Some(r <= 1.5),
        )
    };
    stability(
        "stability, default, noop 1p: max/min of the runs' medians",
        scenario("noop 1p").and_then(|(_, rows)| find(rows, ours)),
        &|m| format!("{m:.0} ns"),
    );
    stability(
        "stability, default, 10 µs utilisation: max/min of the runs' medians",
        util_row,
        &|m| format!("{:.1}%", m * 100.0),
    );

    for (what, limit, how) in [
        (
            "default, memory bench time at N = 10^6 (~2 µs tasks): / threadpool",
            "≤ 1.1×",
            "`cargo bench -p bounded-executor --bench memory` prints it",
        ),
        (
            "default, peak heap, 10^6 tasks",
            "flat in N, ≤ 64 KiB",
            "`cargo bench -p bounded-executor --bench memory` prints it",
        ),
        (
            "instructions per no-op task (callgrind): / floor",
            "≤ 1.2×",
            "`benches/callgrind.sh` prints it",
        ),
    ] {
        line(what, limit, how.into(), "".into(), None);
    }
    s
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}
