"""`make run` from a clean copy of the repository, as a new user runs it: fresh venv, migrate, sync,
first owner, serve. Then sign in with the printed password and open the printed candidate link."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest

from tests.ports import free_port

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def clean_copy(destination: Path) -> Path:
    """The files a fresh clone would have: tracked ones plus new, non-ignored ones (so uncommitted work is
    tested too), and none of the local state (.venv, var/)."""
    listed = (
        subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return destination


class Served:
    def __init__(self, repo: Path, port: int) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ASSAY_", "VIRTUAL_ENV"))}
        env |= {"ASSAY_PORT": str(port), "ASSAY_BASE_URL": f"http://127.0.0.1:{port}"}
        env["PATH"] = ":".join(p for p in env.get("PATH", "").split(":") if ".venv" not in p)
        self.base = f"http://127.0.0.1:{port}"
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            ["make", "run"],
            cwd=repo,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"make run exited with {self.process.returncode}:\n{self.output}")
            try:
                if httpx.get(f"{self.base}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        raise AssertionError(f"/readyz not ready after {timeout}s:\n{self.output}")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Path]:
    yield clean_copy(tmp_path / "assay")


def test_make_run_from_a_clean_copy_serves_and_the_printed_details_work(repo: Path) -> None:
    assert not (repo / ".venv").exists()
    port = free_port()
    first = Served(repo, port)
    try:
        first.wait_ready(timeout=420)
        password = re.search(r"password: (\S+)\s+\(generated", first.output)
        link = re.search(r"Sample candidate link: (http://\S+)", first.output)
        assert password and link, first.output
        assert "owner@example.com" in first.output

        with httpx.Client(base_url=first.base, follow_redirects=False) as browser:
            form = re.search(r'name="csrf_token" value="([0-9a-f]+)"', browser.get("/login").text)
            assert form, "the sign-in form carries its CSRF token"
            login = browser.post(
                "/login",
                data={
                    "email": "owner@example.com",
                    "password": password.group(1),
                    "csrf_token": form.group(1),
                },
            )
            assert login.status_code == 303, login.text
            dashboard = browser.get("/")
            assert dashboard.status_code == 200 and "Sample: batch normalization essentials" in dashboard.text
        candidate = httpx.get(link.group(1), timeout=10)
        assert candidate.status_code == 200 and "Start the assessment" in candidate.text
    finally:
        first.stop()

    # Second start: nothing to install, nothing re-seeded, same data.
    second = Served(repo, port)
    try:
        second.wait_ready(timeout=120)
        assert "pip install" not in second.output
        assert "generated" not in second.output and "Sample candidate link" not in second.output
        assert "0 new, 0 changed" in second.output
    finally:
        second.stop()
