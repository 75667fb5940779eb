"""Mobile-class ARM without ARM hardware: the same .onnx / .tflite / .safetensors under QEMU user-mode
emulation.

`make arm-setup` (tools/arm/setup.sh) builds an aarch64 Debian userland with the official aarch64
wheels (numpy, onnxruntime, ai-edge-litert, CPU-only torch 2.9.1) and our instruction-count TCG
plugin. A measurement runs `aarch64_guest.py` under `qemu-aarch64 -cpu cortex-a53|cortex-a76` with
ASLR off and one thread, and reports:
- `instructions_per_inference`: emulated AArch64 instructions executed by the inference thread per
  call (median of the measured runs, minus the marker's own cost). Deterministic; it is a cost
  figure, not a latency: QEMU models no caches or pipelines.
- the outputs for the given inputs, for parity against x86.
The counts depend on the QEMU, onnxruntime, LiteRT and torch versions; compare them only within one set-up.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CPUS = ("cortex-a53", "cortex-a76")
WINDOW = re.compile(r"window tag=(-?\d+) vcpu=(\d+) insns=(\d+) all_threads=(\d+)")
GUEST_SCRIPT = Path(__file__).with_name("aarch64_guest.py")
PACKAGE = Path(__file__).resolve().parents[1]  # edgekd/, whose zoo the guest builds checkpoints from


class EmulatorUnavailable(RuntimeError):
    """The emulated target is not set up on this machine (a skipped row, not a failure)."""


@dataclass
class EmulatedRun:
    cpu: str
    instructions_per_inference: int
    instruction_spread: float  # (max − min) / median over the measured runs
    marker_overhead: int
    outputs: np.ndarray
    guest: dict


def emulator_root() -> Path:
    return Path(os.environ.get("EDGEKD_ARM_ROOT", ".arm")).resolve()


def check_available(root: Path | None = None) -> Path:
    """The set-up folder, or EmulatorUnavailable saying how to make it."""
    root = root or emulator_root()
    needed = [root / "rootfs" / "usr/bin/python3.11", root / "plugin" / "libinsncount.so",
              root / "cpuinfo" / CPUS[0]]
    missing = [str(p) for p in needed if not p.exists()]
    if missing or shutil.which("qemu-aarch64") is None or shutil.which("setarch") is None:
        raise EmulatorUnavailable(
            f"aarch64 emulator not set up in {root} (run `make arm-setup`, or set EDGEKD_ARM_ROOT)")
    return root


def cpu_view(root: Path, cpu: str) -> Path:
    """A per-CPU view of the rootfs for QEMU's `-L`: symlinks to every top-level entry but `proc`, and
    a `proc/cpuinfo` of that CPU (it decides which CPU-tuned kernels XNNPACK picks, so it must match
    `-cpu`). No file is shared between CPU models, so runs on any CPUs may overlap, in one process or
    several. Built once, atomically; a view in use is never removed, only a stale one."""
    view = root / "views" / cpu
    wanted = (root / "cpuinfo" / cpu).read_bytes()

    def ready() -> bool:  # this CPU's cpuinfo, and links that still reach the rootfs (a moved checkout)
        return ((view / "proc" / "cpuinfo").is_file() and (view / "proc" / "cpuinfo").read_bytes() == wanted
                and (view / "usr" / "bin" / "python3.11").exists())

    if ready():
        return view
    tag = f"{os.getpid()}.{threading.get_ident()}"
    tmp = root / "views" / f".{cpu}.{tag}.tmp"
    (tmp / "proc").mkdir(parents=True)
    for entry in (root / "rootfs").resolve().iterdir():
        if entry.name != "proc":
            (tmp / entry.name).symlink_to(entry)
    (tmp / "proc" / "cpuinfo").write_bytes(wanted)
    if not ready() and view.exists():  # made by an older set-up: move it aside, then drop it
        stale = root / "views" / f".{cpu}.{tag}.stale"
        os.rename(view, stale)
        shutil.rmtree(stale, ignore_errors=True)
    try:
        os.rename(tmp, view)
    except OSError:  # another run made the view meanwhile: use theirs
        shutil.rmtree(tmp, ignore_errors=True)
    return view


def run_emulated(model: Path, inputs: np.ndarray, cpu: str, runs: int = 11, warmup: int = 3,
                 root: Path | None = None, timeout: float = 600, arch: str | None = None,
                 arch_kwargs: dict | None = None) -> EmulatedRun:
    """Run `model` on `inputs` (float32 NCHW, or int64 token ids) and count instructions per inference on `cpu`.

    A .safetensors checkpoint runs in the guest's PyTorch, built as the registered architecture
    `arch` (edgekd.zoo) with `arch_kwargs`."""
    pytorch = model.suffix == ".safetensors"
    if pytorch and not arch:
        raise ValueError(f"{model.name}: a checkpoint holds weights only; name its architecture")
    tokens = inputs.ndim == 2 and inputs.dtype.kind in "iu"
    inputs = np.ascontiguousarray(inputs, dtype=np.int64 if tokens else np.float32)  # token ids stay integers
    arguments = ["--runs", str(runs), "--warmup", str(warmup)]
    if pytorch:
        arguments += ["--arch", arch, "--kwargs", json.dumps(arch_kwargs or {})]
    windows, outputs, guest = _run_guest(model, inputs, cpu, arguments, root, timeout, package=pytorch, torch=pytorch)
    overhead, measured = _measured(windows)
    if len(measured) != runs:
        raise RuntimeError(f"expected {runs} measured windows from the plugin, got {len(measured)}")
    median = int(statistics.median(measured))
    return EmulatedRun(cpu=cpu, instructions_per_inference=median,
                       instruction_spread=(max(measured) - min(measured)) / median,
                       marker_overhead=overhead, outputs=outputs, guest=guest)


@dataclass
class EmulatedDecode:
    cpu: str
    instructions_per_token: int  # median over the decode steps after the prefill
    instruction_spread: float  # (max − min) / median over those steps (they grow with the cache)
    prefill_instructions: int  # the prompt's prefill and the first new token
    tokens: list[int]  # the greedy tokens, for parity with x86
    guest: dict


def run_emulated_decode(model: Path, prompt_ids, new_tokens: int, cpu: str, root: Path | None = None,
                        timeout: float = 900) -> EmulatedDecode:
    """Greedy-decode `new_tokens` from `prompt_ids` with a KV-cache causal LM export (.onnx or
    .tflite) on `cpu`, and count instructions per generated token. The guest runs the same decoding
    code as x86 (`greedy_decode_onnx` / `greedy_decode_tflite`), one marked window per step."""
    if new_tokens < 2:
        raise ValueError("new_tokens must be at least 2: the first step is the prefill")
    if model.suffix not in (".onnx", ".tflite"):
        raise ValueError(f"{model.name}: emulated decoding runs .onnx and .tflite exports only")
    prompt = np.ascontiguousarray(np.asarray(prompt_ids, dtype=np.int64).reshape(1, -1))
    windows, outputs, guest = _run_guest(model, prompt, cpu, ["--decode", str(new_tokens)], root, timeout,
                                         package=True, torch=False)
    _, measured = _measured(windows)
    if len(measured) != new_tokens:
        raise RuntimeError(f"expected {new_tokens} step windows from the plugin, got {len(measured)}")
    steps = measured[1:]
    median = int(statistics.median(steps))
    return EmulatedDecode(cpu=cpu, instructions_per_token=median,
                          instruction_spread=(max(steps) - min(steps)) / median,
                          prefill_instructions=measured[0], tokens=[int(t) for t in outputs], guest=guest)


def _measured(windows: list[tuple[int, ...]]) -> tuple[int, list[int]]:
    """The marker's own cost (the median of the empty windows, tags < 0) and every measured window's
    count without it, in tag order."""
    overhead = int(statistics.median(w[2] for w in windows if w[0] < 0))
    return overhead, [w[2] - overhead for w in sorted((w for w in windows if w[0] >= 0), key=lambda w: w[0])]


def _run_guest(model: Path, inputs: np.ndarray, cpu: str, arguments: list[str], root: Path | None,
               timeout: float, package: bool, torch: bool) -> tuple[list[tuple[int, ...]], np.ndarray, dict]:
    """One run of the guest script under QEMU: the plugin's windows, the saved outputs, guest.json.
    `package`: copy edgekd into the job for the guest to import; `torch`: add the aarch64 torch."""
    if cpu not in CPUS:
        raise ValueError(f"unknown emulated CPU {cpu!r}; choose from {', '.join(CPUS)}")
    root = check_available(root)
    rootfs = root / "rootfs"
    if torch and not (rootfs / "opt/site-torch/torch").is_dir():  # a set-up older than PyTorch rows
        raise EmulatorUnavailable(f"no aarch64 PyTorch in {root} (run `make arm-setup` again to add it)")
    view = cpu_view(root, cpu)
    jobs = root / "jobs"
    jobs.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=jobs) as job_dir:
        # The guest sees host paths unless the same path exists inside the rootfs (QEMU -L).
        job = Path(job_dir)
        shutil.copyfile(GUEST_SCRIPT, job / "guest.py")
        shutil.copyfile(model, job / model.name)
        np.save(job / "inputs.npy", inputs)
        counts = job / "windows.txt"
        command = ["setarch", "x86_64", "-R",  # no ASLR: identical guest addresses, identical counts
                   "qemu-aarch64", "-cpu", cpu, "-L", str(view), "-plugin",
                   f"{root / 'plugin' / 'libinsncount.so'},out={counts}",
                   str(rootfs / "usr/bin/python3.11"), str(job / "guest.py"), str(job / model.name),
                   str(job / "inputs.npy"), str(job), *arguments]
        pythonpath = ["/opt/site"]
        if package:
            # The guest runs the same edgekd code as x86 (the zoo, the decoding loops): a copy of the
            # package in the job, where the guest's own throw-away bytecode lands, not in the source tree.
            shutil.copytree(PACKAGE, job / "edgekd", ignore=shutil.ignore_patterns("__pycache__"))
            pythonpath += ["/opt/site-torch"] * torch + [str(job)]  # the aarch64 torch has its own folder
        env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(pythonpath), "PYTHONHASHSEED": "0", "HOME": "/root",
               "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "LANG": "C.UTF-8"}
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            tail = " ".join(done.stderr.split())[-400:]
            raise RuntimeError(f"emulated run on {cpu} failed (exit {done.returncode}): {tail}")
        windows = [tuple(map(int, m.groups())) for m in WINDOW.finditer(counts.read_text())]
        outputs = np.load(job / "outputs.npy")
        guest = json.loads((job / "guest.json").read_text())
    return windows, outputs, guest
