#!/usr/bin/env bash
# `npm test`: installs what is missing, builds every flavour, then runs every suite and ends with a
# summary line. Exits non-zero when any suite fails (later suites still run, so one report shows all).
#   GYRE_SKIP_SETUP=1   skip scripts/setup.sh (already done)
#   GYRE_BUILD_DIR      build root (default: build)
set -uo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
build_root="${GYRE_BUILD_DIR:-build}"
export GYRE_BUILD_DIR="$build_root"
export NODE_PATH="${NODE_PATH:-/usr/share/nodejs}"
mkdir -p test-output

if [ "${GYRE_SKIP_SETUP:-0}" != 1 ]; then
  bash scripts/setup.sh || { echo "test: setup failed"; echo "suites: 0 passed, 1 failed"; exit 1; }
fi
passed=()
failed=()
# A failed build is reported, and the suites still run on whatever was built.
if ! bash scripts/build.sh; then
  failed+=("build")
  echo "=== build: FAILED (the suites below run on what did build)"
fi
suite() {  # suite <name> <command...>
  local name="$1"; shift
  local start=$SECONDS
  echo
  echo "=== $name: $*"
  if "$@"; then
    passed+=("$name")
    echo "=== $name: passed ($((SECONDS - start)) s)"
  else
    failed+=("$name")
    echo "=== $name: FAILED ($((SECONDS - start)) s)"
  fi
}

suite "native doctest (ctest)" ctest --test-dir "$build_root/native" --output-on-failure
# Node 20 runs relaxed SIMD behind a flag (browsers since Chrome 114 without one).
relaxed_flag=--experimental-wasm-relaxed-simd
for flavour in simd relaxed scalar; do
  # --no-experimental-fetch: Emscripten's Node loader would otherwise fetch() a file path.
  suite "wasm-$flavour doctest (node)" \
    node --no-experimental-fetch $relaxed_flag "$build_root/wasm-$flavour/gyre_tests.js" --no-colors=true
done
# libFuzzer on the parsers and the prompt path, 30 s per harness (npm run fuzz runs longer).
suite "fuzz (libFuzzer, ASan + UBSan, 3 harnesses x 30 s)" bash scripts/fuzz.sh 30
suite "js api (node --test, every flavour)" node $relaxed_flag --test tests/js/
suite "chromium e2e (node --test)" node --test tests/e2e/
if [ -f models/train/smoke_test.py ]; then
  suite "training smoke test (python)" /usr/bin/python3 models/train/smoke_test.py
fi

echo
echo "=== summary"
for name in "${passed[@]}"; do echo "  passed  $name"; done
for name in "${failed[@]}"; do echo "  FAILED  $name"; done
echo "suites: ${#passed[@]} passed, ${#failed[@]} failed"
[ ${#failed[@]} -eq 0 ]
