"""Writes the PyTorch fixtures of tests/conv_files.rs (conv nets in safetensors
and in backprop's own weight format), and checks that PyTorch loads the conv
files backprop writes.

Run from the repository root (needs torch, safetensors and numpy; CI does not,
it only reads the committed output):

    python3 tests/pytorch/generate_conv_safetensors.py          # write the fixtures
    python3 tests/pytorch/generate_conv_safetensors.py --check  # PyTorch loads backprop's files

Generating builds two nn.Sequential conv nets with fixed seeds, each starting
with nn.Unflatten as backprop's conv nets do, and writes into tests/fixtures/:

* pytorch_conv2d.safetensors: the 2-d net in float32, its state_dict saved by
  safetensors.torch.save_file:

      0 Unflatten(1, (2, 14, 14))
      1 Conv2d(2, 4, 3, padding=1)          1.weight [4, 2, 3, 3], 1.bias [4]
      2 ReLU()
      3 MaxPool2d(2)
      4 Conv2d(4, 6, 3, stride=2, padding=1) 4.weight [6, 4, 3, 3], 4.bias [6]
      5 AvgPool2d(2)
      6 AdaptiveAvgPool2d(1)
      7 Flatten()
      8 Linear(6, 3)                       8.weight [3, 6], 8.bias [3]
      9 Sigmoid()

  In backprop: (Unflatten2d<392, 2, 14, 14>,
  Conv2d<2, 4, 3, 1, 1, 14, 14, 14, 14, ReLU>, MaxPool2d<4, 2, 14, 14, 7, 7>,
  Conv2d<4, 6, 3, 2, 1, 7, 7, 4, 4, Identity>, AvgPool2d<6, 2, 4, 4, 2, 2>,
  GlobalAvgPool2d<6, 2, 2>, Flatten2d<6, 1, 1, 6>, Dense<6, 3, Sigmoid>).
* pytorch_conv2d_f64 / _f16 / _bf16.safetensors: the same weights as float64,
  float16 and bfloat16.
* pytorch_conv1d.safetensors: the 1-d net in float32:

      0 Unflatten(1, (3, 17))
      1 Conv1d(3, 5, 4, padding=1)          1.weight [5, 3, 4], 1.bias [5]
      2 Tanh()
      3 AvgPool1d(2)
      4 Conv1d(5, 4, 3, stride=2, padding=1) 4.weight [4, 5, 3], 4.bias [4]
      5 ReLU()
      6 MaxPool1d(2)
      7 AdaptiveAvgPool1d(1)
      8 Flatten()
      9 Linear(4, 2)                       9.weight [2, 4], 9.bias [2]

  In backprop: (Unflatten1d<51, 3, 17>, Conv1d<3, 5, 4, 1, 1, 17, 16, Tanh>,
  AvgPool1d<5, 2, 16, 8>, Conv1d<5, 4, 3, 2, 1, 8, 4, ReLU>,
  MaxPool1d<4, 2, 4, 2>, GlobalAvgPool1d<4, 2>, Flatten1d<4, 1, 4>,
  Dense<4, 2, Identity>).
* pytorch_conv2d.bpw: the float32 2-d net in backprop's own weight format,
  written here from the format's specification (src/weights.rs) with zlib's
  CRC-32 and an FNV-1a of the architecture description, which this script
  derives from the PyTorch modules and the shapes a forward pass sees
  (describe() below), not from backprop.
* pytorch_conv_safetensors.txt: the reference outputs for the five inputs of
  inputs() below. One line per sample: `CASE SAMPLE OUTPUTS...`; `architecture NET DESCRIPTION` and
  `fingerprint NET VALUE` for each net. Floats are repr() of the exact float64
  value of each float32 (or float64) result, so they parse back exactly.

Outputs of the float16 and bfloat16 files are computed in float64 from the
rounded weights (converted exactly), so that a test can check the conversion
to float64 precision, free of float32 rounding.

--check loads tests/fixtures/backprop_conv2d.safetensors and
backprop_conv1d_f64.safetensors (written by backprop's safetensors writer,
pinned by tests/conv_files.rs) with safetensors.torch.load_file, loads them
into the nn.Sequential with load_state_dict(strict=True), and checks that
every tensor equals PyTorch's original and that the outputs equal the
reference.
"""

