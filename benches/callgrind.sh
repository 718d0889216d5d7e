#!/usr/bin/env bash
# Instructions per no-op task, counted by callgrind: issue 13's "instructions per no-op task
# (submit + run + release) ≤ 1.2× the floor's".
#
# Builds the throughput bench in release, then for each pool runs it under
# `valgrind --tool=callgrind` in its `BENCH_ONLY` mode (one pool, one run, no calibration) twice:
# once with N no-op tasks and once with N0. The difference over N - N0 is the instructions per task
# of every thread together: the producer's submit, the worker's run, the release and any waiting
# (spins and futex calls included), without building and tearing down the pool. Each count is the
# median of REPEAT runs, since under valgrind the threads take turns and spinning varies.
#
#   benches/callgrind.sh                                  # floor, bounded4, threadpool, ours-default, ours-execute
#   POOLS="floor ours-default" N=200000 REPEAT=5 benches/callgrind.sh
#   VALGRIND_ARGS=--fair-sched=yes benches/callgrind.sh  # round-robin thread scheduling
#   EXE=/path/to/throughput benches/callgrind.sh           # a bench binary built elsewhere (to compare builds)
#   KEEP=/tmp/cg benches/callgrind.sh                     # keep each pool's last N-task profile,
#       one file per thread: callgrind_annotate /tmp/cg/ours-default.out-04 (04: the producer)
#
# Under valgrind one thread runs at a time, so a bounded pool's producer finds it full and waits
# on nearly every task: the counts include each pool's waiting protocol (spin, yield, futex), run
# on valgrind's scheduler. The per-task figures are steady run to run (±2%), but the absolute
# level shifts with the scheduler (--fair-sched=yes gives the floor ~510 instead of ~610): compare
# pools within one run of this script.
#
# The floor (workers draining an unbounded crossbeam channel) must be in POOLS: it is the
# reference for the ratios. Needs valgrind; uses CARGO_TARGET_DIR if set.
set -euo pipefail

cd "$(dirname "$0")/.."
POOLS=${POOLS:-"floor bounded4 threadpool ours-default ours-execute"}
N=${N:-100000}
N0=${N0:-0}
REPEAT=${REPEAT:-3}
VALGRIND_ARGS=${VALGRIND_ARGS:-}
KEEP=${KEEP:-}

exe=${EXE:-}
[ -n "$exe" ] || exe=$(cargo bench -p bounded-executor --bench throughput --no-run --message-format=json 2>/dev/null |
    grep -o '"executable":"[^"]*throughput[^"]*"' | tail -1 | cut -d'"' -f4)
[ -x "$exe" ] || { echo "callgrind.sh: could not build the throughput bench" >&2; exit 1; }

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# Total instructions (Ir) of one run of pool $1 with $2 tasks, every thread together.
count() {
    # shellcheck disable=SC2086 # VALGRIND_ARGS is a list of options
    BENCH_ONLY=$1 BENCH_N=$2 valgrind --tool=callgrind --separate-threads=yes $VALGRIND_ARGS \
        --callgrind-out-file="$out/$1.$2.out" "$exe" >/dev/null 2>"$out/log"
    grep -o 'Collected : [0-9]*' "$out/log" | grep -o '[0-9]*$'
    if [ -n "$KEEP" ] && [ "$2" = "$N" ]; then
        mkdir -p "$KEEP"
        for f in "$out/$1.$2.out"-*; do cp "$f" "$KEEP/$1.out-${f##*-}"; done
    fi
    rm -f "$out/$1.$2.out"*
}

# The median of REPEAT counts.
median_count() {
    for _ in $(seq "$REPEAT"); do count "$1" "$2"; done | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

echo "callgrind: instructions per no-op task, 1 producer, N = $N minus N = $N0, median of $REPEAT; $(valgrind --version) ${VALGRIND_ARGS}"
echo
echo "| pool | Ir at N | Ir at N0 | Ir per task | vs floor |"
echo "|---|---:|---:|---:|---:|"
declare -A per_task
for pool in $POOLS; do
    big=$(median_count "$pool" "$N")
    small=$(median_count "$pool" "$N0")
    per_task[$pool]=$(awk -v b="$big" -v s="$small" -v n="$N" -v n0="$N0" 'BEGIN {printf "%.0f", (b - s) / (n - n0)}')
    floor=${per_task[floor]:-}
    ratio=$([ -n "$floor" ] && awk -v p="${per_task[$pool]}" -v f="$floor" 'BEGIN {printf "%.2f×", p / f}' || echo "")
    echo "| $pool | $big | $small | ${per_task[$pool]} | $ratio |"
done

if [ -n "${per_task[floor]:-}" ] && [ -n "${per_task[ours-default]:-}" ]; then
    echo
    awk -v p="${per_task[ours-default]}" -v f="${per_task[floor]}" 'BEGIN {
        r = p / f
        printf "target: instructions per no-op task, default / floor ≤ 1.2×: %d / %d = %.2f× (%s)\n", p, f, r, (r <= 1.2 ? "met" : "not met")
    }'
fi
