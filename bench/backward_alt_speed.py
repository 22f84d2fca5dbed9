"""Is bn-backward-alt's speed verdict fair and stable? Grades the speed case of several correct styles of
`batchnorm_backward_alt` ten times each, exactly as the grader does (supervisor-timed CPU, the reference
timed alike in its own sandbox, alternating rounds, re-measured near the limit), and prints each style's
ratio to the reference (min / median / max) and whether its verdict was the same every time.

    .venv/bin/python bench/backward_alt_speed.py [--runs 10]

Target: every style gets the same verdict in every run; sound closed forms well inside the limit, the
per-feature Python loop well outside it.
"""

from __future__ import annotations

import argparse
import statistics
import time

from grader.grading import get_task
from grader.result import CaseResult
from grader.sandbox import BubblewrapRunner, Limits
from grader.speed import judge, measure
from grader.tasks.base import CaseEvaluation

FORWARD = """
import numpy as np

def batchnorm_forward(x, gamma, beta, bn_param):
    eps = bn_param.get("eps", 1e-5)
    mu = x.mean(axis=0)
    var = x.var(axis=0)
    xmu = x - mu
    ivar = 1.0 / np.sqrt(var + eps)
    xhat = xmu * ivar
    return gamma * xhat + beta, (xhat, xmu, ivar, gamma, var, eps)
"""

STYLES = {
    "closed form from the cache": """
def batchnorm_backward_alt(dout, cache):
    xhat, xmu, ivar, gamma, var, eps = cache
    n = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    return (gamma * ivar / n) * (n * dout - dbeta - xhat * dgamma), dgamma, dbeta
""",
    "closed form with einsum": """
def batchnorm_backward_alt(dout, cache):
    xhat, xmu, ivar, gamma, var, eps = cache
    n = dout.shape[0]
    dbeta = np.einsum("nd->d", dout)
    dgamma = np.einsum("nd,nd->d", dout, xhat)
    return gamma * ivar * (dout - (dbeta + xhat * dgamma) / n), dgamma, dbeta
""",
    "closed form recomputing the statistics": """
def batchnorm_backward_alt(dout, cache):
    xhat, xmu, ivar, gamma, var, eps = cache
    n = xmu.shape[0]
    std = np.sqrt(xmu.var(axis=0) + eps)
    xh = (xmu - xmu.mean(axis=0)) / std
    db = dout.sum(axis=0)
    dg = (dout * xh).sum(axis=0)
    return (gamma / (n * std)) * (n * dout - dg * xh - db), dg, db
""",
    "per-feature Python loop": """
def batchnorm_backward_alt(dout, cache):
    xhat, xmu, ivar, gamma, var, eps = cache
    n = dout.shape[0]
    dbeta, dgamma, dx = dout.sum(axis=0), (dout * xhat).sum(axis=0), np.empty_like(dout)
    for j in range(dout.shape[1]):
        dx[:, j] = (gamma[j] * ivar[j] / n) * (n * dout[:, j] - dbeta[j] - xhat[:, j] * dgamma[j])
    return dx, dgamma, dbeta
""",
    "step-by-step graph": """
def batchnorm_backward_alt(dout, cache):
    xhat, xmu, ivar, gamma, var, eps = cache
    N = dout.shape[0]
    dbeta = np.sum(dout, axis=0)
    dgamma = np.sum(dout * xhat, axis=0)
    dxhat = dout * gamma
    divar = np.sum(dxhat * xmu, axis=0)
    dxmu1 = dxhat * ivar
    dsqrtvar = -1.0 / (np.sqrt(var + eps) ** 2) * divar
    dvar = 0.5 * 1.0 / np.sqrt(var + eps) * dsqrtvar
    dsq = 1.0 / N * np.ones_like(dout) * dvar
    dxmu2 = 2 * xmu * dsq
    dx1 = dxmu1 + dxmu2
    dmu = -1 * np.sum(dxmu1 + dxmu2, axis=0)
    dx2 = 1.0 / N * np.ones_like(dout) * dmu
    return dx1 + dx2, dgamma, dbeta
""",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    task = get_task("bn-backward-alt")
    speed = next(case for case in task.cases(0) if case.kind == "speed")
    print(
        f"speed case {speed.arrays['x'].shape}, allowed {task.allowed_slowdown:g}x the reference's CPU time;"
        f" {args.runs} gradings of the speed case per style"
    )
    stable = True
    with BubblewrapRunner(warm=2) as runner:
        time.sleep(1)  # the pool warms up
        for label, body in STYLES.items():
            ratios, verdicts, rounds = [], set(), []
            for _ in range(args.runs):
                rounds_run, measurement = measure(task, speed, FORWARD + body, Limits(), runner)
                if measurement is None:
                    failed = [(o.status, o.cpu_s, o.error_message[:80]) for o in rounds_run[-1]]
                    raise SystemExit(f"{label}: not measured: {failed}")
                evaluation = CaseEvaluation(CaseResult(name=speed.name, visible=False, status="passed"))
                judge(evaluation, measurement, task.allowed_slowdown)
                ratios.append(measurement.ratio)
                verdicts.add(evaluation.result.status)
                rounds.append(measurement.rounds)
            same = "same verdict every run" if len(verdicts) == 1 else "VERDICT CHANGED"
            stable &= len(verdicts) == 1
            print(
                f"  {label:<40} {min(ratios):5.2f} / {statistics.median(ratios):5.2f} / {max(ratios):5.2f}x"
                f"  {'/'.join(sorted(verdicts)):<20} {same}; rounds {min(rounds)}-{max(rounds)}"
            )
    print("stable: every style got the same verdict in every run" if stable else "UNSTABLE")


if __name__ == "__main__":
    main()
