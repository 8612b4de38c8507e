"""Writes the PyTorch fixtures of tests/safetensors.rs, and checks that PyTorch
loads the files backprop writes.

Run from the repository root (needs torch, safetensors and numpy; CI does not,
it only reads the committed output):

    python3 tests/pytorch/generate_safetensors.py          # write the fixtures
    python3 tests/pytorch/generate_safetensors.py --check  # PyTorch loads backprop's files

Generating builds two nn.Sequential MLPs with fixed seeds and writes, into
tests/fixtures/:

* pytorch_mlp.safetensors: Linear(4, 16), Tanh, Linear(16, 8), ReLU,
  Linear(8, 3) in float32, its state_dict saved by safetensors.torch.save_file
  (tensors 0.weight, 0.bias, 2.weight, 2.bias, 4.weight, 4.bias). In backprop:
  (Dense<4, 16, Tanh>, Dense<16, 8, ReLU>, Dense<8, 3, Identity>).
* pytorch_mlp_f64 / _f16 / _bf16.safetensors: the same weights as float64,
  float16 and bfloat16.
* pytorch_mixed.safetensors: Linear(3, 5), GELU(approximate="tanh"),
  Linear(5, 4), Linear(4, 2), Sigmoid in float32: a Linear without an
  activation after it, so the indices are 0, 2, 3. In backprop:
  (Dense<3, 5, Gelu>, Dense<5, 4, Identity>, Dense<4, 2, Sigmoid>).
* pytorch_mlp.bpw: the float32 MLP in backprop's own weight format, written
  here from the format's specification (src/weights.rs) with zlib's CRC-32 and
  an independent FNV-1a, so the Rust reader is checked against a second
  implementation of the format.
* pytorch_safetensors.txt: the reference outputs. One line per sample:
  `CASE x INPUTS... y OUTPUTS...`, and `fingerprint CASE VALUE`. Floats are
  written with repr() of the exact float64 value of each float32 (or float64)
  result, so they parse back exactly.

Outputs of the float16 and bfloat16 files are computed in float64 from the
rounded weights (converted exactly), so that a test can check the conversion
to float64 precision, free of float32 rounding.

--check loads tests/fixtures/backprop_mlp.safetensors and
backprop_mlp_f64.safetensors (written by backprop's safetensors writer,
see tests/safetensors.rs) with safetensors.torch.load_file, loads them into
the nn.Sequential with load_state_dict(strict=True), and checks that every
tensor equals PyTorch's original and that the outputs equal the reference.
"""

import os
import struct
import sys
import zlib

import torch
import torch.nn as nn
from safetensors.torch import load_file, save_file

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures")


def mlp():
    torch.manual_seed(20240611)
    return nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 3))


def mixed():
    torch.manual_seed(7)
    return nn.Sequential(nn.Linear(3, 5), nn.GELU(approximate="tanh"), nn.Linear(5, 4), nn.Linear(4, 2),
                         nn.Sigmoid())


MLP_ARCHITECTURE = "Dense(4,16,Tanh);Dense(16,8,ReLU);Dense(8,3,Identity);"


def inputs(width, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(8, width, generator=g) * 2.0
    x[0] = 0.0  # the output is then the bias path alone
    return x


def fnv1a64(text):
    h = 0xCBF29CE484222325
    for byte in text.encode("ascii"):
        h = ((h ^ byte) * 0x100000001B3) % 2**64
    return h


def backprop_weights_file(model, architecture, layers):
    """backprop's format, version 1, f32: see src/weights.rs."""
    params = [t.detach().to(torch.float32).flatten() for t in model.state_dict().values()]
    data = b"".join(struct.pack("<%df" % len(p), *p.tolist()) for p in params)
    count = sum(len(p) for p in params)
    header = b"BACKPROP" + struct.pack("<HBBIQQ", 1, 1, 0, layers, fnv1a64(architecture), count)
    body = header + data
    return body + struct.pack("<I", zlib.crc32(body))


def lines(case, x, y):
    for xi, yi in zip(x.tolist(), y.tolist()):
        yield " ".join([case, "x", *map(repr, xi), "y", *map(repr, yi)])


def generate():
    os.makedirs(ROOT, exist_ok=True)
    out = []
    net = mlp().eval()
    x = inputs(4, 1)
    with torch.no_grad():
        save_file(net.state_dict(), os.path.join(ROOT, "pytorch_mlp.safetensors"))
        out += lines("mlp_f32", x, net(x))

        net64 = mlp().double().eval()
        save_file(net64.state_dict(), os.path.join(ROOT, "pytorch_mlp_f64.safetensors"))
        out += lines("mlp_f64", x.double(), net64(x.double()))

        for name, dtype in [("f16", torch.float16), ("bf16", torch.bfloat16)]:
            low = mlp().to(dtype)
            save_file(low.state_dict(), os.path.join(ROOT, f"pytorch_mlp_{name}.safetensors"))
            rounded = low.double().eval()
            out += lines(f"mlp_{name}", x.double(), rounded(x.double()))

        with open(os.path.join(ROOT, "pytorch_mlp.bpw"), "wb") as f:
            f.write(backprop_weights_file(net, MLP_ARCHITECTURE, 3))
        out.append(f"fingerprint mlp {fnv1a64(MLP_ARCHITECTURE):#018x}")

        m = mixed().eval()
        xm = inputs(3, 2)
        save_file(m.state_dict(), os.path.join(ROOT, "pytorch_mixed.safetensors"))
        out += lines("mixed_f32", xm, m(xm))

    with open(os.path.join(ROOT, "pytorch_safetensors.txt"), "w") as f:
        f.write(f"# generated by tests/pytorch/generate_safetensors.py with torch {torch.__version__}\n")
        f.write("\n".join(out) + "\n")
    for name in sorted(os.listdir(ROOT)):
        if name.startswith("pytorch_mlp") or name.startswith("pytorch_mixed") or name == "pytorch_safetensors.txt":
            print(f"{name:36} {os.path.getsize(os.path.join(ROOT, name)):6} bytes")


def check():
    ok = True
    x = inputs(4, 1)
    for name, dtype in [("backprop_mlp.safetensors", torch.float32), ("backprop_mlp_f64.safetensors", torch.float64)]:
        path = os.path.join(ROOT, name)
        tensors = load_file(path)
        original = mlp().to(dtype).eval()
        net = mlp().to(dtype).eval()
        for p in net.parameters():
            p.data.zero_()
        result = net.load_state_dict(tensors, strict=True)
        same = all(torch.equal(tensors[k], v) and tensors[k].dtype == dtype for k, v in original.state_dict().items())
        with torch.no_grad():
            outputs_equal = torch.equal(net(x.to(dtype)), original(x.to(dtype)))
        print(f"{name}: load_file read {len(tensors)} tensors {sorted(tensors)} "
              f"dtype {next(iter(tensors.values())).dtype}; load_state_dict(strict=True): {result}; "
              f"tensors equal PyTorch's original: {same}; outputs equal: {outputs_equal}")
        ok &= same and outputs_equal
    print("PyTorch loads backprop's files:", "OK" if ok else "FAILED")
    return ok


if __name__ == "__main__":
    if "--check" in sys.argv[1:]:
        sys.exit(0 if check() else 1)
    generate()
