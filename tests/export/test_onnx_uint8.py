"""uint8-activation rewrite of QDQ ONNX: exact, weights kept int8, and every conv fuses in ORT."""

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper

from edgekd.export.onnx_export import export_onnx, integer_op_share
from edgekd.export.onnx_uint8 import to_uint8_activations
from edgekd.compress.quantization import calibrate, convert


def ort_outputs(model_or_path, inputs: dict, optimize: bool = True) -> list[np.ndarray]:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    if not optimize:  # the reference Q/DQ kernels, no fusion: the rewrite must not change a bit
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    source = model_or_path.SerializeToString() if isinstance(model_or_path, onnx.ModelProto) else str(model_or_path)
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"]).run(None, inputs)


def zero_point_dtypes(model: onnx.ModelProto) -> dict[str, list]:
    """Zero-point dtype of each activation Q/DQ and of each weight DQ (input is an initializer)."""
    arrays = {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}
    found: dict[str, list] = {"activation": [], "weight": []}
    for node in model.graph.node:
        if node.op_type in ("QuantizeLinear", "DequantizeLinear") and arrays[node.input[2]].dtype != np.int32:
            kind = "weight" if node.op_type == "DequantizeLinear" and node.input[0] in arrays else "activation"
            found[kind].append(arrays[node.input[2]].dtype)
    return found


@pytest.fixture(scope="module")
def student_files(tmp_path_factory):
    from edgekd.zoo import FashionStudent

    torch.manual_seed(0)
    data = np.random.default_rng(0).normal(size=(64, 1, 28, 28)).astype(np.float32)
    quantized = convert(calibrate(FashionStudent().eval(), data[:32]))
    folder = tmp_path_factory.mktemp("uint8")
    export_onnx(quantized, data, folder / "signed.onnx", uint8_activations=False)
    export_onnx(quantized, data, folder / "written.onnx")  # what edgekd writes
    return folder / "signed.onnx", folder / "written.onnx", data


def test_rewrite_retypes_activations_only(student_files):
    signed_path, written_path, _ = student_files
    signed, written = onnx.load(str(signed_path)), onnx.load(str(written_path))
    onnx.checker.check_model(written, full_check=True)
    before, after = zero_point_dtypes(signed), zero_point_dtypes(written)
    assert set(before["activation"]) == {np.dtype(np.int8)} and len(before["activation"]) >= 10
    assert after["activation"] and set(after["activation"]) == {np.dtype(np.uint8)}
    assert after["weight"] and set(after["weight"]) == {np.dtype(np.int8)}
    assert len(after["weight"]) == len(before["weight"])
    io_types = [value.type.tensor_type.elem_type for value in [*written.graph.input, *written.graph.output]]
    assert io_types == [TensorProto.FLOAT, TensorProto.FLOAT]
    # Same calibration: every scale is unchanged and each zero point moved by exactly 128.
    old = {i.name: numpy_helper.to_array(i) for i in signed.graph.initializer}
    new = {i.name: numpy_helper.to_array(i) for i in written.graph.initializer}
    for a, b in zip(signed.graph.node, written.graph.node, strict=True):
        if a.op_type in ("QuantizeLinear", "DequantizeLinear") and old[a.input[2]].dtype == np.int8:
            assert (old[a.input[1]] == new[b.input[1]]).all()
            shift = new[b.input[2]].astype(np.int16) - old[a.input[2]]
            assert (shift == (128 if new[b.input[2]].dtype == np.uint8 else 0)).all()


def test_rewrite_is_exact_in_onnxruntime(student_files):
    signed_path, written_path, data = student_files
    inputs = {"input": data}
    reference, = ort_outputs(signed_path, inputs, optimize=False)
    rewritten, = ort_outputs(written_path, inputs, optimize=False)
    assert np.array_equal(reference, rewritten)
    # Fused integer kernels round the requantisation their own way: allow one output step.
    model = onnx.load(str(written_path))
    arrays = {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}
    output_scale = float(arrays[next(n for n in model.graph.node if n.output[0] == "logits").input[1]])
    signed, = ort_outputs(signed_path, inputs)
    fused, = ort_outputs(written_path, inputs)
    assert np.abs(signed - fused).max() <= output_scale + 1e-6
    assert (signed.argmax(1) == fused.argmax(1)).mean() >= 0.98


