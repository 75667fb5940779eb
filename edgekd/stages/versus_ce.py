"""The comparison every stage that trains a student its own way makes: its method against the same
student trained alone with cross-entropy, seed by seed (mutual learning, self-distillation)."""

from __future__ import annotations

from typing import Any, Callable


def versus_ce(method: str, seed: int, score: float, config, ctx, kwargs: dict,
              score_seed: Callable[[int], float]) -> dict[str, Any]:
    """{method, ce, epochs}: seed summaries over `config.baseline_seeds`. The run of `seed` (already
    scored) is not trained again; `score_seed(s)` trains and scores the method for another seed, and
    the CE runs (unless `config.ce_baseline` is false) are the `distill` stage's own."""
    from edgekd.stages.distill import seed_summary

    runs: dict[str, dict[int, float]] = {method: {seed: score}, "ce": {}}
    for other in config.baseline_seeds:
        if other not in runs[method]:
            runs[method][other] = score_seed(other)
        if config.ce_baseline:
            runs["ce"][other] = ce_alone(config, ctx, kwargs, other)
    found: dict[str, Any] = {name: seed_summary([by_seed[s] for s in config.baseline_seeds], config.baseline_seeds)
                             for name, by_seed in runs.items() if by_seed}
    found["epochs"] = config.train.epochs
    return found


def ce_alone(config, ctx, kwargs: dict, seed: int) -> float:
    """The same student, epochs and schedule with cross-entropy alone: the `distill` stage's CE-only
    run (resume files included)."""
    from edgekd.stages.distill import DistillConfig, train_one

    alone = DistillConfig(student=config.student, train=config.train, baseline_seeds=[])
    return train_one(alone, ctx, kwargs, None, seed, kd=False)[1]
