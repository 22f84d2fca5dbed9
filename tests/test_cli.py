"""The `assay` command as an operator runs it: real processes, real databases."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from tests.ports import free_port

ROOT = Path(__file__).resolve().parents[1]
ASSAY = [sys.executable, "-m", "app.cli"]


def run(
    args: list[str], env: dict[str, str], cwd: Path = ROOT, answer: str = ""
) -> subprocess.CompletedProcess[str]:
    """`answer` is typed at any prompt."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("ASSAY_")} | env
    return subprocess.run(
        [*ASSAY, *args], env=full_env, cwd=cwd, capture_output=True, text=True, timeout=120, input=answer
    )


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"ASSAY_DATABASE_URL": "oracle://scott@db/x"}, "unsupported database URL scheme"),
        ({"ASSAY_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/nothing"}, "cannot use the database at"),
        (
            {"ASSAY_DATABASE_URL": "sqlite:///{tmp}/a-file/x.db"},
            "cannot create the folder for the SQLite database",
        ),
        ({"ASSAY_ENVIRONMENT": "production"}, "ASSAY_SECRET_KEY must be set"),
    ],
)
def test_bad_settings_fail_with_one_line_not_a_traceback(
    env: dict[str, str], expected: str, tmp_path: Path
) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    result = run(["db", "upgrade"], {k: v.format(tmp=tmp_path) for k, v in env.items()})
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and expected in lines[0]
    assert "Traceback" not in result.stderr


def test_serve_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    result = run(["serve", "--port", "1"], {"ASSAY_DATABASE_URL": f"sqlite:///{tmp_path}/empty.db"})
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "error: the database schema is at nothing, not at head: run `assay db upgrade` first"
    )


def test_upgrade_sync_create_owner_and_demo_seed(tmp_path: Path) -> None:
    env = {"ASSAY_DATABASE_URL": f"sqlite:///{tmp_path}/a.db", "ASSAY_BASE_URL": "http://assay.example"}
    assert run(["db", "upgrade"], env).returncode == 0
    first = run(["bank", "sync"], env)
    assert first.returncode == 0 and "0 unchanged" in first.stdout
    second = run(["bank", "sync"], env)
    assert " 0 new, 0 changed" in " " + second.stdout.split(": ", 1)[1]
    owner = run(
        ["users", "create-owner", "--email", "x@y.test", "--password", "long enough pw", "--org", "Initech"],
        env,
    )
    assert owner.returncode == 0, owner.stderr
    assert "x@y.test is owner of Initech (initech)" in owner.stdout
    seeded = run(["demo", "seed", "--org", "initech"], env)
    assert seeded.returncode == 0, seeded.stderr
    assert "candidate link:    http://assay.example/i/" in seeded.stdout
    missing = run(["demo", "seed", "--org", "nope"], env)
    assert missing.returncode == 1 and missing.stderr.strip() == "error: no organization named 'nope'"
    weak = run(["users", "create-owner", "--email", "z@y.test", "--password", "short", "--org", "Z"], env)
    assert weak.returncode == 1 and "at least 10 characters" in weak.stderr


def test_an_operator_resets_a_locked_out_owners_password(tmp_path: Path) -> None:
    from app.accounts.service import authenticate
    from app.core.config import Settings
    from app.core.db import make_engine, make_session_factory
    from app.models import AuditEntry

    env = {"ASSAY_DATABASE_URL": f"sqlite:///{tmp_path}/a.db"}
    assert run(["db", "upgrade"], env).returncode == 0
    created = [
        "users",
        "create-owner",
        "--email",
        "x@y.test",
        "--password",
        "long enough pw",
        "--org",
        "Initech",
    ]
    assert run(created, env).returncode == 0
    generated = run(["users", "reset-password", "X@Y.test"], env)
    assert generated.returncode == 0, generated.stderr
    password = re.search(r"new password: (\S+)  \(shown only this once\)", generated.stdout)
    assert password, generated.stdout
    chosen = run(["users", "reset-password", "x@y.test", "--password", "another long one"], env)
    assert chosen.returncode == 0 and "new password" not in chosen.stdout
    assert run(["users", "reset-password", "x@y.test", "--password", "short"], env).returncode == 1
    unknown = run(["users", "reset-password", "nobody@y.test"], env)
    assert unknown.returncode == 1 and unknown.stderr.strip() == "error: No account uses nobody@y.test."

    engine = make_engine(Settings(_env_file=None, database_url=env["ASSAY_DATABASE_URL"]))  # type: ignore[call-arg]
    with make_session_factory(engine)() as session:
        signed_in = authenticate(
            session, email="x@y.test", password="another long one", max_failures=5, ttl=timedelta(hours=1)
        )
        assert signed_in is not None
        resets = session.query(AuditEntry).filter_by(action="password.reset").count()
    engine.dispose()
    assert resets == 2


