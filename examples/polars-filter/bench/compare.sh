#!/usr/bin/env bash
# Every strategy of polars-filter on the same generated files, side by side, in one run: wall time
# and peak RSS from /usr/bin/time -v, and a checksum of each output directory (equal checksums:
# byte-identical outputs). Run by hand, not by CI: it builds in release and takes minutes.
#
#   examples/polars-filter/bench/compare.sh                    # 5M rows: 20,000 codes, then 3 codes
#   ROWS=1000000 examples/polars-filter/bench/compare.sh       # a smaller file
#   PER_CODE_ALL=1 ...      # also per-code on all the codes (5M x 20,000: about 6 minutes)
#   BLOCK_SIZES="1M 4M 16M" # also stream at each block size (all codes)
#   LARGE_ROWS=50000000 ... # also stream on a 50M-row file (about 850 MB; flat memory)
#   PYTHON=1 ...            # also bench/python_compare.py (needs python3 with polars)
#   REPEAT=3 ...            # run each case 3 times: median wall (min-max), highest peak RSS
#   OUT=/dev/shm/pf-out ... # where the outputs go (default: beside the data); a tmpfs takes the
#                           # disk's noise out of the figures (creating 20,000 files varies 2-8 s)
#
# Prints a Markdown table; the example's README holds the latest one.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../../.."

ROWS=${ROWS:-5000000}
CODES=${CODES:-20000}
SEED=${SEED:-1}
WORKERS=${WORKERS:-2}
REPEAT=${REPEAT:-1}
DATA=${DATA:-$(mktemp -d "${TMPDIR:-/tmp}/polars-compare.XXXXXX")}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/bounded-executor/target}"

if [ ! -x /usr/bin/time ]; then
    echo "compare.sh needs GNU time at /usr/bin/time (Debian/Ubuntu: apt-get install time)" >&2
    exit 1
fi
cargo build --release -p polars-filter >&2
BIN="$CARGO_TARGET_DIR/release/polars-filter"
mkdir -p "$DATA"
OUT=${OUT:-$DATA/out}

# The codes --generate writes: zero-padded one digit wider than needed, at least 4 wide.
codes_list() {
    local n=$1 max width
    max=$(( n - 1 > 1 ? n - 1 : 1 ))
    width=$(( ${#max} + 1 > 4 ? ${#max} + 1 : 4 ))
    seq 0 $(( n - 1 )) | awk -v w="$width" '{ printf "%0*d\n", w, $1 }'
}

generate() { # rows file
    [ -s "$2" ] && return
    "$BIN" --generate "$1" --distinct-codes "$CODES" --seed "$SEED" --csv "$2" --codes none \
        --quiet >/dev/null
}

# One row of the table: case, strategy, then the command (which writes to $OUT).
measure() {
    local case=$1 name=$2; shift 2
    local load walls=() rss=0 r wall peak
    load=$(cut -d' ' -f1 /proc/loadavg)
    for ((r = 0; r < REPEAT; r++)); do
        rm -rf "$OUT"
        if ! /usr/bin/time -v -o "$DATA/time.txt" "$@" >"$DATA/stdout.txt" 2>"$DATA/stderr.txt"
        then
            echo "| $case | $name | failed: $(tail -1 "$DATA/stderr.txt") | | | | $load |"
            return
        fi
        wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, t, ":"); s = 0;
            for (i = 1; i <= n; i++) s = s * 60 + t[i]; printf "%.2f", s }' "$DATA/time.txt")
        peak=$(awk -F': ' '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' "$DATA/time.txt")
        walls+=("$wall")
        [ "$peak" -gt "$rss" ] && rss=$peak
    done
    local sorted summary detail sum shown
    sorted=$(printf '%s\n' "${walls[@]}" | sort -n)
    shown=$(awk -v n="$REPEAT" '{ v[NR] = $1 } END { m = v[int((n + 1) / 2)];
        if (n > 1) printf "%s (%s-%s)", m, v[1], v[n]; else printf "%s", m }' <<<"$sorted")
    # Names and contents of the result files (not _SUCCESS, which only polars-filter writes).
    sum=$(cd "$OUT" && { find . -type f ! -name _SUCCESS | sort;
        find . -type f ! -name _SUCCESS -print0 | sort -z | xargs -0 cat --; } |
        sha256sum | cut -c1-12)
    summary=$(tail -1 "$DATA/stdout.txt")
    detail=$(grep -oE 'at most [0-9]+ (blocks? in flight|result frames? alive)|[0-9]+ blocks? read' \
        <<<"$summary" | paste -sd';' - | sed 's/;/; /' || true)
    echo "| $case | $name | $shown | $rss | $detail | $sum | $load |"
}

big="$DATA/rows-$ROWS.csv"
generate "$ROWS" "$big"
codes_list "$CODES" >"$DATA/all-codes.txt"
codes_list "$CODES" | awk 'NR <= 3' >"$DATA/three-codes.txt"
size=$(stat -c %s "$big")

echo
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, commit $(git rev-parse --short HEAD)," \
    "$ROWS rows ($size bytes), $CODES codes, seed $SEED, $WORKERS workers, outputs in $OUT," \
    "$REPEAT run(s) each"
echo
echo "| case | strategy | wall s | peak RSS MiB | bound | output sha256 | load avg |"
echo "|---|---|---:|---:|---|---|---:|"
run() { # case strategy codes-file extra...
    local case=$1 name=$2 codes=$3; shift 3
    measure "$case" "$name" "$BIN" --csv "$big" --codes-file "$codes" --workers "$WORKERS" \
        --out "$OUT" --quiet "$@"
}
all="$ROWS x $CODES codes, all wanted"
run "$all" stream "$DATA/all-codes.txt"
run "$all" "stream --processes" "$DATA/all-codes.txt" --processes
run "$all" partition-by "$DATA/all-codes.txt" --strategy partition-by
if [ -n "${PER_CODE_ALL:-}" ]; then
    run "$all" per-code "$DATA/all-codes.txt" --strategy per-code
fi
for bs in ${BLOCK_SIZES:-}; do
    run "$all" "stream --block-size $bs" "$DATA/all-codes.txt" --block-size "$bs"
done
three="$ROWS rows, 3 codes wanted"
run "$three" stream "$DATA/three-codes.txt"
run "$three" "stream --processes" "$DATA/three-codes.txt" --processes
run "$three" per-code "$DATA/three-codes.txt" --strategy per-code
run "$three" partition-by "$DATA/three-codes.txt" --strategy partition-by

if [ -n "${PYTHON:-}" ]; then
    measure "$all" "python polars (streaming)" python3 "$here/python_compare.py" --csv "$big" \
        --codes-file "$DATA/all-codes.txt" --out "$OUT"
fi

if [ -n "${LARGE_ROWS:-}" ]; then
    large="$DATA/rows-$LARGE_ROWS.csv"
    generate "$LARGE_ROWS" "$large"
    measure "$LARGE_ROWS x $CODES codes, all wanted" stream "$BIN" --csv "$large" \
        --codes-file "$DATA/all-codes.txt" --workers "$WORKERS" --out "$OUT" --quiet
    [ -n "${KEEP:-}" ] || rm -f "$large"
fi
echo
rm -rf "$OUT"
echo "(data in $DATA; remove it when done)"
