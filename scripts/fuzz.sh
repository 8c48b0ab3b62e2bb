#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for FUZZ_SECONDS seconds each (default 15), starting from
# the committed corpus in fuzz/corpus/ (new inputs go to a scratch folder, not the repository).
# The stable toolchain runs cargo-fuzz through RUSTC_BOOTSTRAP=1 (it needs -Zsanitizer and
# friends). Prints the executions of each target and their total; fails on any crash.
# FUZZ_SANITIZER (default none) picks cargo-fuzz's sanitizer: the crate forbids unsafe code, so
# AddressSanitizer finds little here, while its instrumented build costs many minutes in CI;
# libFuzzer's coverage guidance and crash (panic) detection work the same without it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SECONDS_EACH="${FUZZ_SECONDS:-15}"
SANITIZER="${FUZZ_SANITIZER:-none}"
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "cargo-fuzz is missing: installing it from crates.io"
  start=$(date +%s)
  cargo install --locked cargo-fuzz
  echo "cargo-fuzz installed in $(( $(date +%s) - start )) s"
fi

cd "$ROOT/fuzz"
start=$(date +%s)
cargo fuzz build -O -s "$SANITIZER"
echo "fuzz targets built in $(( $(date +%s) - start )) s"

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
total=0
for target in $(cargo fuzz list); do
  mkdir -p "$scratch/$target"
  log="$scratch/$target.log"
  if ! cargo fuzz run -O -s "$SANITIZER" "$target" "$scratch/$target" "corpus/$target" -- \
      -max_total_time="$SECONDS_EACH" -rss_limit_mb=4096 -print_final_stats=1 >"$log" 2>&1; then
    tail -n 60 "$log"
    echo "fuzz target $target failed"
    exit 1
  fi
  runs="$(grep -Eo 'Done [0-9]+ runs' "$log" | grep -Eo '[0-9]+' | tail -n 1)"
  runs="${runs:-0}"
  total=$(( total + runs ))
  echo "fuzz: $target: $runs executions in ${SECONDS_EACH} s"
done
echo "fuzz: $total executions in all"
