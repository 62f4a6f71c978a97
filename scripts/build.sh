#!/usr/bin/env bash
# Builds the engine natively and to wasm (SIMD128, relaxed SIMD and scalar), incrementally, then
# copies the wasm modules to web/lib/wasm/.
# Usage: scripts/build.sh [native] [wasm-simd] [wasm-relaxed] [wasm-scalar] [wasm-simd-threads]
#                        [wasm-relaxed-threads] (default: all)
#   GYRE_BUILD_DIR  build root (default: build; use build-<you> for a private tree)
#   GYRE_JOBS       parallel compile jobs (default: 2, the machine is shared)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
build_root="${GYRE_BUILD_DIR:-build}"
jobs="${GYRE_JOBS:-2}"
# Debian's Emscripten imports Debian's acorn from here.
export NODE_PATH="${NODE_PATH:-/usr/share/nodejs}"

generator=()
if command -v ninja >/dev/null; then generator=(-G Ninja); fi

flavours=("$@")
if [ ${#flavours[@]} -eq 0 ]; then flavours=(native wasm-simd wasm-relaxed wasm-scalar wasm-simd-threads wasm-relaxed-threads); fi

configure() {  # configure <dir> <cmake...>: only when not configured yet; later runs re-glob by themselves
  local dir="$1"; shift
  if [ ! -f "$dir/CMakeCache.txt" ]; then "$@" -S "$repo" -B "$dir" "${generator[@]}"; fi
}

failed=()
for flavour in "${flavours[@]}"; do
  dir="$build_root/$flavour"
  echo "== build $flavour ($dir)"
  case "$flavour" in
    native) configure "$dir" cmake -DCMAKE_BUILD_TYPE=Release ;;
    wasm-simd) configure "$dir" emcmake cmake -DCMAKE_BUILD_TYPE=Release -DGYRE_WASM_SIMD=ON ;;
    wasm-relaxed) configure "$dir" emcmake cmake -DCMAKE_BUILD_TYPE=Release -DGYRE_WASM_RELAXED=ON ;;
    wasm-scalar) configure "$dir" emcmake cmake -DCMAKE_BUILD_TYPE=Release -DGYRE_WASM_SIMD=OFF ;;
    wasm-simd-threads) configure "$dir" emcmake cmake -DCMAKE_BUILD_TYPE=Release -DGYRE_WASM_SIMD=ON -DGYRE_WASM_THREADS=ON ;;
    wasm-relaxed-threads) configure "$dir" emcmake cmake -DCMAKE_BUILD_TYPE=Release -DGYRE_WASM_RELAXED=ON -DGYRE_WASM_THREADS=ON ;;
    *) echo "build.sh: unknown flavour '$flavour' (native, wasm-simd, wasm-relaxed, wasm-scalar, wasm-simd-threads, wasm-relaxed-threads)" >&2; exit 2 ;;
  esac
  # The threaded flavours build the engine module only: their kernels are the single-thread
  # flavours' (whose doctest suites run), and tests/js checks them bit for bit against those.
  targets=()
  case "$flavour" in *-threads) targets=(--target gyre_module) ;; esac
  # Keep going past a failing target, so one broken file does not hide the others' errors.
  keep_going=()
  if [ ${#generator[@]} -gt 0 ]; then keep_going=(-- -k 0); fi
  if ! cmake --build "$dir" -j "$jobs" "${targets[@]}" "${keep_going[@]}"; then failed+=("$flavour"); fi
  if [ "$flavour" != native ]; then
    name="gyre-${flavour#wasm-}"
    if [ -f "$dir/$name.wasm" ]; then
      mkdir -p web/lib/wasm
      # cp -p keeps timestamps, so an unchanged module is not seen as new by caches and watchers.
      exts=(js wasm)
      if [ -f "$dir/$name.worker.js" ]; then exts+=(worker.js); fi
      for ext in "${exts[@]}"; do
        cmp -s "$dir/$name.$ext" "web/lib/wasm/$name.$ext" || cp -p "$dir/$name.$ext" "web/lib/wasm/$name.$ext"
      done
    fi
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "build.sh: the build failed in: ${failed[*]}" >&2
  exit 1
fi
