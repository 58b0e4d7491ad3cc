#!/usr/bin/python3
"""Export the weights of an ONNX model as one .npy file per tensor (qscope's bundled default input).

Usage: scripts/export_onnx_npy.py MODEL.onnx OUTDIR

Exports every float tensor that a Conv, ConvTranspose, MatMul or Gemm node consumes (weights and biases), plus
the bias added after a MatMul, wherever the exporter put it (graph.initializer or Constant nodes). Batch-norm
statistics are left out: deployment folds them into the preceding convolution. Needs Debian's python3-onnx.
"""
import os
import sys

import numpy as np
import onnx
from onnx import numpy_helper

PARAM_OPS = {"Conv", "ConvTranspose", "MatMul", "Gemm"}


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    model = onnx.load(sys.argv[1])
    graph = model.graph
    tensors = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant":
            for attr in node.attribute:
                if attr.name == "value":
                    tensors[node.output[0]] = numpy_helper.to_array(attr.t)
    producer = {out: node for node in graph.node for out in node.output}
    wanted = set()
    for node in graph.node:
        if node.op_type in PARAM_OPS:
            wanted.update(name for name in node.input[1:] if name in tensors)
        elif node.op_type == "Add" and any(
            i in producer and producer[i].op_type == "MatMul" for i in node.input
        ):
            wanted.update(name for name in node.input if name in tensors)
    os.makedirs(sys.argv[2], exist_ok=True)
    count = 0
    for name in sorted(wanted):
        array = tensors[name]
        if array.dtype != np.float32 or array.ndim == 0:
            continue
        np.save(os.path.join(sys.argv[2], name + ".npy"), array)
        count += 1
    print(f"wrote {count} tensors to {sys.argv[2]}")


if __name__ == "__main__":
    main()