import os
import struct
import sys
import zlib

import torch
import torch.nn as nn
from safetensors.torch import load_file, save_file

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures")


def conv2d():
    torch.manual_seed(20240612)
    return nn.Sequential(
        nn.Unflatten(1, (2, 14, 14)),
        nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(4, 6, 3, stride=2, padding=1),
        nn.AvgPool2d(2),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(6, 3), nn.Sigmoid(),
    )


def conv1d():
    torch.manual_seed(20240613)
    return nn.Sequential(
        nn.Unflatten(1, (3, 17)),
        nn.Conv1d(3, 5, 4, padding=1), nn.Tanh(),
        nn.AvgPool1d(2),
        nn.Conv1d(5, 4, 3, stride=2, padding=1), nn.ReLU(),
        nn.MaxPool1d(2),
        nn.AdaptiveAvgPool1d(1),
        nn.Flatten(),
        nn.Linear(4, 2),
    )


ACTIVATIONS = {nn.ReLU: "ReLU", nn.Tanh: "Tanh", nn.Sigmoid: "Sigmoid"}


def describe(model, width):
    """backprop's architecture description (src/model.rs, Architecture::fingerprint)
    of an nn.Sequential, from its modules and the shapes of a forward pass."""
    shapes = []
    x = torch.zeros(1, width)
    with torch.no_grad():
        for module in model:
            shapes.append(tuple(x.shape[1:]))
            x = module(x)
    modules = list(model)
    parts = []
    layers = 0
    for k, module in enumerate(modules):
        if type(module) in ACTIVATIONS:
            continue
        layers += 1
        after = modules[k + 1] if k + 1 < len(modules) else None
        activation = ACTIVATIONS.get(type(after), "Identity")
        shape = shapes[k]
        single = lambda v: v[0] if isinstance(v, tuple) else v
        if isinstance(module, nn.Linear):
            sizes, name = [module.in_features, module.out_features, activation], "Dense"
        elif isinstance(module, (nn.Conv1d, nn.Conv2d)):
            name = type(module).__name__
            sizes = [module.in_channels, module.out_channels, single(module.kernel_size),
                     single(module.stride), single(module.padding), *shape[1:], activation]
        elif isinstance(module, (nn.MaxPool1d, nn.AvgPool1d, nn.MaxPool2d, nn.AvgPool2d)):
            name = type(module).__name__
            sizes = [shape[0], single(module.kernel_size), *shape[1:]]
        elif isinstance(module, nn.AdaptiveAvgPool1d):
            name, sizes = "GlobalAvgPool1d", list(shape)
        elif isinstance(module, nn.AdaptiveAvgPool2d):
            name, sizes = "GlobalAvgPool2d", list(shape)
        elif isinstance(module, nn.Flatten):
            name, sizes = f"Flatten{len(shape) - 1}d", list(shape)
        elif isinstance(module, nn.Unflatten):
            unflat = tuple(module.unflattened_size)
            name, sizes = f"Unflatten{len(unflat) - 1}d", list(unflat)
        else:
            raise ValueError(f"no backprop layer for {module}")
        parts.append(f"{name}({','.join(map(str, sizes))});")
    return "".join(parts), layers


def inputs(width):
    """Five samples, exact in float32 (so Rust makes the same ones): sample 0
    is zero (the output is then the bias path alone), sample k > 0 has
    x[i] = ((7 i + 13 k) mod 23 - 11) / 8."""
    x = torch.zeros(5, width, dtype=torch.float64)
    for k in range(1, 5):
        for i in range(width):
            x[k, i] = ((7 * i + 13 * k) % 23 - 11) / 8
    return x.float()


def fnv1a64(text):
    h = 0xCBF29CE484222325
    for byte in text.encode("ascii"):
        h = ((h ^ byte) * 0x100000001B3) % 2**64
    return h


