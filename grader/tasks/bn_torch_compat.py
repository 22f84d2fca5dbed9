"""bn-torch-compat: a NumPy BatchNorm1d that behaves exactly like PyTorch's, state and all.

Each case is a short script played on one module: construct it, maybe set `weight` and `bias`, switch
between train and eval, call `forward` on a few batches, then read its attributes. The reference plays the
same script on `grader.reference.BatchNorm1d`; each known mistake plays it on `TorchVariant` with one
misconception switched on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np

from grader.reference import BatchNorm1d
from grader.sandbox import Input, Step, StepOutcome
from grader.tasks.base import Case, CaseEvaluation, Mistake, Outputs, Task
from grader.tasks.cases import features

Array = np.ndarray
ATTRIBUTES = ("running_mean", "running_var", "num_batches_tracked", "weight", "bias")
AFFINE = ("weight", "bias")
TRACKED = ("running_mean", "running_var", "num_batches_tracked")

STATEMENT = """\
### A PyTorch-compatible BatchNorm1d

Write a class `BatchNorm1d(num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True)`
in NumPy that behaves exactly like `torch.nn.BatchNorm1d`, so that code and checkpoints could move
between the two:

* inputs are `(N, C)` or `(N, C, L)`, with statistics per channel `C` (over `N`, and `L` if present);
  outputs are float64 with the input's shape;
* attributes `weight` (ones) and `bias` (zeros) of shape `(C,)` when `affine`, else `None`;
  `running_mean` (zeros), `running_var` (**ones**) and `num_batches_tracked` (an int, 0) when
  `track_running_stats`, else all three `None`;
* `train()` and `eval()` switch the mode (a new module is in training mode); `forward(x)` returns the output;
* in training mode the batch is normalized with its **biased** variance, while the running variance is
  updated with the **unbiased** one; `momentum` weighs the **new** batch:
  `running = (1 - momentum) * running + momentum * batch_statistic`; each training call adds one to
  `num_batches_tracked`; with `momentum=None` the running statistics are the **cumulative average** of all
  batches so far (the weight of the new batch is `1 / num_batches_tracked`);
* in eval mode the running statistics are used, unless the module does not track them, in which case
  the batch's own statistics are used;
* epsilon goes inside the square root. The grader may assign new arrays to `weight` and `bias`.
  Do not modify the input in place.
"""

STARTER = """\
import numpy as np


class BatchNorm1d:
    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True):
        raise NotImplementedError

    def train(self, mode=True):
        raise NotImplementedError

    def eval(self):
        raise NotImplementedError

    def forward(self, x):
        raise NotImplementedError
"""


class TorchVariant(BatchNorm1d):
    """The reference module with one misconception switched on (all off: it is the reference)."""

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        *,
        momentum_reversed: bool = False,
        biased_running_var: bool = False,
        unbiased_normalization: bool = False,
        none_as_fixed_momentum: bool = False,
        eval_uses_batch: bool = False,
        eps_outside_sqrt: bool = False,
        running_var_starts_at_zero: bool = False,
    ) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats)
        self.flags = {
            "momentum_reversed": momentum_reversed,
            "biased_running_var": biased_running_var,
            "unbiased_normalization": unbiased_normalization,
            "none_as_fixed_momentum": none_as_fixed_momentum,
            "eval_uses_batch": eval_uses_batch,
            "eps_outside_sqrt": eps_outside_sqrt,
        }
        if running_var_starts_at_zero and self.running_var is not None:
            self.running_var = np.zeros(num_features)

    def forward(self, x: Array) -> Array:
        flags = self.flags
        x = np.asarray(x)
        axes = (0,) if x.ndim == 2 else (0, 2)
        shape = (1, -1) if x.ndim == 2 else (1, -1, 1)
        count = x.size // self.num_features
        if self.training or not self.track_running_stats or flags["eval_uses_batch"]:
            mean = x.mean(axis=axes)
            var = x.var(axis=axes, ddof=1 if flags["unbiased_normalization"] else 0)
            if self.training and self.track_running_stats:
                assert self.running_mean is not None and self.running_var is not None
                assert self.num_batches_tracked is not None
                self.num_batches_tracked += 1
                momentum = self.momentum
                if momentum is None:
                    momentum = 0.1 if flags["none_as_fixed_momentum"] else 1.0 / self.num_batches_tracked
                keep = momentum if flags["momentum_reversed"] else 1 - momentum
                biased = x.var(axis=axes)
                stored = biased if flags["biased_running_var"] else biased * count / (count - 1)
                self.running_mean = keep * self.running_mean + (1 - keep) * mean
                self.running_var = keep * self.running_var + (1 - keep) * stored
        else:
            assert self.running_mean is not None and self.running_var is not None
            mean, var = self.running_mean, self.running_var
        std = np.sqrt(var) + self.eps if flags["eps_outside_sqrt"] else np.sqrt(var + self.eps)
        out: Array = (x - mean.reshape(shape)) / std.reshape(shape)
        if self.affine:
            assert self.weight is not None and self.bias is not None
            out = out * self.weight.reshape(shape) + self.bias.reshape(shape)
        return out


def _as_output(value: object) -> object:
    """Counts may come back as Python or NumPy integers; compare them as float64 arrays."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float | np.integer):
        return np.asarray(value, dtype=np.float64)
    if isinstance(value, np.ndarray) and value.ndim == 0 and np.issubdtype(value.dtype, np.integer):
        return value.astype(np.float64)
    return value


