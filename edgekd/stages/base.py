"""What a stage is: a typed config and a `run` that writes files into its own output folder."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from edgekd.config import StageConfig

if TYPE_CHECKING:
    from edgekd.context import RunContext


class Stage:
    """One step of a pipeline. Subclasses set `type`, `Config` and implement `run`.

    `run` reads earlier artifacts through `ctx`, writes only inside `out`, and returns the metrics that
    go into the manifest. `inputs` names anything outside the config and the parent artifact that the
    output depends on (a checkpoint's digest, say), so that it becomes part of the artifact id.
    """

    type: ClassVar[str]
    Config: ClassVar[type[StageConfig]]
    # True when every torchrun rank takes part in `run` (rank 0 alone commits the artifact).
    distributed: ClassVar[bool] = False

    def inputs(self, config: StageConfig, ctx: "RunContext") -> dict[str, Any]:
        return {}

    def run(self, config: StageConfig, ctx: "RunContext", out: Path) -> dict[str, Any]:
        raise NotImplementedError
