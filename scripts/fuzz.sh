#!/usr/bin/env bash
# Builds the fuzz targets under fuzz/ with libFuzzer's coverage
# instrumentation on the stable toolchain (the flags cargo-fuzz passes,
# minus the nightly-only sanitizer), then runs each target from its corpus
# (fuzz/corpus/T) and its crash regressions (fuzz/regressions/T) for a
# bounded time. New crashes are written to fuzz/regressions/T/ and fail the
# run; new corpus entries go to fuzz/corpus/T only with --grow.
#
#   scripts/fuzz.sh [--time SECS] [--jobs N] [--grow] [TARGET ...]
#
# Default: every target, 20 s each. Prints executions and coverage per target.
set -euo pipefail
cd "$(dirname "$0")/.."
time=20
jobs=1
grow=0
targets=()
while [ $# -gt 0 ]; do
    case "$1" in
        --time) time="$2"; shift 2 ;;
        --jobs) jobs="$2"; shift 2 ;;
        --grow) grow=1; shift ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) targets+=("$1"); shift ;;
    esac
done
all=(wire l2 l3 netlink routes_file)
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")

export RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module \
 -Cllvm-args=-sanitizer-coverage-level=4 \
 -Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
 -Cllvm-args=-sanitizer-coverage-pc-table \
 -Cllvm-args=-sanitizer-coverage-trace-compares \
 -Cdebug-assertions -Coverflow-checks"
export CARGO_TARGET_DIR="${XSKFWD_FUZZ_TARGET_DIR:-$PWD/target/fuzz}"
# Only the forwarder's own crates are instrumented meaningfully; building
# the lot with these flags is what cargo-fuzz does too.
# An explicit --target keeps RUSTFLAGS off build scripts (as cargo-fuzz does).
host=$(rustc -vV | sed -n 's/^host: //p')
cargo build --locked --manifest-path fuzz/Cargo.toml --release --bins --target "$host" >&2
bin="$CARGO_TARGET_DIR/$host/release"

fail=0
for t in "${targets[@]}"; do
    corpus="fuzz/corpus/$t"
    regress="fuzz/regressions/$t"
    mkdir -p "$corpus" "$regress"
    work=$(mktemp -d)
    # The run writes new inputs into its first directory: a scratch copy
    # unless asked to grow the committed corpus.
    if [ "$grow" = 1 ]; then
        first="$PWD/$corpus"
    else
        mkdir "$work/scratch"; cp -r "$corpus/." "$work/scratch/"; first="$work/scratch"
    fi
    log="$work.log"
    set +e
    par=()
    # -jobs makes libFuzzer fork workers that log to fuzz-N.log in the
    # current directory: only when asked for more than one.
    [ "$jobs" -gt 1 ] && par=(-jobs="$jobs" -workers="$jobs")
    (cd "$work" && "$bin/$t" "$first" "$OLDPWD/$corpus" "$OLDPWD/$regress" \
        -max_total_time="$time" "${par[@]}" \
        -max_len=4096 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$OLDPWD/$regress/" >"$log" 2>&1)
    rc=$?
    set -e
    cat "$work"/fuzz-*.log >>"$log" 2>/dev/null || true
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | awk '{s+=$2} END {print s+0}')
    cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -1 | awk '{print $2}')
    ft=$(grep -Eo 'ft: [0-9]+' "$log" | tail -1 | awk '{print $2}')
    if [ $rc -ne 0 ]; then
        echo "fuzz $t: FAILED (exit $rc) — input saved under $regress/, log follows" >&2
        tail -40 "$log" >&2
        fail=1
    else
        echo "fuzz $t: ${time}s, ${execs} executions, coverage ${cov:-?} edges, ${ft:-?} features, corpus $(ls "$corpus" | wc -l) files, no crash"
    fi
    rm -rf "$work" "$log"
done
exit $fail