def _variant(**flags: bool) -> Callable[..., Any]:
    return partial(TorchVariant, **flags)


class BatchNormTorchCompat(Task):
    id = "bn-torch-compat"
    title = "A PyTorch-compatible BatchNorm1d"
    functions = ("BatchNorm1d",)
    statement = STATEMENT
    starter = STARTER
    mistakes = (
        Mistake(
            "momentum_reversed",
            "{Code} uses the CS231n/Keras momentum convention (running = momentum * running + (1 -"
            " momentum) *"
            " batch); in PyTorch momentum is the weight of the new batch, 0.1 by default.",
            _variant(momentum_reversed=True),
        ),
        Mistake(
            "biased_running_var",
            "{Code} updates the running variance with the biased batch variance; PyTorch normalizes the"
            " batch with"
            " the biased variance but stores the unbiased one (dividing by N - 1) in running_var.",
            _variant(biased_running_var=True),
        ),
        Mistake(
            "unbiased_variance",
            "{Code} normalizes the batch with the unbiased variance (dividing by N - 1); PyTorch uses the"
            " biased one"
            " for the batch and keeps the unbiased one only for running_var.",
            _variant(unbiased_normalization=True),
        ),
        Mistake(
            "momentum_none_not_cumulative",
            "{Code} treats momentum=None as a fixed momentum; in PyTorch it means a cumulative moving"
            " average, each"
            " new batch weighted 1 / num_batches_tracked.",
            _variant(none_as_fixed_momentum=True),
        ),
        Mistake(
            "test_uses_batch_stats",
            "{Code} normalizes with the current batch's statistics in eval mode although running statistics"
            " are"
            " tracked; eval mode must use running_mean and running_var.",
            _variant(eval_uses_batch=True),
        ),
        Mistake(
            "eps_outside_sqrt",
            "{Code} adds epsilon after the square root (sqrt(var) + eps) instead of inside it (sqrt(var +"
            " eps)).",
            _variant(eps_outside_sqrt=True),
        ),
        Mistake(
            "running_var_init_zero",
            "{Code} starts running_var at zeros (the CS231n default); PyTorch starts it at ones, which"
            " matters for"
            " eval before enough training and for every running average after.",
            _variant(running_var_starts_at_zero=True),
        ),
    )

    def reference(self) -> Callable[..., Any]:
        return BatchNorm1d

    def cases(self, seed: int) -> list[Case]:
        sample = np.random.default_rng(2032)
        cases = [self._case("sample", True, sample, 3, [("train", 4), ("train", 4), ("eval", 3)])]
        rng = np.random.default_rng([seed, 909])
        train_eval = [("train", 6), ("eval", 4)]
        cases += [
            self._case(
                "momentum_eps_and_affine",
                False,
                rng,
                4,
                [("train", 6), ("train", 5), ("eval", 3)],
                {"momentum": 0.3, "eps": 1e-3},
                set_affine=True,
            ),
            self._case(
                "cumulative_average",
                False,
                rng,
                3,
                [("train", 5), ("train", 4), ("train", 6), ("eval", 2)],
                {"momentum": None},
                shifting=True,
            ),
            self._case("no_affine", False, rng, 3, train_eval, {"affine": False}),
            self._case("untracked", False, rng, 4, train_eval, {"track_running_stats": False}),
            self._case(
                "sequence_input", False, rng, 4, [("train", 3), ("eval", 2)], length=5, set_affine=True
            ),
            self._case("two_examples_then_one", False, rng, 5, [("train", 2), ("eval", 1)]),
            self._case("momentum_zero", False, rng, 3, train_eval, {"momentum": 0.0}, set_affine=True),
            self._case("momentum_one", False, rng, 3, train_eval, {"momentum": 1.0}),
            self._case("offset_1e6", False, rng, 3, [("train", 8), ("train", 8), ("eval", 4)], offset=1e6),
            self._case("eval_before_training", False, rng, 3, [("eval", 4), ("train", 5), ("eval", 4)]),
        ]
        return cases

    @staticmethod
    def _case(
        name: str,
        visible: bool,
        rng: np.random.Generator,
        channels: int,
        batches: list[tuple[str, int]],
        init: dict[str, Any] | None = None,
        *,
        set_affine: bool = False,
        length: int | None = None,
        offset: float = 0.0,
        shifting: bool = False,
    ) -> Case:
        arrays: dict[str, Array] = {}
        for index, (_, n) in enumerate(batches):
            shift = 4.0 * index if shifting else 0.0
            rows = features(rng, n * (length or 1), channels, offset=offset + shift)
            arrays[f"x{index}"] = (
                rows if length is None else rows.reshape(n, length, channels).transpose(0, 2, 1).copy()
            )
        if set_affine:
            arrays["weight"] = rng.uniform(0.5, 2.0, channels) * rng.choice([-1.0, 1.0], channels)
            arrays["bias"] = rng.normal(size=channels)
        params = {"channels": channels, "init": init or {}, "modes": [mode for mode, _ in batches]}
        return Case(name, visible, arrays, params)

    @staticmethod
    def _expected_none(case: Case) -> tuple[str, ...]:
        init = case.params["init"]
        return (() if init.get("affine", True) else AFFINE) + (
            () if init.get("track_running_stats", True) else TRACKED
        )

    def steps(self, case: Case, prefix: str) -> list[Step]:
        module = prefix + "module"
        init = case.params["init"]
        steps = [Step("BatchNorm1d", (case.params["channels"],), init, save_as=module, return_result=False)]
        for name in AFFINE:
            if name in case.arrays:
                steps.append(Step(f"{module}.__setattr__", (name, Input(prefix + name)), return_result=False))
        for index, mode in enumerate(case.params["modes"]):
            steps.append(Step(f"{module}.{mode}", return_result=False))
            steps.append(Step(f"{module}.forward", (Input(f"{prefix}x{index}"),), report_args=True))
        steps += [Step(f"{module}.__getattribute__", (name,)) for name in ATTRIBUTES]
        return steps

    def run_kernel(self, kernel: Callable[..., Any], case: Case, dtype: type) -> Outputs:
        a: dict[str, Array] = {name: value.astype(dtype) for name, value in case.arrays.items()}
        module = kernel(case.params["channels"], **case.params["init"])
        for name in AFFINE:
            if name in a:
                setattr(module, name, a[name])
        outputs: Outputs = {}
        for index, mode in enumerate(case.params["modes"]):
            getattr(module, mode)()
            outputs[f"out{index}"] = module.forward(a[f"x{index}"])
        for name in ATTRIBUTES:
            value = getattr(module, name)
            if value is not None:
                outputs[name] = np.asarray(value, dtype=np.float64)
        return outputs

    def candidate_outputs(self, case: Case, outcomes: Sequence[StepOutcome]) -> dict[str, object]:
        forwards = [o for o in outcomes if o.args_after is not None]
        attributes = outcomes[len(outcomes) - len(ATTRIBUTES) :]
        outputs: dict[str, object] = {f"out{i}": o.result for i, o in enumerate(forwards)}
        outputs.update({name: _as_output(o.result) for name, o in zip(ATTRIBUTES, attributes, strict=True)})
        return outputs

    def mutated_inputs(self, case: Case, outcomes: Sequence[StepOutcome]) -> list[str]:
        forwards = [o for o in outcomes if o.args_after is not None]
        return sorted(
            {
                "x"
                for index, outcome in enumerate(forwards)
                if outcome.args_after and not np.array_equal(outcome.args_after[0], case.arrays[f"x{index}"])
            }
        )

    def evaluate(self, case: Case, outcomes: Sequence[StepOutcome]) -> CaseEvaluation:
        evaluation = super().evaluate(case, outcomes)
        if not evaluation.outputs:  # a call failed: that is the message
            return evaluation
        present = [name for name in self._expected_none(case) if evaluation.outputs.get(name) is not None]
        if present:
            init = ", ".join(f"{k}={v}" for k, v in case.params["init"].items())
            problem = f"{', '.join(present)} should be None with {init}"
            result = evaluation.result
            result.message = "; ".join(m for m in (result.message, problem) if m)
            result.status = "wrong_answer"
        return evaluation
