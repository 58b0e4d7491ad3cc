#!/usr/bin/python3
"""Dumps a PyTorch model's weights and activations in the layout qscope reads.

    /usr/bin/python3 scripts/dump_torch.py --model demo -o dumps/demo            # the small CNN below
    /usr/bin/python3 scripts/dump_torch.py --model mypkg.models:make_net --input batches.npy -o dumps/net

writes
    OUT/weights.safetensors          every floating-point parameter and buffer (state_dict names), float32
    OUT/acts/<module>/<k>.npy        the output of every leaf module (forward hooks) for input batch k
    OUT/inputs/<k>.npy               the input batches themselves

Then:  qscope sweep OUT/weights.safetensors             (weights)
       qscope sweep --batches 'OUT/acts/*/*.npy' ...      (activations: one set per module; see README)

--model MODULE:FACTORY imports MODULE and calls FACTORY() for an nn.Module (put it on PYTHONPATH). Inputs: --input
FILE.npy (an array [N, ...], split into --batch-size rows per batch) or, without it, seeded normal noise of
--input-shape for the demo. The model runs in eval mode under torch.no_grad(). Needs python3-torch (Debian).
"""
import argparse
import importlib
import json
import os
import struct
import sys

import numpy as np
import torch
from torch import nn


class DemoCNN(nn.Module):
    """A small CNN for trying the round trip (seeded random weights: a demo, not a trained model)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = self.pool1(self.relu1(self.conv1(x)))
        x = self.pool2(self.relu2(self.conv2(x)))
        return self.fc(self.flatten(x))


def write_safetensors(path, tensors):
    """safetensors: 8-byte little-endian header length, a JSON header padded to 8 bytes, then the raw data."""
    header, blobs, offset = {"__metadata__": {"format": "pt", "writer": "qscope scripts/dump_torch.py"}}, [], 0
    for name in sorted(tensors):
        data = np.ascontiguousarray(tensors[name], dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def load_model(spec):
    if spec == "demo":
        torch.manual_seed(0)
        return DemoCNN()
    module, _, factory = spec.partition(":")
    if not factory:
        sys.exit(f"dump_torch.py: --model '{spec}': use demo or MODULE:FACTORY")
    return getattr(importlib.import_module(module), factory)()


def input_batches(args):
    if args.input:
        x = np.load(args.input).astype(np.float32)
        return [x[i:i + args.batch_size] for i in range(0, len(x), args.batch_size)]
    rng = np.random.default_rng(args.seed)
    shape = [args.batch_size] + [int(d) for d in args.input_shape.split(",")]
    return [rng.standard_normal(shape).astype(np.float32) for _ in range(args.batches)]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="demo", help="demo, or MODULE:FACTORY returning an nn.Module")
    p.add_argument("--input", help="input array [N, ...] (.npy); default: seeded noise of --input-shape")
    p.add_argument("--input-shape", default="3,16,16", help="per-example shape of the noise input (default 3,16,16)")
    p.add_argument("--batches", type=int, default=12, help="noise batches (default 12)")
    p.add_argument("--batch-size", type=int, default=4, help="examples per batch (default 4)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-o", "--output", required=True, help="output folder")
    args = p.parse_args()

    model = load_model(args.model).eval()
    os.makedirs(args.output, exist_ok=True)
    weights = {k: v.detach().cpu().float().numpy() for k, v in model.state_dict().items() if v.is_floating_point()}
    write_safetensors(os.path.join(args.output, "weights.safetensors"), weights)

    outputs = {}
    hooks = []
    for name, mod in model.named_modules():
        if name and not list(mod.children()):
            hooks.append(mod.register_forward_hook(
                lambda m, inp, out, name=name: outputs.__setitem__(name, out.detach().cpu().float().numpy())))
    batches = input_batches(args)
    for k, x in enumerate(batches):
        outputs.clear()
        with torch.no_grad():
            model(torch.from_numpy(x))
        for name, value in [("inputs", x)] + [(f"acts/{n}", v) for n, v in outputs.items()]:
            folder = os.path.join(args.output, name)
            os.makedirs(folder, exist_ok=True)
            np.save(os.path.join(folder, f"{k}.npy"), value)
    for h in hooks:
        h.remove()
    print(f"{args.output}/weights.safetensors: {len(weights)} tensors; {len(batches)} batches of "
          f"{len(outputs)} module outputs under {args.output}/acts/")


if __name__ == "__main__":
    main()
