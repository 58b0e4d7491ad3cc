#!/usr/bin/python3
"""Generates the simulation fixtures once (deterministic; the outputs are committed, this script is kept).

1. tests/fixtures/sim/<case>.{x,w,b,y}.npy: Linear and Conv2d cases (stride, padding, dilation, groups,
   depthwise) computed by PyTorch in float64 (torch.nn.functional.linear / conv2d): the oracle of
   tests/unit/test_simulate.c, which never sees qscope's own output.
2. data/lenet/: the seed's demo network (conv 3->6 k5, maxpool 2, conv 6->16 k5, maxpool 2, fc 400->120, fc 120->84,
   fc 84->10, ReLU between), seeded init (torch.manual_seed(0)) then trained briefly on a deterministic synthetic
   10-class task (no dataset download): weights and three input batches of 8 CIFAR-sized 3x32x32 images as float32.
3. tests/fixtures/sim/lenet_*: PyTorch's float32 logits of those batches, the logits of
   torch.quantization.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8) and, per fc layer, its float input
   and the DynamicQuantizedLinear output on that input.

4. tests/fixtures/sim/mini*: a small network with every layer type (relu6, avgpool with padding, maxpool with
   padding, depthwise dilated conv) and its PyTorch float64 output.
Needs python3-torch (Debian); the tests themselves only read the .npy files.
Usage: /usr/bin/python3 scripts/make_sim_fixtures.py   (from the repository root)
"""
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "tests", "fixtures", "sim")
LENET = os.path.join(ROOT, "data", "lenet")

# name: (x shape, w shape, bias?, stride, padding, dilation, groups) -- conv cases; linear cases have stride None
CASES = {
    "linear": ((5, 7), (4, 7), True, None, None, None, None),
    "linear_tokens": ((2, 3, 7), (6, 7), False, None, None, None, None),
    "conv_basic": ((2, 3, 9, 8), (4, 3, 3, 3), True, (1, 1), (0, 0), (1, 1), 1),
    "conv_strided": ((2, 3, 11, 10), (5, 3, 3, 2), True, (2, 1), (1, 2), (2, 1), 1),
    "conv_groups": ((1, 4, 7, 7), (6, 2, 3, 3), True, (1, 2), (1, 1), (1, 1), 2),
    "conv_depthwise": ((3, 5, 6, 6), (5, 1, 3, 3), True, (1, 1), (1, 1), (1, 1), 5),
}


def save(path, a):
    np.save(path, np.ascontiguousarray(a))


def make_cases():
    g = torch.Generator().manual_seed(1234)
    for name, (xs, ws, has_b, stride, pad, dil, groups) in CASES.items():
        x = torch.randn(xs, generator=g, dtype=torch.float64) * 1.7
        w = torch.randn(ws, generator=g, dtype=torch.float64) * 0.37
        b = torch.randn(ws[0], generator=g, dtype=torch.float64) * 0.5 if has_b else None
        if stride is None:
            y = F.linear(x, w, b)
        else:
            y = F.conv2d(x, w, b, stride=stride, padding=pad, dilation=dil, groups=groups)
        save(os.path.join(FIX, name + ".x.npy"), x.numpy())
        save(os.path.join(FIX, name + ".w.npy"), w.numpy())
        if b is not None:
            save(os.path.join(FIX, name + ".b.npy"), b.numpy())
        save(os.path.join(FIX, name + ".y.npy"), y.numpy())


class LeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(400, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


def synthetic(gen, templates, n):
    """n images of the synthetic task: a class template (smooth random pattern), random contrast, pixel noise."""
    labels = torch.randint(0, 10, (n,), generator=gen)
    contrast = 0.5 + torch.rand(n, 1, 1, 1, generator=gen)
    noise = 6.0 * torch.randn(n, 3, 32, 32, generator=gen)
    return templates[labels] * contrast + noise, labels


def make_lenet():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(2026)
    coarse = torch.randn(10, 3, 4, 4, generator=gen)
    templates = F.interpolate(coarse, size=(32, 32), mode="bilinear", align_corners=False)
    model = LeNet()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    for step in range(300):
        x, y = synthetic(gen, templates, 64)
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    xt, yt = synthetic(gen, templates, 512)
    with torch.no_grad():
        acc = (model(xt).argmax(1) == yt).float().mean().item()
    print(f"lenet: final training loss {loss.item():.4f}, held-out accuracy {acc:.3f} on 512 synthetic images")

    for name, p in model.state_dict().items():
        save(os.path.join(LENET, name + ".npy"), p.numpy().astype(np.float32))
    qmodel = torch.quantization.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)
    print("quantized engine:", torch.backends.quantized.engine)
    for i in range(3):
        x, _ = synthetic(gen, templates, 8)
        x = x.float()
        save(os.path.join(LENET, f"batch{i}.npy"), x.numpy())
        with torch.no_grad():
            save(os.path.join(FIX, f"lenet_float_batch{i}.npy"), model(x).numpy())
            save(os.path.join(FIX, f"lenet_qdyn_batch{i}.npy"), qmodel(x).numpy())
            if i == 0:
                h = F.max_pool2d(F.relu(model.conv1(x)), 2)
                h = torch.flatten(F.max_pool2d(F.relu(model.conv2(h)), 2), 1)
                for fc in ("fc1", "fc2", "fc3"):
                    save(os.path.join(FIX, f"lenet_{fc}_in.npy"), h.numpy())
                    qy = getattr(qmodel, fc)(h)
                    save(os.path.join(FIX, f"lenet_{fc}_qdyn.npy"), qy.numpy())
                    h = F.relu(getattr(model, fc)(h))


MINI_INI = """; A small network exercising every layer type (tests/cli/test_cli_simulate.py; made by make_sim_fixtures.py)
[network]
input = mini_x.npy

[conv]
type = conv2d
weight = mini_conv.w.npy
bias = mini_conv.b.npy
stride = 2
padding = 1,2
[act]
type = relu6
[avg]
type = avgpool
kernel = 3
stride = 2
padding = 1
[max]
type = maxpool
kernel = 2,3
stride = 1
padding = 1
[dw]
type = conv2d
weight = mini_dw.w.npy
groups = 4
dilation = 2
padding = 2
[relu]
type = relu
[flat]
type = flatten
[fc]
type = linear
weight = mini_fc.w.npy
bias = mini_fc.b.npy
"""


def make_mini():
    """conv (stride 2, padding 1,2) -> relu6 -> avgpool 3/2 pad 1 (zeros counted) -> maxpool (2,3)/1 pad 1 ->
    depthwise conv (dilation 2, padding 2) -> relu -> flatten -> linear, in PyTorch float64."""
    g = torch.Generator().manual_seed(99)
    x = torch.randn(3, 2, 13, 11, generator=g, dtype=torch.float64) * 2.0
    cw = torch.randn(4, 2, 3, 3, generator=g, dtype=torch.float64)
    cb = torch.randn(4, generator=g, dtype=torch.float64)
    dw = torch.randn(4, 1, 3, 3, generator=g, dtype=torch.float64)
    h = F.relu6(F.conv2d(x, cw, cb, stride=2, padding=(1, 2)))
    h = F.avg_pool2d(h, 3, stride=2, padding=1, count_include_pad=True)
    h = F.max_pool2d(h, (2, 3), stride=1, padding=1)
    h = F.relu(F.conv2d(h, dw, None, padding=2, dilation=2, groups=4))
    h = torch.flatten(h, 1)
    fw = torch.randn(5, h.shape[1], generator=g, dtype=torch.float64) * 0.3
    fb = torch.randn(5, generator=g, dtype=torch.float64)
    y = F.linear(h, fw, fb)
    for name, t in (("mini_x", x), ("mini_conv.w", cw), ("mini_conv.b", cb), ("mini_dw.w", dw), ("mini_fc.w", fw),
                    ("mini_fc.b", fb), ("mini_y", y)):
        save(os.path.join(FIX, name + ".npy"), t.numpy())
    with open(os.path.join(FIX, "mini.ini"), "w") as f:
        f.write(MINI_INI)


def main():
    os.makedirs(FIX, exist_ok=True)
    os.makedirs(LENET, exist_ok=True)
    make_cases()
    make_lenet()
    make_mini()
    return 0


if __name__ == "__main__":
    sys.exit(main())
