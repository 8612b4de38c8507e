"""Writes tests/fixtures/pytorch_conv_parity.txt: reference values from
PyTorch for tests/conv_parity.rs.

For every case (a small convolutional nn.Sequential in float64, a loss, an
optimizer configuration and one batch) it records the initial parameters, the
batch, the network's outputs, the mean loss, the gradient of every parameter
and of every input, and the parameters after 1, 2 and 3 optimizer steps (each
step: zero_grad, forward, loss, backward, step, on the same batch).

Run from the repository root (needs torch; CI does not, it only reads the
committed output):

    python3 tests/pytorch/generate_conv_parity.py

Format: the one of tests/fixtures/pytorch_parity.txt (see
generate_parity.py): one record per line, `key value value ...`; a case
starts with `case NAME` and ends with `end`. Each net takes flat rows, as
backprop's training API does, so every net starts with nn.Unflatten and `x`
holds `batch` rows of the flat input. Parameters are flattened in state_dict
order (each Conv1d/Conv2d/Linear: weight row-major in PyTorch's layout, then
bias), the order of backprop's Params::visit. Floats are written with
repr(), which round-trips float64 exactly.

Besides the numbers, each case has a `layers` record: the backprop types of
the net in forward order, without the scalar parameter and without spaces
(`Conv2d<2,3,3,1,0,7,6,5,4,Tanh>`), for the Rust test to be written from.

Initial parameters are not PyTorch's default initialisation: they are drawn
from a seeded torch.Generator (weights uniform in ±sqrt(3/fan_in), biases
uniform in ±1/sqrt(fan_in)), so the fixture depends on the seed alone.
"""

import os
import torch
import torch.nn as nn

# The activations, losses, targets and record format of the Dense fixtures.
from generate_parity import ACTIVATIONS, flat, line, loss_fn, targets

torch.set_default_dtype(torch.float64)
# One thread: the order of every reduction, and so every output bit, is fixed.
torch.set_num_threads(1)


# The backprop type of each activation, where its name differs.
RUST_ACTIVATION = {"GeluTanh": "Gelu"}

