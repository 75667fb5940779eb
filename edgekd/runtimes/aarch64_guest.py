"""Runs inside the emulated aarch64 Python: numpy + onnxruntime, ai-edge-litert or torch, and for a
PyTorch checkpoint `edgekd.zoo` (the architecture code; the host copies the package into the job).

    python3.11 aarch64_guest.py MODEL INPUTS.npy OUT_DIR --runs N --warmup W
                                [--arch NAME --kwargs JSON]   (MODEL.safetensors: a PyTorch checkpoint)

1. Predicts every input (float32 NCHW, or int64 token ids: a text model is fed `input_ids` and
   `attention_mask = ids != pad id`, one sample per call) and saves the float32 outputs, for the
   parity check against x86.
2. Warms up, emits three empty marker windows (their median is the marker's own cost), then runs the
   first input N times, each run between a start and a stop marker.
A marker is syscall(60782, 0x45444B44, 1 = start | 2 = stop, tag): QEMU hands every syscall to the
instruction-count plugin (`tools/arm/insncount.c`) and returns ENOSYS, as a real ARM kernel would.
Single thread everywhere, so the count is that of the thread doing the inference.

    python3.11 aarch64_guest.py MODEL PROMPT.npy OUT_DIR --decode N   (a causal LM with a KV cache)

greedy-decodes N tokens from the prompt with the same decoding code as x86 (`edgekd.export`,
copied into the job by the host), one window per step: tag 0 the prefill, tags 1..N-1 one new token
each. It saves the tokens as `outputs.npy`.
"""

import argparse
import ctypes
import json
import os
import sys

import numpy as np

MARK_SYSCALL, MARK_MAGIC, START, STOP = 60782, 0x45444B44, 1, 2
_syscall = ctypes.CDLL(None, use_errno=True).syscall
_syscall.restype = ctypes.c_long
_syscall.argtypes = [ctypes.c_long] * 4


def mark(kind, tag):
    _syscall(MARK_SYSCALL, MARK_MAGIC, kind, tag)


def load_onnx(path):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    info = {"engine": "onnxruntime", "version": ort.__version__}
    if names == ["input_ids", "attention_mask"]:
        spec = json.loads(session.get_modelmeta().custom_metadata_map.get("edgekd.input_spec", "{}"))
        pad = int(spec.get("extra", {}).get("pad_id", 0))
        return lambda x: session.run(None, {"input_ids": x, "attention_mask": (x != pad).astype(np.int64)})[0], info
    return lambda x: session.run(None, {names[0]: x.astype(np.float32)})[0], info


def load_tflite(path):
    import ai_edge_litert
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=path, num_threads=1)
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    details = interpreter.get_input_details()
    info = {"engine": "litert", "version": getattr(ai_edge_litert, "__version__", None), "delegate": "xnnpack (default)"}
    if len(details) == 2 and all(d["dtype"] == np.int32 for d in details):  # a text model: ids, mask
        sidecar = path + ".json"
        spec = json.load(open(sidecar)).get("edgekd.input_spec", {}) if os.path.exists(sidecar) else {}
        pad = int(spec.get("extra", {}).get("pad_id", 0))
        ids_index, mask_index = (d["index"] for d in sorted(details, key=lambda d: d["name"]))

        def run_tokens(x):
            x = x.astype(np.int32)
            interpreter.set_tensor(ids_index, x)
            interpreter.set_tensor(mask_index, (x != pad).astype(np.int32))
            interpreter.invoke()
            return interpreter.get_tensor(out["index"]).astype(np.float32)

        return run_tokens, info

    def run(x):
        x = x.astype(np.float32)
        if tuple(inp["shape"]) != x.shape and tuple(inp["shape"]) == x.transpose(0, 2, 3, 1).shape:
            x = np.ascontiguousarray(x.transpose(0, 2, 3, 1))  # NHWC model
        if inp["dtype"] != np.float32:  # full-integer model: quantise with the tensor's own parameters
            scale, zero = inp["quantization"]
            info = np.iinfo(inp["dtype"])
            x = np.clip(np.round(x / scale) + zero, info.min, info.max).astype(inp["dtype"])
        interpreter.set_tensor(inp["index"], x)
        interpreter.invoke()
        y = interpreter.get_tensor(out["index"])
        if y.dtype != np.float32:
            scale, zero = out["quantization"]
            y = (y.astype(np.float32) - zero) * scale
        return y

    return run, info


