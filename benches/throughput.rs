//! Throughput bench: end-to-end time for N tasks (submit them all, then wait until all have run)
//! on this crate and on what a user would pick instead, interleaved in one run so that every pool
//! sees the same machine. A custom harness rather than criterion: criterion measures one function
//! at a time and cannot interleave variants, and a single run here is already 10^6 tasks.
//!
//! ```text
//! cargo bench --bench throughput                 # full sizes, 5 rounds: a few minutes
//! cargo bench --bench throughput -- noop         # only scenarios whose name contains "noop"
//! BENCH_QUICK=1 cargo bench --bench throughput   # every size shrunk: seconds
//! BENCH_RATIOS=2,8,32 cargo bench --bench throughput -- noop   # our queue ratios (helping off, on)
//! BENCH_POOLS=ours-default,threadpool,floor cargo bench --bench throughput   # only these pools
//! BENCH_ROUNDS=9 cargo bench --bench throughput  # more rounds (default 5; quick 3)
//! BENCH_RUNS=4 cargo bench --bench throughput    # back-to-back runs for stability (default 3; quick 2)
//! BENCH_ONLY=ours-default BENCH_N=100000 target/release/deps/throughput-<hash>   # one pool, once
//! BENCH_ONLY=ours-helping-off BENCH_WORK_NS=2000 perf stat target/release/deps/throughput-<hash>
//! ```
//!
//! Ends with the targets of issue 20, each with its measured figure and "met" or "not met": the
//! default (`BoundedExecutor::new(2)`, key `ours-default`) and the default with helping off
//! (`producer_helps(false)`, key `ours-helping-off`) against threadpool, on heavy-tailed tasks
//! (99% of 10 µs, 1% of 5 ms), on 10 µs and 2 µs tasks (wall time over the ideal, total work / 2
//! workers) and on 10^6 no-op tasks from 1 and 2 producers; their stability (`BENCH_RUNS`
//! back-to-back runs of the no-op scenarios, every run's median within 1.5× of the others'); and
//! the bound (a sampler thread reads `in_flight()` and `capacity()` every millisecond during every
//! run of this crate's pools). Figures are medians over all rounds. The memory targets are printed
//! by `benches/memory.rs`, the instructions per task by `benches/callgrind.sh` (which uses
//! `BENCH_ONLY`).
//!
//! Scenario `1cpu noop 1p` (Linux) pins the pool and its producer to one CPU: every hand-off is a
//! context switch (`cargo bench --bench throughput -- 1cpu`).
//!
//! Writes every run to `target/bench-results/throughput.csv`.

mod common;

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
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

impl Scenario {
    /// The figure a round gives: ns per task for no-op tasks (there is no ideal to compare
    /// with), wall time over the ideal (total work / workers) otherwise.
    fn figure(&self, run: &common::Run) -> f64 {
        if self.work.is_noop() {
            run.wall.as_nanos() as f64 / self.n as f64
        } else {
            run.wall.as_secs_f64() / self.work.ideal(self.n).as_secs_f64()
        }
    }

    fn unit(&self) -> &'static str {
        if self.work.is_noop() {
            "ns/task"
        } else {
            "wall / ideal"
        }
    }
}

/// The figures of one pool in one scenario, one per round, and what its bound sampler saw.
#[derive(Debug)]
struct Row {
    pool: Pool,
    figures: Vec<f64>,
    bound: Option<common::Bound>,
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

/// The default with helping off, whatever the default is.
const HELPING_OFF: Pool = Pool::Ours { ratio: None, helps: Some(false), window: false };
/// The default with helping on, whatever the default is.
const HELPING_ON: Pool = Pool::Ours { ratio: None, helps: Some(true), window: false };

fn main() {
    let mode = Mode::from_env();
    let filter: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let rounds = env_usize("BENCH_ROUNDS").unwrap_or(mode.pick(5, 3, 1)).max(1);
    let runs = env_usize("BENCH_RUNS").unwrap_or(mode.pick(3, 2, 1)).max(1);
    let ratios: Vec<usize> = std::env::var("BENCH_RATIOS")
        .ok()
        .map(|r| r.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![8, 32]);

    let mut pools = vec![Pool::OursDefault, Pool::OursExecute, HELPING_OFF, HELPING_ON];
    // Each ratio with helping off and on: the runway a larger capacity buys, with and without
    // the producer running tasks itself.
    for &ratio in &ratios {
        pools.push(Pool::Ours { ratio: Some(ratio), helps: Some(false), window: false });
        pools.push(Pool::Ours { ratio: Some(ratio), helps: Some(true), window: false });
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
         them for the no-op scenarios), {iters_per_us:.0} loop iterations/µs, \
         load average before start: {}",
        loadavg()
    );

