#!/usr/bin/env bash
# polars-filter on Dask distributed, checked against the stream on one machine: makes a venv with
# dask[distributed], builds the release binary, generates a file, runs `polars-filter --out`
# (stream) and driver.py (the plan's ranges as tasks on a LocalCluster of 2 workers), and checks
# that both directories hold byte-identical files. Run by hand, not by CI.
#
#   examples/polars-filter/distributed/run.sh                   # 5M rows, 20,000 codes
#   ROWS=1000000 CODES=1000 examples/polars-filter/distributed/run.sh
#   BLOCK_SIZE=16M ...       # bytes per range (default 16M: 6 ranges of the 5M-row file)
#   SCHEDULER=tcp://host:8786 ...   # a real cluster instead (the file and binary at the same
#                                   # paths on every worker)
#   VENV=~/venvs/dask ...    # where the venv goes (default ~/.cache/bounded-executor/python)
#   OUT=/dev/shm/pf-dask ... # where the outputs go (default: beside the data)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../../.."

ROWS=${ROWS:-5000000}
CODES=${CODES:-20000}
WORKERS=${WORKERS:-2}
BLOCK_SIZE=${BLOCK_SIZE:-16M}
VENV=${VENV:-$HOME/.cache/bounded-executor/python}
DATA=${DATA:-$(mktemp -d "${TMPDIR:-/tmp}/polars-dask.XXXXXX")}
OUT=${OUT:-$DATA}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/bounded-executor/target}"

if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install --quiet --disable-pip-version-check "dask[distributed]"
cargo build --release -p polars-filter >&2
BIN="$CARGO_TARGET_DIR/release/polars-filter"

csv="$DATA/rows-$ROWS.csv"
[ -s "$csv" ] || "$BIN" --generate "$ROWS" --distinct-codes "$CODES" --seed 1 --csv "$csv" \
    --codes none --quiet >/dev/null
# The codes --generate writes (zero-padded one digit wider than needed, at least 4 wide).
max=$(( CODES - 1 > 1 ? CODES - 1 : 1 ))
width=$(( ${#max} + 1 > 4 ? ${#max} + 1 : 4 ))
seq 0 $(( CODES - 1 )) | awk -v w="$width" '{ printf "%0*d\n", w, $1 }' >"$DATA/codes.txt"

mkdir -p "$OUT"
rm -rf "$OUT/stream" "$OUT/dask"
load=$(cut -d' ' -f1 /proc/loadavg)
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load $load, $ROWS rows" \
    "($(stat -c %s "$csv") bytes), $CODES codes, $WORKERS workers, ranges of $BLOCK_SIZE"
timed() { # label command...
    local label=$1; shift
    /usr/bin/time -f "$label: %e s wall, %U+%S s CPU of this process, %M KiB peak RSS" "$@"
}
timed stream "$BIN" --csv "$csv" --codes-file "$DATA/codes.txt" --workers "$WORKERS" \
    --out "$OUT/stream" --quiet
cluster=(--workers "$WORKERS")
[ -n "${SCHEDULER:-}" ] && cluster=(--scheduler "$SCHEDULER")
timed dask "$VENV/bin/python" "$here/driver.py" --bin "$BIN" --csv "$csv" \
    --codes-file "$DATA/codes.txt" --out "$OUT/dask" --block-size "$BLOCK_SIZE" "${cluster[@]}"
if diff -r "$OUT/stream" "$OUT/dask" >/dev/null; then
    echo "byte-identical: $(find "$OUT/dask" -type f | wc -l) files, _SUCCESS included"
else
    echo "DIFFERENT: diff -r $OUT/stream $OUT/dask" >&2
    exit 1
fi
[ -n "${KEEP:-}" ] || rm -rf "$OUT/stream" "$OUT/dask"
echo "(data in $DATA; remove it when done)"
