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
#     (the footprint binaries use the same no-panic link check: for the int8
#     path, `footprint_int8` links only if `file::read_into` and the integer
#     forward pass have no reachable panic);
#  5. the digits net, trained and quantized on the host, runs on both cores in
#     int8 (`digits_int8`) and in f32 (`digits_f32`): every output equals the
#     host's, bit for bit (the reports, measurements cut, equal the host's);
#  6. `digits_int8` holds no floating-point routine (its symbol table is
#     searched for soft-float and libm symbols, the pattern checked on
#     `digits_f32`, which must have them on the Cortex-M0);
#  7. the instructions per inference, counted under QEMU -icount, are printed
#     for both models and both cores; on the Cortex-M0 int8 must take at most
#     a quarter of f32's;
#  8. a convolutional net (`conv_digits`: reshape, 3x3 convolution, max pool,
#     flatten, dense) trains on the digits on both cores and reaches 90% on the
#     test split; each report (losses, weight and logit checksums, accuracy,
#     the RAM from compile-time sizes; measurements cut) equals the host's,
#     character for character; `footprint_conv`, which trains it, links only
#     if no panic path is reachable.
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
for demo in digits_int8 digits_f32 conv_digits; do
  cargo run -q -p backprop-embedded-host --release -- "${demo/_/-}" > "$reports/host-$demo.txt"
  cat "$reports/host-$demo.txt"
done

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

  for demo in digits_int8 digits_f32 conv_digits; do
    echo "-- $target: $demo under QEMU (-icount shift=0)"
    report="$reports/$target-$demo.txt"
    set +e
    timeout 300 $runner "$target_dir/$target/release/$demo" > "$report" 2>&1
    status=$?
    set -e
    cat "$report"
    if [ "$status" -ne 0 ]; then
      echo "$demo failed on $target (exit status $status)"
      exit 1
    fi
    if ! diff <(sed '/^== Measurements/,$d' "$report") "$reports/host-$demo.txt"; then
      echo "the $demo report on $target differs from the host's (lines above): results are not bit-identical"
      exit 1
    fi
    echo "identical to the host's report"
  done
done

echo "-- no floating point in digits_int8"
# Soft-float routines (compiler-builtins and their __aeabi aliases), float
# conversions and comparisons, and libm. On the Cortex-M4F a float operation
# would be an FPU instruction instead, so its disassembly is searched too.
soft_float='__aeabi_([fd](add|sub|rsub|mul|div|neg|cmp|2)|[cd]?c[fd]|[ui]?[il]2[fd]|ul2[fd])|__(add|sub|mul|div|neg)[sdt]f3|__(fix|fixuns)[sdt]f[sdt]i|__float(un)?[sdt]i[sdt]f|__(eq|ne|lt|le|gt|ge|un|cmp)[sdt]f2|__(extend|trunc)[sdt]f[sdt]f2|__powi[sdt]f2|compiler_builtins::float|libm::'
for target in "${targets[@]}"; do
  found=$(arm-none-eabi-nm -C "$target_dir/$target/release/digits_int8" | grep -E "$soft_float" || true)
  if [ -n "$found" ]; then
    echo "digits_int8 on $target holds floating-point routines:"
    echo "$found"
    exit 1
  fi
  echo "$target: digits_int8 has $(arm-none-eabi-nm "$target_dir/$target/release/digits_int8" | wc -l) symbols, none of them a floating-point routine"
done
fpu=$(arm-none-eabi-objdump -d "$target_dir/thumbv7em-none-eabihf/release/digits_int8" | grep -cE '\sv(add|sub|mul|div|fma|fms|fnm|neg|abs|sqrt|cmp|cvt|mla|mls)\.' || true)
if [ "$fpu" -ne 0 ]; then
  echo "digits_int8 on thumbv7em-none-eabihf has $fpu FPU arithmetic instructions"
  exit 1
fi
echo "thumbv7em-none-eabihf: digits_int8 has no FPU arithmetic instruction"
# The pattern must find what it looks for: the f32 model on the Cortex-M0.
control=$(arm-none-eabi-nm -C "$target_dir/thumbv6m-none-eabi/release/digits_f32" | grep -cE "$soft_float" || true)
if [ "$control" -eq 0 ]; then
  echo "the soft-float pattern finds nothing in digits_f32 on thumbv6m-none-eabi: the check is broken"
  exit 1
fi
echo "(control: the same pattern finds $control soft-float symbols in digits_f32 on thumbv6m-none-eabi)"

echo "-- instructions per inference (QEMU -icount shift=0)"
count() { sed -n 's/^instructions per inference: \([0-9]*\).*/\1/p' "$reports/$1-$2.txt"; }
for target in "${targets[@]}"; do
  int8=$(count "$target" digits_int8)
  f32=$(count "$target" digits_f32)
  echo "$target: int8 $int8, f32 $f32, int8/f32 $(python3 -c "print(f'{$int8 / $f32:.3f}')")"
done
int8=$(count thumbv6m-none-eabi digits_int8)
f32=$(count thumbv6m-none-eabi digits_f32)
if [ $((4 * int8)) -gt "$f32" ]; then
  echo "on the Cortex-M0 the int8 model takes more than a quarter of the f32 model's instructions"
  exit 1
fi

echo "-- the conv net on the devices (QEMU -icount shift=0)"
for target in "${targets[@]}"; do
  echo "$target:"
  sed -n -e 's/^instructions per training step: \([0-9]*\).*/  instructions per training step (4 images): \1/p' \
    -e 's/^instructions for the whole training: /  instructions for the whole training: /p' \
    -e 's/^instructions per inference: \([0-9]*\).*/  instructions per inference: \1/p' \
    -e 's/^RAM: /  RAM: /p' "$reports/$target-conv_digits.txt"
done

echo "-- footprint"
python3 footprint.py --target-dir "$target_dir" --max-library 4096 "${targets[@]}"
