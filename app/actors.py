"""What `assay worker` hands to Dramatiq (`dramatiq app.actors`): in each worker process, JSON logs, the
broker with every actor, the worker's lifecycle (scheduler, sandbox pool, releasing held jobs) and, unless
its port is 0, the Prometheus exporter that serves every worker process's metrics."""

import os

from dramatiq.middleware.prometheus import Prometheus

from app.core.logs import configure_logging
from app.jobs.runtime import broker, job_settings
from app.worker import WorkerLifecycle, load_actors

configure_logging(job_settings().log_format)
broker.add_middleware(WorkerLifecycle())
if os.environ.get("dramatiq_prom_port", "9191") != "0":  # noqa: SIM112 - Dramatiq reads this name
    broker.add_middleware(Prometheus())
load_actors()
