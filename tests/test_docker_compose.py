"""The scale-out deployment files: docker-compose.yml is valid and has the expected shape."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def compose_config(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("ASSAY_")} | env
    return subprocess.run(
        ["docker-compose", "-f", str(ROOT / "docker-compose.yml"), "config"],
        capture_output=True,
        text=True,
        env=full,
        timeout=60,
    )


def test_compose_file_is_valid_and_complete() -> None:
    result = compose_config({"ASSAY_SECRET_KEY": "a-long-random-secret"})
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)
    assert set(config["services"]) == {"app", "worker", "postgres", "redis"}
    for name in ("app", "worker", "postgres", "redis"):
        assert "healthcheck" in config["services"][name], name
    assert {"pgdata", "redisdata"} <= set(config["volumes"])
    app_env = config["services"]["app"]["environment"]
    assert app_env["ASSAY_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert app_env["ASSAY_BROKER_URL"].startswith("redis://")
    worker = config["services"]["worker"]
    assert worker["command"][:2] == ["assay", "worker"]
    assert "--metrics-host" in worker["command"], "Prometheus scrapes the workers from outside"
    assert worker["environment"]["ASSAY_WORKER_THREADS"] == "2"
    assert all(config["services"][name]["stop_grace_period"] for name in ("app", "worker"))
    assert worker["user"] == "0" and "seccomp=unconfined" in worker["security_opt"]  # the sandbox needs them


def test_compose_refuses_to_run_without_a_secret() -> None:
    result = compose_config({})
    assert result.returncode != 0
    assert "set ASSAY_SECRET_KEY" in result.stderr


def test_dockerfile_copies_only_paths_that_exist() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    # Copies from the build's own context; `COPY --from=<stage>` reads an earlier stage instead.
    copied = re.findall(r"^COPY (?!--from=)(.+) \S+$", dockerfile, flags=re.MULTILINE)
    assert copied
    for line in copied:
        for source in line.split():
            assert (ROOT / source).exists(), source
