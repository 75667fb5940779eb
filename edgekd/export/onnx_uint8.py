"""Rewrite a QDQ ONNX model's int8 activations to uint8 (U8S8), leaving the int8 weights alone.

Why: PT2E quantises activations to signed int8 (what TFLite kernels want). ONNX Runtime's x86 CPU
kernels are built for uint8 activations with int8 weights. Given int8 activations, ORT 1.32 fuses
DQ→Conv→Q into QLinearConv only where a ReLU follows the conv. It leaves the others (residual
branches, downsample, linear bottlenecks) and every Add in float, so a ResNet's int8 file runs no
faster than fp32. With uint8 activations every conv fuses.

Why it is exact: with the same scale, the uint8 code for a real value is the int8 code + 128. Both
use round(x / scale) + zero_point, and their saturation ranges [-128, 127] and [0, 255] move
together. So adding 128 to each activation zero point changes the stored codes and not one value
they stand for. Nothing is re-calibrated.

What counts as a weight: an int8 tensor computed from constants only (an initializer, a Constant
node, or a QuantizeLinear of one). DequantizeLinear of such a tensor keeps its int8 zero point. A
zero point that weights and activations share is copied, so the weights keep the int8 original.
Subgraphs (If/Loop bodies) are not visited; PT2E exports have none.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, numpy_helper

QUANTIZE, DEQUANTIZE = "QuantizeLinear", "DequantizeLinear"
# Ops that only move, select or compare int8 codes (output 0 from input 0, no arithmetic): a tensor
# shifted by +128 goes in, the same tensor shifted by +128 comes out.
SHIFT_PRESERVING = {"Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze", "Identity", "MaxPool"}


def to_uint8_activations(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of `model` whose activation Q/DQ pairs are uint8 (zero point + 128, same scale).

    Raises ValueError for an int8 activation that it cannot shift exactly: one that reaches a graph
    output, comes in as a graph input, or feeds an op other than DequantizeLinear and the
    shift-preserving data-movement ops.
    """
    rewritten = onnx.ModelProto()
    rewritten.CopyFrom(model)
    _rewrite(rewritten.graph)
    return rewritten


def rewrite_file(path: Path) -> bool:
    """Rewrite the ONNX file at `path` in place. Returns False, leaving the file untouched, when it
    has no int8 activations (an fp32 model, or one already uint8)."""
    model = onnx.load(str(path))
    if not _rewrite(model.graph):
        return False
    onnx.checker.check_model(model, full_check=True)  # full_check: shape/type inference must agree
    onnx.save(model, str(path))
    return True


def _rewrite(graph: onnx.GraphProto) -> int:
    """Rewrite `graph` in place; return the number of Q/DQ nodes moved to uint8."""
    constants = _Constants(graph)
    weights: set[str] = set(constants.names)  # tensors computed from constants only
    shifted: set[str] = set()  # int8 activation tensors that become uint8
    activation_nodes: list[int] = []  # indices of the Q/DQ nodes whose zero point moves by +128
    for index, node in enumerate(graph.node):  # ONNX keeps nodes in topological order
        if node.op_type in (QUANTIZE, DEQUANTIZE) and _has_int8_zero_point(node, constants):
            if node.input[0] in weights:
                weights.add(node.output[0])
                continue
            if node.op_type == DEQUANTIZE and node.input[0] not in shifted:
                raise ValueError(f"{node.name or node.output[0]}: dequantizes an int8 tensor that no "
                                 "QuantizeLinear of this graph produced")
            activation_nodes.append(index)
            if node.op_type == QUANTIZE:
                shifted.add(node.output[0])
        elif node.op_type in SHIFT_PRESERVING and node.input and node.input[0] in shifted:
            shifted.add(node.output[0])  # MaxPool's optional second output is int64 indices
        elif any(name in shifted for name in node.input):
            raise ValueError(f"{node.op_type} {node.name or node.output[0]}: consumes an int8 "
                             "activation directly; shifting it to uint8 would change its result")
        elif all(name in weights for name in node.input if name):  # includes Constant (no inputs)
            weights.update(node.output)
    leaked = shifted & {value.name for value in graph.output}
    if leaked:
        raise ValueError(f"graph outputs {sorted(leaked)} are int8 activations; outputs must stay float")

    retyped = shifted | _shift_zero_points(graph, constants, activation_nodes)
    for value in [*graph.value_info, *graph.input, *graph.output]:
        if value.name in retyped and value.type.tensor_type.elem_type == TensorProto.INT8:
            value.type.tensor_type.elem_type = TensorProto.UINT8
    return len(activation_nodes)


