"""Backups of the embedded database: taken while the app writes, checked, restored without losing what they
replace, and refused with a clear reason when the file is not one."""

from __future__ import annotations

import sqlite3
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from app.core.backup import BackupError, backup, inspect, restore
from app.core.config import Settings
from app.core.db import make_engine
from app.core.migrate import current_revision, head_revision, known_revisions, upgrade
from tests.conftest import Databases


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[Path, Engine]]:
    """A migrated Assay database file with an engine on it, as the running app holds one."""
    path = tmp_path / "assay.db"
    engine = make_engine(Settings(_env_file=None, database_url=f"sqlite:///{path}"))  # type: ignore[call-arg]
    upgrade(engine)
    yield path, engine
    engine.dispose()


def add_organizations(engine: Engine, names: list[str]) -> None:
    with engine.begin() as connection:
        for name in names:
            connection.execute(
                text("INSERT INTO organizations (name, slug, created_at) VALUES (:n, :n, CURRENT_TIMESTAMP)"),
                {"n": name},
            )


def organizations(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.scalars(text("SELECT name FROM organizations ORDER BY id")))


def test_a_backup_taken_while_the_app_commits_is_a_consistent_snapshot(
    live: tuple[Path, Engine], tmp_path: Path
) -> None:
    path, engine = live
    add_organizations(engine, ["first"])
    stop = threading.Event()
    committed: list[int] = []

    def keep_writing() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            add_organizations(engine, [f"org-{n}-a", f"org-{n}-b"])  # two rows per transaction
            committed.append(n)

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        while len(committed) < 20:
            stop.wait(0.01)
        snapshot = backup(path, tmp_path / "copy.db")
    finally:
        stop.set()
        writer.join()
    assert snapshot.revision == head_revision() and snapshot.size_bytes > 0
    with sqlite3.connect(snapshot.path) as copy:
        names = [row[0] for row in copy.execute("SELECT name FROM organizations ORDER BY id")]
    assert names[0] == "first" and len(names) % 2 == 1, "a transaction was copied in half"
    assert 1 + 2 * 20 <= len(names) <= 1 + 2 * len(committed)
    assert snapshot.rows["organizations"] == len(names)


def test_a_restore_brings_back_the_backup_and_keeps_what_it_replaced(
    live: tuple[Path, Engine], tmp_path: Path
) -> None:
    path, engine = live
    add_organizations(engine, ["kept"])
    saved = backup(path, tmp_path / "saved.db")
    add_organizations(engine, ["added after the backup"])

    restored = restore(path, saved.path, known_revisions=known_revisions())
    assert organizations(engine) == ["kept"], "the app's open connections see the restored data"
    assert restored.previous is not None and restored.previous.rows["organizations"] == 2
    previous = make_engine(Settings(_env_file=None, database_url=f"sqlite:///{restored.previous.path}"))  # type: ignore[call-arg]
    try:
        assert organizations(previous) == ["kept", "added after the backup"]
    finally:
        previous.dispose()
    add_organizations(engine, ["written after the restore"])
    assert organizations(engine) == ["kept", "written after the restore"]


def test_what_is_not_a_sound_assay_database_is_refused(live: tuple[Path, Engine], tmp_path: Path) -> None:
    path, _ = live
    text_file = tmp_path / "notes.txt"
    text_file.write_text("hello " * 1000)
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE t (x)")
    newer = backup(path, tmp_path / "newer.db").path
    with sqlite3.connect(newer) as db:
        db.execute("UPDATE alembic_version SET version_num = 'f00dfeedbeef'")
    cases = [
        (lambda: inspect(tmp_path / "missing.db"), "does not exist"),
        (lambda: inspect(text_file), "is not an SQLite database"),
        (lambda: inspect(other), "is not an Assay database"),
        (lambda: restore(path, newer, known_revisions=known_revisions()), "made by a newer Assay"),
        (lambda: backup(path, newer), "already exists"),
        (lambda: backup(path, tmp_path / "no" / "folder.db"), "does not exist"),
    ]
    before = organizations_count(path)
    for attempt, message in cases:
        with pytest.raises(BackupError, match=message):
            attempt()
    assert organizations_count(path) == before
    assert sorted(p.name for p in tmp_path.iterdir() if "before-restore" in p.name) == []


def test_a_damaged_copy_is_reported(live: tuple[Path, Engine], tmp_path: Path) -> None:
    path, engine = live
    add_organizations(engine, [f"org-{n}" for n in range(2000)])
    copy = backup(path, tmp_path / "copy.db").path
    data = bytearray(copy.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 4096] = b"\xff" * 4096
    copy.write_bytes(bytes(data))
    with pytest.raises(BackupError, match=r"damaged|not an SQLite database"):
        inspect(copy)


def organizations_count(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT count(*) FROM organizations").fetchone()[0])


def test_the_readmes_postgresql_backup_commands_round_trip(databases: Databases, tmp_path: Path) -> None:
    """README, "Backups": pg_dump --format=custom, then pg_restore into another database, then upgrade."""
    source_url, target_url = databases.new_url("postgresql"), databases.new_url("postgresql")
    source = make_engine(Settings(_env_file=None, database_url=source_url))  # type: ignore[call-arg]
    target = make_engine(Settings(_env_file=None, database_url=target_url))  # type: ignore[call-arg]
    try:
        upgrade(source)
        add_organizations(source, ["Acme", "Globex"])
        dump = tmp_path / "assay.dump"
        plain = {url: url.replace("+psycopg", "") for url in (source_url, target_url)}
        subprocess.run(
            ["pg_dump", "--format=custom", f"--file={dump}", plain[source_url]],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [
                "pg_restore",
                "--clean",
                "--if-exists",
                "--no-owner",
                f"--dbname={plain[target_url]}",
                str(dump),
            ],
            check=True,
            capture_output=True,
        )
        upgrade(target)
        assert organizations(target) == ["Acme", "Globex"]
        with target.connect() as connection:
            assert current_revision(connection) == head_revision()
    finally:
        source.dispose()
        target.dispose()