def load_pytorch(path, arch, kwargs):
    """The registered architecture (edgekd.zoo, plain torch.nn) filled with the checkpoint's weights."""
    import torch
    from safetensors.torch import load_file  # tensors only: loading cannot run code

    from edgekd.zoo import build_model

    torch.set_num_threads(1)
    model = build_model(arch, **kwargs)
    state, expected = load_file(path), model.state_dict()
    misfits = sorted(k for k in state.keys() | expected.keys()
                     if k not in state or k not in expected or state[k].shape != expected[k].shape)
    if misfits:  # one short line (torch's own message lists every tensor): the host reports stderr's tail
        sys.exit(f"{os.path.basename(path)} does not fit {arch} {kwargs}: {len(misfits)} tensors differ "
                 f"in name or shape, e.g. {', '.join(misfits[:3])}")
    model.load_state_dict(state)
    model.eval()

    def run(x):
        with torch.inference_mode():
            return model(torch.from_numpy(x)).float().numpy()

    return run, {"engine": "pytorch", "version": torch.__version__, "arch": arch}


def decode(model, prompt, new_tokens):
    """Greedy tokens of a KV-cache export, each step between markers; the three empty windows first."""
    import contextlib

    @contextlib.contextmanager
    def window(step):
        mark(START, step)
        try:
            yield
        finally:
            mark(STOP, step)

    from edgekd.export.causal_lm_decode import greedy_decoder

    greedy = greedy_decoder(model)
    if model.endswith(".onnx"):
        import onnxruntime as ort

        info = {"engine": "onnxruntime", "version": ort.__version__}
    else:
        import ai_edge_litert

        info = {"engine": "litert", "version": getattr(ai_edge_litert, "__version__", None),
                "delegate": "xnnpack (default)"}
    for tag in (-1, -2, -3):
        mark(START, tag)
        mark(STOP, tag)
    tokens = greedy(model, prompt, new_tokens, 1, around_step=window)[0]
    return np.asarray(tokens, dtype=np.int64), info


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("inputs")
    parser.add_argument("out")
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--arch", help="registered architecture of a .safetensors checkpoint")
    parser.add_argument("--kwargs", default="{}", help="its builder's keyword arguments, as JSON")
    parser.add_argument("--decode", type=int, help="greedy-decode this many tokens (a causal LM)")
    args = parser.parse_args()
    if args.decode:
        tokens, info = decode(args.model, np.load(args.inputs), args.decode)
        np.save(os.path.join(args.out, "outputs.npy"), tokens)
        json.dump({**info, "cpu_count": os.cpu_count(), "new_tokens": args.decode},
                  open(os.path.join(args.out, "guest.json"), "w"))
        return 0
    if args.model.endswith(".safetensors"):
        run, info = load_pytorch(args.model, args.arch, json.loads(args.kwargs))
    else:
        run, info = (load_onnx if args.model.endswith(".onnx") else load_tflite)(args.model)
    inputs = np.load(args.inputs)
    tokens = inputs.ndim == 2 and inputs.dtype.kind in "iu"  # token-id rows stay integers
    inputs = inputs.astype(np.int64 if tokens else np.float32)
    outputs = np.concatenate([np.asarray(run(inputs[i:i + 1]), dtype=np.float32) for i in range(len(inputs))])
    np.save(os.path.join(args.out, "outputs.npy"), outputs)
    sample = np.ascontiguousarray(inputs[:1])
    for _ in range(args.warmup):
        run(sample)
    for tag in (-1, -2, -3):
        mark(START, tag)
        mark(STOP, tag)
    for tag in range(args.runs):
        mark(START, tag)
        run(sample)
        mark(STOP, tag)
    json.dump({**info, "cpu_count": os.cpu_count(), "runs": args.runs, "warmup": args.warmup},
              open(os.path.join(args.out, "guest.json"), "w"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
