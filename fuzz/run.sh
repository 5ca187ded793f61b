#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 60), seeded from fuzz/seeds/ (the RFCs' own
# examples, real headers and commands) and fuzz/corpus-min/ (the minimised corpus of a long
# campaign, where a target has one). Fails on the first crash or broken property; the input that
# did it is left in fuzz/artifacts/<target>/.
#
# Usage: bash fuzz/run.sh [SECONDS] [TARGET...]
#
# cargo-fuzz needs nightly-only compiler flags; on a stable toolchain RUSTC_BOOTSTRAP=1 lets
# this one build use them. Installs cargo-fuzz if missing.
set -euo pipefail
cd "$(dirname "$0")"
SECONDS_PER_TARGET="${1:-60}"
shift || true
TARGETS=("$@")
((${#TARGETS[@]})) || TARGETS=(decode_frame handshake reassemble_utf8 close_payload mask
  compressed_messages extension_header forwarded chat_command inspector_command lab_input)
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1

for target in "${TARGETS[@]}"; do
  mkdir -p "corpus/$target"
  cp -n seeds/"$target"/* "corpus/$target/" 2>/dev/null || true
  cp -n corpus-min/"$target"/* "corpus/$target/" 2>/dev/null || true
  echo "=== fuzz $target for ${SECONDS_PER_TARGET}s"
  log="$(mktemp)"
  if ! cargo fuzz run "$target" "corpus/$target" -- -max_total_time="$SECONDS_PER_TARGET" \
       -print_final_stats=1 >"$log" 2>&1; then
    # The property that failed, then libFuzzer's summary.
    grep -m1 -A12 "panicked at" "$log" || true
    tail -n 25 "$log"
    echo "fuzz: $target FAILED (see fuzz/artifacts/$target/)"
    exit 1
  fi
  # libFuzzer's final stats: executions, and coverage (edges) and corpus size at the end.
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -n1)
  corpus=$(grep -Eo 'corp: [0-9]+/[0-9a-zA-Z]+' "$log" | tail -n1)
  echo "fuzz: $target ok: $runs executions in ${SECONDS_PER_TARGET}s, $cov, $corpus"
  rm -f "$log"
done
