"""The terminal tables fit 80 and 100 columns without folding headers or values into slivers."""

import json
from types import SimpleNamespace

import pytest
from rich.console import Console

from edgekd.report.render import print_report_table, render_markdown
from edgekd.report.rows import report_rows
from edgekd.report.terminal import output_console
from edgekd.summary import print_summary

CUDA_REASON = ("CUDAExecutionProvider is not in this machine's onnxruntime "
               "(AzureExecutionProvider, CPUExecutionProvider): no GPU build or no GPU")
LONG_REASON = ("ConverterError: tensorflow/lite/kernels/conv.cc:349 Could not convert the op CONV_2D with "
               "fp16 weights: the input tensor 'serving_default_input:0' has an unsupported layout; "
               "see https://www.tensorflow.org/lite/guide/ops_compatibility for the supported ops "
               "or enable the select TF ops when converting.")
assert len(LONG_REASON) == 300


def _timed(model, fmt, target, acc, p50, size, **extra):
    return {"model": model, "format": fmt, "target": target, "status": "ok", "reason": None, "batch_size": 1,
            "accuracy": acc, "latency_ms_p50": p50, "latency_ms_p90": p50 * 1.1, "latency_ms_p99": p50 * 1.4,
            "size_bytes": size, "parity_max_abs": 2.4e-6, "top1_agreement": 1.0, "cold_start_ms": 12.5, **extra}


def _not_run(model, fmt, target, status, reason):
    return {"model": model, "format": fmt, "target": target, "status": status, "reason": reason,
            "batch_size": 1, "accuracy": None, "size_bytes": None}


def _emulated(model, fmt, cpu, insns, parity=3.1e-7, agreement=1.0):
    return {"model": model, "format": fmt, "target": f"qemu-aarch64-{cpu}", "status": "ok", "reason": None,
            "batch_size": 1, "accuracy": None, "latency_ms_p50": None, "size_bytes": 3_400_000,
            "instructions_per_inference": insns, "parity_max_abs": parity, "top1_agreement": agreement}


BENCH = [
    _timed("teacher", "pytorch", "torch-cpu", 0.9262, 0.912, 3_402_112),
    _timed("teacher", "onnx_fp32", "ort-cpu", 0.9262, 0.251, 3_398_020),
    _not_run("teacher", "onnx_fp32", "ort-cuda", "skipped", CUDA_REASON),
    _timed("teacher", "tflite_fp32", "litert", 0.9262, 0.302, 3_390_448),
    _timed("student", "pytorch", "torch-cpu", 0.9171, 0.188, 238_912),
    _timed("student", "onnx_fp32", "ort-cpu", 0.9171, 0.031, 236_090),
    _not_run("student", "onnx_fp32", "ort-cuda", "skipped", CUDA_REASON),
    _timed("student", "onnx_int8", "ort-cpu", 0.9180, 0.040, 99_345),
    _not_run("student", "onnx_int8", "ort-cuda", "skipped", CUDA_REASON),
    _timed("student", "tflite_fp32", "litert", 0.9171, 0.029, 235_004),
    _not_run("student", "tflite_fp16", "litert", "failed", LONG_REASON),
    _timed("student", "tflite_int8", "litert", 0.9158, 0.026, 70_112),
    _emulated("teacher", "onnx_fp32", "cortex-a53", 61_234_567),
    _emulated("teacher", "onnx_fp32", "cortex-a76", 58_112_004),
    _emulated("teacher", "tflite_fp32", "cortex-a53", 48_020_113),  # the int8 student's reference
    _emulated("teacher", "tflite_fp32", "cortex-a76", 39_804_592),
    _emulated("student", "onnx_fp32", "cortex-a53", 4_751_562),
    _emulated("student", "onnx_fp32", "cortex-a76", 4_493_310),
    _emulated("student", "tflite_int8", "cortex-a53", 1_905_220, parity=0.031, agreement=0.995),
    _emulated("student", "tflite_int8", "cortex-a76", 1_577_981, parity=0.027, agreement=0.995),
]

REPORT = {"pipeline": "quickstart", "rows": report_rows(BENCH), "summary": {},
          "kd_vs_ce": {"epochs": 4, "kd": {"seeds": [0, 1, 2], "mean": 0.9171, "std": 0.002, "accuracies": [0.9171]},
                       "ce": {"seeds": [0, 1, 2], "mean": 0.9102, "std": 0.003, "accuracies": [0.9102]}}}

MAIN_HEADERS = ["model", "format", "target", "acc %", "p50 ms", "speedup", "size", "status"]
EMULATED_HEADERS = ["model", "format", "A53 insns", "A76 insns", "vs teacher", "parity"]
VALUES = ["tflite_int8", "onnx_fp32", "onnx_int8", "tflite_fp32", "tflite_fp16", "torch-cpu", "ort-cuda",
          "230.6 KB", "skipped [1]", "failed [2]", "61,234,567", "4,751,562", "3.1e-02, top-1 99.5 %"]


def _render(tmp_path, width):
    (tmp_path / "report.json").write_text(json.dumps(REPORT))
    console = Console(width=width, record=True, color_system=None)
    print_report_table(tmp_path, console)
    return console.export_text()


@pytest.mark.parametrize("width", [80, 100])
def test_every_line_fits_and_nothing_is_folded(tmp_path, width):
    text = _render(tmp_path, width)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= width, text
    main_header, emulated_header = [line for line in lines if line.startswith("model ")]
    # a header rich had to fold would be cut across two lines, not whole on the header line
    assert all(header in main_header for header in MAIN_HEADERS), text
    assert all(header in emulated_header for header in EMULATED_HEADERS), text
    for value in VALUES:
        assert value in text, f"{value!r} folded or missing at {width} columns:\n{text}"