def test_links_follow_the_port_unless_a_base_url_is_set() -> None:
    from app.core.config import Settings

    assert Settings(_env_file=None).base_url == "http://127.0.0.1:8000"  # type: ignore[call-arg]
    assert Settings(_env_file=None, port=8080).base_url == "http://127.0.0.1:8080"  # type: ignore[call-arg]
    assert Settings(_env_file=None, host="0.0.0.0", port=9000).base_url == "http://127.0.0.1:9000"  # type: ignore[call-arg]  # noqa: S104
    given = Settings(_env_file=None, port=8080, base_url="https://assay.example/")  # type: ignore[call-arg]
    assert given.base_url == "https://assay.example"
    assert "ASSAY_PORT" in run(["serve", "--help"], {}).stdout


def test_an_operator_backs_up_exports_erases_and_restores(tmp_path: Path) -> None:
    import json

    env = {"ASSAY_DATABASE_URL": f"sqlite:///{tmp_path}/a.db"}
    for step in (
        ["db", "upgrade"],
        ["bank", "sync"],
        ["users", "create-owner", "--email", "x@y.test", "--password", "long enough pw", "--org", "Initech"],
        ["demo", "seed", "--org", "initech"],
    ):
        assert run(step, env).returncode == 0, step
    backed_up = run(["db", "backup", str(tmp_path / "before.db")], env)
    assert backed_up.returncode == 0, backed_up.stderr
    assert re.search(
        r"backup written: .*before\.db \(\d+\.\d MB, schema \w+; 1 organizations, 1 candidates",
        backed_up.stdout,
    )

    person = "sample.candidate@example.com"
    exported = run(
        ["candidates", "export", "--org", "initech", person, "--output", str(tmp_path / "c.json")], env
    )
    assert exported.returncode == 0, exported.stderr
    document = json.loads((tmp_path / "c.json").read_text())
    assert document["candidate"]["email"] == person and document["invitations"]
    declined = run(["candidates", "erase", "--org", "initech", person], env, answer="n\n")
    assert declined.returncode == 1 and "nothing was erased" in declined.stderr
    erased = run(["candidates", "erase", "--org", "initech", person, "--yes"], env)
    assert erased.returncode == 0 and "their scores stay in the statistics" in erased.stdout
    gone = run(["candidates", "export", "--org", "initech", person], env)
    assert (
        gone.returncode == 1
        and gone.stderr.strip() == f"error: no candidate with the address {person!r} in Initech"
    )

    restored = run(["db", "restore", str(tmp_path / "before.db"), "--yes"], env)
    assert restored.returncode == 0, restored.stderr
    assert "the data it replaced is kept in" in restored.stdout and "schema at head" in restored.stdout
    again = run(["candidates", "export", "--org", "initech", person], env)
    assert again.returncode == 0 and json.loads(again.stdout)["candidate"]["email"] == person
    kept = [p for p in tmp_path.iterdir() if "before-restore" in p.name]
    assert len(kept) == 1

    refused = run(["db", "backup"], {"ASSAY_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1/test"})
    assert refused.returncode == 1 and "use PostgreSQL's own tools" in refused.stderr
    broken = run(["db", "restore", str(tmp_path / "c.json"), "--yes"], env)
    assert broken.returncode == 1 and "is not an SQLite database" in broken.stderr


def test_every_command_has_help() -> None:
    commands = [
        [],
        ["serve"],
        ["worker"],
        ["db", "upgrade"],
        ["db", "backup"],
        ["db", "restore"],
        ["candidates", "export"],
        ["candidates", "erase"],
        ["grading", "failed"],
        ["grading", "retry"],
        ["bank", "validate"],
        ["bank", "sync"],
        ["bank", "schema"],
        ["bank", "export-qti"],
        ["bank", "import-qti"],
        ["users", "create-owner"],
        ["users", "reset-password"],
        ["api-keys", "create"],
        ["openapi"],
        ["demo", "seed"],
        ["tasks", "list"],
        ["grade"],
    ]
    # The installed command answers in a process of its own; each subcommand's help is read in this one
    # (the same Typer app, without a second's start-up per command).
    assert "Usage:" in run(["--help"], {}).stdout
    from typer.testing import CliRunner

    from app.cli import app

    runner = CliRunner()
    for command in commands:
        result = runner.invoke(app, [*command, "--help"])
        assert result.exit_code == 0, (command, result.output)
        assert "Usage:" in result.output


def test_grade_with_an_unknown_task_or_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    source = tmp_path / "solution.py"
    source.write_text("def f():\n    return 1\n")
    result = run(["grade", "no-such-task", str(source), "--json"], {})
    assert result.returncode == 2
    assert "unknown task 'no-such-task'" in result.stderr and "bn-forward" in result.stderr
    missing = run(["grade", "bn-forward", str(tmp_path / "nope.py"), "--json"], {})
    assert missing.returncode == 2 and "cannot read" in missing.stderr


