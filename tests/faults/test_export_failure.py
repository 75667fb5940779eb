"""A converter refusing an op fails that one row, with its reason; everything else still ships."""

import json

import torch
from click.testing import CliRunner

from edgekd import zoo
from edgekd.cli import main


class SpectralStudent(torch.nn.Module):
    """Reads the 2-D spectrum: ONNX exports it (DFT), litert-torch cannot (only 1-D FFTs)."""

    def __init__(self):
        super().__init__()
        self.classifier = torch.nn.Linear(28 * 15, 10)

    def forward(self, x):
        return self.classifier(torch.fft.rfft2(x).abs().flatten(1))


def test_unsupported_op_gives_failed_row_and_exit_3(tmp_path, monkeypatch):
    monkeypatch.setitem(zoo.MODELS, "spectral_student", SpectralStudent)
    path = tmp_path / "p.yaml"
    path.write_text(f"""
name: partial
artifacts_dir: {tmp_path / 'artifacts'}
data: {{train_subset: 500, test_subset: 100}}
stages:
  - {{type: teacher, checkpoint: models/fmnist_teacher.safetensors}}
  - {{type: cache}}
  - {{type: distill, student: spectral_student, train: {{epochs: 1}}, baseline_seeds: []}}
  - {{type: export_onnx, formats: [fp32]}}
  - {{type: export_tflite, formats: [fp32]}}
  - {{type: bench, min_seconds: 0.01}}
  - {{type: report}}
""")
    result = CliRunner().invoke(main, ["run", str(path)])
    assert result.exit_code == 3, result.output
    assert "partial failure in: export_tflite" in result.output
    report = json.loads(next((tmp_path / "artifacts").glob("report-*/report.json")).read_text())
    rows = {(r["model"], r["format"]): r for r in report["rows"]}
    failed = rows[("student", "tflite_fp32")]
    assert failed["status"] == "failed" and "Only 1D FFT" in failed["reason"]
    for key in (("student", "onnx_fp32"), ("teacher", "onnx_fp32"), ("teacher", "tflite_fp32")):
        assert rows[key]["status"] == "ok" and rows[key]["accuracy"] is not None
    report_md = next((tmp_path / "artifacts").glob("report-*/report.md")).read_text()
    assert "failed: NotImplementedError: Only 1D FFT" in report_md
