"""How far apart styles of `batchnorm_backward_alt` land in bn-backward-alt's speed check.

    .venv/bin/python bench/backward_alt_speed.py [--rounds 5]

For each style, runs the task's speed case in the sandbox (the fastest of its timed calls, as the grader
takes it) and divides by the reference closed form timed here on the same input, as the grader does. The
check allows ALLOWED_SLOWDOWN; the figures show how much room a sound closed form has and how clearly the
step-by-step graph falls outside.
"""

from __future__ import annotations

import argparse
import statistics

from grader.grading import get_task
from grader.sandbox import BubblewrapRunner, Limits, RunRequest
from grader.tasks.bn_backward_alt import ALLOWED_SLOWDOWN, timed_reference

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
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    task = get_task("bn-backward-alt")
    speed = next(case for case in task.cases(0) if case.kind == "speed")
    prefix = "c0_"
    steps = task.calls(speed, prefix)
    inputs = {prefix + name: value for name, value in speed.arrays.items()}
    a = speed.arrays
    print(
        f"speed case {a['x'].shape}, allowed slowdown {ALLOWED_SLOWDOWN:g}x; median of {args.rounds} rounds"
    )
    with BubblewrapRunner(warm=1) as runner:
        for label, body in STYLES.items():
            ratios = []
            for _ in range(args.rounds):
                run = runner.run(RunRequest(FORWARD + body, steps, inputs, Limits()))
                assert all(step.status == "ok" for step in run.steps), run
                candidate_s = min(step.call_s for step in run.steps[1:])
                ratios.append(candidate_s / timed_reference(a["x"], a["gamma"], a["beta"], a["dout"]))
            print(f"  {label:<40} {statistics.median(ratios):.2f} x reference")


if __name__ == "__main__":
    main()
