"""The task registry: one module per task."""

from __future__ import annotations

from grader.tasks.base import Case, Mistake, Task
from grader.tasks.bn_backward import BatchNormBackward
from grader.tasks.bn_backward_alt import BatchNormBackwardAlt
from grader.tasks.bn_fold import BatchNormFold
from grader.tasks.bn_forward import BatchNormForward
from grader.tasks.bn_forward_train import BatchNormForwardTrain
from grader.tasks.bn_torch_compat import BatchNormTorchCompat
from grader.tasks.groupnorm import GroupNorm
from grader.tasks.layernorm import LayerNorm
from grader.tasks.spatial_bn import SpatialBatchNorm
from grader.tasks.welford import Welford

TASKS: dict[str, Task] = {
    task.id: task
    for task in (
        BatchNormForwardTrain(),
        BatchNormForward(),
        BatchNormBackward(),
        BatchNormBackwardAlt(),
        LayerNorm(),
        SpatialBatchNorm(),
        GroupNorm(),
        Welford(),
        BatchNormFold(),
        BatchNormTorchCompat(),
    )
}

__all__ = ["TASKS", "Case", "Mistake", "Task"]
