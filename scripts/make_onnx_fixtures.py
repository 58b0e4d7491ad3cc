#!/usr/bin/python3
"""Writes the ONNX reader's fixtures, tests/fixtures/onnx/*.onnx (deterministic; Debian's python3-onnx).

Usage: scripts/make_onnx_fixtures.py [OUTDIR]   (default: tests/fixtures/onnx beside this script's repository)

Every float tensor holds value(k, i) for its own k, i its flat C-order index; tests/unit/test_onnx.c computes the same
formulas. Both are dyadic rationals, so they are exact in every dtype that uses them (fine: f32, f64; coarse: also
f16 and bf16) and the C test can ask for equality.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = [helper.make_opsetid("", 13)]


def coarse(k, n):
    i = np.arange(n, dtype=np.int64)
    return ((i * 37 + k * 11) % 101 - 50) / 64.0


def fine(k, n):
    i = np.arange(n, dtype=np.int64)
    return coarse(k, n) + ((i * 13 + k) % 97) / 2.0**20


def arr(k, shape, dtype=np.float32, formula=fine):
    return formula(k, int(np.prod(shape))).reshape(shape).astype(dtype)


def init(name, k, shape, dtype=np.float32, formula=fine):
    return numpy_helper.from_array(arr(k, shape, dtype, formula), name)


def vi(name, elem=TensorProto.FLOAT, shape=None):
    return helper.make_tensor_value_info(name, elem, shape)


def model(graph):
    m = helper.make_model(graph, opset_imports=OPSET, producer_name="qscope make_onnx_fixtures")
    m.ir_version = 8
    return m


def save(m, out, name, check=False):
    if check:
        onnx.checker.check_model(m)
    onnx.save_model(m, os.path.join(out, name))


def initializers_graph():
    """Initializers feeding each op whose output-channel axis qscope knows, plus an INT64 shape (skipped)."""
    nodes = [
        helper.make_node("Conv", ["x", "conv.W", "conv.B"], ["y1"], name="conv"),
        helper.make_node("MatMul", ["a", "mm.B"], ["y2"], name="mm"),
        helper.make_node("Gemm", ["a", "gemm_t.B"], ["y3"], name="gemm_t", transB=1),
        helper.make_node("Gemm", ["a", "gemm_n.B"], ["y4"], name="gemm_n", transB=0),
        helper.make_node("ConvTranspose", ["x", "convt.W"], ["y5"], name="convt"),
        helper.make_node("Mul", ["y2", "scale"], ["y6"], name="mul"),
        helper.make_node("Reshape", ["y6", "shape"], ["y7"], name="reshape"),
    ]
    inits = [
        init("conv.W", 1, [4, 3, 3, 3]),
        init("conv.B", 2, [4]),
        init("mm.B", 3, [8, 5]),
        init("gemm_t.B", 4, [6, 8]),
        init("gemm_n.B", 5, [8, 6]),
        init("convt.W", 6, [3, 2, 2, 2]),
        numpy_helper.from_array(np.array([5, 2], dtype=np.int64), "shape"),
        init("scale", 7, [5]),
        init("orphan", 8, [3]),
    ]
    inputs = [vi("x", shape=[1, 3, 5, 5]), vi("a", shape=[2, 8])]
    outputs = [vi(n) for n in ["y1", "y3", "y4", "y5", "y7"]]
    return helper.make_graph(nodes, "initializers", inputs, outputs, inits)


def const(out, k, shape, formula=fine):
    return helper.make_node("Constant", [], [out], value=numpy_helper.from_array(arr(k, shape, formula=formula), out))


def subgraph_model():
    """Weights as Constant nodes: in the main graph, in both branches of If_0, in an unnamed Loop's body."""
    then_g = helper.make_graph(
        [const("W", 21, [2, 3]), helper.make_node("MatMul", ["a", "W"], ["t1"]),
         helper.make_node("MatMul", ["t1", "WO"], ["t_out"])],
        "then", [], [vi("t_out")])
    else_g = helper.make_graph(
        [const("W", 22, [2, 3]), helper.make_node("MatMul", ["a", "W"], ["e1"]),
         helper.make_node("MatMul", ["e1", "WO"], ["e_out"])],
        "else", [], [vi("e_out")])
    body = helper.make_graph(
        [const("LW", 23, [4]), helper.make_node("Add", ["v_in", "LW"], ["v_out"]),
         helper.make_node("Identity", ["cond_in"], ["cond_out"])],
        "body", [vi("iter", TensorProto.INT64, []), vi("cond_in", TensorProto.BOOL, []), vi("v_in", shape=[4])],
        [vi("cond_out", TensorProto.BOOL, []), vi("v_out", shape=[4])])
    nodes = [
        const("WO", 24, [3, 4]),
        helper.make_node("If", ["c"], ["y"], name="If_0", then_branch=then_g, else_branch=else_g),
        helper.make_node("Loop", ["n", "c", "v"], ["v_final"], body=body),
    ]
    inputs = [vi("a", shape=[1, 2]), vi("c", TensorProto.BOOL, []), vi("n", TensorProto.INT64, []),
              vi("v", shape=[4])]
    g = helper.make_graph(nodes, "subgraphs", inputs, [vi("y"), vi("v_final")])
    return model(g)


