#!/usr/bin/env python3
"""Prints the flash the library adds to a firmware, by target.

For each target it compares two binaries built from the firmware crate:
`footprint_empty` (runtime, start-up, semihosting exit) and `footprint_xor`
(the same plus training the 2-16-16-1 XOR net with SGD and checking its
predictions); and likewise `footprint_conv` (training the digits conv net,
reshape, convolution, max pool, flatten, dense, with SGD, and its forward
pass). The difference is split by symbol into
  - library code: everything of `backprop` (inlined into the binary's main
    function by LTO, plus the out-of-line helpers it keeps),
  - libm: the float functions the net calls (tanhf, expf, expm1f, sqrtf),
  - compiler builtins: memcpy, memset and soft-float helpers.
Then the same for inference with the digits model: `footprint_int8` and
`footprint_f32` against `footprint_empty`, the model's bytes apart from the
code.

Usage: footprint.py [--target-dir DIR] [--max-library BYTES] TARGET [TARGET ...]
(after building both binaries in release mode for each target). The binaries
are looked for where cargo puts this workspace's builds: DIR if given, else
the `target_directory` of `cargo metadata` (which honours CARGO_TARGET_DIR and
`build.target-dir`). With --max-library BYTES it fails if the library code of
`footprint_xor` on the first target is larger.
"""

import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def target_directory():
    """Where cargo puts this workspace's builds, as cargo itself reports it."""
    out = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--no-deps"],
        cwd=HERE,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out)["target_directory"]


def sections(path):
    """Flash (.vector_table, .text, .rodata) and RAM (.data, .bss) sizes."""
    out = subprocess.run(["arm-none-eabi-size", "-A", path], capture_output=True, text=True, check=True).stdout
    sizes = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].startswith(".") and parts[1].isdigit():
            sizes[parts[0]] = int(parts[1])
    flash = sum(sizes.get(s, 0) for s in (".vector_table", ".text", ".rodata", ".data"))
    ram = sizes.get(".data", 0) + sizes.get(".bss", 0)
    return flash, ram


def by_kind(path):
    """Code and read-only data in flash, summed by what it belongs to."""
    out = subprocess.run(["arm-none-eabi-nm", "-S", "-C", path], capture_output=True, text=True, check=True).stdout
    kinds = {"library": 0, "libm": 0, "builtins": 0, "runtime": 0, "model": 0}
    for line in out.splitlines():
        parts = line.split(None, 3)
        if len(parts) < 4 or parts[2] not in "tTrR":
            continue
        size, name = int(parts[1], 16), parts[3]
        if name.startswith("libm::"):
            kinds["libm"] += size
        elif name.startswith("compiler_builtins::") or name.startswith("__aeabi"):
            kinds["builtins"] += size
        elif "DIGITS_F32" in name:
            kinds["model"] += size  # the f32 digits model, a static in flash
        elif name.startswith("backprop") or name.startswith("core::") or "__cortex_m_rt_main" in name:
            # The entry function holds the inlined training code; in the empty
            # binary it is a few bytes, so the difference is the library's.
            kinds["library"] += size
        else:
            kinds["runtime"] += size
    return kinds


def main():
    args = sys.argv[1:]
    limit = None
    if "--max-library" in args:
        i = args.index("--max-library")
        limit = int(args[i + 1])
        del args[i : i + 2]
    if "--target-dir" in args:
        i = args.index("--target-dir")
        target_dir = args[i + 1]
        del args[i : i + 2]
    else:
        target_dir = target_directory()
    failed = False
    print(f"{'target':<24}{'net':>5}{'flash empty':>12}{'flash net':>10}{'added':>7}{'library':>9}{'libm':>6}{'builtins':>10}{'RAM':>5}")
    for net in ("xor", "conv"):
        for n, target in enumerate(args):
            base = os.path.join(target_dir, target, "release")
            empty_path, net_path = os.path.join(base, "footprint_empty"), os.path.join(base, f"footprint_{net}")
            (empty_flash, empty_ram), (net_flash, net_ram) = sections(empty_path), sections(net_path)
            empty, kinds = by_kind(empty_path), by_kind(net_path)
            added = {k: kinds[k] - empty[k] for k in kinds}
            print(
                f"{target:<24}{net:>5}{empty_flash:>12}{net_flash:>10}{net_flash - empty_flash:>7}"
                f"{added['library']:>9}{added['libm']:>6}{added['builtins']:>10}{net_ram:>5}"
            )
            if net == "xor" and n == 0 and limit is not None and added["library"] > limit:
                print(f"the library's code on {target} is {added['library']} B, over the {limit} B budget")
                failed = True
    print("(bytes; flash = vector table + code + read-only data; RAM = .data + .bss, the stack not included)")
    print()
    # Inference with the digits model: footprint_int8 (file::read_into into a
    # static, integer forward pass) and footprint_f32 (the model a static in
    # flash, f32 forward pass), each against footprint_empty.
    int8_file = os.path.getsize(os.path.join(HERE, "demo", "digits", "digits_int8.bpw"))
    print(f"{'target':<24}{'digits':>7}{'added':>7}{'model':>7}{'library':>9}{'builtins':>10}{'RAM':>7}")
    for target in args:
        base = os.path.join(target_dir, target, "release")
        empty_path = os.path.join(base, "footprint_empty")
        (empty_flash, _), empty = sections(empty_path), by_kind(empty_path)
        for name in ("int8", "f32"):
            path = os.path.join(base, f"footprint_{name}")
            if not os.path.exists(path):
                continue
            (flash, ram), kinds = sections(path), by_kind(path)
            added = {k: kinds[k] - empty[k] for k in kinds}
            model = int8_file if name == "int8" else added["model"]
            print(
                f"{target:<24}{name:>7}{flash - empty_flash:>7}{model:>7}{added['library']:>9}"
                f"{added['builtins'] + added['libm']:>10}{ram:>7}"
            )
    print("(model: the int8 file as included, or the f32 static; library: backprop's code")
    print(" (the int8 reader: two passes, checks then stores); builtins: memcpy, division, soft float;")
    print(" RAM: the int8 model read into a static)")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
