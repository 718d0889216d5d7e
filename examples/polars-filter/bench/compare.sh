#!/usr/bin/env bash
# polars-filter beside other engines on the same generated file, in one run: every strategy, and
# with PYTHON=1 Python Polars (streaming collect + partition_by, and its partitioned sink),
# DuckDB's COPY ... PARTITION_BY and the Dask driver (distributed/); xsv when it is installed.
# Each run is timed by /usr/bin/time -v (wall, user+system CPU, peak RSS); the rows each engine
# wrote are counted and must agree; polars-filter's outputs (and the Dask driver's) are
# checksummed and must be byte-identical. It also measures the file system's floor for the
# 20,000-code outputs (create, write, rename a file of 4 KiB per code from one thread), on the
# outputs' file system and on disk, and checks issue 22's targets. Run by hand, not by CI: it
# builds in release and takes minutes.
#
#   examples/polars-filter/bench/compare.sh                  # 5M rows: 20,000 codes, then 3 codes
#   OUT=/dev/shm/pf-out ...  # where the outputs go (default: beside the data); a tmpfs takes
#                            # the disk's noise out of the figures
#   DISK_OUT=/var/tmp/pf ... # where the on-disk runs go (default: $DATA/disk, which is on disk
#                            # unless TMPDIR is a tmpfs); DISK=0 skips them
#   REPEAT=5 ...             # rounds (default 3): every case runs once per round, all cases
#                            # interleaved, so that each sees the same load; medians reported
#   ANCHOR_REPEAT=1 ...      # rounds for the other engines (default 1: DuckDB alone takes a
#                            # minute at 20,000 codes)
#   PYTHON=1 ...             # the Python engines and the Dask driver, from a venv this script
#                            # makes (VENV, default ~/.cache/bounded-executor/python)
#   LARGE_ROWS=50000000 ...  # also the stream on a 50M-row file (845 MB), interleaved with 5M
#   BASE_BIN=/path/to/old/polars-filter ...  # also an older build, interleaved: before/after
#   BLOCK_SIZES="1M 4M" ...  # also the stream at each block size (all codes)
#   PER_CODE_ALL=1 ...       # also per-code on all the codes (5M x 20,000: about 6 minutes)
#   ROWS=1000000 CODES=1000 ...  # another shape
#
# Prints Markdown tables; the example's README holds the latest ones.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../../.."

ROWS=${ROWS:-5000000}
CODES=${CODES:-20000}
SEED=${SEED:-1}
WORKERS=${WORKERS:-2}
REPEAT=${REPEAT:-3}
ANCHOR_REPEAT=${ANCHOR_REPEAT:-1}
VENV=${VENV:-$HOME/.cache/bounded-executor/python}
DATA=${DATA:-$(mktemp -d "${TMPDIR:-/tmp}/polars-compare.XXXXXX")}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/bounded-executor/target}"
export POLARS_MAX_THREADS=$WORKERS DUCKDB_THREADS=$WORKERS

if [ ! -x /usr/bin/time ]; then
    echo "compare.sh needs GNU time at /usr/bin/time (Debian/Ubuntu: apt-get install time)" >&2
    exit 1
