"""Numeric generators: for every numeric question in the bank and many seeds, the answer recomputed here
from the numbers the candidate is shown (with plain NumPy, independently of the reference kernels) is
within the question's tolerance of the generated answer, and the parameters differ between candidates."""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
import pytest

from app.questions.generators import GENERATORS, fill, generate, placeholders
from app.questions.service import load_bank
from app.questions.spec import Numeric

NUMERIC = [entry.spec for entry in load_bank().entries if isinstance(entry.spec, Numeric)]
EPS = 1e-5


def _v(text: str) -> np.ndarray:
    return np.array(json.loads(text), dtype=float)


def _f(text: str) -> float:
    return float(text)


def _ints(text: str) -> np.ndarray:
    return np.array([int(v) for v in text.split(",")])


def _normalize(x: np.ndarray, value: float, eps: float = EPS) -> float:
    return float((value - x.mean()) / np.sqrt(((x - x.mean()) ** 2).mean() + eps))


def _fold(p: dict[str, str]) -> tuple[float, float]:
    scale = _f(p["gamma"]) / np.sqrt(_f(p["var"]))
    return _f(p["w"]) * scale, (_f(p["b"]) - _f(p["mean"])) * scale + _f(p["beta"])


def _merged(p: dict[str, str]) -> float:
    ma, mb = _f(p["mean_a"]), _f(p["mean_b"])
    m2 = _f(p["m2_a"]) + _f(p["m2_b"]) + (mb - ma) ** 2 * 3 * 3 / 6
    return m2 / 6


def _torch_running_var(p: dict[str, str]) -> float:
    x, m = _v(p["x"]), _f(p["momentum"])
    return (1 - m) * _f(p["running"]) + m * x.var(ddof=1)


def _second_group(x: np.ndarray) -> float:
    group = x[2:]
    return _normalize(group, x[2])


EXPECTED: dict[str, Callable[[dict[str, str]], float]] = {
    "batch-mean": lambda p: _v(p["x"]).mean(),
    "batch-biased-variance": lambda p: ((_v(p["x"]) - _v(p["x"]).mean()) ** 2).sum() / len(_v(p["x"])),
    "batch-unbiased-variance": lambda p: (
        ((_v(p["x"]) - _v(p["x"]).mean()) ** 2).sum() / (len(_v(p["x"])) - 1)
    ),
    "normalized-value": lambda p: _normalize(_v(p["x"]), _f(p["first"])),
    "bn-output-with-affine": lambda p: _f(p["gamma"]) * _normalize(_v(p["x"]), _f(p["last"])) + _f(p["beta"]),
    "running-mean-cs231n": lambda p: (
        _f(p["momentum"]) * _f(p["running"]) + (1 - _f(p["momentum"])) * _v(p["x"]).mean()
    ),
    "running-var-pytorch": _torch_running_var,
    "cumulative-average": lambda p: _v(p["means"]).mean(),
    "inference-output": lambda p: (
        _f(p["gamma"]) * (_f(p["x"]) - _f(p["mean"])) / np.sqrt(_f(p["var"]) + EPS) + _f(p["beta"])
    ),
    "bn-parameter-count": lambda p: 2 * _ints(p["channels"]).sum(),
    "bn-buffer-count": lambda p: 2 * int(p["channels"]),
    "conv-bias-redundant": lambda p: _ints(p["channels"]).sum(),
    "values-per-channel": lambda p: int(p["n"]) * int(p["h"]) * int(p["w"]),
    "groupnorm-group-size": lambda p: int(p["c"]) // int(p["g"]) * int(p["h"]) * int(p["w"]),
    "fold-weight": lambda p: _fold(p)[0],
    "fold-bias": lambda p: _fold(p)[1],
    "layernorm-value": lambda p: _normalize(_v(p["x"]), _f(p["first"])),
    "groupnorm-value": lambda p: _second_group(_v(p["x"])),
    "dbeta-sum": lambda p: _v(p["dout"]).sum(),
    "dgamma-value": lambda p: float((_v(p["dout"]) * _v(p["xhat"])).sum()),
    "welford-merged-variance": _merged,
}


def test_every_generator_has_an_independent_check_and_a_question() -> None:
    assert set(EXPECTED) == set(GENERATORS)
    assert {q.generator for q in NUMERIC} == set(GENERATORS)


@pytest.mark.parametrize("question", NUMERIC, ids=[q.generator for q in NUMERIC])
def test_answers_agree_with_an_independent_computation_over_many_seeds(question: Numeric) -> None:
    for seed in range(60):
        generated = generate(question.generator, seed, "item")
        expected = float(EXPECTED[question.generator](generated.params))
        allowed = question.tolerance.abs + question.tolerance.rel * abs(generated.answer)
        assert abs(expected - generated.answer) <= max(allowed, 1e-9), (seed, generated)
        assert np.isfinite(generated.answer)
        filled = fill(question.prompt, generated.params)
        assert not placeholders(filled) and "{{" not in filled


@pytest.mark.parametrize("question", NUMERIC, ids=[q.generator for q in NUMERIC])
def test_parameters_are_stable_per_candidate_and_vary_between_candidates(question: Numeric) -> None:
    assert generate(question.generator, 7, 3) == generate(question.generator, 7, 3)
    prompts = {fill(question.prompt, generate(question.generator, seed, 3).params) for seed in range(20)}
    assert len(prompts) >= 4  # even the smallest parameter spaces give most candidates their own numbers
