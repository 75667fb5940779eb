"""Stage registry: the `type:` a pipeline YAML may name, mapped to the class that runs it.

Stage modules import only light things at module level, so validating a config stays fast.
"""

from __future__ import annotations

from edgekd.stages.base import Stage
from edgekd.stages.bench import BenchStage
from edgekd.stages.cache import CacheStage
from edgekd.stages.distill import DistillStage
from edgekd.stages.export_onnx import ExportOnnxStage
from edgekd.stages.export_tflite import ExportTfliteStage
from edgekd.stages.lm_bench import LmBenchStage
from edgekd.stages.lm_distill import LmDistillStage
from edgekd.stages.lm_export import LmExportStage
from edgekd.stages.lm_generate import LmGenerateStage
from edgekd.stages.lm_teacher import LmTeacherStage
from edgekd.stages.mutual import MutualStage
from edgekd.stages.prune import PruneStage
from edgekd.stages.ptq import PtqStage
from edgekd.stages.qat import QatStage
from edgekd.stages.report import ReportStage
from edgekd.stages.self_distill import SelfDistillStage
from edgekd.stages.sparsify import SparsifyStage
from edgekd.stages.synthesize import SynthesizeStage
from edgekd.stages.teacher import TeacherStage
from edgekd.stages.token_cache import TokenCacheStage

STAGES: dict[str, type[Stage]] = {
    stage.type: stage
    for stage in (TeacherStage, SynthesizeStage, CacheStage, DistillStage, MutualStage, SelfDistillStage, PruneStage, SparsifyStage, PtqStage, QatStage,
                  ExportOnnxStage, ExportTfliteStage, BenchStage, ReportStage,
                  LmTeacherStage, TokenCacheStage, LmGenerateStage, LmDistillStage, LmExportStage, LmBenchStage)
}
