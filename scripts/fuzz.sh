#!/usr/bin/env bash
# Runs the libFuzzer targets of a PODCACHE_FUZZ=ON build (make fuzz) and prints one table row per
# target: seconds run, executions, coverage (cov: and ft: of libFuzzer's last status line), corpus
# size and crashes.
#
#   scripts/fuzz.sh BUILD_DIR [TARGET...]     (default: every fuzz_* binary of BUILD_DIR/fuzz)
#   FUZZ_SECONDS=60   how long each target runs
#   FUZZ_JOBS=1       how many targets run at once
#
# Each target starts from the checked-in corpus fuzz/corpus/<name>; what it finds new goes to
# BUILD_DIR/corpus/<name> (kept across runs), crashes, leaks and timeouts to
# BUILD_DIR/artifacts/<name>/, its output to BUILD_DIR/logs/<name>.log. Exits 1 when any target
# crashed, leaked or timed out.
set -uo pipefail

if [ $# -lt 1 ]; then
  echo "usage: $0 BUILD_DIR [TARGET...]" >&2
  exit 2
fi
BUILD="$(cd "$1" && pwd)"
shift
SRC="$(cd "$(dirname "$0")/.." && pwd)"
SECONDS_EACH="${FUZZ_SECONDS:-60}"
JOBS="${FUZZ_JOBS:-1}"

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for bin in "$BUILD"/fuzz/fuzz_*; do
    [ -x "$bin" ] && targets+=("$(basename "$bin" | sed 's/^fuzz_//')")
  done
fi
if [ ${#targets[@]} -eq 0 ]; then
  echo "fuzz.sh: no fuzz_* binaries in $BUILD/fuzz (configure with -DPODCACHE_FUZZ=ON)" >&2
  exit 2
fi
mkdir -p "$BUILD/logs" "$BUILD/results"
# Crash reports with function names and lines: the sanitizers find no symbolizer by themselves
# here (clang-16 comes without llvm-symbolizer-16), so name one; addr2line (binutils) works too.
if [ -z "${ASAN_SYMBOLIZER_PATH:-}" ]; then
  for candidate in /usr/lib/llvm-16/bin/llvm-symbolizer "$(command -v llvm-symbolizer)" \
                   "$(command -v addr2line)"; do
    if [ -n "$candidate" ] && [ -x "$candidate" ]; then
      export ASAN_SYMBOLIZER_PATH="$candidate"
      break
    fi
  done
fi

# Runs one target; writes "seconds execs cov ft corpus crashes rc" to results/<name>.
run_target() {
  local name="$1" bin="$BUILD/fuzz/fuzz_$1"
  local corpus="$BUILD/corpus/$name" artifacts="$BUILD/artifacts/$name"
  local log="$BUILD/logs/$name.log" dict="$SRC/fuzz/$name.dict"
  mkdir -p "$corpus" "$artifacts"
  local before
  before="$(ls "$artifacts" | grep -v '^slow-unit-' | wc -l)"
  # -close_fd_mask=1: the targets' own log lines (stdout) would only slow them down.
  local args=(-max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048
              -print_final_stats=1 -close_fd_mask=1 -artifact_prefix="$artifacts/")
  [ -f "$dict" ] && args+=(-dict="$dict")
  local start=$SECONDS
  UBSAN_OPTIONS="print_stacktrace=1:${UBSAN_OPTIONS:-}" \
    "$bin" "${args[@]}" "$corpus" "$SRC/fuzz/corpus/$name" >"$log" 2>&1
  local rc=$?
  local took=$((SECONDS - start))
  local execs status cov ft corp crashes
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
  # The last status line: "#1234  NEW    cov: 567 ft: 890 corp: 12/3456b ..."
  status="$(grep -E '^#[0-9]+' "$log" | grep 'cov:' | tail -1)"
  [ -z "$execs" ] && execs="$(sed -n 's/^#\([0-9]*\).*/\1/p' <<<"$status")"
  cov="$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$status")"
  ft="$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$status")"
  corp="$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$status")"
  crashes=$(( $(ls "$artifacts" | grep -v '^slow-unit-' | wc -l) - before ))
  echo "$took ${execs:-0} ${cov:-?} ${ft:-?} ${corp:-?} $crashes $rc" >"$BUILD/results/$name"
}

echo "fuzz.sh: ${#targets[@]} targets, ${SECONDS_EACH}s each, $JOBS at a time; logs in $BUILD/logs"
for name in "${targets[@]}"; do
  if [ ! -x "$BUILD/fuzz/fuzz_$name" ]; then
    echo "fuzz.sh: no target $name ($BUILD/fuzz/fuzz_$name)" >&2
    exit 2
  fi
  rm -f "$BUILD/results/$name"
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n; done
  echo "fuzz.sh: running $name"
  run_target "$name" &
done
wait

failed=0
printf '\n%-16s %8s %12s %8s %8s %8s %8s  %s\n' target seconds executions cov ft corpus crashes result
for name in "${targets[@]}"; do
  read -r took execs cov ft corp crashes rc <"$BUILD/results/$name" 2>/dev/null ||
    { took=0 execs=0 cov=? ft=? corp=? crashes=? rc=1; }
  result=ok
  if [ "$rc" -ne 0 ] || [ "$crashes" != 0 ]; then
    result="FAILED (exit $rc): see $BUILD/logs/$name.log, inputs in $BUILD/artifacts/$name/"
    failed=1
  fi
  printf '%-16s %8s %12s %8s %8s %8s %8s  %s\n' "$name" "$took" "$execs" "$cov" "$ft" "$corp" \
    "$crashes" "$result"
done
exit $failed
