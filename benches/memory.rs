//! Memory bench: one producer submits N small tasks as fast as it can to workers that are slower
//! than it, and we record how much memory each pool needs for that. Bounded pools stay flat;
//! unbounded ones queue every task not yet run.
//!
//! Each (pool, N) cell runs in a child process (this binary, re-run with `--child POOL N`) so that
//! peak RSS (`VmHWM`) belongs to that cell alone. The child counts heap bytes with a global
//! allocator and prints one `RESULT` line; the parent prints the table, writes
//! `target/bench-results/memory.csv` and draws `target/bench-results/memory.svg`.
//!
//! ```text
//! cargo bench --bench memory                 # N = 10^4, 10^5, 10^6, 3 rounds: a few minutes
//! BENCH_QUICK=1 cargo bench --bench memory   # N = 10^3, 10^4, 1 round: seconds
//! BENCH_POOLS=ours-default,threadpool BENCH_SIZES=10000,1000000 BENCH_ROUNDS=3 cargo bench --bench memory
//! ```
//!
//! Every (pool, N) cell runs once per round, pools interleaved; the table shows the largest peak
//! of the rounds and the median time. It ends with issue 13's two memory targets for the default
//! (`BoundedExecutor::new(2)`), with "met" or "not met": its time at the largest N against
//! threadpool's (≤ 1.1×), and its peak heap, flat in N (largest N within 1.5× of the smallest)
//! and ≤ 64 KiB at every N.

#[allow(dead_code)] // the memory bench uses only part of what the benches share
mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::fmt::Write as _;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

use common::{Mode, Pool, Work};

/// Counts live heap bytes and their high-water mark.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to `System`; we only count sizes on the side.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: our caller upholds `GlobalAlloc::alloc`'s contract, which we pass on.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as for `alloc`; `ptr` came from `System` with this `layout`.
        unsafe { System.dealloc(ptr, layout) };
        // ORDERING: Relaxed: a statistic, not a synchronisation point.
        LIVE.fetch_sub(layout.size(), Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as for `dealloc`.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            // ORDERING: Relaxed: a statistic.
            LIVE.fetch_sub(layout.size(), Relaxed);
            grew(new_size);
        }
        p
    }
}

#[inline]
fn grew(size: usize) {
    // ORDERING: Relaxed: a statistic; the peak is read after every worker has been joined.
    let live = LIVE.fetch_add(size, Relaxed) + size;
    if live > PEAK.load(Relaxed) {
        PEAK.fetch_max(live, Relaxed);
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// How long each task works: longer than the producer needs to submit one, so every unbounded
/// queue grows for the whole run.
const TASK_NS: u64 = 2_000;

/// The pools compared. The default (`BoundedExecutor::new`) is first: the reference for the ratios.
const POOLS: [Pool; 10] = [
    Pool::OursDefault,
    Pool::Ours { ratio: Some(2), helps: None, window: false },
    Pool::Ours { ratio: Some(2), helps: None, window: true },
    Pool::Ours { ratio: Some(512), helps: None, window: false },
    Pool::Ours { ratio: Some(512), helps: None, window: true },
    Pool::Rayon,
    Pool::Threadpool,
    Pool::Tokio { keep_handles: true },
    Pool::Bounded4,
    Pool::Floor,
];

/// What one child measured.
#[derive(Clone, Copy, Debug)]
struct Cell {
    heap: usize,
    rss: usize,
    time: Duration,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        let pool = *POOLS.iter().find(|p| p.key() == args[i + 1]).expect("unknown pool");
        let n: usize = args[i + 2].parse().expect("N");
        let iters_per_us: f64 = args[i + 3].parse().expect("iterations per µs");
        child(pool, n, Work::ns(TASK_NS, iters_per_us));
        return;
    }
    let mode = Mode::from_env();
    let sizes: Vec<usize> = std::env::var("BENCH_SIZES")
        .ok()
        .map(|v| v.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| {
            mode.pick(&[10_000, 100_000, 1_000_000][..], &[1_000, 10_000], &[1_000]).to_vec()
        });
    let sizes = &sizes[..];
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.trim().parse().ok())
        .unwrap_or(mode.pick(3, 1, 1))
        .max(1);
    let pools: Vec<Pool> = match std::env::var("BENCH_POOLS") {
        Ok(keys) => {
            POOLS.into_iter().filter(|p| keys.split(',').any(|k| k.trim() == p.key())).collect()
        }
        Err(_) => POOLS.to_vec(),
    };
    assert!(!pools.is_empty(), "BENCH_POOLS matched none of the memory bench's pools");
    let iters_per_us = common::calibrate();
    println!(
        "memory: 1 producer, {} workers, tasks of ~{} µs ({iters_per_us:.0} loop iterations/µs); \
         each cell in its own process, {rounds} round(s) interleaved; load average before start: {}",
        common::WORKERS,
        TASK_NS / 1000,
        loadavg()
    );

    let exe = std::env::current_exe().expect("current_exe");
    let mut samples = vec![vec![Vec::new(); sizes.len()]; pools.len()];
    for round in 0..rounds {
        for (j, &n) in sizes.iter().enumerate() {
            for k in 0..pools.len() {
                let i = (k + round) % pools.len();
                let pool = pools[i];
                let out = Command::new(&exe)
                    .args(["--child", &pool.key(), &n.to_string(), &iters_per_us.to_string()])
                    .output()
                    .expect("run child");
                assert!(
                    out.status.success(),
                    "{} N={n} failed: {}",
                    pool.name(),
                    String::from_utf8_lossy(&out.stderr)
                );
                samples[i][j].push(parse(&String::from_utf8_lossy(&out.stdout)));
            }
        }
    }
    // The largest peaks of the rounds, the median time.
    let cells: Vec<Vec<Cell>> = samples
        .iter()
        .map(|row| {
            row.iter()
                .map(|s| Cell {
                    heap: s.iter().map(|c| c.heap).max().unwrap_or(0),
                    rss: s.iter().map(|c| c.rss).max().unwrap_or(0),
                    time: Duration::from_secs_f64(common::median(
                        &mut s.iter().map(|c| c.time.as_secs_f64()).collect::<Vec<_>>(),
                    )),
                })
                .collect()
        })
        .collect();

    print!("{}", table(&pools, sizes, &cells));
    print!("{}", targets(&pools, sizes, &cells, &samples));
    println!("load average at the end: {}", loadavg());
    if mode != Mode::Smoke {
        let dir = common::results_dir();
        std::fs::write(dir.join("memory.csv"), csv(&pools, sizes, &samples))
            .expect("write memory.csv");
        std::fs::write(dir.join("memory.svg"), svg(&pools, sizes, &cells))
            .expect("write memory.svg");
        println!("wrote {0}/memory.csv and {0}/memory.svg", dir.display());
    }
}

