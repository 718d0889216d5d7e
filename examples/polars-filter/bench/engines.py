#!/usr/bin/env python3
"""The same job in other engines, and the file system's floor, for bench/compare.sh.

    python3 engines.py polars-sink --csv FILE --codes-file CODES --out DIR
    python3 engines.py duckdb      --csv FILE --codes-file CODES --out DIR
    python3 engines.py floor       --out DIR [--files 20000 --size 4096]

- polars-sink: Polars' streaming engine with its partitioned sink,
  `scan_csv -> filter(is_in) -> sink_csv(pl.PartitionBy(DIR, key="code"))`: one directory per
  code (`code=<code>/`), files as Polars names them. Threads: POLARS_MAX_THREADS.
- duckdb: `COPY (SELECT ... SEMI JOIN wanted USING (code)) TO DIR (FORMAT CSV, PARTITION_BY
  (code))`, with `SET threads` from DUCKDB_THREADS (default 2).
- floor: what the file system alone costs for the 20,000-code job's outputs: create, write and
  rename FILES files of SIZE bytes each, from one thread (`.part` names renamed to `.csv`, as
  polars-filter does). The time is the whole process's, measured by compare.sh like the others.

Every engine reads every column as a string except `age` (Int64), as polars-filter does. Each
prints one line. Needs `polars` and `duckdb` (compare.sh makes a venv with them). Not run by CI.
"""

import argparse
import os
import sys
import time


def read_codes(path):
    with open(path, encoding="utf-8-sig") as f:
        return list(dict.fromkeys(line.strip() for line in f if line.strip()))


def polars_sink(args):
    import polars as pl  # pylint: disable=import-outside-toplevel

    codes = read_codes(args.codes_file)
    (
        pl.scan_csv(args.csv, infer_schema=False, schema_overrides={"age": pl.Int64})
        .filter(pl.col("code").is_in(codes))
        .sink_csv(pl.PartitionBy(args.out, key="code"), mkdir=True)
    )
    return f"polars {pl.__version__} scan_csv + is_in + sink_csv(PartitionBy), {len(codes)} codes"


def duckdb_copy(args):
    import duckdb  # pylint: disable=import-outside-toplevel

    codes = read_codes(args.codes_file)
    con = duckdb.connect()
    con.execute(f"SET threads = {int(os.environ.get('DUCKDB_THREADS', '2'))}")
    con.execute("CREATE TABLE wanted (code VARCHAR)")
    con.executemany("INSERT INTO wanted VALUES (?)", [(c,) for c in codes])
    csv = args.csv.replace("'", "''")
    out = args.out.replace("'", "''")
    con.execute(
        f"COPY (SELECT * FROM read_csv('{csv}', header = true, all_varchar = true, "
        f"types = {{'age': 'BIGINT'}}) SEMI JOIN wanted USING (code)) "
        f"TO '{out}' (FORMAT CSV, HEADER, PARTITION_BY (code))"
    )
    return f"duckdb {duckdb.__version__} COPY ... PARTITION_BY (code), {len(codes)} codes"


def floor(args):
    os.makedirs(args.out, exist_ok=True)
    data = (b"012345,hogefuga,42\n" * (args.size // 19 + 1))[: args.size]
    for i in range(args.files):
        part = os.path.join(args.out, f"{i:06d}.csv.part")
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        os.write(fd, data)
        os.close(fd)
        os.rename(part, os.path.join(args.out, f"{i:06d}.csv"))
    return f"floor: {args.files} files of {args.size} bytes created, written and renamed"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("engine", choices=["polars-sink", "duckdb", "floor"])
    parser.add_argument("--csv")
    parser.add_argument("--codes-file")
    parser.add_argument("--out", required=True)
    parser.add_argument("--files", type=int, default=20000)
    parser.add_argument("--size", type=int, default=4096)
    args = parser.parse_args()
    start = time.perf_counter()
    run = {"polars-sink": polars_sink, "duckdb": duckdb_copy, "floor": floor}[args.engine]
    what = run(args)
    print(f"done: {what}; {time.perf_counter() - start:.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