# Layer specifications, in forward order:
#   ("unflatten", shape)                  shape = (C, L) or (C, H, W)
#   ("conv1d" | "conv2d", CI, CO, K, S, P, activation)
#   ("maxpool1d" | "avgpool1d" | "maxpool2d" | "avgpool2d", K)
#   ("globalavgpool1d" | "globalavgpool2d",)
#   ("flatten",)
#   ("linear", IN, OUT, activation)
#
# name, layers, loss kind, optimizer, batch size
CASES = [
    ("conv2d_valid_stride1",
     [("unflatten", (2, 7, 6)), ("conv2d", 2, 3, 3, 1, 0, "Tanh"), ("flatten",),
      ("linear", 60, 2, "Identity")],
     "Mse", lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9), 3),
    ("conv2d_same_stride2",
     [("unflatten", (1, 9, 9)), ("conv2d", 1, 4, 3, 2, 1, "ReLU"), ("flatten",),
      ("linear", 100, 3, "Identity")],
     "CrossEntropy", lambda p: torch.optim.Adam(p, lr=0.01), 4),
    ("conv2d_k5_pad2",
     [("unflatten", (2, 6, 5)), ("conv2d", 2, 2, 5, 1, 2, "SiLU"), ("flatten",),
      ("linear", 60, 2, "Identity")],
     "Huber", lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.01), 3),
    ("conv2d_k2_stride2",
     [("unflatten", (3, 8, 6)), ("conv2d", 3, 2, 2, 2, 0, "Identity"), ("flatten",),
      ("linear", 24, 2, "Sigmoid")],
     "Bce", lambda p: torch.optim.RMSprop(p, lr=0.01), 3),
    # (8 - 3) / 2 and (7 - 3) / 2 both round down: the last row is never read.
    ("conv2d_valid_stride2_odd",
     [("unflatten", (2, 8, 7)), ("conv2d", 2, 3, 3, 2, 0, "GeluErf"), ("flatten",),
      ("linear", 27, 2, "Identity")],
     "Mae", lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.05), 2),
    ("conv2d_k1",
     [("unflatten", (3, 4, 5)), ("conv2d", 3, 2, 1, 1, 0, "Softplus"), ("flatten",),
      ("linear", 40, 2, "Identity")],
     "BceWithLogits", lambda p: torch.optim.SGD(p, lr=0.1), 2),
    ("conv1d_valid",
     [("unflatten", (2, 10)), ("conv1d", 2, 3, 3, 1, 0, "Sigmoid"), ("flatten",),
      ("linear", 24, 2, "Identity")],
     "Mse", lambda p: torch.optim.SGD(p, lr=0.1), 3),
    ("conv1d_same_stride2",
     [("unflatten", (1, 11)), ("conv1d", 1, 4, 5, 2, 2, "SiLU"), ("flatten",),
      ("linear", 24, 3, "Identity")],
     "CrossEntropy",
     lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.05, amsgrad=True), 4),
    # (13 - 4) / 2 rounds down: the last sample is never read.
    ("conv1d_k4_stride2_valid",
     [("unflatten", (2, 13)), ("conv1d", 2, 3, 4, 2, 0, "Elu"), ("flatten",),
      ("linear", 15, 2, "Identity")],
     "BceWithLogits",
     lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9, eps=1e-6, momentum=0.5, centered=True,
                                   weight_decay=0.01), 3),
    ("maxpool2d_k2",
     [("unflatten", (2, 7, 7)), ("conv2d", 2, 3, 2, 1, 0, "Tanh"), ("maxpool2d", 2), ("flatten",),
      ("linear", 27, 2, "Identity")],
     "Mse", lambda p: torch.optim.Adam(p, lr=0.01), 3),
    ("maxpool2d_k3",
     [("unflatten", (1, 9, 9)), ("conv2d", 1, 2, 3, 1, 1, "Identity"), ("maxpool2d", 3), ("flatten",),
      ("linear", 18, 3, "Identity")],
     "CrossEntropy", lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.25), 4),
    ("avgpool2d",
     [("unflatten", (1, 8, 6)), ("conv2d", 1, 3, 3, 1, 1, "Softplus"), ("avgpool2d", 2), ("flatten",),
      ("linear", 36, 2, "Identity")],
     "Huber05", lambda p: torch.optim.AdamW(p, lr=0.02, weight_decay=0.1, amsgrad=True), 3),
    ("avgpool2d_k3_stride2_conv",
     [("unflatten", (2, 11, 11)), ("conv2d", 2, 3, 3, 2, 1, "LeakyReLU"), ("avgpool2d", 3), ("flatten",),
      ("linear", 12, 2, "Identity")],
     "Mse", lambda p: torch.optim.RMSprop(p, lr=0.01), 2),
    ("maxpool1d",
     [("unflatten", (2, 12)), ("conv1d", 2, 3, 3, 1, 1, "Elu"), ("maxpool1d", 3), ("flatten",),
      ("linear", 12, 2, "Identity")],
     "Mse", lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9), 3),
    ("avgpool1d",
     [("unflatten", (1, 14)), ("conv1d", 1, 2, 3, 1, 0, "LeakyReLU"), ("avgpool1d", 4), ("flatten",),
      ("linear", 6, 2, "Identity")],
     "Mae", lambda p: torch.optim.Adam(p, lr=0.01), 3),
    ("globalavgpool1d",
     [("unflatten", (2, 9)), ("conv1d", 2, 4, 3, 2, 1, "Tanh"), ("globalavgpool1d",), ("flatten",),
      ("linear", 4, 3, "Identity")],
     "CrossEntropy", lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9), 4),
    ("globalavgpool2d",
     [("unflatten", (3, 5, 7)), ("conv2d", 3, 5, 3, 1, 1, "ReLU"), ("globalavgpool2d",), ("flatten",),
      ("linear", 5, 2, "Identity")],
     "Mse", lambda p: torch.optim.Adam(p, lr=0.01), 3),
    ("deep_mixed_2d",
     [("unflatten", (1, 16, 16)),
      ("conv2d", 1, 4, 3, 1, 1, "ReLU"), ("maxpool2d", 2),
      ("conv2d", 4, 6, 3, 1, 1, "Tanh"), ("avgpool2d", 2),
      ("conv2d", 6, 8, 3, 2, 1, "GeluTanh"),
      ("flatten",), ("linear", 32, 10, "ReLU"), ("linear", 10, 4, "Identity")],
     "CrossEntropy", lambda p: torch.optim.Adam(p, lr=0.005), 3),
    ("deep_mixed_2d_global",
     [("unflatten", (2, 10, 10)),
      ("conv2d", 2, 4, 3, 2, 1, "SiLU"), ("maxpool2d", 5),
      ("conv2d", 4, 5, 1, 1, 0, "Identity"), ("globalavgpool2d",),
      ("flatten",), ("linear", 5, 3, "Tanh"), ("linear", 3, 2, "Sigmoid")],
     "Bce", lambda p: torch.optim.AdamW(p, lr=0.01), 3),
    ("deep_mixed_1d",
     [("unflatten", (2, 32)),
      ("conv1d", 2, 4, 5, 1, 2, "ReLU"), ("maxpool1d", 2),
      ("conv1d", 4, 6, 3, 2, 1, "Tanh"), ("avgpool1d", 2),
      ("conv1d", 6, 8, 3, 1, 0, "SiLU"), ("globalavgpool1d",),
      ("flatten",), ("linear", 8, 6, "Tanh"), ("linear", 6, 3, "Identity")],
     "CrossEntropy",
     lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9, momentum=0.5, weight_decay=0.01), 3),
]