/// Runs one cell and prints what it measured.
fn child(pool: Pool, n: usize, work: Work) {
    // ORDERING: Relaxed throughout: statistics, read once every task has completed.
    let before = LIVE.load(Relaxed);
    PEAK.store(before, Relaxed);
    let time = pool.run_sampled(n, 1, work, false).wall;
    let heap = PEAK.load(Relaxed) - before;
    println!("RESULT heap={heap} rss={} ns={}", vm_hwm(), time.as_nanos());
}

/// Peak resident set size of this process, from `/proc/self/status`.
fn vm_hwm() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<usize>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn parse(stdout: &str) -> Cell {
    let line = stdout.lines().find(|l| l.starts_with("RESULT ")).expect("RESULT line");
    let field = |name: &str| -> u128 {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
            .and_then(|v| v.parse().ok())
            .expect("RESULT field")
    };
    Cell {
        heap: field("heap") as usize,
        rss: field("rss") as usize,
        time: Duration::from_nanos(field("ns") as u64),
    }
}

fn bytes(b: usize) -> String {
    let b = b as f64;
    if b >= 1024.0 * 1024.0 {
        format!("{:.1} MiB", b / (1024.0 * 1024.0))
    } else if b >= 1024.0 {
        format!("{:.1} KiB", b / 1024.0)
    } else {
        format!("{b:.0} B")
    }
}

fn table(pools: &[Pool], sizes: &[usize], cells: &[Vec<Cell>]) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "\n| pool | N | peak heap | peak RSS | time (median) | heap vs {0} | RSS vs {0} |\n",
        pools[0].name()
    );
    s.push_str("|---|---:|---:|---:|---:|---:|---:|\n");
    for (j, &n) in sizes.iter().enumerate() {
        let ours = cells[0][j];
        for (i, pool) in pools.iter().enumerate() {
            let c = cells[i][j];
            let _ = writeln!(
                s,
                "| {} | {n} | {} | {} | {:.0} ms | {:.0}× | {:.1}× |",
                pool.name(),
                bytes(c.heap),
                bytes(c.rss),
                c.time.as_secs_f64() * 1e3,
                c.heap as f64 / ours.heap.max(1) as f64,
                c.rss as f64 / ours.rss.max(1) as f64,
            );
        }
    }
    s
}

