"""Prometheus metrics: what each process counts (requests, gradings, deliveries, its sandbox pool) and what
the database says is waiting (read at each scrape, so it is true across every worker).

Several processes (uvicorn's `--workers`, `assay worker --processes`) share one set of counters through
prometheus_client's multiprocess mode: `PROMETHEUS_MULTIPROC_DIR` names a folder they all write to, set by
`assay serve` and `assay worker` before any process starts (it must be set before prometheus_client loads).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

from dramatiq.brokers.redis import RedisBroker
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy.orm import Session, sessionmaker

GRADING_SECONDS = Histogram(
    "assay_grading_seconds",
    "Time to grade one submission in the sandbox.",
    ["kind"],
    buckets=(0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60),
)
GRADING_VERDICTS = Counter("assay_grading_verdicts", "Gradings finished, by verdict.", ["kind", "verdict"])
OUTBOUND_DELIVERIES = Counter(
    "assay_outbound_deliveries",
    "Webhook and partner-callback requests, by what came of them.",
    ["kind", "result"],
)
SANDBOX_POOL = Gauge(
    "assay_sandbox_pool",
    "Sandboxes kept warm for grading: ready now, and the pool's target.",
    ["state"],
    multiprocess_mode="livesum",
)

CONTENT_TYPE = CONTENT_TYPE_LATEST
log = logging.getLogger("assay.metrics")


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def process_registry() -> CollectorRegistry:
    """This process's metrics, or every process's when they share a multiprocess folder."""
    if multiprocess_dir() is None:
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry


class BacklogCollector(Collector):
    """Work waiting in the database, and Redis's queue lengths when there is a broker. Each source is read
    on its own: one that cannot be reached says so in its `assay_*_up` gauge and the rest is still served,
    so a Redis outage does not take the database backlog and the request metrics down with it."""

    def __init__(self, factory: sessionmaker[Session], broker: RedisBroker | None) -> None:
        self._factory, self._broker = factory, broker

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "assay_dependency_up",
            "Whether the scrape could read each dependency (1) or not (0).",
            labels=["dependency"],
        )
        try:
            yield from self._database_backlog()
            up.add_metric(["database"], 1)
        except Exception as exc:
            log.warning("metrics: the database could not be read: %s", exc)
            up.add_metric(["database"], 0)
        if self._broker is not None:
            try:
                yield self._broker_queues(self._broker)
                up.add_metric(["broker"], 1)
            except Exception as exc:
                log.warning("metrics: the broker could not be read: %s", exc)
                up.add_metric(["broker"], 0)
        yield up

    def _database_backlog(self) -> Iterator[Metric]:
        from app.jobs.service import backlog

        depth = GaugeMetricFamily(
            "assay_jobs", "Background work not finished yet.", labels=["kind", "status"]
        )
        age = GaugeMetricFamily(
            "assay_job_oldest_age_seconds",
            "How long the oldest unfinished job of each kind has waited.",
            labels=["kind", "status"],
        )
        with self._factory() as session:
            rows = list(backlog(session))
        for row in rows:
            depth.add_metric([row.kind, row.status], row.count)
            age.add_metric([row.kind, row.status], row.oldest_age)
        yield depth
        yield age

    @staticmethod
    def _broker_queues(broker: RedisBroker) -> Metric:
        queues = GaugeMetricFamily(
            "assay_broker_queue_messages", "Messages waiting in Redis, by queue.", labels=["queue"]
        )
        broker.client.ping()  # answers even when no queue is declared in this process
        for queue in sorted(broker.get_declared_queues()):
            if not queue.endswith((".DQ", ".XQ")):  # delay and dead-letter queues are not waiting work
                queues.add_metric([queue], broker.client.llen(f"dramatiq:{queue}"))
        return queues


def exposition(*registries: CollectorRegistry) -> bytes:
    return b"".join(generate_latest(registry) for registry in registries)