def test_grade_prints_the_contract_json_and_exits_0_whatever_the_score(tmp_path: Path) -> None:
    import json

    good = tmp_path / "good.py"
    good.write_text(
        "import numpy as np\n"
        "def batchnorm_forward_train(x, gamma, beta, eps=1e-5):\n"
        "    return gamma * (x - x.mean(0)) / np.sqrt(x.var(0) + eps) + beta\n"
    )
    bad = tmp_path / "bad.py"
    bad.write_text(good.read_text().replace("np.sqrt(x.var(0) + eps)", "(x.std(0) + eps)"))
    accepted = run(["grade", "bn-forward-train", str(good), "--json", "--seed", "3"], {})
    assert accepted.returncode == 0, accepted.stderr
    report = json.loads(accepted.stdout)
    assert set(report) == {"task_id", "score", "verdict", "cases", "diagnoses", "timings", "output"}
    assert (report["verdict"], report["score"], report["diagnoses"]) == ("accepted", 1.0, [])
    contract = {"name", "visible", "status", "max_abs_err", "max_rel_err", "message"}
    for case in report["cases"]:
        # Beyond the contract, a sample case shows its inputs and outputs and where the code failed (a hidden
        # case shows nothing), and a speed case its measured ratio to the reference (this task has none).
        assert set(case) == contract | {"shown", "speed_ratio", "trace"}
        assert (case["shown"] is not None) == case["visible"] and case["speed_ratio"] is None
        assert case["trace"] == []  # accepted: nothing failed
    assert report["output"] is None  # a final grading keeps no printed output
    rejected = run(["grade", "bn-forward-train", str(bad), "--json"], {})
    assert rejected.returncode == 0
    assert json.loads(rejected.stdout)["diagnoses"][0]["code"] == "eps_outside_sqrt"
    human = run(["grade", "bn-forward-train", str(bad)], {})
    assert human.returncode == 0 and "diagnosis eps_outside_sqrt" in human.stdout


def test_tasks_list_prints_the_task_ids() -> None:
    result = run(["tasks", "list"], {})
    assert result.returncode == 0
    assert set(result.stdout.split()) == {
        "bn-backward",
        "bn-backward-alt",
        "bn-fold",
        "bn-forward",
        "bn-forward-train",
        "bn-torch-compat",
        "groupnorm",
        "layernorm",
        "spatial-bn",
        "welford",
    }


def test_worker_without_a_broker_explains_the_embedded_mode() -> None:
    result = run(["worker"], {})
    assert result.returncode == 1
    assert "ASSAY_BROKER_URL" in result.stderr


