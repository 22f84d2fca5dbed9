"""Grading latency in a long-running process, as a ratio to a bare `python -c "import numpy"`.

    .venv/bin/python bench/grading.py [--rounds 30]

Grades one bn-forward submission (all of its cases, diagnosis included) per round, interleaved with a bare
import so machine noise hits both alike. Target (issue 4): p50 <= 0.25 x bare import.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

from grader import grade
from grader.sandbox import BubblewrapRunner

CORRECT = """
import numpy as np

def batchnorm_forward(x, gamma, beta, bn_param):
    eps, momentum = bn_param.get("eps", 1e-5), bn_param.get("momentum", 0.9)
    d = x.shape[1]
    rm = bn_param.get("running_mean", np.zeros(d))
    rv = bn_param.get("running_var", np.zeros(d))
    if bn_param["mode"] == "train":
        mean, var = x.mean(axis=0), x.var(axis=0)
        bn_param["running_mean"] = momentum * rm + (1 - momentum) * mean
        bn_param["running_var"] = momentum * rv + (1 - momentum) * var
    else:
        mean, var = rm, rv
        bn_param["running_mean"], bn_param["running_var"] = rm, rv
    return gamma * (x - mean) / np.sqrt(var + eps) + beta, None
"""
WRONG = CORRECT.replace("np.sqrt(var + eps)", "(np.sqrt(var) + eps)")


def bare_import() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import numpy"], check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    samples: dict[str, list[float]] = {"correct": [], "wrong (diagnosed)": []}
    bare: list[float] = []
    with BubblewrapRunner(warm=2) as runner:
        for source in (CORRECT, WRONG):  # warm-up
            grade("bn-forward", source, runner=runner)
        for _ in range(args.rounds):
            for label, source in (("correct", CORRECT), ("wrong (diagnosed)", WRONG)):
                while runner.ready_count < runner.warm:
                    time.sleep(0.01)
                bare.append(bare_import())
                while runner.ready_count < runner.warm:
                    time.sleep(0.01)
                started = time.perf_counter()
                result = grade("bn-forward", source, runner=runner)
                samples[label].append(time.perf_counter() - started)
                assert result.verdict == ("accepted" if source is CORRECT else "partially_accepted"), (
                    result.verdict
                )
    base = statistics.median(bare)
    print(f"bare `python -c 'import numpy'`: {base * 1000:.1f} ms (median of {len(bare)}, interleaved)")
    for label, values in samples.items():
        values.sort()
        p50 = statistics.median(values)
        p95 = values[min(len(values) - 1, round(0.95 * (len(values) - 1)))]
        print(f"grading one bn-forward submission, {label}:")
        print(f"  p50 {p50 * 1000:.1f} ms = {p50 / base:.3f} x bare import   (target <= 0.25)")
        print(f"  p95 {p95 * 1000:.1f} ms = {p95 / base:.3f} x bare import")


if __name__ == "__main__":
    main()
