#!/usr/bin/env bash
# Installs what Gyre needs on Debian 12 + Node 20: system packages (apt-get, when run as root;
# otherwise prints the command and stops) and the npm packages (npm ci when node_modules is missing
# or older than package-lock.json). Safe to re-run: does nothing when everything is present.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

# One package per line so that engineers can add theirs with a one-line edit.
packages=(
  cmake
  ninja-build
  g++
  emscripten
  binaryen
  doctest-dev
  nlohmann-json3-dev
  libxnnpack-dev
  libpthreadpool-dev
  chromium
  python3-torch
  libopenblas0-openmp
  python3-numpy
  python3-matplotlib
  python3-pil
  python3-onnx
  libonnx-testdata
  libsimde-dev
  clang-19
  libclang-rt-19-dev
)

missing=()
for package in "${packages[@]}"; do
  status="$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null || true)"
  if [ "$status" != installed ]; then missing+=("$package"); fi
done

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    echo "setup: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y "${missing[@]}"
  else
    echo "setup: missing system packages: ${missing[*]}" >&2
    echo "setup: run this, then try again:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

if ! command -v node >/dev/null || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "setup: Gyre needs Node.js 20 or newer (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

# npm records what it installed in node_modules/.package-lock.json; reinstall when the lock is newer.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund
fi
echo "setup: ok"