    let plain = |name: &str, work: Work, n: usize, producers: usize, runs: usize| Scenario {
        name: name.into(),
        work,
        n,
        producers,
        hog: false,
        one_cpu: false,
        runs,
    };
    let mut scenarios = vec![
        plain(
            "heavy tail 1p",
            Work::heavy_tail(10_000, 5_000_000, 100, iters_per_us),
            mode.pick(20_000, 2_000, 100),
            1,
            1,
        ),
        plain("10us 1p", Work::ns(10_000, iters_per_us), mode.pick(50_000, 2_000, 100), 1, 1),
        plain("2us 1p", Work::ns(2_000, iters_per_us), mode.pick(100_000, 5_000, 200), 1, 1),
        plain("noop 1p", Work::NOOP, mode.pick(1_000_000, 20_000, 500), 1, runs),
        plain("noop 2p", Work::NOOP, mode.pick(1_000_000, 20_000, 500), 2, runs),
    ];
    scenarios.push(Scenario {
        hog: true,
        ..plain("noop+hog 1p", Work::NOOP, mode.pick(50_000, 5_000, 200), 1, 1)
    });
    // With producer and workers on one CPU, every hand-off is a context switch: what a machine
    // whose other core is busy (or whose vCPU the host took away) runs like.
    if cfg!(target_os = "linux") {
        scenarios.push(Scenario {
            one_cpu: true,
            ..plain("1cpu noop 1p", Work::NOOP, mode.pick(100_000, 5_000, 200), 1, 1)
        });
    }
    let selected =
        |name: &str| filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str()));

    let mut csv = String::from("scenario,pool,round,n,figure,unit,wall_ns\n");
    let mut results: Vec<(Scenario, Vec<Row>)> = Vec::new();
    for sc in scenarios.into_iter().filter(|s| selected(&s.name)) {
        let rows = run_scenario(&sc, &pools, rounds, &mut csv);
        print!("{}", table(&sc, &rows));
        results.push((sc, rows));
    }

    print!("{}", targets(&results, rounds));
    println!("load average at the end: {}", loadavg());
    if mode != Mode::Smoke {
        let dir = common::results_dir();
        std::fs::write(dir.join("throughput.csv"), csv).expect("write throughput.csv");
        println!("wrote {}/throughput.csv", dir.display());
    }
}