def shared_zero_point_graph() -> onnx.ModelProto:
    """x → Q → Reshape → DQ → MatMul(DQ(W)) → Q → DQ, where the int8 weight and the activations
    share one zero-point initializer and the output pair's zero point is a Constant node."""
    rng = np.random.default_rng(0)
    init = [
        numpy_helper.from_array(np.array(0, np.int8), "zp_shared"),
        numpy_helper.from_array(np.array(0.02, np.float32), "s_x"),
        numpy_helper.from_array(rng.integers(-127, 128, size=(4, 3)).astype(np.int8), "w"),
        numpy_helper.from_array(np.array(0.01, np.float32), "s_w"),
        numpy_helper.from_array(np.array([1, 4], np.int64), "shape"),
        numpy_helper.from_array(np.array(0.05, np.float32), "s_y"),
    ]
    nodes = [
        helper.make_node("Constant", [], ["zp_y"], value=numpy_helper.from_array(np.array(-7, np.int8))),
        helper.make_node("DequantizeLinear", ["w", "s_w", "zp_shared"], ["w_f"], name="weight_dq"),
        helper.make_node("QuantizeLinear", ["x", "s_x", "zp_shared"], ["x_q"]),
        helper.make_node("Reshape", ["x_q", "shape"], ["x_r"]),
        helper.make_node("DequantizeLinear", ["x_r", "s_x", "zp_shared"], ["x_f"]),
        helper.make_node("MatMul", ["x_f", "w_f"], ["y"]),
        helper.make_node("QuantizeLinear", ["y", "s_y", "zp_y"], ["y_q"]),
        helper.make_node("DequantizeLinear", ["y_q", "s_y", "zp_y"], ["out"]),
    ]
    graph = helper.make_graph(nodes, "shared", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 3])], init)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    return onnx.shape_inference.infer_shapes(model)  # int8 value_info that must follow the rewrite


def test_shared_and_constant_zero_points():
    model = shared_zero_point_graph()
    rewritten = to_uint8_activations(model)
    onnx.checker.check_model(rewritten, full_check=True)
    nodes = {node.output[0]: node for node in rewritten.graph.node}
    arrays = {init.name: numpy_helper.to_array(init) for init in rewritten.graph.initializer}
    assert nodes["w_f"].input[2] == "zp_shared" and arrays["zp_shared"].dtype == np.int8
    copy = nodes["x_q"].input[2]
    assert copy != "zp_shared" and nodes["x_f"].input[2] == copy  # one copy, shared by the pair
    assert arrays[copy].dtype == np.uint8 and int(arrays[copy]) == 128
    assert int(numpy_helper.to_array(nodes["zp_y"].attribute[0].t)) == 121  # Constant: -7 + 128
    types = {value.name: value.type.tensor_type.elem_type for value in rewritten.graph.value_info}
    assert types["x_q"] == types["x_r"] == TensorProto.UINT8
    # Inputs far outside both ranges: saturation must land on the same real values too.
    x = {"x": np.array([[-9.0, -0.3, 0.7, 9.0]], np.float32)}
    assert np.array_equal(ort_outputs(model, x, optimize=False)[0], ort_outputs(rewritten, x, optimize=False)[0])
    assert to_uint8_activations(rewritten) == rewritten  # nothing int8 left to move


def test_int8_activation_graph_output_is_refused():
    model = shared_zero_point_graph()
    model.graph.output.append(helper.make_tensor_value_info("x_q", TensorProto.INT8, [1, 4]))
    with pytest.raises(ValueError, match="outputs must stay float"):
        to_uint8_activations(model)


@pytest.mark.slow
def test_resnet18_runs_every_conv_as_qlinearconv(tmp_path):
    import timm

    torch.manual_seed(0)
    # zero_init_last=False: random-init timm ResNets zero each block's last BN, and those branches
    # would fold away, hiding exactly the residual convs that stay float with int8 activations.
    model = timm.create_model("resnet18", num_classes=10, in_chans=3, zero_init_last=False).eval()
    data = np.random.default_rng(0).normal(size=(16, 3, 96, 96)).astype(np.float32)
    quantized = convert(calibrate(model, data, batch_size=8))
    export_onnx(quantized, data, tmp_path / "signed.onnx", uint8_activations=False)
    export_onnx(quantized, data, tmp_path / "written.onnx")
    signed = integer_op_share(tmp_path / "signed.onnx", tmp_path / "signed.opt.onnx")
    written = integer_op_share(tmp_path / "written.onnx", tmp_path / "written.opt.onnx")
    assert signed["float_convs"] > 0  # the problem this rewrite exists for; if 0, ORT has changed
    assert written["float_convs"] == 0 and not written["float_compute_ops"]
    fused = [node.op_type for node in onnx.load(str(tmp_path / "written.opt.onnx")).graph.node]
    assert fused.count("QLinearConv") == 20 and "QLinearAdd" in fused
    inputs = {"input": data[:4]}  # residual Adds, MaxPool and shared zero points: still bit-exact
    assert np.array_equal(ort_outputs(tmp_path / "signed.onnx", inputs, optimize=False)[0],
                          ort_outputs(tmp_path / "written.onnx", inputs, optimize=False)[0])
