"""The Dramatiq broker: Redis when ASSAY_BROKER_URL is set (scale-out), otherwise in-process (embedded).

`assay worker` runs `dramatiq app.worker` against the Redis broker. In the embedded default the app
process runs a Dramatiq worker thread on a StubBroker, so one process does everything.
"""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker

from app.config import get_settings


def build_broker(broker_url: str) -> dramatiq.Broker:
    if broker_url:
        return RedisBroker(url=broker_url)  # type: ignore[no-untyped-call]
    return StubBroker()


broker = build_broker(get_settings().broker_url)
dramatiq.set_broker(broker)

# Actor modules register themselves on import; each domain's tasks.py is listed here.
ACTOR_MODULES: tuple[str, ...] = ()
