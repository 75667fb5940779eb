"""Training settings shared by the stages that train (teacher, distill)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, NonNegativeFloat, PositiveFloat, PositiveInt

from edgekd.config import StrictModel


class TrainingConfig(StrictModel):
    """Optimiser and distillation settings. α = 0 trains with cross-entropy only."""

    epochs: PositiveInt = 4
    batch_size: PositiveInt = 128
    lr: PositiveFloat = 0.05
    momentum: float = Field(0.9, ge=0.0, lt=1.0)
    weight_decay: NonNegativeFloat = 5e-4
    temperature: PositiveFloat = 4.0
    alpha: float = Field(0.5, ge=0.0, le=1.0)
    optimizer: Literal["sgd", "adamw"] = Field("sgd", description="adamw for transformers (lr ~1e-4..5e-5)")
    freeze: list[str] = Field(default_factory=list,
                              description="parameter-name prefixes left untrained, e.g. `model.` to train an hf head only")

    def recipe(self):
        from edgekd.kd.trainer import Recipe

        return Recipe(**{**self.model_dump(), "freeze": tuple(self.freeze)})
