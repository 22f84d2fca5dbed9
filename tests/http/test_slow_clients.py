"""The real server (`assay serve`) against slow clients: 500 connections that never finish their headers
neither starve other clients nor stay open past the header deadline (slowloris)."""

from __future__ import annotations

import os
import selectors
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
HEADER_TIMEOUT = 2.0
IDLE_CONNECTIONS = 500


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("slow")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSAY_")} | {
        "ASSAY_DATABASE_URL": f"sqlite:///{tmp / 'a.db'}",
        "ASSAY_SECRET_KEY_FILE": str(tmp / "secret.key"),
        "ASSAY_HEADER_TIMEOUT_SECONDS": str(HEADER_TIMEOUT),
        "ASSAY_ADMIN_PASSWORD": "slow-clients-test-password",
        "ASSAY_LOG_FORMAT": "text",
    }
    assay = [sys.executable, "-m", "app.cli"]
    subprocess.run([*assay, "db", "upgrade"], env=env, cwd=ROOT, check=True, capture_output=True, timeout=120)
    process = subprocess.Popen(
        [*assay, "serve", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{base}/healthz", timeout=2).close()  # noqa: S310 - loopback
            break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                pytest.fail("assay serve did not start")
            time.sleep(0.2)
    yield base
    process.terminate()
    process.wait(timeout=40)


def healthz_seconds(base: str) -> float:
    started = time.monotonic()
    with urllib.request.urlopen(f"{base}/healthz", timeout=5) as response:  # noqa: S310 - loopback
        assert response.status == 200
    return time.monotonic() - started


def test_connections_that_never_finish_their_headers_are_closed(server: str) -> None:
    port = int(server.rsplit(":", 1)[1])
    slow: list[socket.socket] = []
    try:
        for n in range(IDLE_CONNECTIONS):
            connection = socket.create_connection(("127.0.0.1", port), timeout=5)
            if n % 2:  # half send part of a request, as a slowloris client does; half send nothing
                connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            slow.append(connection)
        opened = time.monotonic()
        assert healthz_seconds(server) < 1.0, "other clients are served while the slow ones wait"

        selector = selectors.DefaultSelector()
        for connection in slow:
            connection.setblocking(False)
            selector.register(connection, selectors.EVENT_READ)
        closed = 0
        while closed < len(slow) and time.monotonic() - opened < HEADER_TIMEOUT + 5:
            for key, _ in selector.select(timeout=0.5):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                try:
                    data = sock.recv(4096)
                except ConnectionResetError:
                    data = b""
                if not data:
                    selector.unregister(sock)
                    closed += 1
        elapsed = time.monotonic() - opened
        assert closed == len(slow), f"{len(slow) - closed} slow connections still open after {elapsed:.1f} s"
        assert elapsed >= HEADER_TIMEOUT - 0.5, "closed before the deadline"
    finally:
        for connection in slow:
            connection.close()


def test_a_slow_but_timely_request_is_served(server: str) -> None:
    port = int(server.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        for part in (b"GET /healthz HTTP/1.1\r\n", b"Host: x\r\n", b"Connection: close\r\n\r\n"):
            connection.sendall(part)
            time.sleep(HEADER_TIMEOUT / 4)
        reply = connection.recv(4096)
    assert reply.startswith(b"HTTP/1.1 200")
