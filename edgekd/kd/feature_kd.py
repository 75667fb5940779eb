"""Feature (hint) and relation KD terms: what the student's intermediate layers owe the teacher's.

The teacher's side comes from the cache (`features.<layer>` columns); the student's is read with
forward hooks during its own forward pass. Hints need a learned projection from the student's
feature shape to the teacher's (FitNets' regressor); it trains with the student and is discarded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from edgekd.errors import ConfigError
from edgekd.kd.features import capture
from edgekd.kd.losses import hint_loss, rkd_angle_loss, rkd_distance_loss


@dataclass(frozen=True)
class HintTerm:
    student_layer: str
    teacher_layer: str
    weight: float = 1.0


@dataclass(frozen=True)
class RelationTerm:
    student_layer: str
    teacher_layer: str
    distance_weight: float = 25.0  # the weights Park et al. used
    angle_weight: float = 50.0


class FeatureTerms(nn.Module):
    """The extra loss terms of one training run; its projections are trained with the student."""

    def __init__(self, student: nn.Module, hints: list[HintTerm], relations: list[RelationTerm],
                 teacher_shapes: dict[str, tuple[int, ...]], example: torch.Tensor):
        super().__init__()
        self.hints, self.relations = list(hints), list(relations)
        for term in self.hints + self.relations:
            if term.teacher_layer not in teacher_shapes:
                raise ConfigError(f"teacher layer {term.teacher_layer!r} is not in the cache; add it to the "
                                  f"cache stage's `features` (cached: {', '.join(teacher_shapes) or 'none'})")
        student_shapes = _student_shapes(student, self.student_layers, example)
        self.projections = nn.ModuleList(
            _projection(student_shapes[h.student_layer], tuple(teacher_shapes[h.teacher_layer]), h)
            for h in self.hints)

    @property
    def student_layers(self) -> list[str]:
        return sorted({term.student_layer for term in self.hints + self.relations})

    def loss(self, captured: dict, targets, selection) -> torch.Tensor:
        total = torch.zeros(())
        for hint, projection in zip(self.hints, self.projections):
            teacher = targets.features(hint.teacher_layer, selection)
            student = captured[hint.student_layer]
            if isinstance(projection, nn.Linear):
                student, teacher = student.flatten(1), teacher.flatten(1)
            total = total + hint.weight * hint_loss(student, teacher, projection)
        for relation in self.relations:
            teacher = targets.features(relation.teacher_layer, selection)
            student = captured[relation.student_layer]
            total = total + relation.distance_weight * rkd_distance_loss(student, teacher)
            total = total + relation.angle_weight * rkd_angle_loss(student, teacher)
        return total


def _student_shapes(student: nn.Module, layers: list[str], example: torch.Tensor) -> dict[str, tuple[int, ...]]:
    was_training = student.training
    student.eval()
    with torch.no_grad(), capture(student, layers, "student") as captured:
        student(example[:1])
    student.train(was_training)
    return {name: tuple(value.shape[1:]) for name, value in captured.items()}


def _projection(student: tuple[int, ...], teacher: tuple[int, ...], hint: HintTerm) -> nn.Module:
    """1×1 conv between feature maps of the same size, else a linear map between flattened features."""
    if len(student) == 3 and len(teacher) == 3:
        if student[1:] != teacher[1:]:
            raise ConfigError(f"hint {hint.student_layer} -> {hint.teacher_layer}: feature maps "
                              f"{list(student)} and {list(teacher)} differ in size; pick layers at the same resolution")
        return nn.Conv2d(student[0], teacher[0], kernel_size=1)
    return nn.Linear(math.prod(student), math.prod(teacher))