def backprop_weights_file(model, architecture, layers):
    """backprop's format, version 1, f32: see src/weights.rs. The parameters
    in state_dict order (per layer, weight then bias), each flattened
    row-major in PyTorch's layout."""
    params = [t.detach().to(torch.float32).flatten() for t in model.state_dict().values()]
    data = b"".join(struct.pack("<%df" % len(p), *p.tolist()) for p in params)
    count = sum(len(p) for p in params)
    header = b"BACKPROP" + struct.pack("<HBBIQQ", 1, 1, 0, layers, fnv1a64(architecture), count)
    body = header + data
    return body + struct.pack("<I", zlib.crc32(body))


def lines(case, y):
    for k, yk in enumerate(y.tolist()):
        yield " ".join([case, str(k), *map(repr, yk)])


def generate():
    os.makedirs(ROOT, exist_ok=True)
    out = []
    with torch.no_grad():
        net = conv2d().eval()
        x = inputs(392)
        save_file(net.state_dict(), os.path.join(ROOT, "pytorch_conv2d.safetensors"))
        out += lines("conv2d_f32", net(x))

        net64 = conv2d().double().eval()
        save_file(net64.state_dict(), os.path.join(ROOT, "pytorch_conv2d_f64.safetensors"))
        out += lines("conv2d_f64", net64(x.double()))

        for name, dtype in [("f16", torch.float16), ("bf16", torch.bfloat16)]:
            low = conv2d().to(dtype)
            save_file(low.state_dict(), os.path.join(ROOT, f"pytorch_conv2d_{name}.safetensors"))
            rounded = low.double().eval()
            out += lines(f"conv2d_{name}", rounded(x.double()))

        architecture, layers = describe(net, 392)
        with open(os.path.join(ROOT, "pytorch_conv2d.bpw"), "wb") as f:
            f.write(backprop_weights_file(net, architecture, layers))
        out.append(f"architecture conv2d {architecture}")
        out.append(f"fingerprint conv2d {fnv1a64(architecture):#018x}")

        net1 = conv1d().eval()
        x1 = inputs(51)
        save_file(net1.state_dict(), os.path.join(ROOT, "pytorch_conv1d.safetensors"))
        out += lines("conv1d_f32", net1(x1))
        out += lines("conv1d_f64", conv1d().double().eval()(x1.double()))
        architecture, _ = describe(net1, 51)
        out.append(f"architecture conv1d {architecture}")
        out.append(f"fingerprint conv1d {fnv1a64(architecture):#018x}")

    with open(os.path.join(ROOT, "pytorch_conv_safetensors.txt"), "w") as f:
        f.write(f"# generated by tests/pytorch/generate_conv_safetensors.py with torch {torch.__version__}\n")
        f.write("\n".join(out) + "\n")
    for name in sorted(os.listdir(ROOT)):
        if name.startswith("pytorch_conv"):
            print(f"{name:36} {os.path.getsize(os.path.join(ROOT, name)):6} bytes")


def check():
    ok = True
    cases = [
        ("backprop_conv2d.safetensors", conv2d, torch.float32, inputs(392)),
        ("backprop_conv1d_f64.safetensors", conv1d, torch.float64, inputs(51)),
    ]
    for name, make, dtype, x in cases:
        tensors = load_file(os.path.join(ROOT, name))
        original = make().to(dtype).eval()
        net = make().to(dtype).eval()
        for p in net.parameters():
            p.data.zero_()
        result = net.load_state_dict(tensors, strict=True)
        shapes = {k: list(v.shape) for k, v in sorted(tensors.items())}
        same = all(torch.equal(tensors[k], v) and tensors[k].dtype == dtype for k, v in original.state_dict().items())
        with torch.no_grad():
            outputs_equal = torch.equal(net(x.to(dtype)), original(x.to(dtype)))
        print(f"{name}: load_file read {shapes} dtype {next(iter(tensors.values())).dtype}; "
              f"load_state_dict(strict=True): {result}; tensors equal PyTorch's original: {same}; "
              f"outputs equal: {outputs_equal}")
        ok &= same and outputs_equal
    print("PyTorch loads backprop's conv files:", "OK" if ok else "FAILED")
    return ok


if __name__ == "__main__":
    if "--check" in sys.argv[1:]:
        sys.exit(0 if check() else 1)
    generate()
