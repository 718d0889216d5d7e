#!/usr/bin/env python3
"""polars-filter on Dask distributed: the plan's byte ranges as tasks, merged in input order.

    python3 driver.py --bin target/release/polars-filter --csv FILE --codes-file CODES --out DIR
        [--scheduler tcp://HOST:8786 | --workers 2] [--block-size 64M] [--buffer-size 64M]

1. `polars-filter --plan` cuts FILE at row ends (one sequential pass, quote-aware) and prints the
   byte ranges, the input's identity and the code list exactly as the program numbers it.
2. Each range is a Dask task: it runs `polars-filter --plan-file --range K --pieces TMP` on the
   worker (which reads only that range, checks it is the version planned, selects, parses and
   splits it), reads the pieces back and returns them. Dask schedules, retries a task whose
   worker died, and moves the results; we write no scheduler of our own.
3. The driver takes the results in input order (at most `2 x workers` ranges submitted ahead, so
   results never pile up in the cluster) and appends each code's pieces to `DIR/<code>.csv.part`,
   exactly as `polars-filter --out DIR` does, with the same rules: an exclusive lock on
   `DIR/.polars-filter.lock` for the whole run (a polars-filter run on the same directory is
   refused, and so is this one while it holds it), the previous `_SUCCESS` and the files it lists
   removed first, every `.part` renamed only once the input is proven unchanged, `_SUCCESS`
   (listing the files) written last through `_SUCCESS.part` and fsynced. A failure or Ctrl-C
   removes every file the run created, and leaves no `_SUCCESS`. The files given on the command
   line (`--csv`, `--codes-file`) are never removed or renamed over.

Without --scheduler it starts a LocalCluster of --workers processes, one thread each. With
--scheduler, every worker must see FILE at the same path (shared storage) and have the same
polars-filter binary at --bin; the output is written by the driver, on its own machine.

Needs `dask[distributed]` (the run.sh beside this file makes a venv with it).
"""

import argparse
import fcntl
import logging
import os
import subprocess
import sys
import tempfile
import time

LOCK = ".polars-filter.lock"
MANIFEST = "_SUCCESS"


class Refused(Exception):
    """An error for one line on stderr and exit status 1."""


def parse_plan(text):
    """The plan printed by `polars-filter --plan` (see src/plan.rs)."""
    lines = text.split("\n")
    if lines[0] != "polars-filter plan 1":
        raise Refused("polars-filter --plan printed no plan")
    fields = {}
    i = 1
    for name in ("input", "header", "header-line", "block-size", "ranges"):
        key, _, value = lines[i].partition(" ")
        if key != name:
            raise Refused(f"malformed plan at line {i + 1}: {lines[i]!r}")
        fields[name] = value
        i += 1
    ranges = []
    for _ in range(int(fields["ranges"])):
        key, _, value = lines[i].partition(" ")
        offset, length, before_lines, before_rows = map(int, value.split(" "))
        ranges.append((offset, length, before_lines, before_rows))
        i += 1
    key, _, count = lines[i].partition(" ")
    codes = lines[i + 1 : i + 1 + int(count)]
    if key != "codes" or len(codes) != int(count):
        raise Refused("malformed plan: the code list")
    return {
        "input": fields["input"],
        "header_line": bytes.fromhex(fields["header-line"]),
        "ranges": ranges,
        "codes": codes,
    }


def run_range(binary, csv, plan_text, index):
    """The Dask task: one range through `polars-filter --range`, its pieces as bytes.

    Returns (rows, [(code index, bytes), ...]). A bad row, a changed input or a failed run raises
    RuntimeError with polars-filter's one-line message.
    """
    # On a tmpfs where there is one: the pieces are read back at once and removed.
    shm = "/dev/shm"
    scratch = shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else None
    with tempfile.TemporaryDirectory(prefix="polars-filter-range-", dir=scratch) as tmp:
        plan_path = os.path.join(tmp, "plan.txt")
        with open(plan_path, "w", encoding="utf-8") as f:
            f.write(plan_text)
        pieces_dir = os.path.join(tmp, "pieces")
        env = dict(os.environ, POLARS_MAX_THREADS=os.environ.get("POLARS_MAX_THREADS", "1"))
        done = subprocess.run(
            [binary, f"--csv={csv}", f"--plan-file={plan_path}", f"--range={index}",
             f"--pieces={pieces_dir}"],
            capture_output=True, env=env, check=False,
        )
        if done.returncode != 0:
            lines = done.stderr.decode("utf-8", "replace").strip().splitlines() or ["no message"]
            raise RuntimeError(lines[-1].removeprefix("polars-filter: error: "))
        with open(os.path.join(pieces_dir, "_RANGE"), encoding="utf-8") as f:
            summary = f.read().split("\n")
        rows = int(summary[2].split(" ")[1])
        count = int(summary[4].split(" ")[1])
        with open(os.path.join(pieces_dir, "rows.csv"), "rb") as f:
            data = f.read()
        pieces = []
        start = 0
        for line in summary[5 : 5 + count]:
            code, _rows, length = map(int, line.split(" "))
            pieces.append((code, data[start : start + length]))
            start += length
        if start != len(data):
            raise RuntimeError(f"range {index}: its rows.csv does not match its _RANGE")
        return rows, pieces


