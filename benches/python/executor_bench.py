#!/usr/bin/env python3
"""Python's answers to the same question as benches/memory.rs: peak RSS and wall time when one
producer submits N small tasks to 2 worker threads.

Variants:
  tpe          concurrent.futures.ThreadPoolExecutor.submit, futures dropped at once. Its work
               queue is unbounded, so every task not yet run stays in memory.
  tpe-futures  the same, keeping every Future (what a user collecting results does).
  semaphore    the classic bounded executor: a BoundedSemaphore of 2 x workers acquired before
               each submit and released by a done-callback. Memory stays flat.

Each variant runs in its own child process (this script re-run with --child), so ru_maxrss is
that variant's alone. Standard library only. Not run by CI; run it by hand:

    python3 benches/python/executor_bench.py                # N = 10^6
    python3 benches/python/executor_bench.py --n 100000     # smaller
    python3 benches/python/executor_bench.py --csv out.csv  # also write a CSV
"""

import argparse
import concurrent.futures
import platform
import resource
import subprocess
import sys
import threading
import time

WORKERS = 2
RATIO = 2


def task():
    # A few microseconds of work: the producer outruns the workers, as in benches/memory.rs.
    x = 0
    for i in range(20):
        x += i
    return x


def run(variant, n):
    with concurrent.futures.ThreadPoolExecutor(max_workers=WORKERS) as pool:
        if variant == "tpe":
            for _ in range(n):
                pool.submit(task)
        elif variant == "tpe-futures":
            futures = [pool.submit(task) for _ in range(n)]
            for f in futures:
                f.result()
        elif variant == "semaphore":
            slots = threading.BoundedSemaphore(RATIO * WORKERS)
            release = lambda _future: slots.release()
            for _ in range(n):
                slots.acquire()
                pool.submit(task).add_done_callback(release)
        else:
            raise SystemExit(f"unknown variant {variant}")
    # Leaving the `with` block waits until every task has run.


def child(variant, n):
    start = time.perf_counter()
    run(variant, n)
    elapsed = time.perf_counter() - start
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(f"RESULT rss={rss_kib * 1024} seconds={elapsed:.6f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000, help="tasks to submit (default 10^6)")
    parser.add_argument("--csv", help="also write the results to this CSV file")
    parser.add_argument("--child", nargs=2, metavar=("VARIANT", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]))
        return

    print(f"Python {platform.python_version()} on {platform.machine()}, {WORKERS} workers, N = {args.n}")
    rows = []
    for variant in ["tpe", "tpe-futures", "semaphore"]:
        out = subprocess.run(
            [sys.executable, __file__, "--child", variant, str(args.n)],
            check=True, capture_output=True, text=True,
        ).stdout
        line = next(l for l in out.splitlines() if l.startswith("RESULT "))
        fields = dict(kv.split("=") for kv in line.split()[1:])
        rows.append((variant, int(fields["rss"]), float(fields["seconds"])))

    print("\n| Python variant | N | peak RSS | time | ns/task |")
    print("|---|---:|---:|---:|---:|")
    for variant, rss, seconds in rows:
        print(f"| {variant} | {args.n} | {rss / 2**20:.1f} MiB | {seconds * 1e3:.0f} ms | {seconds * 1e9 / args.n:.0f} |")
    if args.csv:
        with open(args.csv, "w") as f:
            f.write("variant,n,peak_rss_bytes,wall_ns\n")
            for variant, rss, seconds in rows:
                f.write(f"{variant},{args.n},{rss},{int(seconds * 1e9)}\n")


if __name__ == "__main__":
    main()