/// `BENCH_ONLY=<key>`: one run of one pool, `BENCH_N` no-op tasks (default 10^6)
/// from `BENCH_PRODUCERS` producers (default 1), and nothing else: no other pool, no sampler,
/// and no calibration unless `BENCH_WORK_NS=<ns>` gives each task that much busy work (for a
/// profiler or `perf stat` on one pool alone). For `benches/callgrind.sh`, which counts the
/// instructions of a no-op run, minus those of a run with `BENCH_N=0`, to get instructions per
/// task.
fn only(pools: &[Pool], key: &str) {
    let pool = pools.iter().find(|p| p.key() == key).unwrap_or_else(|| {
        let keys: Vec<String> = pools.iter().map(|p| p.key()).collect();
        panic!("BENCH_ONLY={key}: unknown pool; one of {}", keys.join(", "))
    });
    let n = env_usize("BENCH_N").unwrap_or(1_000_000);
    let producers = env_usize("BENCH_PRODUCERS").unwrap_or(1).max(1);
    let work = match env_usize("BENCH_WORK_NS") {
        Some(ns) if ns > 0 => Work::ns(ns as u64, common::calibrate()),
        _ => Work::NOOP,
    };
    let run = pool.run_sampled(n, producers, work, false);
    println!("only: {} N = {n}, {producers} producer(s): {:?}", pool.name(), run.wall);
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
            pools.iter().map(|&pool| Row { pool, figures: Vec::new(), bound: None }).collect();
        for round in 0..rounds * sc.runs {
            for k in 0..pools.len() {
                let i = (k + round) % pools.len();
                let run = pools[i].run(sc.n, sc.producers, sc.work);
                let figure = sc.figure(&run);
                rows[i].figures.push(figure);
                if let Some(bound) = run.bound {
                    rows[i].bound = Some(rows[i].bound.map_or(bound, |b| b.merge(bound)));
                }
                let _ = writeln!(
                    csv,
                    "{},{},{round},{},{figure:.4},{},{}",
                    sc.name,
                    pools[i].key(),
                    sc.n,
                    sc.unit(),
                    run.wall.as_nanos()
                );
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
    let peer = find(rows, Pool::Threadpool).map_or(f64::NAN, Row::median);
    let floor = find(rows, Pool::Floor).map_or(f64::NAN, Row::median);
    let mut s = String::new();
    let what = if sc.work.is_noop() {
        String::new()
    } else {
        format!(
            ", ideal {:.1} ms (total work / {WORKERS} workers)",
            sc.work.ideal(sc.n).as_secs_f64() * 1e3
        )
    };
    let _ = writeln!(
        s,
        "\n### {}: N = {}, {} producer(s){}{what}, {} rounds\n\n\
         | pool | median {unit} | min–max | vs threadpool | vs floor | bound: most in flight / capacity (samples) |\n\
         |---|---:|---:|---:|---:|---|",
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
        unit = sc.unit(),
    );
    for row in rows {
        let m = row.median();
        let (lo, hi) = row.min_max();
        let bound = row.bound.map_or(String::new(), |b| {
            let held = if b.violations == 0 { "held" } else { "**VIOLATED**" };
            format!("{} / {} ({}): {held}", b.max_in_flight, b.capacity, b.samples)
        });
        let (m_s, lo_s, hi_s) = if sc.work.is_noop() {
            (format!("{m:.0}"), format!("{lo:.0}"), format!("{hi:.0}"))
        } else {
            (format!("{m:.3}"), format!("{lo:.3}"), format!("{hi:.3}"))
        };
        let _ = writeln!(
            s,
            "| {} | {m_s} | {lo_s}–{hi_s} | {:.2} | {:.2} | {bound} |",
            row.pool.name(),
            m / peer,
            m / floor,
        );
    }
    s
}

/// "1.31 (1.29–1.35)": a row's median and range.
fn cell(sc: &Scenario, row: &Row) -> String {
    let (lo, hi) = row.min_max();
    if sc.work.is_noop() {
        format!("{:.0} ns ({lo:.0}–{hi:.0})", row.median())
    } else {
        format!("{:.3} ({lo:.3}–{hi:.3})", row.median())
    }
}

/// Every target of issue 20 this bench can measure, with the figure measured in this run; the
/// others are listed with the command that measures them. Ratios are of medians in this run.
fn targets(results: &[(Scenario, Vec<Row>)], rounds: usize) -> String {
    let mut s = format!(
        "\n### Targets of issue 20 (default = `BoundedExecutor::new({WORKERS})`, handles dropped; \
         helping off = the default with `producer_helps(false)`)\n\n\
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
    let label = |pool: Pool| if pool == Pool::OursDefault { "default" } else { "helping off" };

    // Wall time (or ns per task) against threadpool's, in one scenario.
    let mut versus = |sc_name: &str, mine: Pool, limit: f64| {
        let what = format!("{}, {sc_name}: / threadpool", label(mine));
        let lim = format!("≤ {limit:.2}×");
        match scenario(sc_name) {
            Some((sc, rows)) => match (find(rows, mine), find(rows, Pool::Threadpool)) {
                (Some(o), Some(p)) => {
                    let r = o.median() / p.median();
                    line(
                        &what,
                        &lim,
                        format!("{} vs {}", cell(sc, o), cell(sc, p)),
                        format!("{r:.2}×"),
                        Some(r <= limit),
                    )
                }
                _ => line(&what, &lim, not_run("pool"), "".into(), None),
            },
            None => line(&what, &lim, not_run("scenario"), "".into(), None),
        }
    };
    versus("heavy tail 1p", Pool::OursDefault, 1.05);
    versus("heavy tail 1p", HELPING_OFF, 1.10);
    for sc in ["10us 1p", "2us 1p"] {
        versus(sc, Pool::OursDefault, 1.00);
        versus(sc, HELPING_OFF, 1.10);
    }
    for sc in ["noop 1p", "noop 2p"] {
        versus(sc, Pool::OursDefault, 1.00);
        versus(sc, HELPING_OFF, 1.00);
    }

    // Stability: the runs' medians, back to back in this process.
    for sc_name in ["noop 1p", "noop 2p"] {
        for pool in [Pool::OursDefault, HELPING_OFF] {
            let what =
                format!("stability, {}, {sc_name}: max/min of the runs' medians", label(pool));
            let lim = "every run's median within 1.5× of the others'";
            let Some(row) = scenario(sc_name).and_then(|(_, rows)| find(rows, pool)) else {
                line(&what, lim, not_run("scenario or pool"), "".into(), None);
                continue;
            };
            let medians = row.run_medians(rounds);
            if medians.len() < 2 {
                line(&what, lim, "one run only: set BENCH_RUNS ≥ 2".into(), "".into(), None);
                continue;
            }
            let shown: Vec<String> = medians.iter().map(|m| format!("{m:.0} ns")).collect();
            let (lo, hi) = min_max(&medians);
            line(
                &what,
                lim,
                format!("{} runs of {rounds} rounds: {}", medians.len(), shown.join(", ")),
                format!("{:.2}×", hi / lo),
                Some(hi / lo <= 1.5),
            );
        }
    }

    // The bound, over every run of every one of our pools in every scenario.
    let bounds: Vec<common::Bound> = results
        .iter()
        .flat_map(|(_, rows)| rows.iter().filter(|r| r.pool.is_ours()).filter_map(|r| r.bound))
        .collect();
    if bounds.is_empty() {
        line(
            "the bound: in_flight() ≤ capacity() at every sample",
            "0 violations",
            not_run("our pools"),
            "".into(),
            None,
        );
    } else {
        let all = bounds.iter().copied().fold(common::Bound::default(), common::Bound::merge);
        line(
            "the bound: in_flight() ≤ capacity() at every sample, every scenario, every pool of ours",
            "0 violations",
            format!("{} samples, {} violations", all.samples, all.violations),
            "".into(),
            Some(all.violations == 0),
        );
    }

    for (what, limit, how) in [
        (
            "default, peak heap, 10^6 tasks",
            "flat in N, ≤ 64 KiB",
            "`cargo bench -p bounded-executor --bench memory` prints it",
        ),
        (
            "instructions per no-op task (callgrind)",
            "no regression",
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
