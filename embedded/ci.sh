#!/usr/bin/env bash
# The microcontroller checks, as CI runs them (needs qemu-system-arm,
# binutils-arm-none-eabi and the two rustup targets; .ci/run installs them):
#  1. the firmware runs on an emulated Cortex-M4F (mps2-an386) and Cortex-M0
#     (microbit) and exits with success;
#  2. each device's report equals the host's, character for character, so
#     the trained weights (their checksums are in the report) are
#     bit-identical on the host and on both cores;
#  3. `no_panic`, which drives every training entry point, links only if no
#     panic path is reachable in the library (its panic handler calls an
#     undefined symbol), and runs to success;
#  4. the library's flash footprint is printed, and must stay within budget
#     (the footprint binaries use the same no-panic link check).
# Binaries and reports go wherever cargo puts this workspace's builds (asked of
# `cargo metadata`), so a CARGO_TARGET_DIR or `build.target-dir` is honoured.
set -euo pipefail
cd "$(dirname "$0")"
targets=(thumbv7em-none-eabihf thumbv6m-none-eabi)
target_dir=$(cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
reports="$target_dir/reports"
mkdir -p "$reports"

echo "-- formatting"
cargo fmt -p backprop-demo -p backprop-firmware -p backprop-embedded-host -- --check

echo "-- host"
cargo run -q -p backprop-embedded-host --release > "$reports/host.txt"
cat "$reports/host.txt"

for target in "${targets[@]}"; do
  echo "-- $target under QEMU"
  cargo build -q -p backprop-firmware --release --target "$target" --bins
  set +e
  timeout 300 cargo run -q -p backprop-firmware --release --target "$target" > "$reports/$target.txt" 2>&1
  status=$?
  set -e
  cat "$reports/$target.txt"
  if [ "$status" -ne 0 ]; then
    echo "the firmware failed on $target (exit status $status)"
    exit 1
  fi
  if ! diff <(sed '/^== Compile-time sizes/,$d' "$reports/$target.txt") "$reports/host.txt"; then
    echo "the report on $target differs from the host's (lines above): results are not bit-identical"
    exit 1
  fi
  echo "identical to the host's report"

  echo "-- $target: no reachable panic in the library"
  runner=$(grep -A1 "^\[target.$target\]" .cargo/config.toml | sed -n 's/^runner = "\(.*\)"$/\1/p')
  timeout 300 $runner "$target_dir/$target/release/no_panic"
  echo "no_panic linked (no panic path) and ran to success"
done

echo "-- footprint"
python3 footprint.py --target-dir "$target_dir" --max-library 4096 "${targets[@]}"