@pytest.mark.parametrize("width", [80, 100])
def test_emulated_rows_have_their_own_table(tmp_path, width):
    text = _render(tmp_path, width)
    main, emulated = text.split("emulated Arm cores")
    assert "qemu-aarch64" not in text  # the cores are column headers, not a target per row
    assert "A53 insns" in emulated and "61,234,567" in emulated and "61,234,567" not in main
    assert "top-1 99.5 %" in emulated  # the int8 file's argmax differs from x86 on some inputs


@pytest.mark.parametrize("width", [80, 100])
def test_reasons_are_numbered_once_and_the_long_one_points_at_report_md(tmp_path, width):
    text = _render(tmp_path, width)
    assert text.count("skipped [1]") == 3 and text.count("failed [2]") == 1
    lines = text.splitlines()
    cuda, failed = (lines.index(line) for line in lines if line.startswith(("[1] ", "[2] ")))
    assert lines[cuda].startswith("[1] skipped: CUDAExecutionProvider is not in this machine's onnxruntime")
    assert lines[cuda + 1].rstrip().endswith("no GPU build or no GPU")  # two lines hold all of this one
    assert lines[failed].startswith("[2] failed: ConverterError: tensorflow/lite/kernels/conv.cc:349")
    assert lines[failed + 1].startswith("    ") and lines[failed + 1].endswith("…  (see report.md)")
    assert failed + 2 == len(lines) - 1  # then only the KD line: the rest of the reason is cut
    assert LONG_REASON not in text
    assert f"failed: {LONG_REASON}" in render_markdown(REPORT)  # report.md keeps all of it


def test_batch_column_only_with_several_batch_sizes(tmp_path):
    assert "batch" not in _render(tmp_path, 100)
    two = [{**row, "batch_size": 8, "latency_ms_p50": 8 * row["latency_ms_p50"]}
           for row in BENCH[:2]]
    (tmp_path / "report.json").write_text(json.dumps({"pipeline": "p", "rows": report_rows(BENCH[:2] + two)}))
    console = Console(width=80, record=True, color_system=None)
    print_report_table(tmp_path, console)
    assert "batch" in console.export_text()


def test_columns_empty_for_every_row_are_dropped(tmp_path):
    rows = [{**row, "accuracy": None} for row in BENCH[:3]]  # e.g. `edgekd bench` on random inputs
    (tmp_path / "report.json").write_text(json.dumps({"pipeline": "p", "rows": report_rows(rows)}))
    console = Console(width=80, record=True, color_system=None)
    print_report_table(tmp_path, console)
    text = console.export_text()
    assert "acc %" not in text and "p50 ms" in text


@pytest.mark.parametrize(("columns", "width"), [("80", 80), ("132", 132), (None, 100), ("wide", 100)])
def test_without_a_terminal_the_width_is_columns_else_100(monkeypatch, columns, width):
    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    console = output_console()
    assert not console.is_terminal and console.width == width


def _run_result(tmp_path):
    """What `edgekd run pipelines/quickstart.yaml` hands print_summary, down to the folder names."""
    stages = [("teacher", "teacher"), ("cache", "cache"), ("distill", "distill"), ("ptq", "ptq"),
              ("export_onnx", "export_onnx"), ("export_tflite", "export_tflite"), ("bench", "bench"),
              ("report", "report")]
    outcomes = []
    for i, (name, kind) in enumerate(stages):
        folder = tmp_path / f"{kind}-{i:016x}"
        folder.mkdir()
        outcomes.append(SimpleNamespace(name=name, type=kind, reused=i < 4, seconds=12.3 * i,
                                        artifact=SimpleNamespace(path=folder)))
    (folder / "report.json").write_text(json.dumps(REPORT))
    config = SimpleNamespace(name="quickstart", artifacts_dir="artifacts")
    return SimpleNamespace(config=config, outcomes=outcomes)


@pytest.mark.parametrize("width", [80, 100])
def test_the_stage_table_fits_too(tmp_path, width):
    console = Console(width=width, record=True, color_system=None)
    print_summary(_run_result(tmp_path), console)
    text = console.export_text()
    lines = text.splitlines()
    assert max(len(line) for line in lines[:-1]) <= width, text  # the last line is the report's path, kept whole
    header = next(line for line in lines if line.startswith("stage "))
    assert all(word in header for word in ("stage", "type", "status", "seconds", "artifact")), text
    assert "export_tflite-0000000000000005" in text
    assert lines[-1] == f"report: {tmp_path / 'report-0000000000000007' / 'report.md'}"


def test_emulator_not_set_up_is_one_line_not_a_table(tmp_path):
    reason = "aarch64 emulator not set up in .arm (run `make arm-setup`, or set EDGEKD_ARM_ROOT)"
    rows = BENCH[:2] + [_not_run(model, fmt, f"qemu-aarch64-{cpu}", "skipped", reason)
                        for model, fmt in (("teacher", "onnx_fp32"), ("student", "tflite_int8"))
                        for cpu in ("cortex-a53", "cortex-a76")]
    (tmp_path / "report.json").write_text(json.dumps({"pipeline": "p", "rows": report_rows(rows)}))
    console = Console(width=80, record=True, color_system=None)
    print_report_table(tmp_path, console)
    text = console.export_text()
    assert "emulated Arm cores (A53, A76): every file skipped [1]" in text and "insns" not in text
    assert f"[1] skipped: {reason}" in " ".join(text.split())  # the whole reason, over two lines
