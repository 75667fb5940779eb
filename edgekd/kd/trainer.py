"""The training loop shared by teacher training, distillation and the CE-only baseline.

Batches are drawn by indexing tensors already in memory (Fashion-MNIST is 47 MB as float32), which
on two cores is faster than a DataLoader. Runs are seeded: the same seed gives the same weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from rich.console import Console
from torch import nn

from edgekd.kd.batch_plan import DistributedBatches, ShuffledBatches
from edgekd.kd.feature_kd import FeatureTerms
from edgekd.kd.features import capture
from edgekd.kd.losses import mutual_learning_loss, self_distillation_loss
from edgekd.kd.token_losses import next_token_ce
from edgekd.kd.teacher_targets import CachedTargets
from edgekd.kd.train_checkpoint import Resumed, load_checkpoint, save_checkpoint
from edgekd.progress import progress_bar


MIN_SCHEDULE_STEPS = 10


@dataclass(frozen=True)
class Recipe:
    """Optimisation settings. `alpha = 0` trains with cross-entropy only (the baseline)."""

    epochs: int = 4
    batch_size: int = 128
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    temperature: float = 4.0
    alpha: float = 0.5
    optimizer: str = "sgd"  # or "adamw"
    freeze: tuple[str, ...] = ()  # parameter-name prefixes that are not trained
    objective: str = "logits"  # "embedding": regress the cached teacher vectors (no labels); "mutual": Peers;
    # "next_token": a causal LM whose labels are [batch, length] next tokens
    checkpoint_steps: int = 0  # also checkpoint every N steps inside an epoch (0: at epoch ends only)


def train(
    model: nn.Module,
    inputs: np.ndarray,
    labels: np.ndarray,
    teacher: CachedTargets | None,
    recipe: Recipe,
    seed: int,
    console: Console,
    label: str = "train",
    augment: Callable[[torch.Tensor, np.random.Generator], torch.Tensor] | None = None,
    checkpoint: Path | None = None,
    feature_terms: FeatureTerms | None = None,
) -> nn.Module:
    """Train `model` in place with SGD + Nesterov and a one-cycle schedule; return it in eval mode.

    `teacher` is the cached teacher (None trains with cross-entropy alone); with an augmented cache
    each batch is the stored views the teacher saw. `feature_terms` adds hint / relation losses on
    the student's intermediate layers. With `checkpoint`, state is saved there after every epoch (and
    every `recipe.checkpoint_steps` steps) and, when the file exists, training continues from it: a
    killed run resumes with the same weights.
    """
    torch.manual_seed(seed)
    generator = np.random.default_rng(seed)
    x_all, y_all = torch.from_numpy(inputs), torch.from_numpy(labels)
    rank, world_size = _world()
    if world_size > 1:
        plan = DistributedBatches(len(y_all), recipe.batch_size, rank, world_size, seed)
        generator = np.random.default_rng([seed, rank])  # each rank draws its own augmented views
    else:
        plan = ShuffledBatches(len(y_all), recipe.batch_size, generator)
    trained = model if feature_terms is None else nn.ModuleDict({"model": model, "terms": feature_terms})
    layout = _memory_format(model)
    trained.to(memory_format=layout)
    optimizer = _optimizer(trained, recipe)
    # OneCycleLR divides by the length of its warm-up and decay phases, which are empty below ~10
    # steps (a small data set, one epoch): such a run then just ends early in a 10-step schedule.
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=recipe.lr, total_steps=max(recipe.epochs * plan.steps, MIN_SCHEDULE_STEPS), pct_start=0.2)
    alpha = recipe.alpha if teacher is not None else 0.0
    resumed = Resumed(epoch=0)
    if checkpoint is not None and checkpoint.is_file():
        resumed = load_checkpoint(checkpoint, trained, optimizer, schedule, generator)
        console.print(f"{label}: {resumed.describe(plan.steps)}")
    done = resumed.epoch
    trained.train()
    net = model if world_size == 1 else _data_parallel(model, feature_terms)
    layers = feature_terms.student_layers if feature_terms is not None else []
    with progress_bar(console) as progress, capture(model, layers, "student") as captured:
        task = progress.add_task(label, total=recipe.epochs * plan.steps, status="",
                                 completed=done * plan.steps + resumed.step)
        for epoch in range(done, recipe.epochs):
            skip = resumed.step if epoch == done else 0
            batches, epoch_generator = _epoch_batches(plan, epoch, generator, resumed if skip else None)
            running = resumed.running_loss if skip else 0.0
            for step, index in enumerate(batches):
                if step < skip:  # trained before the kill: the same order, so the same batches
                    continue
                if teacher is None:
                    batch = x_all[index] if augment is None else augment(x_all[index], generator)
                    outputs = net(batch.contiguous(memory_format=layout))
                    if recipe.objective == "mutual":  # `model` is Peers: [K, batch, classes]
                        loss = mutual_learning_loss(outputs, y_all[index], recipe.temperature, recipe.alpha)
                    elif recipe.objective == "next_token":  # a causal LM: labels are the next tokens
                        loss = next_token_ce(outputs, y_all[index])
                    elif recipe.objective == "self_distill":  # `model` is an ExitFamily: ExitOutputs
                        loss = self_distillation_loss(outputs.logits, y_all[index], recipe.temperature, recipe.alpha,
                                                      outputs.hints, outputs.target, model.hint_weight)
                    else:
                        loss = F.cross_entropy(outputs, y_all[index])
                else:
                    selection = teacher.select(index, generator)
                    logits = net(teacher.inputs(x_all, selection).contiguous(memory_format=layout))
                    if recipe.objective == "embedding":
                        loss = teacher.embedding_loss(logits, selection)
                    else:
                        loss = teacher.loss(logits, selection, y_all[index], recipe.temperature, alpha)
                    if feature_terms is not None:
                        loss = loss + feature_terms.loss(captured, teacher, selection)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                schedule.step()
                running += loss.item()
                progress.advance(task)
                if (checkpoint is not None and rank == 0 and recipe.checkpoint_steps
                        and (step + 1) % recipe.checkpoint_steps == 0 and step + 1 < plan.steps):
                    save_checkpoint(checkpoint, epoch, trained, optimizer, schedule, generator,
                                    within=Resumed(epoch, step + 1, epoch_generator, running))
            status = f"epoch {epoch + 1}/{recipe.epochs} loss {running / plan.steps:.3f}"
            progress.update(task, status=status)
            if not console.is_terminal:  # bars only render at the end in logs; say where we are
                console.print(f"{label}: {status}")
            if checkpoint is not None and rank == 0:  # under DDP every rank holds the same weights
                save_checkpoint(checkpoint, epoch + 1, trained, optimizer, schedule, generator)
    trained.to(memory_format=torch.contiguous_format)  # checkpoints and exporters expect plain tensors
    return model.eval()


def _epoch_batches(plan, epoch: int, generator: np.random.Generator, resumed: Resumed | None):
    """The epoch's batches and the generator state they were drawn from. Resuming inside an epoch,
    the order is drawn again from the saved pre-epoch state, then the generator goes back to where
    the killed run left it (later augmentation draws continue from there)."""
    if resumed is None:
        state = generator.bit_generator.state
        return plan.epoch(epoch), state
    now = generator.bit_generator.state
    generator.bit_generator.state = resumed.epoch_generator
    batches = plan.epoch(epoch)  # the permutation is drawn here, eagerly
    generator.bit_generator.state = now
    return batches, resumed.epoch_generator


def _optimizer(trained: nn.Module, recipe: Recipe) -> torch.optim.Optimizer:
    """SGD + Nesterov (CNNs), or AdamW (transformers, which SGD trains poorly), over the parameters
    not frozen by name prefix. OneCycle cycles SGD's momentum or AdamW's beta1 alike."""
    names = [name for name, _ in trained.named_parameters()]
    frozen = [prefix for prefix in recipe.freeze if not any(name.startswith(prefix) for name in names)]
    if frozen:
        from edgekd.errors import ConfigError

        raise ConfigError(f"train.freeze: no parameter starts with {frozen[0]!r}; names start with "
                          f"{', '.join(sorted({n.split('.')[0] + '.' for n in names}))}")
    params = []
    for name, param in trained.named_parameters():
        param.requires_grad_(not name.startswith(tuple(recipe.freeze)) if recipe.freeze else param.requires_grad)
        if param.requires_grad:
            params.append(param)
    if recipe.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=recipe.lr, betas=(recipe.momentum, 0.999),
                                 weight_decay=recipe.weight_decay)
    return torch.optim.SGD(params, lr=recipe.lr, momentum=recipe.momentum, nesterov=True,
                           weight_decay=recipe.weight_decay)


def _memory_format(model: nn.Module) -> torch.memory_format:
    """channels_last for CNNs: oneDNN's convolutions, batch norm and pooling run ~30 % faster in NHWC
    on CPU (measured on the quickstart student), with the same weights in the end."""
    if any(isinstance(module, nn.Conv2d) for module in model.modules()):
        return torch.channels_last
    return torch.contiguous_format


def _world() -> tuple[int, int]:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class _Forward(nn.Module):
    """What DDP wraps: the student (and the hint projections, whose gradients must be averaged too)."""

    def __init__(self, model: nn.Module, feature_terms: FeatureTerms | None):
        super().__init__()
        self.model, self.feature_terms = model, feature_terms

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        return self.model(batch)


def _data_parallel(model: nn.Module, feature_terms: FeatureTerms | None) -> nn.Module:
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(_Forward(model, feature_terms))
