"""Float64 NumPy reference kernels. They run outside the sandbox and never enter it."""

from grader.reference.batchnorm import (
    batchnorm_backward,
    batchnorm_backward_alt,
    batchnorm_forward,
    batchnorm_forward_train,
)
from grader.reference.fold import fold_batchnorm, fold_batchnorm_conv
from grader.reference.normalization import (
    layernorm_backward,
    layernorm_forward,
    spatial_batchnorm_backward,
    spatial_batchnorm_forward,
    spatial_groupnorm_backward,
    spatial_groupnorm_forward,
)
from grader.reference.torch_compat import BatchNorm1d
from grader.reference.welford import welford_finalize, welford_merge, welford_update

__all__ = [
    "BatchNorm1d",
    "batchnorm_backward",
    "batchnorm_backward_alt",
    "batchnorm_forward",
    "batchnorm_forward_train",
    "fold_batchnorm",
    "fold_batchnorm_conv",
    "layernorm_backward",
    "layernorm_forward",
    "spatial_batchnorm_backward",
    "spatial_batchnorm_forward",
    "spatial_groupnorm_backward",
    "spatial_groupnorm_forward",
    "welford_finalize",
    "welford_merge",
    "welford_update",
]
