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
//! ```
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
}

/// The figures of one pool in one scenario, one per round.
#[derive(Debug)]
struct Row {
    pool: Pool,
    ns_per_task: Vec<f64>,
}

impl Row {
    fn median(&self) -> f64 {
        median(&mut self.ns_per_task.clone())
    }
}

fn main() {
    let mode = Mode::from_env();
    let filter: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let rounds = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(mode.pick(5, 3, 1));
    let ratios: Vec<usize> = std::env::var("BENCH_RATIOS")
        .ok()
        .map(|r| r.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![2, 64, 512]);

    let mut pools = Vec::new();
    for &ratio in &ratios {
        pools.push(Pool::Ours { ratio, window: false });
        pools.push(Pool::Ours { ratio, window: true });
    }
    pools.extend([
        Pool::Rayon,
        Pool::Threadpool,
        Pool::Tokio { keep_handles: false },
        Pool::NaiveBounded,
        Pool::Floor,
    ]);
    if let Ok(keys) = std::env::var("BENCH_POOLS") {
        pools.retain(|p| keys.split(',').any(|k| k.trim() == p.key()));
    }

    let iters_per_us = common::calibrate();
    println!(
        "throughput: {WORKERS} workers, {rounds} rounds interleaved, {iters_per_us:.0} loop iterations/µs, \
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
            });
        }
    }
    scenarios.push(Scenario {
        name: "noop+hog 1p".into(),
        work: Work::NOOP,
        n: mode.pick(50_000, 5_000, 200),
        producers: 1,
        hog: true,
    });
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
            Pool::Ours { ratio: 2, window: false },
            Pool::Ours { ratio: 2, window: true },
            Pool::Ours { ratio: 64, window: false },
            Pool::Ours { ratio: 512, window: false },
            Pool::Rayon,
            Pool::NaiveBounded,
            Pool::Floor,
        ]
        .into_iter()
        .filter(|p| pools.contains(p))
        .collect();
        let work = Work::ns(10_000, iters_per_us);
        utilisation(&util_pools, mode.pick(100_000, 2_000, 100), work, rounds, &mut util_csv)
    } else {
        None
    };

    print!("{}", targets(&results, util));
    println!("load average at the end: {}", loadavg());
    if mode != Mode::Smoke {
        let dir = common::results_dir();
        std::fs::write(dir.join("throughput.csv"), csv).expect("write throughput.csv");
        std::fs::write(dir.join("utilisation.csv"), util_csv).expect("write utilisation.csv");
        println!("wrote {0}/throughput.csv and {0}/utilisation.csv", dir.display());
    }
}

/// Worker utilisation with ~10 µs tasks and one producer: the time workers spent inside tasks
/// (each task times itself) / (workers × wall). A task preempted by the producer still counts as
/// busy, so the figure says how often a worker had no task, not how much CPU the producer took.
///
/// Returns the median figure of ours at ratio 2 with handles dropped, if it ran.
fn utilisation(
    pools: &[Pool],
    n: usize,
    work: Work,
    rounds: usize,
    csv: &mut String,
) -> Option<f64> {
    let mut figures = vec![Vec::new(); pools.len()];
    for round in 0..rounds {
        for k in 0..pools.len() {
            let i = (k + round) % pools.len();
            let busy = common::leak(AtomicU64::new(0));
            let wall = pools[i].run(n, 1, work.timed(busy)).as_nanos() as f64;
            // ORDERING: Relaxed; the pool's completion signal (join, latch or shutdown) ordered
            // every task's add before `run` returned.
            let u = busy.load(Ordering::Relaxed) as f64 / (WORKERS as f64 * wall);
            figures[i].push(u);
            let _ = writeln!(csv, "{},{round},{n},{u:.4}", pools[i].key());
        }
    }
    println!(
        "\n### Worker utilisation: ~10 µs tasks, 1 producer, N = {n}\n\n\
         | pool | busy / ({WORKERS} × wall), median | min–max |\n|---|---:|---:|"
    );
    let mut ours = None;
    for (pool, f) in pools.iter().zip(&mut figures) {
        let (lo, hi) = min_max(f);
        let m = median(f);
        println!("| {} | {:.1}% | {:.1}–{:.1}% |", pool.name(), m * 100.0, lo * 100.0, hi * 100.0);
        if *pool == (Pool::Ours { ratio: 2, window: false }) {
            ours = Some(m);
        }
    }
    ours
}

