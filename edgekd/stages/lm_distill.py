"""`lm_distill`: token-level distillation of a small causal LM from the cached teacher, against CE.

Each method in `methods` trains the same student (same initialisation and data order per seed) on the
same tokens:
- `ce`: next-token cross-entropy alone (no teacher);
- `kd_forward`, `kd_reverse`, `gkd_jsd`: α · divergence to the cached top-k teacher + (1 − α) · CE
  (`edgekd.kd.token_losses`: forward KL, MiniLLM's reverse KL, GKD's generalised JSD with β);
- `seq_kd`: sequence-level KD (Kim & Rush 2016), CE on the text the teacher wrote (`lm_generate`).
Training runs on the shared trainer (AdamW, one-cycle, checkpoints every `checkpoint_steps` steps
and at epoch ends: a killed run resumes from the last one).
Each student is scored on the held-out chunks: perplexity, and top-1 agreement with the teacher's
next token. Every KD method is compared with CE per seed by the mean per-chunk loss difference and
its paired bootstrap interval. The student of `export` is saved as a Hugging Face folder (safetensors),
`student/` in the artifact (`student_folder` in its metrics).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Literal, Optional

from pydantic import Field, NonNegativeInt, PositiveFloat, PositiveInt, field_validator, model_validator

from edgekd.config import StageConfig, StrictModel
from edgekd.stages.base import Stage

METHODS = {"ce": None, "kd_forward": "forward", "kd_reverse": "reverse", "gkd_jsd": "jsd", "seq_kd": None}
STUDENT_FOLDER = "student"


class LmTrainConfig(StrictModel):
    epochs: PositiveInt = 1
    batch_size: PositiveInt = 8
    lr: PositiveFloat = 1e-3
    weight_decay: float = Field(0.01, ge=0.0)
    # Left out of the artifact id (exclude): how often a run saves its state never changes what it trains.
    checkpoint_steps: NonNegativeInt = Field(
        50, exclude=True, description="also checkpoint every N steps inside an epoch, so a killed "
                                      "one-epoch run resumes from the step (0: at epoch ends only)")

    def recipe(self, alpha: float):
        from edgekd.kd.trainer import Recipe

        return Recipe(epochs=self.epochs, batch_size=self.batch_size, lr=self.lr, momentum=0.9,
                      weight_decay=self.weight_decay, temperature=1.0, alpha=alpha, optimizer="adamw",
                      objective="next_token", checkpoint_steps=self.checkpoint_steps)


class LmDistillConfig(StageConfig):
    type: Literal["lm_distill"] = "lm_distill"
    student: dict[str, Any] = Field(default_factory=dict, description="LlamaConfig fields (hidden_size, ...)")
    methods: list[Literal["ce", "kd_forward", "kd_reverse", "gkd_jsd", "seq_kd"]] = ["ce", "kd_forward"]
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    alpha: float = Field(0.5, gt=0.0, le=1.0, description="weight of the divergence; 1 - alpha goes to CE")
    beta: float = Field(0.5, gt=0.0, lt=1.0, description="GKD's JSD interpolation")
    train: LmTrainConfig = LmTrainConfig()
    export: Optional[str] = Field(None, description="the method whose seed-0 student is the stage's model; "
                                                     "default: the first KD method")
    eval_batch_size: PositiveInt = 8

    @field_validator("methods")
    @classmethod
    def _distinct(cls, methods: list[str]) -> list[str]:
        if not methods or len(set(methods)) != len(methods):
            raise ValueError("list each method once, at least one")
        return methods

    @model_validator(mode="after")
    def _export_is_trained(self) -> "LmDistillConfig":
        if self.export is not None and self.export not in self.methods:
            raise ValueError(f"export: {self.export!r} is not one of the methods ({', '.join(self.methods)})")
        return self

    def export_method(self) -> str:
        return self.export or next((m for m in self.methods if m != "ce"), self.methods[0])


class LmDistillStage(Stage):
    type = "lm_distill"
    Config = LmDistillConfig

    def run(self, config: LmDistillConfig, ctx, out: Path) -> dict[str, Any]:
        import numpy as np

        from edgekd.models.causal_lm import count_params, teacher_config
        from edgekd.stages.lm_teacher import HELDOUT_TOP1_FILE
        from edgekd.text.lm_scoring import paired_bootstrap, token_chunks

        train, heldout = token_chunks(ctx, f"stages.{config.stage_name}")
        teacher = ctx.latest("lm_teacher")
        reference_top1 = np.load(teacher.file(HELDOUT_TOP1_FILE))
        parent = teacher_config(teacher.metrics["model"])
        runs: dict[str, list[dict]] = {}
        for method in config.methods:
            targets = _targets(ctx, config, method, len(train))
            chunks = _generated(ctx) if method == "seq_kd" else train
            for seed in config.seeds:
                record, student = _train_one(config, ctx, method, seed, parent, chunks, heldout, targets,
                                             reference_top1)
                np.save(out / f"nll-{method}-seed{seed}.npy", record.pop("nll"))
                runs.setdefault(method, []).append(record)
                if method == config.export_method() and seed == config.seeds[0]:
                    student.save_pretrained(out / STUDENT_FOLDER, safe_serialization=True)
                    params = count_params(student)
        nll = {(m, r["seed"]): np.load(out / f"nll-{m}-seed{r['seed']}.npy") for m, rs in runs.items() for r in rs}
        versus_ce = {m: [{"seed": r["seed"], **paired_bootstrap(nll[(m, r["seed"])], nll[("ce", r["seed"])], r["seed"])}
                         for r in rs] for m, rs in runs.items() if m != "ce" and "ce" in runs}
        methods = {m: {"heldout_ppl": float(np.mean([r["heldout_ppl"] for r in rs])),
                       "top1_agreement": float(np.mean([r["top1_agreement"] for r in rs])),
                       "tokens_trained": rs[0]["tokens_trained"], "seconds": sum(r["seconds"] for r in rs),
                       "per_seed": rs} for m, rs in runs.items()}
        for method, comparisons in versus_ce.items():
            ctx.console.print(f"{method} vs ce: " + ", ".join(
                f"seed {c['seed']} {c['mean_nats_per_token']:+.3f} nats/token [{c['ci95'][0]:+.3f}, {c['ci95'][1]:+.3f}]"
                for c in comparisons))
        return {"methods": methods, "versus_ce": versus_ce, "export_method": config.export_method(),
                "student_folder": STUDENT_FOLDER, "params": params,
                "teacher_heldout_ppl": teacher.metrics["heldout_ppl"],
                "teacher_params": teacher.metrics["params"], "heldout_tokens": int(reference_top1.size),
                "student": {**config.student}, "alpha": config.alpha, "beta": config.beta}


def _targets(ctx, config: LmDistillConfig, method: str, count: int):
    """The cached teacher for a KD method (None for CE)."""
    if METHODS[method] is None:
        return None
    from edgekd.kd.shard_store import open_store
    from edgekd.kd.token_targets import TokenTargets

    cache = ctx.latest("token_cache")
    index, columns = open_store(cache.path, cache.metrics["key"], count)
    return TokenTargets(index, columns, METHODS[method], config.beta)


def _generated(ctx):
    """The teacher-written sequences of the latest `lm_generate` stage (seq_kd's training text)."""
    import numpy as np

    from edgekd.stages.lm_generate import GENERATED_FILE

    return np.load(ctx.latest("lm_generate").file(GENERATED_FILE))


def _train_one(config, ctx, method, seed, parent, train, heldout, targets, reference_top1):
    import numpy as np

    from edgekd.kd.trainer import train as train_model
    from edgekd.models.causal_lm import LogitsOnly, build_student
    from edgekd.text.lm_scoring import perplexity, score_heldout

    student = build_student(config.student, parent, seed)
    recipe = config.train.recipe(config.alpha if targets is not None else 0.0)
    label = f"{method} seed {seed}"
    started = time.perf_counter()
    train_model(LogitsOnly(student), np.ascontiguousarray(train[:, :-1]), np.ascontiguousarray(train[:, 1:]),
                targets, recipe, seed, ctx.console, label=label,
                checkpoint=ctx.resume_path(f"{method}-seed{seed}.ckpt"))
    seconds = time.perf_counter() - started
    scored = score_heldout(student, heldout, config.eval_batch_size)
    record = {"seed": seed, "heldout_ppl": perplexity(scored["nll"]),
              "top1_agreement": float((scored["top1"] == reference_top1).mean()),
              "tokens_trained": int(config.train.epochs * train.shape[0] * (train.shape[1] - 1)),
              "seconds": seconds, "nll": scored["nll"]}
    ctx.console.print(f"{label}: held-out perplexity {record['heldout_ppl']:.2f}, top-1 agreement with the "
                      f"teacher {record['top1_agreement']:.1%}")
    return record, student
