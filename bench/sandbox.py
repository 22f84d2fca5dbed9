"""Sandbox latency and throughput, as ratios to a bare `python -c "import numpy"` measured in the same run.

    .venv/bin/python bench/sandbox.py [--runs 40] [--seconds 15]

Targets (issue 3): p50 latency <= 0.1 x bare import; throughput >= 0.7 x (cores / bare import).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time

import numpy as np

from grader.sandbox import BubblewrapRunner, Input, RunRequest, Step

SOURCE = """
import numpy as np

def normalize(x):
    mu = x.mean(axis=0)
    var = x.var(axis=0)
    return (x - mu) / np.sqrt(var + 1e-5)
"""
CALLS = 20


def bare_import() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import numpy"], check=True)
    return time.perf_counter() - started


def wait_for_pool(runner: BubblewrapRunner) -> None:
    while runner.ready_count < runner.warm:  # low load: a warm sandbox is waiting, as between submissions
        time.sleep(0.01)


def request() -> RunRequest:
    rng = np.random.default_rng(0)
    inputs = {f"x{i}": rng.normal(size=(64, 256)) for i in range(CALLS)}
    return RunRequest(SOURCE, [Step("normalize", (Input(f"x{i}"),)) for i in range(CALLS)], inputs)


def latency(runner: BubblewrapRunner, rounds: int) -> tuple[list[float], list[float]]:
    """Interleaved, so machine noise hits both sides alike: each round times one bare import and one
    sandboxed run, each started with the pool full and nothing else running."""
    req = request()
    sandboxed, bare = [], []
    for _ in range(rounds):
        wait_for_pool(runner)
        bare.append(bare_import())
        wait_for_pool(runner)
        started = time.perf_counter()
        result = runner.run(req)
        sandboxed.append(time.perf_counter() - started)
        assert result.status == "ok" and len(result.steps) == CALLS, result.message
    return sandboxed, bare


def throughput(runner: BubblewrapRunner, seconds: float, clients: int) -> float:
    req = request()
    done = [0] * clients
    stop = time.perf_counter() + seconds

    def client(index: int) -> None:
        while time.perf_counter() < stop:
            assert runner.run(req).status == "ok"
            done[index] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(done) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40, help="interleaved latency rounds")
    parser.add_argument("--seconds", type=float, default=15.0)
    args = parser.parse_args()
    cores = os.cpu_count() or 1

    with BubblewrapRunner(warm=2) as runner:
        latency(runner, 3)  # warm-up
        samples, bare_samples = latency(runner, args.runs)
    samples.sort()
    bare = statistics.median(bare_samples)
    p50 = statistics.median(samples)
    p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
    bare_before = statistics.median(bare_import() for _ in range(10))
    with BubblewrapRunner(warm=cores) as runner:
        rate = throughput(runner, args.seconds, clients=2 * cores)
    bare_around = statistics.median([bare_before, *(bare_import() for _ in range(10))])
    ideal = cores / bare_around

    print(f"cores: {cores}")
    print(
        f"bare `python -c 'import numpy'`: {bare * 1000:.1f} ms (median of {len(bare_samples)}, interleaved)"
    )
    print(f"one sandboxed run, {CALLS} calls on 64x256, warm pool, low load:")
    print(f"  p50 {p50 * 1000:.1f} ms = {p50 / bare:.3f} x bare import   (target <= 0.1)")
    print(f"  p95 {p95 * 1000:.1f} ms = {p95 / bare:.3f} x bare import")
    print(f"sustained, {2 * cores} clients, all cores busy: {rate:.1f} runs/s")
    print(
        f"  = {rate / ideal:.2f} x (cores / bare import = {ideal:.1f}/s, bare import measured around it:"
        f" {bare_around * 1000:.1f} ms)   (target >= 0.7)"
    )


if __name__ == "__main__":
    main()
