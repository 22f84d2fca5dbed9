"""Periodic jobs: every actor declared with `app.jobs.runtime.periodic`, sent at the interval its settings
give it, wherever jobs run (the embedded app, every `assay worker` process). Each firing is claimed in the
database first (`schedule_ticks`), so several processes never fire the same one twice."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.core.db import session_scope
from app.jobs.runtime import PERIODIC
from app.jobs.service import claim_tick

log = logging.getLogger("assay.worker")


class Periodic:
    """Sends an actor's message every `interval` seconds from a daemon thread, until stopped; each firing is
    claimed in the database first, so other processes running the same schedule skip it."""

    def __init__(self, actor: Any, interval: float, factory: sessionmaker[Session]) -> None:
        self.actor, self.interval, self._factory = actor, interval, factory
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"periodic-{actor.actor_name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def fire_if_due(self) -> bool:
        with session_scope(self._factory) as session:
            claimed = claim_tick(session, self.actor.actor_name, timedelta(seconds=self.interval))
        if claimed:
            self.actor.send()
        return claimed

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.fire_if_due()
            except Exception as exc:  # a database or broker hiccup must not end the schedule
                log.warning("could not fire %s: %s", self.actor.actor_name, exc)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


class Scheduler:
    """Every periodic job the loaded actors declare, at the interval the settings give it."""

    def __init__(self, settings: Settings, factory: sessionmaker[Session]) -> None:
        self.periodic = [Periodic(job.actor, job.every(settings), factory) for job in PERIODIC]

    def start(self) -> None:
        for periodic in self.periodic:
            periodic.start()

    def stop(self) -> None:
        for periodic in self.periodic:
            periodic.stop()
