"""Autosave throughput and latency on PostgreSQL, against a trivial endpoint of the same server.

    .venv/bin/python bench/api.py [--concurrency 16] [--seconds 8] [--rounds 3] [--workers 2]

Starts `assay serve` on a fresh PostgreSQL database, then alternates rounds of GET /healthz (the framework's
ceiling on this machine: the same middleware, no database) and PUT /i/<token>/api/answers/<item> (a candidate
tab autosaving a new draft: token check, ordering check, answer and revision stored, commit), each with
`concurrency` clients in flight. Targets (decided after issue 9): autosave throughput >= 0.25 x the trivial
endpoint's with 16 clients in flight, autosave p99 < 50 ms with 4.

Everything shares this machine's cores, so it also prints the CPU time each request costs the app's processes,
PostgreSQL's and this load generator: their sum bounds the throughput, and shows where a request's cost lies.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator

import httpx2 as httpx
import psutil
from cluster import Processes, bench_database, free_port, invite_candidates, percentile

# The targets decided after issue 9.
THROUGHPUT_TARGET, THROUGHPUT_CLIENTS = 0.25, 16
P99_TARGET_MS, P99_CLIENTS = 50, 4
DRAFT = "Batch norm normalizes each feature with the batch's own mean and variance during training. " * 3


def cpu_seconds(processes: Iterator[psutil.Process]) -> float:
    """CPU time of the processes and of their children that have exited: a PostgreSQL backend that ends
    during a round (a connection the pool let go) moves its time to the postmaster's children, so it is
    neither lost nor counted twice."""
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


class CpuMeter:
    """CPU seconds used so far by the app (the `assay serve` process and its workers), PostgreSQL (every
    `postgres` process: backends, WAL writer, checkpointer) and this process."""

    def __init__(self, app_pid: int) -> None:
        self.app = psutil.Process(app_pid)

    def read(self) -> dict[str, float]:
        postgres = (p for p in psutil.process_iter(["name"]) if p.info["name"] == "postgres")
        return {
            "app": cpu_seconds(iter([self.app, *self.app.children(recursive=True)])),
            "postgres": cpu_seconds(postgres),
            "load generator": time.process_time(),
        }


async def measure(
    concurrency: int,
    seconds: float,
    request: Callable[[httpx.AsyncClient, int, int], Awaitable[httpx.Response]],
) -> tuple[int, list[float], int]:
    """(requests done, latencies in seconds, non-2xx answers) with `concurrency` clients for `seconds`."""
    latencies: list[float] = []
    failures = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def one_client(number: int) -> None:
            nonlocal failures
            sequence = 0
            while time.perf_counter() < deadline:
                sequence += 1
                started = time.perf_counter()
                response = await request(client, number, sequence)
                latencies.append(time.perf_counter() - started)
                failures += not response.is_success

        started = time.perf_counter()
        await asyncio.gather(*(one_client(n) for n in range(concurrency)))
        elapsed = time.perf_counter() - started
    return int(len(latencies) / elapsed * seconds), latencies, failures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    args = parser.parse_args()

    with bench_database() as (url, sessions):
        candidates = invite_candidates(sessions, args.concurrency, coding_task="bn-forward-train")
        processes = Processes(url)
        try:
            base = processes.serve(free_port(), args.workers)
            meter = CpuMeter(processes.running[0].pid)
            for candidate in candidates:
                assert httpx.post(f"{base}/i/{candidate.token}/start").status_code == 303

            async def trivial(client: httpx.AsyncClient, _number: int, _sequence: int) -> httpx.Response:
                return await client.get(f"{base}/healthz")

            sequences = [0] * args.concurrency

            async def autosave(client: httpx.AsyncClient, number: int, _sequence: int) -> httpx.Response:
                candidate = candidates[number]
                sequences[number] += 1
                seq = sequences[number]
                return await client.put(
                    f"{base}/i/{candidate.token}/api/answers/{candidate.items['written']}",
                    json={
                        "client_id": f"bench-tab-{number:04d}",
                        "seq": seq,
                        "value": {"text": f"{DRAFT} {seq}"},
                    },
                )

            asyncio.run(measure(args.concurrency, 2, trivial))  # warm-up: connections, caches
            asyncio.run(measure(args.concurrency, 2, autosave))
            totals: dict[str, list[float]] = {"trivial": [], "autosave": []}
            counts = {"trivial": 0, "autosave": 0}
            cpu = {name: dict.fromkeys(meter.read(), 0.0) for name in counts}
            failures = 0
            for _ in range(args.rounds):
                for name, request in (("trivial", trivial), ("autosave", autosave)):
                    before = meter.read()
                    done, latencies, failed = asyncio.run(measure(args.concurrency, args.seconds, request))
                    for part, used in meter.read().items():
                        cpu[name][part] += (used - before[part]) / len(latencies)
                    counts[name] += done
                    totals[name] += latencies
                    failures += failed
        finally:
            processes.stop()

    seconds = args.seconds * args.rounds
    rps = {name: counts[name] / seconds for name in counts}
    print(
        f"PostgreSQL, {args.workers} uvicorn worker(s), {args.concurrency} clients in flight, "
        f"{args.rounds} alternating rounds of {args.seconds:.0f} s"
    )
    parts = list(cpu["trivial"])
    header = "".join(f"{part + ' cpu ms':>22}" for part in parts)
    print(f"{'endpoint':<26}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}{header}{'total cpu ms':>15}")
    for name, label in (("trivial", "GET /healthz"), ("autosave", "PUT .../answers/{item}")):
        p50, p99 = (1000 * percentile(totals[name], q) for q in (0.5, 0.99))
        per_request = [1000 * cpu[name][part] / args.rounds for part in parts]
        columns = "".join(f"{ms:>22.2f}" for ms in per_request)
        print(f"{label:<26}{rps[name]:>8.0f}{p50:>9.1f}{p99:>9.1f}{columns}{sum(per_request):>15.2f}")
    ratio = rps["autosave"] / rps["trivial"]
    p99 = 1000 * percentile(totals["autosave"], 0.99)

    def verdict(met: bool, clients: int) -> str:
        return (
            ("met" if met else "NOT met")
            if args.concurrency == clients
            else f"applies with {clients} clients"
        )

    throughput_met = ratio >= THROUGHPUT_TARGET
    print(
        f"autosave throughput / trivial: {ratio:.2f}x (target >= {THROUGHPUT_TARGET}x with"
        f" {THROUGHPUT_CLIENTS} clients: {verdict(throughput_met, THROUGHPUT_CLIENTS)})"
    )
    print(
        f"autosave p99: {p99:.1f} ms (target < {P99_TARGET_MS} ms with {P99_CLIENTS} clients:"
        f" {verdict(p99 < P99_TARGET_MS, P99_CLIENTS)})"
    )
    print(f"non-2xx answers: {failures}")


if __name__ == "__main__":
    main()
