#!/usr/bin/env bash
# Fuzzes the code that reads untrusted input with libFuzzer (clang-19, ASan + UBSan): the safetensors
# reader, the config parsers (and small models built from what they accept) and the prompt path.
# Usage: scripts/fuzz.sh [seconds per harness, default 300] [harness...] (safetensors config prompt)
#   npm test runs it for 30 s per harness; `npm run fuzz` for 300 s.
# Every harness first replays its seed corpus (tests/fuzz/corpus/<harness>/) and the inputs that once
# crashed it (tests/fuzz/regressions/<harness>/), then fuzzes from a working corpus kept in the build
# tree. A crash leaves its input in test-output/fuzz/ (add it to tests/fuzz/regressions/<harness>/
# with the fix) and fails the run. Prints executions and coverage (edges, features) per harness.
set -uo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
seconds="${1:-300}"
shift || true
harnesses=("$@")
if [ ${#harnesses[@]} -eq 0 ]; then harnesses=(safetensors config prompt); fi
build="${GYRE_BUILD_DIR:-build}/fuzz"
out="test-output/fuzz"
mkdir -p "$out"

if ! command -v clang++-19 >/dev/null; then
  echo "fuzz: clang++-19 is missing (scripts/setup.sh installs clang-19 and libclang-rt-19-dev)" >&2
  exit 1
fi
generator=()
if command -v ninja >/dev/null; then generator=(-G Ninja); fi
if [ ! -f "$build/CMakeCache.txt" ]; then
  CC=clang-19 CXX=clang++-19 cmake -S "$repo" -B "$build" "${generator[@]}" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGYRE_FUZZ=ON -DGYRE_WERROR=OFF >"$out/configure.log" 2>&1 ||
    { cat "$out/configure.log"; exit 1; }
fi
cmake --build "$build" -j "${GYRE_JOBS:-2}" || exit 1

status=0
for harness in "${harnesses[@]}"; do
  binary="$build/fuzz_$harness"
  corpus="$build/corpus-$harness"
  mkdir -p "$corpus"
  inputs=("tests/fuzz/corpus/$harness")
  [ -d "tests/fuzz/regressions/$harness" ] && inputs+=("tests/fuzz/regressions/$harness")
  options=(-print_final_stats=1 -timeout=10 -rss_limit_mb=2048 -max_len=4096
           -artifact_prefix="$out/$harness-")
  [ -f "tests/fuzz/$harness.dict" ] && options+=(-dict="tests/fuzz/$harness.dict")
  log="$out/$harness.log"
  echo "== fuzz $harness: ${seconds} s"
  # Replay: every seed and regression input once, as plain runs.
  if ! "$binary" "${options[@]}" -runs=0 "${inputs[@]}" >"$log.replay" 2>&1; then
    echo "fuzz $harness: a seed or regression input fails:"; tail -40 "$log.replay"; status=1; continue
  fi
  if "$binary" "${options[@]}" -max_total_time="$seconds" "$corpus" "${inputs[@]}" >"$log" 2>&1; then
    result=ok
  else
    result=FAILED; status=1
    grep -A30 -E "ERROR: (AddressSanitizer|libFuzzer)|runtime error" "$log" | head -60
  fi
  executions=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$')
  rate=$(grep -oE 'stat::average_exec_per_sec: *[0-9]+' "$log" | grep -oE '[0-9]+$')
  coverage=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1)
  files=$(find "$corpus" -type f | wc -l)
  echo "fuzz $harness: $result, ${executions:-?} executions (${rate:-?}/s), ${coverage:-cov: ?} (edges, features), corpus $files files"
done
exit $status
