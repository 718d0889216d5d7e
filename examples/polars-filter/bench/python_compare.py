#!/usr/bin/env python3
"""Python Polars' own one pass over the same job, for comparison with `polars-filter`.

    python3 examples/polars-filter/bench/python_compare.py --csv FILE --codes-file CODES --out DIR

Reads FILE with every column a string except `age` (Int64), as polars-filter does, keeps the
rows whose code is listed (`is_in`, streaming engine), splits them with `partition_by("code")`,
and writes `DIR/<code>.csv` for every listed code (header only when it matches nothing). Prints
one summary line with the wall time and the peak RSS of the interpreter.

Standard library plus `polars` (compare.sh runs it with PYTHON=1, from the venv it makes); not
run by CI.
"""

import argparse
import os
import resource
import sys
import time

import polars as pl


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", required=True)
    parser.add_argument("--codes-file", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    start = time.perf_counter()
    with open(args.codes_file, encoding="utf-8-sig") as f:
        codes = list(dict.fromkeys(line.strip() for line in f if line.strip()))

    frame = (
        pl.scan_csv(args.csv, infer_schema=False, schema_overrides={"age": pl.Int64})
        .filter(pl.col("code").is_in(codes))
        .collect(engine="streaming")
    )
    parts = frame.partition_by("code", as_dict=True, maintain_order=True)
    os.makedirs(args.out, exist_ok=True)
    empty = frame.clear()
    for code in codes:
        parts.get((code,), empty).write_csv(os.path.join(args.out, f"{code}.csv"))

    elapsed = time.perf_counter() - start
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"done: {len(codes)} codes, {frame.height} rows selected; python polars "
        f"{pl.__version__} streaming is_in + partition_by; peak RSS {peak_mib:.1f} MiB; "
        f"{elapsed:.3f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