/// Issue 13's memory targets for the default, if it ran: its time at the largest N against
/// threadpool's, and its peak heap at every N.
fn targets(
    pools: &[Pool],
    sizes: &[usize],
    cells: &[Vec<Cell>],
    samples: &[Vec<Vec<Cell>>],
) -> String {
    let mut s = String::from(
        "\n### Memory targets of issue 13 (default = `BoundedExecutor::new(2)`, handles dropped)\n\n\
         | target | limit | measured | ratio | met |\n|---|---|---|---:|---|\n",
    );
    let met = |ok: bool| if ok { "met" } else { "**not met**" };
    let at = |pool: Pool| pools.iter().position(|&p| p == pool);
    let (Some(d), Some(last)) = (at(Pool::OursDefault), sizes.len().checked_sub(1)) else {
        s.push_str("| (the default did not run: BENCH_POOLS) | | | | not measured |\n");
        return s;
    };
    let n = sizes[last];
    let ms = |i: usize| {
        let times: Vec<f64> = samples[i][last].iter().map(|c| c.time.as_secs_f64() * 1e3).collect();
        let (lo, hi) =
            times.iter().fold((f64::MAX, f64::MIN), |(lo, hi), &t| (lo.min(t), hi.max(t)));
        format!("{:.0} ms ({lo:.0}–{hi:.0})", cells[i][last].time.as_secs_f64() * 1e3)
    };
    let what = format!("default, time at N = {n} (~2 µs tasks): / threadpool");
    match at(Pool::Threadpool) {
        Some(t) => {
            let r = cells[d][last].time.as_secs_f64() / cells[t][last].time.as_secs_f64();
            let _ = writeln!(
                s,
                "| {what} | ≤ 1.1× | {} vs {} | {r:.2}× | {} |",
                ms(d),
                ms(t),
                met(r <= 1.1)
            );
        }
        None => {
            let _ = writeln!(s, "| {what} | ≤ 1.1× | threadpool not run | | not measured |");
        }
    }
    let heaps: Vec<String> =
        sizes.iter().zip(&cells[d]).map(|(n, c)| format!("N = {n}: {}", bytes(c.heap))).collect();
    let flat = cells[d][last].heap as f64 / cells[d][0].heap.max(1) as f64;
    let small = cells[d].iter().all(|c| c.heap <= 64 * 1024);
    let _ = writeln!(
        s,
        "| default, peak heap: flat in N (largest N / smallest ≤ 1.5×) and ≤ 64 KiB | ≤ 64 KiB, flat | {} | {flat:.2}× | {} |",
        heaps.join(", "),
        met(small && flat <= 1.5)
    );
    s
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn csv(pools: &[Pool], sizes: &[usize], samples: &[Vec<Vec<Cell>>]) -> String {
    let mut s = String::from("pool,n,peak_heap_bytes,peak_rss_bytes,wall_ns,round\n");
    for (i, pool) in pools.iter().enumerate() {
        for (j, &n) in sizes.iter().enumerate() {
            for (round, c) in samples[i][j].iter().enumerate() {
                let _ = writeln!(
                    s,
                    "{},{n},{},{},{},{round}",
                    pool.key(),
                    c.heap,
                    c.rss,
                    c.time.as_nanos()
                );
            }
        }
    }
    s
}

fn svg(pools: &[Pool], sizes: &[usize], cells: &[Vec<Cell>]) -> String {
    use plotters::prelude::*;

    // Decimal units on the axis, so that the log scale's powers of ten read as round numbers.
    fn si(b: f64) -> String {
        match b {
            b if b >= 1e9 => format!("{:.0} GB", b / 1e9),
            b if b >= 1e6 => format!("{:.0} MB", b / 1e6),
            b if b >= 1e3 => format!("{:.0} kB", b / 1e3),
            b => format!("{b:.0} B"),
        }
    }

    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (820, 520)).into_drawing_area();
        root.fill(&WHITE).unwrap();
        let heaps = cells.iter().flatten().map(|c| c.heap.max(1) as f64);
        let (lo, hi) = heaps.fold((f64::MAX, 1.0f64), |(lo, hi), h| (lo.min(h), hi.max(h)));
        let (nlo, nhi) = (sizes[0] as f64, *sizes.last().unwrap() as f64);
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!("Peak heap: 1 producer, {} workers, ~2 µs tasks", common::WORKERS),
                ("sans-serif", 20),
            )
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(
                (nlo / 1.5..nhi * 1.5).log_scale(),
                (lo / 3.0..hi * 3.0).log_scale(),
            )
            .unwrap();
        chart
            .configure_mesh()
            .light_line_style(WHITE)
            .x_desc("tasks submitted (N)")
            .y_desc("peak heap")
            .x_label_formatter(&|n| format!("{n:.0e}"))
            .y_label_formatter(&|b| si(*b))
            .draw()
            .unwrap();
        for (i, pool) in pools.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            let points: Vec<(f64, f64)> = sizes
                .iter()
                .zip(&cells[i])
                .map(|(&n, c)| (n as f64, c.heap.max(1) as f64))
                .collect();
            chart
                .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
                .unwrap()
                .label(pool.name())
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2))
                });
            chart
                .draw_series(points.into_iter().map(|p| Circle::new(p, 3, color.filled())))
                .unwrap();
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .unwrap();
        root.present().unwrap();
    }
    out
}