class _Constants:
    """Initializers and Constant-node outputs by name, readable as arrays and replaceable."""

    def __init__(self, graph: onnx.GraphProto):
        self.graph = graph
        self.initializers = {init.name: init for init in graph.initializer}
        self.nodes = {node.output[0]: node for node in graph.node if node.op_type == "Constant"}
        self.names = set(self.initializers) | set(self.nodes)

    def array(self, name: str) -> np.ndarray:
        if name in self.initializers:
            return numpy_helper.to_array(self.initializers[name])
        node = self.nodes.get(name)
        tensors = [attr.t for attr in node.attribute if attr.name == "value"] if node is not None else []
        if not tensors:
            raise ValueError(f"zero point {name!r} is not an initializer or a tensor Constant")
        return numpy_helper.to_array(tensors[0])

    def replace(self, name: str, values: np.ndarray) -> None:
        tensor = numpy_helper.from_array(values, name)
        if name in self.initializers:
            self.initializers[name].CopyFrom(tensor)
        else:
            next(attr for attr in self.nodes[name].attribute if attr.name == "value").t.CopyFrom(tensor)

    def add(self, name: str, values: np.ndarray) -> None:
        self.initializers[name] = self.graph.initializer.add()
        self.initializers[name].CopyFrom(numpy_helper.from_array(values, name))
        self.names.add(name)


def _has_int8_zero_point(node: onnx.NodeProto, constants: _Constants) -> bool:
    """Opset 18 QuantizeLinear takes its output type from the zero point (uint8 when there is none);
    opset 21's output_dtype attribute would have to move with it, which this does not do."""
    if any(attr.name == "output_dtype" for attr in node.attribute):
        raise ValueError(f"{node.name or node.output[0]}: {node.op_type} output_dtype (opset 21+) is not handled")
    return len(node.input) > 2 and bool(node.input[2]) and constants.array(node.input[2]).dtype == np.int8


def _shift_zero_points(graph: onnx.GraphProto, constants: _Constants, activation_nodes: list[int]) -> set[str]:
    """Add 128 to each activation zero point, once per tensor however many Q/DQ share it.

    A zero point with any other reader (a weight DQ, another op, a graph output) gets one uint8 copy
    for all the activation nodes instead. Returns the names changed in place, whose types must follow.
    """
    activation_slots = {(index, 2) for index in activation_nodes}
    other_readers: dict[str, int] = defaultdict(int)
    for index, node in enumerate(graph.node):
        for slot, name in enumerate(node.input):
            if (index, slot) not in activation_slots:
                other_readers[name] += 1
    for value in graph.output:
        other_readers[value.name] += 1

    taken = constants.names | {name for node in graph.node for name in node.output} | {v.name for v in graph.input}
    in_place: set[str] = set()
    copies: dict[str, str] = {}
    for index in activation_nodes:
        node = graph.node[index]
        name = node.input[2]
        if name in in_place:
            continue
        if name not in copies:
            shifted = (constants.array(name).astype(np.int16) + 128).astype(np.uint8)
            if not other_readers[name]:
                constants.replace(name, shifted)
                in_place.add(name)
                continue
            copies[name] = _unique_name(f"{name}_uint8", taken)
            taken.add(copies[name])
            constants.add(copies[name], shifted)
        node.input[2] = copies[name]
    return in_place


def _unique_name(base: str, taken: set[str]) -> str:
    name, index = base, 1
    while name in taken:
        name, index = f"{base}_{index}", index + 1
    return name
