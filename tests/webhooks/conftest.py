"""A local webhook receiver that answers as scripted and records what it got, and settings that allow
delivering to it (loopback is refused unless the operator allow-lists it)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.jobs.runtime import use_job_context
from tests.api.conftest import api, org, other_api  # noqa: F401 - the API client fixtures


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    url: str
    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)  # (status, headers), then 200s
    received: list[Received] = field(default_factory=list)
    body: bytes = b"ok"  # what every answer carries
    require_authorization: str | None = None  # as Greenhouse does: anything else gets 401


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            state.received.append(
                Received(
                    self.command,
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length),
                )
            )
            presented = self.headers.get("authorization")
            if state.require_authorization is not None and presented != state.require_authorization:
                status, headers = 401, {"WWW-Authenticate": "Basic"}
            else:
                status, headers = state.script.pop(0) if state.script else (200, {})
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(state.body)))
            self.end_headers()
            self.wfile.write(state.body)

        do_POST = do_PATCH = _answer

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()


@pytest.fixture
def allowed(settings: Settings, session_factory: sessionmaker[Session], run_jobs: object) -> Settings:
    """The test settings with loopback allow-listed, used by jobs too."""
    permissive = settings.model_copy(
        update={"outbound_allow_list": ["127.0.0.1"], "greenhouse_callback_hosts": ["127.0.0.1"]}
    )
    use_job_context(permissive, session_factory)
    return permissive
