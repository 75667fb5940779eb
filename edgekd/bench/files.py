"""`edgekd bench FILE...`: benchmark model files directly, outside a pipeline, on the same inputs.

Each file becomes one candidate of the bench stage's own row code (.onnx in ONNX Runtime with the
named execution provider, .tflite in LiteRT, a safetensors checkpoint in PyTorch with its registered
architecture), optionally also under emulated aarch64 cores, then a report like the pipeline's.

Inputs: the test images, when asked for (`--data-dir`) or when a file's input fits them; otherwise
random inputs built from the file's own signature (any count, dtypes and layout), so any exported
network can be timed. Random-input rows leave accuracy empty and compare files of one signature.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from edgekd.errors import ConfigError, DataError

FORMATS = {".onnx": ("onnx", "onnxruntime"), ".tflite": ("tflite", "litert"), ".safetensors": ("pytorch", "pytorch")}


def file_candidate(path: Path, architecture: str | None, provider: str) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"{path}: no such model file")
    if path.suffix not in FORMATS:
        raise ConfigError(f"{path}: unsupported model file; give .onnx, .tflite or .safetensors (with --arch)")
    fmt, runtime = FORMATS[path.suffix]
    if runtime == "pytorch" and not architecture:
        raise ConfigError(f"{path}: a checkpoint holds weights only; name its architecture with --arch")
    return {"model": path.stem, "format": fmt, "runtime": runtime, "status": "ok", "path": str(path),
            "provider": provider, "architecture": architecture}


def bench_files(paths: list[Path], config, data, architecture: str | None = None,
                provider: str = "CPUExecutionProvider", shapes: dict[str, tuple[int, ...]] | None = None,
                data_required: bool = False, say: Callable[[str], None] = lambda line: None) -> dict[str, Any]:
    """Benchmark rows and a report (schema of the pipeline's report.json) for the given files.

    `data_required`: every file runs on the test set (the user named it); otherwise only the files
    whose input fits it, and the rest on random inputs (`shapes` fixes their dynamic dims by input
    name). `say` gets one line naming the files timed on random inputs, and why."""
    from edgekd.bench.emulated_rows import emulable, emulated_rows
    from edgekd.bench.random_rows import RandomInputBench
    from edgekd.bench.rows import bench_row
    from edgekd.report.rows import SCHEMA_VERSION, report_rows
    from edgekd.stages.report import environment

    candidates = [file_candidate(Path(p), architecture, provider) for p in paths]
    test, signatures, note = _choose_inputs(candidates, data, data_required, shapes or {})
    random_bench = RandomInputBench({i: (candidates[i], inputs) for i, inputs in signatures.items()}, config,
                                    shapes or {})  # raises on a dynamic dim without --shape: before the note
    if note:
        say(note)
    randoms = random_bench.rows()
    views = {i: _as_file_reads(test, candidate) for i, candidate in enumerate(candidates) if i not in signatures}
    rows = [randoms[i, batch_size] if i in signatures else bench_row(candidate, views[i], config, batch_size)
            for i, candidate in enumerate(candidates) for batch_size in config.batch_sizes]
    for i, candidate in enumerate(candidates):
        if config.emulated_cpus and emulable(candidate) and i in signatures:
            rows.extend(_emulation_skipped(candidate, cpu) for cpu in config.emulated_cpus)
        elif config.emulated_cpus and emulable(candidate):
            rows.extend(emulated_rows(candidate, views[i], config))
    return {"schema_version": SCHEMA_VERSION, "pipeline": "edgekd bench " + " ".join(Path(p).name for p in paths),
            "rows": report_rows(rows), "summary": {}, "environment": environment()}


def _choose_inputs(candidates, data, data_required, shapes):
    """The test split (None when no file uses it); for each file timed on random inputs, its
    declared inputs (or the exception reading them raised), keyed by the file's position; and a
    line that names those files and says why (None when there are none)."""
    from edgekd.bench.random_inputs import check_shape_names, file_inputs

    if data_required:
        return data.split("test"), {}, None
    declared = {}
    for i, candidate in enumerate(candidates):
        if candidate["runtime"] != "pytorch":  # a checkpoint declares no inputs: it needs the data
            try:
                declared[i] = file_inputs(Path(candidate["path"]))
            except Exception as exc:  # an unreadable file still gets its (failed) row
                declared[i] = exc
    check_shape_names(shapes, {candidates[i]["path"]: v for i, v in declared.items() if isinstance(v, list)})
    test, why = None, "the test data does not fit their inputs"
    single_inputs = [v for v in declared.values() if isinstance(v, list) and len(v) == 1]
    if len(declared) < len(candidates) or single_inputs:  # else nothing could use the data: don't load it
        try:
            test = data.split("test")
        except DataError as exc:
            if len(declared) < len(candidates):  # a checkpoint cannot run without it
                raise
            why = str(exc).split(";")[0]
    randoms = {i: inputs for i, inputs in declared.items()
               if test is None or not _fits(inputs, _as_file_reads(test, candidates[i]).inputs)}
    readable = [Path(candidates[i]["path"]).name for i, inputs in randoms.items() if not isinstance(inputs, Exception)]
    note = (f"{', '.join(readable)}: timed on random inputs from the file's signature, accuracy left empty ({why})"
            if readable else None)
    return (test if len(randoms) < len(candidates) else None), randoms, note


def _as_file_reads(test, candidate: dict[str, Any]):
    """The test split as this file reads it: a cross-input student's file records the transform it
    takes of the data (channels, a lower resolution), which the data's full samples then go through."""
    from edgekd.data.input_transform import for_model, recorded_transform
    from edgekd.export.input_spec_files import read_input_spec

    if candidate["runtime"] == "pytorch":
        return test
    try:
        spec = read_input_spec(candidate["path"])
    except Exception:  # an unreadable spec: the file's own row says why
        return test
    recorded = recorded_transform(spec)
    if not recorded or tuple(recorded["from_shape"]) != tuple(test.inputs.shape[1:]):
        return test
    return for_model(test, spec)


def _fits(inputs, test_inputs) -> bool:
    """One input the test set can feed: the same sample shape (or its channels-last form), and a
    float input, or a quantised one for float data (the runtime quantises with the input's scale)."""
    if isinstance(inputs, Exception) or len(inputs) != 1:
        return False
    declared, sample = inputs[0].shape[1:], tuple(test_inputs.shape[1:])
    layouts = (sample, sample[1:] + sample[:1]) if len(sample) == 3 else (sample,)
    fits_shape = any(len(declared) == len(layout) and all(d is None or d == t for d, t in zip(declared, layout))
                     for layout in layouts)
    if test_inputs.dtype.kind != "f":
        return fits_shape and inputs[0].dtype.kind == test_inputs.dtype.kind
    return fits_shape and (inputs[0].dtype.kind == "f" or inputs[0].quantization is not None)


def _emulation_skipped(candidate: dict[str, Any], cpu: str) -> dict[str, Any]:
    from edgekd.bench.rows import ROW_FIELDS

    return {**{key: candidate.get(key) for key in ROW_FIELDS}, "target": f"qemu-aarch64-{cpu}",
            "status": "skipped", "batch_size": 1, "accuracy": None, "size_bytes": None,
            "reason": "emulated runs feed the test images, which do not fit this file's inputs"}


def write_bench_report(report: dict[str, Any], out: Path) -> None:
    from edgekd.report.render import write_report

    out.mkdir(parents=True, exist_ok=True)
    write_report(report, out)
    (out / "bench.json").write_text(json.dumps({"rows": report["rows"]}, indent=2))
