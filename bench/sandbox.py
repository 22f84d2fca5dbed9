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


def bare_import_seconds(repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import numpy"], check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def request() -> RunRequest:
    rng = np.random.default_rng(0)
    inputs = {f"x{i}": rng.normal(size=(64, 256)) for i in range(CALLS)}
    return RunRequest(SOURCE, [Step("normalize", (Input(f"x{i}"),)) for i in range(CALLS)], inputs)


def latency(runner: BubblewrapRunner, runs: int) -> list[float]:
    req = request()
    samples = []
    for _ in range(runs):
        while runner.ready_count < runner.warm:  # low load: a warm sandbox is waiting, as between submissions
            time.sleep(0.01)
        started = time.perf_counter()
        result = runner.run(req)
        samples.append(time.perf_counter() - started)
        assert result.status == "ok" and len(result.steps) == CALLS, result.message
    return samples


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
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--seconds", type=float, default=15.0)
    args = parser.parse_args()
    cores = os.cpu_count() or 1

    bare = bare_import_seconds(15)
    with BubblewrapRunner(warm=2) as runner:
        latency(runner, 3)  # warm-up
        samples = sorted(latency(runner, args.runs))
    p50 = statistics.median(samples)
    p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
    with BubblewrapRunner(warm=cores) as runner:
        rate = throughput(runner, args.seconds, clients=2 * cores)
    bare_after = bare_import_seconds(15)
    bare = statistics.median([bare, bare_after])
    ideal = cores / bare

    print(f"cores: {cores}")
    print(f"bare `python -c 'import numpy'`: {bare * 1000:.1f} ms (median of 30, before and after)")
    print(f"one sandboxed run, {CALLS} calls on 64x256, warm pool, low load:")
    print(f"  p50 {p50 * 1000:.1f} ms = {p50 / bare:.3f} x bare import   (target <= 0.1)")
    print(f"  p95 {p95 * 1000:.1f} ms = {p95 / bare:.3f} x bare import")
    print(f"sustained, {2 * cores} clients, all cores busy: {rate:.1f} runs/s")
    print(f"  = {rate / ideal:.2f} x (cores / bare import = {ideal:.1f}/s)   (target >= 0.7)")


if __name__ == "__main__":
    main()