/// Runs every pool `rounds` times, each round starting at the next pool so no pool always runs
/// first (or right after the same neighbour).
fn run_scenario(sc: &Scenario, pools: &[Pool], rounds: usize, csv: &mut String) -> Vec<Row> {
    let stop = AtomicBool::new(false);
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
            pools.iter().map(|&pool| Row { pool, ns_per_task: Vec::new() }).collect();
        for round in 0..rounds {
            for k in 0..pools.len() {
                let i = (k + round) % pools.len();
                let wall = pools[i].run(sc.n, sc.producers, sc.work);
                let ns = wall.as_nanos() as f64 / sc.n as f64;
                rows[i].ns_per_task.push(ns);
                let _ = writeln!(csv, "{},{},{round},{},{ns:.1}", sc.name, pools[i].key(), sc.n);
            }
        }
        // ORDERING: Relaxed, as the load above.
        stop.store(true, Ordering::Relaxed);
        rows
    })
}

fn min_max(xs: &[f64]) -> (f64, f64) {
    xs.iter().fold((f64::MAX, f64::MIN), |(lo, hi), &x| (lo.min(x), hi.max(x)))
}

fn find(rows: &[Row], pool: Pool) -> Option<f64> {
    rows.iter().find(|r| r.pool == pool).map(Row::median)
}

fn table(sc: &Scenario, rows: &[Row]) -> String {
    let floor = find(rows, Pool::Floor).unwrap_or(f64::NAN);
    let rayon = find(rows, Pool::Rayon).unwrap_or(f64::NAN);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\n### {}: N = {}, {} producer(s){}\n\n| pool | median ns/task | min–max | vs floor | vs rayon |\n|---|---:|---:|---:|---:|",
        sc.name,
        sc.n,
        sc.producers,
        if sc.hog { ", 2 threads hogging the cores" } else { "" }
    );
    for row in rows {
        let m = row.median();
        let (lo, hi) = min_max(&row.ns_per_task);
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

/// The issue's targets, each with the ratio measured in this run.
fn targets(results: &[(Scenario, Vec<Row>)], util: Option<f64>) -> String {
    let ours = Pool::Ours { ratio: 2, window: false };
    let mut s = String::from("\n### Targets (ours = ratio 2, handles dropped)\n\n| target | measured | met |\n|---|---:|---|\n");
    let mut line = |what: String, value: f64, limit: f64, at_most: bool| {
        let met = if at_most { value <= limit } else { value >= limit };
        let _ = writeln!(s, "| {what} | {value:.2} | {} |", if met { "yes" } else { "**no**" });
    };
    for (sc, rows) in results.iter().filter(|(sc, _)| sc.name.starts_with("noop") && !sc.hog) {
        let (Some(m), Some(floor), Some(rayon), Some(tp)) = (
            find(rows, ours),
            find(rows, Pool::Floor),
            find(rows, Pool::Rayon),
            find(rows, Pool::Threadpool),
        ) else {
            continue;
        };
        line(format!("{}: ours / rayon ≤ 1.0", sc.name), m / rayon, 1.0, true);
        line(format!("{}: ours / threadpool ≤ 1.0", sc.name), m / tp, 1.0, true);
        line(format!("{}: ours / floor ≤ 1.3 (default config)", sc.name), m / floor, 1.3, true);
        line(format!("{}: ours / floor ≤ 2.0 (ratio 2)", sc.name), m / floor, 2.0, true);
        // What a larger default ratio would give: the fastest of our variants in this run.
        if let Some(best) = rows
            .iter()
            .filter(|r| matches!(r.pool, Pool::Ours { .. }))
            .min_by(|a, b| a.median().total_cmp(&b.median()))
        {
            let b = best.median();
            let name = best.pool.name();
            line(format!("{}: best of ours ({name}) / rayon ≤ 1.0", sc.name), b / rayon, 1.0, true);
            line(
                format!("{}: best of ours ({name}) / threadpool ≤ 1.0", sc.name),
                b / tp,
                1.0,
                true,
            );
            line(format!("{}: best of ours ({name}) / floor ≤ 1.3", sc.name), b / floor, 1.3, true);
        }
    }
    if let Some(u) = util {
        line("utilisation, 10 µs tasks, ratio 2 ≥ 0.95".into(), u, 0.95, false);
    }
    s
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}
