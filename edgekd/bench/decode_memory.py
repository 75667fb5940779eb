"""Peak memory of decoding with one model, measured in a process of its own.

Resident memory cannot be given back reliably inside one process (allocators keep freed pages), so
each model is loaded and decoded in a fresh Python process, and its peak resident set size
(VmHWM) is the figure: what a device needs to hold the runtime, the weights and the KV cache for
this prompt and these new tokens. For the teacher it includes dequantising the GGUF file at load.

    python -m edgekd.bench.decode_memory <runtime> <model> <prompt.npy> <new_tokens>

prints one JSON line: {"peak_rss_bytes": ...}.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def peak_rss_bytes(runtime: str, model: str, prompt: Path, new_tokens: int, timeout: float = 600) -> int:
    """Peak RSS of a fresh process that loads `model` and decodes `new_tokens` after `prompt`."""
    done = subprocess.run([sys.executable, "-m", "edgekd.bench.decode_memory", runtime, model, str(prompt),
                           str(new_tokens)], capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"decoding {model} in a separate process failed: {last}")
    return int(json.loads(done.stdout.strip().splitlines()[-1])["peak_rss_bytes"])


def _decode(runtime: str, model: str, prompt, new_tokens: int) -> None:
    if runtime == "pytorch":
        from edgekd.export.causal_lm_onnx import greedy_decode_torch
        from edgekd.models.causal_lm import load_student, load_teacher

        loaded = load_teacher(model) if model.startswith(("gguf:", "hf:")) else load_student(Path(model))
        greedy_decode_torch(loaded, prompt, new_tokens)
    else:
        from edgekd.export.causal_lm_decode import greedy_decoder

        greedy_decoder(model)(Path(model), prompt, new_tokens)


def main(argv: list[str]) -> None:
    import numpy as np

    from edgekd.quiet import quiet_third_party

    quiet_third_party()
    runtime, model, prompt, new_tokens = argv
    if runtime == "pytorch":  # only PyTorch rows pay for torch's own memory
        import torch

        torch.set_num_threads(1)
    _decode(runtime, model, np.load(prompt), int(new_tokens))
    print(json.dumps({"peak_rss_bytes": _peak_rss()}))


def _peak_rss() -> int:
    """This process's own high-water RSS. Linux: VmHWM, which starts afresh at exec; `ru_maxrss` would
    carry the parent's peak over from the fork (a pytest or pipeline process of 2 GB)."""
    import resource

    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


if __name__ == "__main__":
    main(sys.argv[1:])