def out_len(n, k, s, p):
    """PyTorch's output size of a convolution: (n + 2p - k) / s + 1."""
    assert n + 2 * p >= k, f"kernel {k} longer than the padded input {n + 2 * p}"
    return (n + 2 * p - k) // s + 1


def build(spec, gen):
    """The nn.Sequential for `spec`, its flat input width, its output width
    and the backprop types of its layers; parameters drawn from `gen`."""
    modules, types = [], []
    shape = None
    width_in = None

    def uniform(shape_, bound):
        return (2.0 * torch.rand(shape_, generator=gen) - 1.0) * bound

    def activation(name):
        if name != "Identity":
            modules.append(ACTIVATIONS[name]())
        return RUST_ACTIVATION.get(name, name)

    for layer in spec:
        kind, args = layer[0], layer[1:]
        if kind == "unflatten":
            assert shape is None, "unflatten comes first"
            shape = tuple(args[0])
            width_in = 1
            for d in shape:
                width_in *= d
            modules.append(nn.Unflatten(1, shape))
            types.append(f"Unflatten{len(shape) - 1}d<{','.join(map(str, (width_in,) + shape))}>")
        elif kind in ("conv1d", "conv2d"):
            ci, co, k, s, p, act = args
            dims = 1 if kind == "conv1d" else 2
            assert len(shape) == dims + 1 and shape[0] == ci, f"{kind} after {shape}"
            conv = (nn.Conv1d if dims == 1 else nn.Conv2d)(ci, co, k, stride=s, padding=p)
            fan_in = ci * k ** dims
            with torch.no_grad():
                conv.weight.copy_(uniform(conv.weight.shape, (3.0 / fan_in) ** 0.5))
                conv.bias.copy_(uniform(conv.bias.shape, (1.0 / fan_in) ** 0.5))
            modules.append(conv)
            sizes = tuple(out_len(n, k, s, p) for n in shape[1:])
            name = activation(act)
            types.append(f"Conv{dims}d<{','.join(map(str, (ci, co, k, s, p) + shape[1:] + sizes))},{name}>")
            shape = (co,) + sizes
        elif kind in ("maxpool1d", "avgpool1d", "maxpool2d", "avgpool2d"):
            (k,) = args
            dims = int(kind[-2])
            assert len(shape) == dims + 1, f"{kind} after {shape}"
            assert all(n % k == 0 for n in shape[1:]), f"{kind} of {k} does not divide {shape}"
            module = {"maxpool1d": nn.MaxPool1d, "avgpool1d": nn.AvgPool1d,
                      "maxpool2d": nn.MaxPool2d, "avgpool2d": nn.AvgPool2d}[kind]
            modules.append(module(k))
            sizes = tuple(n // k for n in shape[1:])
            prefix = "MaxPool" if kind.startswith("max") else "AvgPool"
            types.append(f"{prefix}{dims}d<{','.join(map(str, (shape[0], k) + shape[1:] + sizes))}>")
            shape = (shape[0],) + sizes
        elif kind in ("globalavgpool1d", "globalavgpool2d"):
            dims = int(kind[-2])
            assert len(shape) == dims + 1, f"{kind} after {shape}"
            modules.append((nn.AdaptiveAvgPool1d if dims == 1 else nn.AdaptiveAvgPool2d)(1))
            types.append(f"GlobalAvgPool{dims}d<{','.join(map(str, shape))}>")
            shape = (shape[0],) + (1,) * dims
        elif kind == "flatten":
            width = 1
            for d in shape:
                width *= d
            modules.append(nn.Flatten())
            types.append(f"Flatten{len(shape) - 1}d<{','.join(map(str, shape + (width,)))}>")
            shape = (width,)
        elif kind == "linear":
            n_in, n_out, act = args
            assert shape == (n_in,), f"Linear({n_in}, {n_out}) after {shape}"
            linear = nn.Linear(n_in, n_out)
            with torch.no_grad():
                linear.weight.copy_(uniform(linear.weight.shape, (3.0 / n_in) ** 0.5))
                linear.bias.copy_(uniform(linear.bias.shape, (1.0 / n_in) ** 0.5))
            modules.append(linear)
            types.append(f"Dense<{n_in},{n_out},{activation(act)}>")
            shape = (n_out,)
        else:
            raise ValueError(kind)
    assert len(shape) == 1, f"the net ends in {shape}, not a flat row"
    return nn.Sequential(*modules), width_in, shape[0], types


def check_no_kinks(net, x):
    """Asserts that no ReLU input is zero and that no max-pool window has two
    equal largest values that the gradient could be routed between: there the
    derivative depends on a convention rather than on the function."""
    problems = []

    def relu_hook(module, inputs, output):
        if (inputs[0].abs() < 1e-12).any():
            problems.append(f"{module}: an input is zero")

    def pool_hook(module, inputs, output):
        (z,) = inputs
        k = module.kernel_size
        if isinstance(module, nn.MaxPool1d):
            windows = z.unfold(2, k, k)
        else:
            windows = z.unfold(2, k, k).unfold(3, k, k).flatten(-2)
        top = windows.topk(2, dim=-1).values
        # A window whose largest value is an exact zero comes from a ReLU
        # whose inputs there are all negative: its gradient is zero whichever
        # element receives it.
        tied = ((top[..., 0] - top[..., 1]).abs() <= 1e-12 * top[..., 0].abs()) & (top[..., 0] != 0.0)
        if tied.any():
            problems.append(f"{module}: a window has two equal maxima")

    handles = []
    for m in net.modules():
        if isinstance(m, nn.ReLU):
            handles.append(m.register_forward_hook(relu_hook))
        if isinstance(m, (nn.MaxPool1d, nn.MaxPool2d)):
            handles.append(m.register_forward_hook(pool_hook))
    with torch.no_grad():
        net(x)
    for h in handles:
        h.remove()
    assert not problems, problems


def main():
    out = ["# generated by tests/pytorch/generate_conv_parity.py with torch " + torch.__version__]
    names = [case[0] for case in CASES]
    assert len(set(names)) == len(names), "case names must be unique"
    for index, (name, spec, kind, make_opt, batch) in enumerate(CASES):
        gen = torch.Generator().manual_seed(2000 + index)
        net, width_in, width_out, types = build(spec, gen)
        params = [p for p in net.parameters()]
        x = torch.randn(batch, width_in, generator=gen)
        y = targets(kind, batch, width_out, gen)
        crit = loss_fn(kind)

        out.append(f"case {name}")
        out.append("layers " + " ".join(types))
        out.append(line("params", flat(params)))
        out.append(line("x", x.reshape(-1).tolist()))
        out.append(line("y", y.reshape(-1).tolist()))

        check_no_kinks(net, x)
        xg = x.clone().requires_grad_(True)
        y_hat = net(xg)
        loss = crit(y_hat, y)
        loss.backward()
        out.append(line("output", y_hat.detach().reshape(-1).tolist()))
        out.append(line("loss", [loss.item()]))
        out.append(line("grads", flat([p.grad for p in params])))
        out.append(line("input_grads", xg.grad.reshape(-1).tolist()))

        opt = make_opt(net.parameters())
        for step in (1, 2, 3):
            check_no_kinks(net, x)
            opt.zero_grad()
            loss = crit(net(x), y)
            loss.backward()
            opt.step()
            out.append(line(f"step{step}_loss", [loss.item()]))
            out.append(line(f"step{step}", flat(params)))
        out.append("end")

    path = os.path.join(os.path.dirname(__file__), "..", "fixtures", "pytorch_conv_parity.txt")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
    print(f"wrote {len(CASES)} cases to {os.path.normpath(path)}")


if __name__ == "__main__":
    main()
