"""An item response model (2PL) of an assessment's scored attempts, fitted with `mirt`: each item's
difficulty and discrimination with their standard errors, each candidate's ability with its standard error,
and the items that misbehave.

We chose `mirt` (MIT, numpy and scipy only, a Rust core, kept up in 2026) over `py-irt` (which needs PyTorch
and Pyro: gigabytes for one model) and `girth` (unchanged since 2021, no standard errors for 2PL without a
bootstrap). It fits by marginal maximum likelihood (EM), gives observed-information standard errors, and
scores abilities by EAP with posterior standard deviations; missing answers (a question drawn for some
candidates only) are left out of each person's likelihood, not counted wrong.

An item counts as right when it earned at least half its points (partial credit on code and written
answers is common). Items everyone got right, or everyone wrong, carry no information and are left out of
the fit. On the logit scale: P(right | ability θ) = 1 / (1 + exp(-a (θ - b))); b is the ability at which a
candidate has even odds, a how sharply the item separates abilities around b.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

log = logging.getLogger("assay.results")

RIGHT_SHARE = 0.5
MIN_ATTEMPTS = 30
WEAK_DISCRIMINATION = 0.3


@dataclass(frozen=True)
class ItemParameters:
    index: int  # the column of the response matrix
    discrimination: float
    discrimination_se: float
    difficulty: float
    difficulty_se: float
    # Between the item and the rest of the test: mirt keeps a above zero, so an item that stronger
    # candidates get wrong more often shows here, not as a negative a.
    rest_correlation: float

    def probability(self, theta: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.discrimination * (theta - self.difficulty)))

    @property
    def flags(self) -> list[str]:
        found = []
        if not math.isfinite(self.discrimination_se):
            found.append("the model could not estimate it from these candidates (read a and b as rough)")
        if self.rest_correlation < 0:
            found.append(
                "negative discrimination: stronger candidates get it wrong more often; check the key"
            )
        elif self.discrimination < WEAK_DISCRIMINATION:
            found.append("barely separates abilities (a < 0.3)")
        if abs(self.difficulty) > 4:
            found.append("so easy or so hard that it tells almost nobody apart")
        return found


@dataclass(frozen=True)
class Ability:
    theta: float
    se: float


@dataclass
class Calibration:
    """What the model says about one response matrix."""

    items: dict[int, ItemParameters]  # by column; columns left out have none
    abilities: list[Ability]
    converged: bool
    left_out: list[int] = field(default_factory=list)  # columns with no information (all right or all wrong)
    error: str = ""  # why the model could not be fitted


def dichotomous(shares: Sequence[Sequence[float | None]]) -> np.ndarray:
    """Shares of the points earned (None: not shown to that candidate) as right (1), wrong (0) or missing."""
    return np.array(
        [[np.nan if s is None else float(s >= RIGHT_SHARE) for s in row] for row in shares], dtype=float
    )


_cache: OrderedDict[str, Calibration] = OrderedDict()
_cache_lock = threading.Lock()
CACHE_SIZE = 32


def calibrate(responses: np.ndarray) -> Calibration:
    """Fit 2PL to a (candidates, items) matrix of 1, 0 and NaN. The same matrix is fitted once per process
    (pages that show it are read far more often than attempts are scored)."""
    key = hashlib.blake2b(responses.tobytes() + str(responses.shape).encode(), digest_size=16).hexdigest()
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    found = _fit(responses)
    with _cache_lock:
        _cache[key] = found
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return found


def _fit(responses: np.ndarray) -> Calibration:
    import mirt  # a second to load its compiled core: only where a model is fitted

    answered = ~np.isnan(responses)
    means = np.nanmean(np.where(answered, responses, np.nan), axis=0)
    informative = [j for j in range(responses.shape[1]) if answered[:, j].sum() > 1 and 0 < means[j] < 1]
    left_out = [j for j in range(responses.shape[1]) if j not in informative]
    if len(informative) < 2:
        return Calibration({}, [], converged=False, left_out=left_out)
    data = responses[:, informative]
    try:
        result = mirt.fit_mirt(data, model="2PL")
    except Exception as exc:  # whatever the estimation refuses: the page says so instead of failing
        log.warning("the 2PL model could not be fitted to a %s response matrix: %s", data.shape, exc)
        return Calibration({}, [], converged=False, left_out=left_out, error=str(exc)[:200])
    a, b = result.model.parameters["discrimination"], result.model.parameters["difficulty"]
    a_se, b_se = result.standard_errors["discrimination"], result.standard_errors["difficulty"]
    items = {
        column: ItemParameters(
            column, float(a[k]), _finite(a_se[k]), float(b[k]), _finite(b_se[k]), _rest_correlation(data, k)
        )
        for k, column in enumerate(informative)
    }
    scores = mirt.fscores(result, data, method="EAP")
    abilities = [
        Ability(float(t), float(s))
        for t, s in zip(np.ravel(scores.theta), np.ravel(scores.standard_error), strict=True)
    ]
    return Calibration(items, abilities, bool(result.converged), left_out)


def _rest_correlation(data: np.ndarray, k: int) -> float:
    """The item's correlation with the share of the other items each candidate got right."""
    rest = np.nanmean(np.delete(data, k, axis=1), axis=1)
    keep = ~np.isnan(data[:, k]) & ~np.isnan(rest)
    item, rest = data[keep, k], rest[keep]
    if len(item) < 3 or item.std() == 0 or rest.std() == 0:
        return 0.0
    return float(np.corrcoef(item, rest)[0, 1])


def _finite(value: float) -> float:
    return float(value) if math.isfinite(value) else math.inf