fi
cargo build --release -p polars-filter >&2
BIN="$CARGO_TARGET_DIR/release/polars-filter"
mkdir -p "$DATA"
OUT=${OUT:-$DATA/out}
DISK_OUT=${DISK_OUT:-$DATA/disk}
PY=
if [ -n "${PYTHON:-}" ]; then
    [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check polars duckdb "dask[distributed]" >&2
    PY="$VENV/bin/python"
fi

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

big="$DATA/rows-$ROWS.csv"
generate "$ROWS" "$big"
codes_list "$CODES" >"$DATA/all-codes.txt"
codes_list "$CODES" | awk 'NR <= 3' >"$DATA/three-codes.txt"
three_re=$(paste -sd'|' "$DATA/three-codes.txt")
size=$(stat -c %s "$big")
if [ -n "${LARGE_ROWS:-}" ]; then
    large="$DATA/rows-$LARGE_ROWS.csv"
    generate "$LARGE_ROWS" "$large"
fi

# The jobs: each runs once per round, in this order, for its number of rounds.
keys=() cases=() names=() outs=() cmds=() rounds=() layouts=()
job() { # key case name rounds layout outdir command (one string, run by eval)
    keys+=("$1") cases+=("$2") names+=("$3") rounds+=("$4") layouts+=("$5") outs+=("$6")
    cmds+=("$7")
}
pf() { # outdir codes-file extra... : a polars-filter command line
    local out=$1 codes=$2; shift 2
    echo "$BIN --csv $big --codes-file $codes --workers $WORKERS --out $out --quiet $*"
}
all="$ROWS rows, $CODES codes, all wanted"
three="$ROWS rows, 3 codes wanted"
A=$DATA/all-codes.txt T=$DATA/three-codes.txt
job all-stream "$all" "polars-filter (stream, default)" "$REPEAT" pf "$OUT" "$(pf "$OUT" "$A")"
if [ -n "${BASE_BIN:-}" ]; then
    job all-base "$all" "polars-filter (stream), older build" "$REPEAT" pf "$OUT" \
        "$(pf "$OUT" "$A" | sed "s|^$BIN|$BASE_BIN|")"
fi
job all-processes "$all" "polars-filter --processes" "$REPEAT" pf "$OUT" \
    "$(pf "$OUT" "$A" --processes)"
job all-partition "$all" "polars-filter --strategy partition-by" "$REPEAT" pf "$OUT" \
    "$(pf "$OUT" "$A" --strategy partition-by)"
[ -n "${PER_CODE_ALL:-}" ] && job all-per-code "$all" "polars-filter --strategy per-code" 1 pf \
    "$OUT" "$(pf "$OUT" "$A" --strategy per-code)"
for bs in ${BLOCK_SIZES:-}; do
    job "all-bs-$bs" "$all" "polars-filter --block-size $bs" "$REPEAT" pf "$OUT" \
        "$(pf "$OUT" "$A" --block-size "$bs")"
done
job three-stream "$three" "polars-filter (stream, default)" "$REPEAT" pf "$OUT" "$(pf "$OUT" "$T")"
if [ -n "${BASE_BIN:-}" ]; then
    job three-base "$three" "polars-filter (stream), older build" "$REPEAT" pf "$OUT" \
        "$(pf "$OUT" "$T" | sed "s|^$BIN|$BASE_BIN|")"
fi
job three-processes "$three" "polars-filter --processes" "$REPEAT" pf "$OUT" \
    "$(pf "$OUT" "$T" --processes)"
job three-per-code "$three" "polars-filter --strategy per-code" "$REPEAT" pf "$OUT" \
    "$(pf "$OUT" "$T" --strategy per-code)"
job three-partition "$three" "polars-filter --strategy partition-by" "$REPEAT" pf "$OUT" \
    "$(pf "$OUT" "$T" --strategy partition-by)"
if [ -n "$PY" ]; then
    E="$PY $here/engines.py"
    for c in all three; do
        [ $c = all ] && { k=all; codes=$A; case_=$all; } || { k=three; codes=$T; case_=$three; }
        job "$k-sink" "$case_" "Polars' streaming engine, partitioned sink" "$ANCHOR_REPEAT" \
            hive "$OUT" "$E polars-sink --csv $big --codes-file $codes --out $OUT"
        job "$k-duckdb" "$case_" "DuckDB COPY ... PARTITION_BY" "$ANCHOR_REPEAT" hive "$OUT" \
            "$E duckdb --csv $big --codes-file $codes --out $OUT"
        job "$k-python" "$case_" "Python Polars, streaming collect + partition_by" \
            "$ANCHOR_REPEAT" flat "$OUT" \
            "$PY $here/python_compare.py --csv $big --codes-file $codes --out $OUT"
        job "$k-dask" "$case_" "Dask driver, 2 local workers (distributed/)" "$ANCHOR_REPEAT" pf \
            "$OUT" "$PY $here/../distributed/driver.py --bin $BIN --csv $big --codes-file $codes \
            --out $OUT --workers $WORKERS --block-size 16M"
    done
fi
if command -v xsv >/dev/null; then
    job all-xsv "$all" "xsv partition" "$ANCHOR_REPEAT" flat "$OUT" \
        "xsv partition code $OUT $big"
    job three-xsv "$three" "xsv search -s code | xsv partition" "$ANCHOR_REPEAT" flat "$OUT" \
        "xsv search -s code '^($three_re)\$' $big | xsv partition code $OUT"
fi
job floor "file-operations floor: $CODES files of 4 KiB, one thread" "Python: create, write, \
rename" "$REPEAT" none "$OUT/floor" "python3 $here/engines.py floor --out $OUT/floor --files $CODES"
if [ "${DISK:-1}" != 0 ]; then
    # On disk, each run writes a directory of its own (@R@: the round), removed only at the end:
    # ext4 makes a file created soon after many were deleted cost far more (its inode allocator
    # skips recently deleted inodes), which would charge each run for the previous one's clean-up.
    job disk-stream "$all, outputs on disk" "polars-filter (stream, default)" "$REPEAT" pf \
        "$DISK_OUT/stream-@R@" "$(pf "$DISK_OUT/stream-@R@" "$A")"
    job disk-floor "file-operations floor on disk" "Python: create, write, rename" "$REPEAT" none \
        "$DISK_OUT/floor-@R@" "python3 $here/engines.py floor --out $DISK_OUT/floor-@R@ --files $CODES"
fi
if [ -n "${LARGE_ROWS:-}" ]; then
    job large-stream "$LARGE_ROWS rows, $CODES codes, all wanted" \
        "polars-filter (stream, default)" "$REPEAT" pf "$OUT" \
        "$BIN --csv $large --codes-file $A --workers $WORKERS --out $OUT --quiet"
fi

# Data rows in an output directory (every file's lines but its header; the generated data has no
# quoted line breaks), and a checksum of its <code>.csv names and contents (pf layout only).
# (xargs may run awk more than once: the counts are summed.)
rows_in() {
    find "$1" -type f -name '*.csv' -print0 | xargs -0 -r awk 'FNR > 1 { n++ } END { print n + 0 }' |
        awk '{ s += $1 } END { print s + 0 }'
}
checksum() {
    (cd "$1" && { find . -maxdepth 1 -type f -name '*.csv' | sort;
        find . -maxdepth 1 -type f -name '*.csv' -print0 | sort -z | xargs -0 cat --; } |
        sha256sum | cut -c1-12)
}

results="$DATA/results.tsv"
: >"$results"
max_rounds=$REPEAT
(( ANCHOR_REPEAT > max_rounds )) && max_rounds=$ANCHOR_REPEAT
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, commit $(git rev-parse --short HEAD)," \
    "$ROWS rows ($size bytes), $CODES codes, seed $SEED, $WORKERS threads for every engine," \
    "outputs in $OUT, $max_rounds round(s)" >&2
for ((r = 1; r <= max_rounds; r++)); do
    for i in "${!keys[@]}"; do
        (( r <= rounds[i] )) || continue
        out=${outs[$i]//@R@/$r}
        cmd=${cmds[$i]//@R@/$r}
        rm -rf "$out"
        # Nothing left for the kernel to write back from earlier runs: it would throttle this one.
        sync
        load=$(cut -d' ' -f1 /proc/loadavg)
        status=ok
        # Wall time to the millisecond (time -v gives hundredths); CPU and RSS from time -v.
        t0=$(date +%s%N)
        if ! /usr/bin/time -v -o "$DATA/time.txt" bash -c "$cmd" \
            >"$DATA/stdout.txt" 2>"$DATA/stderr.txt"; then
            status="failed: $(tail -1 "$DATA/stderr.txt" | cut -c1-80 | tr "|" "/")"
        fi
        t1=$(date +%s%N)
        read -r wall cpu rss < <(awk -F': ' -v ns=$(( t1 - t0 )) '
            /User time/ { u = $2 } /System time/ { y = $2 }
            /Maximum resident set size/ { m = $2 * 1024 / 1e6 }
            END { printf "%.3f %.2f %.0f\n", ns / 1e9, u + y, m }' "$DATA/time.txt")
        rows=- sum=-
        if [ "$status" = ok ] && [ "${layouts[$i]}" != none ]; then
            rows=$(rows_in "$out")
            [ "${layouts[$i]}" = pf ] && sum=$(checksum "$out")
        fi
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "${keys[$i]}" "$wall" "$cpu" "$rss" "$rows" \
            "$sum" "$load" "$status" >>"$results"
        echo "round $r: ${keys[$i]}: $wall s, $cpu s CPU, $rss MB, load $load, $status" >&2
        [[ $out == "$DISK_OUT"/* ]] || rm -rf "$out"
    done
done

# Medians (and min-max) of wall and CPU, the highest peak RSS, the rows and the checksum of each
# job, as "wall|range|cpu|rss|rows|sum|loads|status".
summary() {
    awk -F'\t' -v k="$1" '
    function isort(a, n,   i, j, t) {
        for (i = 2; i <= n; i++) {
            t = a[i]
            for (j = i - 1; j >= 1 && a[j] + 0 > t + 0; j--) a[j + 1] = a[j]
            a[j + 1] = t
        }
    }
    $1 == k {
        n++; w[n] = $2; c[n] = $3; if ($4 > r) r = $4; rows = $5; sum = $6
        loads = loads (loads == "" ? "" : ", ") $7
        if ($8 != "ok") status = $8 }
    END {
        if (n == 0) { print "||||||| not run"; exit }
        isort(w, n); isort(c, n); m = int((n + 1) / 2)
        range = n > 1 ? sprintf("%s-%s", w[1], w[n]) : ""
        printf "%s|%s|%s|%s|%s|%s|%s|%s\n", w[m], range, c[m], r, rows, sum, loads, status }' \
        "$results"
}
field() { cut -d'|' -f"$2" <<<"$(summary "$1")"; }

echo
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, commit $(git rev-parse --short HEAD)," \
    "$ROWS rows ($size bytes), $CODES codes, seed $SEED, $WORKERS threads for every engine," \
    "outputs in $OUT; medians of $REPEAT interleaved rounds (other engines: $ANCHOR_REPEAT)"
echo
echo "| case | engine | wall s (min-max) | CPU s (user+sys) | peak RSS MB | rows written | output sha256 | load avg at each run |"
echo "|---|---|---:|---:|---:|---:|---|---|"
for i in "${!keys[@]}"; do
    IFS='|' read -r wall range cpu rss rows sum loads status <<<"$(summary "${keys[$i]}")"
    [ -n "$range" ] && wall="$wall ($range)"
    [ -n "$status" ] && wall="$status"
    echo "| ${cases[$i]} | ${names[$i]} | $wall | $cpu | $rss | $rows | $sum | $loads |"
done

echo
echo "The issue's table (medians; 2 threads for every engine; outputs in $OUT):"
echo
echo "| engine | $CODES codes, all wanted | peak RSS | 3 codes wanted | peak RSS |"
echo "|---|---:|---:|---:|---:|"
for pair in "stream:polars-filter (stream, default)" "base:polars-filter, older build" \
    "processes:polars-filter --processes" "partition:polars-filter --strategy partition-by" \
    "sink:Polars' partitioned sink" "duckdb:DuckDB COPY ... PARTITION_BY" \
    "python:Python Polars, collect + partition_by" "xsv:xsv" "dask:Dask driver, 2 workers"; do
    k=${pair%%:*} name=${pair#*:}
    cell() { # key
        local s; s=$(summary "$1")
        case "$s" in *"not run"*) echo "|" ;; *)
            IFS='|' read -r wall _ cpu rss _ _ _ status <<<"$s"
            if [ -n "$status" ]; then echo "${status%%:*} | "; else echo "$wall s ($cpu s CPU) | $rss MB"; fi ;;
        esac
    }
    a=$(cell "all-$k") t=$(cell "three-$k")
    [ "$a$t" = "||" ] && continue
    echo "| $name | $a | $t |"
done

# Every engine must have written the same rows; polars-filter's outputs the same bytes.
echo
check=0
for c in all three; do
    want=$(field "$c-stream" 5)
    sum=$(field "$c-stream" 6)
    bad=0
    for i in "${!keys[@]}"; do
        [[ ${keys[$i]} == $c-* ]] || continue
        rows=$(field "${keys[$i]}" 5) s=$(field "${keys[$i]}" 6)
        [ -n "$(field "${keys[$i]}" 8)" ] && continue
        if [ "$rows" != "$want" ]; then
            echo "ROWS DIFFER: ${names[$i]} wrote $rows rows, the stream $want (${cases[$i]})"
            check=1 bad=1
        fi
        if [ "$s" != - ] && [ "$s" != "$sum" ]; then
            echo "BYTES DIFFER: ${names[$i]}'s files are not the stream's (${cases[$i]})"
            check=1 bad=1
        fi
    done
    label=$CODES; [ $c = three ] && label=3
    (( bad )) && continue
    echo "$label codes: every engine that ran wrote $want rows; every polars-filter output (the Dask driver's included, with PYTHON=1) is byte-identical ($sum)"
done

# Issue 22's targets.
met() { # measured limit
    case "$1" in "" | - | *[!0-9.]*) echo "not measured"; return ;; esac
    awk -v a="$1" -v b="$2" 'BEGIN { print (a + 0 <= b + 0) ? "met" : "not met" }'
}
ratio() {
    case "$1$2" in "" | *-* | *[!0-9.]*) echo "-"; return ;; esac
    awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'
}
echo
echo "| target | measured (medians) | |"
echo "|---|---|---|"
w=$(field three-stream 1) m=$(field three-stream 4)
echo "| 3 codes wanted: <= 0.12 s, peak RSS <= 48 MB | $w s ($(field three-stream 3) s CPU), $m MB | wall $(met "$w" 0.12), RSS $(met "$m" 48) |"
w=$(field all-stream 1) m=$(field all-stream 4)
echo "| $CODES codes: <= 0.8 s, peak RSS <= 200 MB | $w s ($(field all-stream 3) s CPU), $m MB | wall $(met "$w" 0.8), RSS $(met "$m" 200) |"
if [ "${DISK:-1}" != 0 ]; then
    d=$(field disk-stream 1) f=$(field disk-floor 1) x=$(ratio "$(field disk-stream 1)" "$(field disk-floor 1)")
    echo "| on disk: <= 1.2x the file-operations floor | $d s against $f s: ${x}x (tmpfs: $(field all-stream 1) s against $(field floor 1) s) | $(met "$x" 1.2) |"
fi
if [ -n "${LARGE_ROWS:-}" ]; then
    x=$(ratio "$(field large-stream 4)" "$(field all-stream 4)")
    echo "| $LARGE_ROWS rows: peak RSS <= 1.25x the $ROWS-row run's | $(field large-stream 4) MB against $(field all-stream 4) MB: ${x}x (wall $(field large-stream 1) s) | $(met "$x" 1.25) |"
fi
if [ -n "$PY" ]; then
    echo "| Dask driver, 2 local workers: byte-identical to stream, wall reported | $(field all-dask 1) s ($CODES codes), $(field three-dask 1) s (3 codes); sha $(field all-dask 6) / $(field three-dask 6) | $([ "$(field all-dask 6)" = "$(field all-stream 6)" ] && echo identical || echo DIFFERENT) |"
fi
echo
[ -n "${LARGE_ROWS:-}" ] && [ -z "${KEEP:-}" ] && rm -f "$large"
rm -rf "$OUT" "$DISK_OUT"
echo "(data and every run's figures, $results, in $DATA; remove it when done)"
exit $check