def typed_model():
    """Values in the typed fields (float_data, double_data, FLOAT16/BFLOAT16 bits in int32_data) and raw f16/bf16."""
    def bits16(values, dtype):
        if dtype == "f16":
            return values.astype(np.float16).view(np.uint16)
        return (values.astype(np.float32).view(np.uint32) >> 16).astype(np.uint16)

    t_float = helper.make_tensor("tf32", TensorProto.FLOAT, [3, 4], arr(31, [3, 4]).ravel().tolist())
    t_double = helper.make_tensor("tf64", TensorProto.DOUBLE, [5], arr(32, [5], np.float64).ravel().tolist())
    t_half = TensorProto(name="tf16", data_type=TensorProto.FLOAT16, dims=[2, 2, 2])
    t_half.int32_data.extend(int(b) for b in bits16(coarse(33, 8), "f16"))
    t_bf = TensorProto(name="tbf16", data_type=TensorProto.BFLOAT16, dims=[6])
    t_bf.int32_data.extend(int(b) for b in bits16(coarse(34, 6), "bf16"))
    r_half = TensorProto(name="rf16", data_type=TensorProto.FLOAT16, dims=[4],
                         raw_data=bits16(coarse(35, 4), "f16").astype("<u2").tobytes())
    r_bf = TensorProto(name="rbf16", data_type=TensorProto.BFLOAT16, dims=[2, 3],
                       raw_data=bits16(coarse(36, 6), "bf16").astype("<u2").tobytes())
    r_double = numpy_helper.from_array(arr(37, [2, 2], np.float64), "rf64")
    empty = numpy_helper.from_array(np.zeros((0, 3), np.float32), "empty")
    ints = helper.make_tensor("ti32", TensorProto.INT32, [3], [1, 2, 3])
    inits = [t_float, t_double, t_half, t_bf, r_half, r_bf, r_double, empty, ints]
    nodes = [helper.make_node("Identity", [t.name], ["o_" + t.name]) for t in inits]
    g = helper.make_graph(nodes, "typed", [], [vi("o_" + t.name, t.data_type) for t in inits], inits)
    return model(g)


def external_model(out):
    m = model(initializers_graph())
    if os.path.exists(os.path.join(out, "external.bin")):
        os.remove(os.path.join(out, "external.bin"))  # onnx appends to an existing data file
    onnx.save_model(m, os.path.join(out, "external.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
                    location="external.bin", size_threshold=0)


def with_external(location, length=None):
    t = TensorProto(name="W", data_type=TensorProto.FLOAT, dims=[2, 3],
                    data_location=TensorProto.EXTERNAL)
    for key, value in [("location", location), ("offset", "0")] + ([("length", str(length))] if length else []):
        entry = t.external_data.add()
        entry.key, entry.value = key, value
    g = helper.make_graph([helper.make_node("Identity", ["W"], ["y"])], "ext", [], [vi("y")], [t])
    return model(g)


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "tests", "fixtures", "onnx")
    os.makedirs(out, exist_ok=True)

    save(model(initializers_graph()), out, "initializers.onnx")
    save(subgraph_model(), out, "subgraphs.onnx")
    save(typed_model(), out, "typed.onnx")
    external_model(out)

    # malformed
    good = model(initializers_graph()).SerializeToString()
    with open(os.path.join(out, "bad_truncated.onnx"), "wb") as f:
        f.write(good[: len(good) // 2])
    with open(os.path.join(out, "bad_garbage.onnx"), "wb") as f:
        f.write(bytes((i * 89 + 7) % 256 | 0x07 for i in range(64)))  # every tag has the invalid wire type 7
    with open(os.path.join(out, "bad_nograph.onnx"), "wb") as f:
        f.write(onnx.ModelProto(ir_version=8).SerializeToString())
    bad = TensorProto(name="W", data_type=TensorProto.FLOAT, dims=[2, 3], raw_data=b"\0" * 10)
    g = helper.make_graph([helper.make_node("Identity", ["W"], ["y"])], "bad", [], [vi("y")], [bad])
    save(model(g), out, "bad_raw_size.onnx", check=False)
    bad = TensorProto(name="W", data_type=TensorProto.FLOAT, dims=[2, 3], float_data=[1.5] * 5)
    g = helper.make_graph([helper.make_node("Identity", ["W"], ["y"])], "bad", [], [vi("y")], [bad])
    save(model(g), out, "bad_float_data_count.onnx", check=False)
    save(with_external("missing.bin"), out, "bad_external_missing.onnx", check=False)
    with open(os.path.join(out, "short.bin"), "wb") as f:
        f.write(b"\0" * 20)  # 2x3 FLOAT needs 24
    save(with_external("short.bin"), out, "bad_external_short.onnx", check=False)
    save(with_external("../initializers.onnx"), out, "bad_external_escape.onnx", check=False)
    print(f"wrote ONNX fixtures to {out}")


if __name__ == "__main__":
    main()