def test_worker_consumes_from_real_redis_serves_its_metrics_and_stops_cleanly() -> None:
    import signal
    import time

    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSAY_")}
    env["ASSAY_BROKER_URL"] = "redis://127.0.0.1:6379/15"
    metrics_port = free_port()
    process = subprocess.Popen(
        [*ASSAY, "worker", "--processes", "1", "--threads", "3", "--metrics-port", str(metrics_port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    seen = []
    deadline = time.monotonic() + 60
    try:
        for line in process.stdout:
            seen.append(line)
            if "ready for action" in line or time.monotonic() > deadline:
                break
        assert any("ready for action" in line for line in seen), "".join(seen)
        exposed = _get_when_up(f"http://127.0.0.1:{metrics_port}/metrics", deadline)
        assert 'assay_sandbox_pool{state="target"} 3.0' in exposed, "the pool is sized to the threads"
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
    assert process.returncode == 0


def _get_when_up(url: str, deadline: float) -> str:
    """Dramatiq's exporter starts in a process of its own, shortly after the worker."""
    import time
    import urllib.error
    import urllib.request

    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback URL built here
                return str(response.read().decode())
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_sandbox_check_reports_the_isolation_and_runs_a_probe() -> None:
    result = run(["sandbox", "check"], {})
    assert result.returncode == 0, result.stderr
    assert "bubblewrap:" in result.stdout and "cgroup v2:" in result.stdout
    assert "probe:        ok" in result.stdout


def test_qti_export_then_import_gives_a_valid_bank(tmp_path: Path) -> None:
    package = tmp_path / "bank-qti.zip"
    exported = run(["bank", "export-qti", str(package), "--pack", "batchnorm"], {})
    assert exported.returncode == 0, exported.stderr
    assert re.search(r"^9\d items written to .*bank-qti.zip; \d+ skipped:$", exported.stdout, re.M)
    assert (
        "skipped Backpropagate through batch norm: coding questions have no QTI equivalent" in exported.stdout
    )
    imported = run(
        ["bank", "import-qti", str(package), "--path", str(tmp_path / "bank"), "--pack", "copy"], {}
    )
    assert imported.returncode == 0, imported.stderr
    assert re.search(r"^9\d questions written to .*bank/copy$", imported.stdout, re.M)
    validated = run(["bank", "validate", "--path", str(tmp_path / "bank")], {})
    assert validated.returncode == 0 and re.match(r"9\d questions valid", validated.stdout), validated.stderr
    refused = run(["bank", "import-qti", str(tmp_path / "nope.zip")], {})
    assert refused.returncode == 1 and refused.stderr.startswith("error: ") and "not a zip" in refused.stderr


def test_api_keys_create_list_and_revoke(tmp_path: Path) -> None:
    env = {"ASSAY_DATABASE_URL": f"sqlite:///{tmp_path}/a.db"}
    assert run(["db", "upgrade"], env).returncode == 0
    owner = [
        "users",
        "create-owner",
        "--email",
        "x@example.com",
        "--password",
        "long enough pw",
        "--org",
        "Initech",
    ]
    assert run(owner, env).returncode == 0
    made = run(["api-keys", "create", "--org", "initech", "--scopes", "results:read,invitations:write"], env)
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    assert re.fullmatch(r"ak_live_[0-9A-Za-z]{38}", key)
    assert "not shown again" in made.stderr and key not in made.stderr
    listed = run(["api-keys", "list", "--org", "initech"], env)
    key_id, shown, _, scopes, used, state = listed.stdout.strip().split("\t")
    assert shown == f"{key[:16]}…{key[-4:]}" and key not in listed.stdout
    assert (scopes, used, state) == ("invitations:write,results:read", "never used", "active")
    assert run(["api-keys", "revoke", "--org", "initech", key_id], env).returncode == 0
    assert "\trevoked " in run(["api-keys", "list", "--org", "initech"], env).stdout
    unknown = run(["api-keys", "create", "--org", "initech", "--scopes", "results:read,root"], env)
    assert unknown.returncode == 1 and "unknown scope(s): root" in unknown.stderr
    test_key = run(
        [
            "api-keys",
            "create",
            "--org",
            "initech",
            "--scopes",
            "results:read",
            "--test",
            "--expires-in-days",
            "30",
        ],
        env,
    )
    assert re.fullmatch(r"ak_test_[0-9A-Za-z]{38}", test_key.stdout.strip()), test_key.stderr
    newest = run(["api-keys", "list", "--org", "initech"], env).stdout.splitlines()[0]
    assert newest.split("\t")[1].startswith("ak_test_") and "\texpires " in newest


def test_an_operator_lists_and_retries_failed_gradings(tmp_path: Path) -> None:
    from datetime import timedelta

    from app.attempts.service import run_samples
    from app.core.config import Settings
    from app.core.db import make_engine, make_session_factory, session_scope
    from app.grading.service import fail_job
    from app.models import GradingJob, JobStatus
    from tests import factories

    url = f"sqlite:///{tmp_path}/a.db"
    env = {"ASSAY_DATABASE_URL": url}
    for step in (["db", "upgrade"], ["bank", "sync"]):
        assert run(step, env).returncode == 0, step
    engine = make_engine(Settings(_env_file=None, environment="test", database_url=url))  # type: ignore[call-arg]
    with session_scope(make_session_factory(engine)) as session:
        attempt, item = factories.coding_attempt(session)
        runs = [
            run_samples(session, attempt, item.id, f"x = {n}", grace=timedelta(seconds=30), per_minute=50)
            for n in range(3)
        ]
        for failed in runs[:2]:
            assert failed.job is not None
            fail_job(session, failed.job.id, "the grader failed; see the worker's log")
        ids = [r.id for r in runs]

    listed = run(["grading", "failed"], env)
    assert listed.returncode == 0, listed.stderr
    assert [line.split("\t")[0] for line in listed.stdout.splitlines()] == [str(i) for i in ids[:2]]
    assert "the grader failed" in listed.stdout and "2 failed grading(s)" in listed.stderr

    assert run(["grading", "retry"], env).returncode == 2
    assert run(["grading", "retry", str(ids[2])], env).stderr.strip() == (
        "error: only a grading that failed can be retried"
    )
    assert run(["grading", "retry", "999"], env).stderr.strip() == "error: no submission 999"
    retried = run(["grading", "retry", "--all-failed"], env)
    assert retried.returncode == 0, retried.stderr
    assert retried.stdout.strip() == f"queued again: {ids[0]}, {ids[1]}"
    with session_scope(make_session_factory(engine)) as session:
        statuses = {job.submission_id: job.status for job in session.query(GradingJob)}
    engine.dispose()
    assert statuses == {ids[0]: JobStatus.QUEUED, ids[1]: JobStatus.QUEUED, ids[2]: JobStatus.QUEUED}
    assert "nothing had failed" in run(["grading", "retry", "--all-failed"], env).stdout
