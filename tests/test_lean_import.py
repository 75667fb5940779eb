import subprocess
import sys


def test_cli_and_config_do_not_import_heavy_frameworks():
    """`edgekd validate` and `import edgekd` stay fast: no torch, ONNX Runtime, TFLite, timm, torchvision or Pillow at import."""
    code = ("import sys, edgekd, edgekd.cli, edgekd.config; "
            "edgekd.config.load_config('pipelines/quickstart.yaml'); "
            "edgekd.config.load_config('pipelines/image_folder_timm.yaml'); "
            "print(','.join(m for m in ('torch', 'onnxruntime', 'litert_torch', 'ai_edge_litert', 'timm', 'torchvision', 'PIL') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