def identity(path):
    """As `Identity::encode` in src/input.rs: device, inode, size, mtime and ctime in ns."""
    st = os.stat(path)
    return f"{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}"


class OutDir:
    """`--out DIR` with polars-filter's rules (see src/outdir.rs and src/writes.rs)."""

    def __init__(self, path, protected):
        self.dir = path
        self.protected = protected  # (dev, ino) of the files given on the command line
        self.created = set()  # every path this run created and has not committed
        os.makedirs(path, exist_ok=True)
        self.lock_path = os.path.join(path, LOCK)
        self._check(self.lock_path)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode("ascii", "replace").strip()
            os.close(fd)
            pid = f" (pid {holder})" if holder.isdigit() else ""
            raise Refused(f"--out {path} is in use by another run{pid}: wait for it to end, "
                          "or choose another directory") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self.lock_fd = fd
        self._remove_previous()

    def _key(self, path):
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return None
        return (st.st_dev, st.st_ino)

    def _check(self, path):
        key = self._key(path)
        if key is not None and key in self.protected:
            raise Refused(f"--out would overwrite {path}, a file given on the command line")

    def _remove_previous(self):
        manifest = os.path.join(self.dir, MANIFEST)
        listed = []
        if os.path.isfile(manifest) and not os.path.islink(manifest):
            with open(manifest, encoding="utf-8", errors="replace") as f:
                listed = f.read().splitlines()
        self.remove(manifest)
        for name in listed:
            # Only plain <code>.csv names of this directory; never a protected file.
            if name.endswith(".csv") and "/" not in name and "\\" not in name:
                path = os.path.join(self.dir, name)
                if self._key(path) not in self.protected:
                    self.remove(path)

    def remove(self, path):
        self._check(path)
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        self.created.discard(path)

    def create(self, path):
        """A new file at `path` (O_EXCL, after removing what is there: never written through)."""
        self.remove(path)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        self.created.add(path)
        return fd

    def rename(self, old, new):
        self._check(new)
        os.rename(old, new)
        self.created.discard(old)
        self.created.add(new)

    def commit(self, names):
        partial = os.path.join(self.dir, MANIFEST + ".part")
        fd = self.create(partial)
        try:
            os.write(fd, "".join(f"{name}\n" for name in names).encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        self.rename(partial, os.path.join(self.dir, MANIFEST))
        self.created.clear()

    def discard(self):
        for path in list(self.created):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
        self.created.clear()

    def close(self):
        try:
            os.unlink(self.lock_path)
        except FileNotFoundError:
            pass
        os.close(self.lock_fd)


class Merger:
    """Each code's pieces in input order: buffered, appended to `<code>.csv.part` past a budget."""

    def __init__(self, out, plan, budget):
        self.out = out
        self.header = plan["header_line"]
        self.codes = plan["codes"]
        self.buffers = [[] for _ in self.codes]
        self.started = [False] * len(self.codes)
        self.buffered = 0
        self.budget = budget

    def part(self, i):
        return os.path.join(self.out.dir, f"{self.codes[i]}.csv.part")

    def take(self, pieces):
        for code, data in pieces:
            self.buffers[code].append(data)
            self.buffered += len(data)
        if self.buffered > self.budget:
            for i, buffer in enumerate(self.buffers):
                if buffer:
                    self.flush(i)
            self.buffered = 0

    def flush(self, i):
        if self.started[i]:
            fd = os.open(self.part(i), os.O_WRONLY | os.O_APPEND)
        else:
            fd = self.out.create(self.part(i))
            os.write(fd, self.header)
            self.started[i] = True
        try:
            os.write(fd, b"".join(self.buffers[i]))
        finally:
            os.close(fd)
        self.buffers[i] = []

    def finish(self):
        names = []
        for i, code in enumerate(self.codes):
            self.flush(i)
            self.out.rename(self.part(i), os.path.join(self.out.dir, f"{code}.csv"))
            names.append(f"{code}.csv")
        return names


def size(text):
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    if text[-1:].upper() in units:
        return int(text[:-1]) * units[text[-1].upper()]
    return int(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin", required=True, help="the polars-filter binary (on every worker)")
    parser.add_argument("--csv", required=True)
    codes = parser.add_mutually_exclusive_group(required=True)
    codes.add_argument("--codes")
    codes.add_argument("--codes-file")
    parser.add_argument("--out", required=True)
    parser.add_argument("--scheduler", help="a Dask scheduler's address (default: a LocalCluster)")
    parser.add_argument("--workers", type=int, default=2, help="LocalCluster workers (default 2)")
    parser.add_argument("--block-size", default="64M", help="bytes per range (default 64M)")
    parser.add_argument("--buffer-size", default="64M", help="bytes buffered before appending")
    args = parser.parse_args()

    start = time.perf_counter()
    binary = os.path.abspath(args.bin)
    csv = os.path.abspath(args.csv)
    code_args = [f"--codes={args.codes}"] if args.codes else [f"--codes-file={args.codes_file}"]
    planned = subprocess.run(
        [binary, f"--csv={csv}", *code_args, "--plan", f"--block-size={args.block_size}"],
        capture_output=True, check=False,
    )
    if planned.returncode != 0:
        raise Refused(planned.stderr.decode("utf-8", "replace").strip().removeprefix(
            "polars-filter: error: "))
    plan_text = planned.stdout.decode("utf-8")
    plan = parse_plan(plan_text)
    plan_secs = time.perf_counter() - start

    protected = set()
    for path in (csv, args.codes_file):
        if path:
            for stat in (os.lstat, os.stat):
                try:
                    st = stat(path)
                    protected.add((st.st_dev, st.st_ino))
                except OSError:
                    pass

    from dask.distributed import Client, LocalCluster  # pylint: disable=import-outside-toplevel

    out = OutDir(args.out, protected)
    cluster = None
    try:
        if args.scheduler:
            client = Client(args.scheduler)
        else:
            # A failed range is reported once, by the driver, not logged by every worker.
            cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1,
                                   dashboard_address=None, processes=True,
                                   silence_logs=logging.CRITICAL)
            client = Client(cluster)
        workers = max(1, len(client.scheduler_info()["workers"]))
        merger = Merger(out, plan, size(args.buffer_size))
        plan_future = client.scatter(plan_text, broadcast=True)
        ahead = 2 * workers
        futures = []
        next_range = 0
        rows = 0
        cluster_start = time.perf_counter()
        for index in range(len(plan["ranges"])):
            while next_range < len(plan["ranges"]) and next_range < index + ahead:
                futures.append(client.submit(run_range, binary, csv, plan_future, next_range,
                                             pure=False))
                next_range += 1
            future = futures[index]
            try:
                range_rows, pieces = future.result()
            except RuntimeError as err:
                raise Refused(str(err)) from None
            futures[index] = None
            rows += range_rows
            merger.take(pieces)
        if identity(csv) != plan["input"]:
            raise Refused(f"the input {csv} changed during the run: it is not the version planned")
        names = merger.finish()
        out.commit(names)
        client.close()
        total = time.perf_counter() - start
        print(f"done: {len(plan['codes'])} codes, {rows} input rows, {len(plan['ranges'])} ranges "
              f"on {workers} Dask workers; plan {plan_secs:.3f} s, ranges and merge "
              f"{time.perf_counter() - cluster_start:.3f} s; {total:.3f} s")
    except BaseException:
        out.discard()
        raise
    finally:
        out.close()
        if cluster is not None:
            cluster.close()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Refused as err:
        print(f"polars-filter-dask: error: {err}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("polars-filter-dask: error: interrupted: partial results removed", file=sys.stderr)
        sys.exit(130)
