"""Export the shipped Fashion-MNIST teacher (models/fmnist_teacher.safetensors) to ONNX, for
`pipelines/onnx_teacher.yaml`: a teacher that exists only as an exported file.

    python examples/data/export_shipped_teacher.py [OUT.onnx]     # default artifacts/fmnist_teacher.onnx
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run from a checkout without installing

DEFAULT_OUT = Path("artifacts/fmnist_teacher.onnx")


def main() -> None:
    import numpy as np

    from edgekd.export.onnx_export import export_onnx
    from edgekd.models.checkpoints import load_model

    out = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUT
    out.parent.mkdir(parents=True, exist_ok=True)
    model = load_model("fmnist_teacher", "models/fmnist_teacher.safetensors")
    export_onnx(model, np.zeros((2, 1, 28, 28), dtype=np.float32), out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
