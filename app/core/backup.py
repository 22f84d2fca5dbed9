"""`assay db backup` and `assay db restore` for the embedded SQLite database.

Both go through SQLite's online backup API, page by page under SQLite's own locks, so a backup taken while
Assay serves candidates is a consistent snapshot (the write-ahead log included), and a restore is seen whole
or not at all by the running app. A restore first backs up what it replaces, so no saved answer is lost by
restoring the wrong file. PostgreSQL has its own tools (pg_dump, base backups): the README says how.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from app.core.errors import AppError

PAGES_PER_STEP = 1024  # the writer gets the lock back between steps, so the app is never held up for long
STEP_PAUSE_SECONDS = 0.005
COUNTED_TABLES = ("organizations", "candidates", "attempts", "answers")


class BackupError(AppError):
    status_code = 400


@dataclass(frozen=True)
class Snapshot:
    path: Path
    size_bytes: int
    revision: str | None
    rows: dict[str, int]

    def describe(self) -> str:
        counts = ", ".join(f"{n} {table}" for table, n in self.rows.items())
        megabytes = self.size_bytes / 1_000_000
        return f"{self.path} ({megabytes:.1f} MB, schema {self.revision or 'empty'}; {counts})"


def _connect(path: Path, *, must_exist: bool) -> sqlite3.Connection:
    if must_exist and not path.is_file():
        raise BackupError(f"{path} does not exist")
    uri = path.resolve().as_uri() + ("?mode=rw" if must_exist else "")
    try:
        return sqlite3.connect(uri, uri=True, timeout=30)
    except sqlite3.Error as exc:
        raise BackupError(f"cannot open {path}: {exc}") from None


def inspect(path: Path) -> Snapshot:
    """What a database file holds; refuses a file that is not a sound Assay database."""
    with closing(_connect(path, must_exist=True)) as db:
        try:
            verdict = db.execute("PRAGMA integrity_check").fetchone()[0]
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.DatabaseError as exc:
            raise BackupError(f"{path} is not an SQLite database ({exc})") from None
        if verdict != "ok":
            raise BackupError(f"{path} is damaged: {verdict}")
        if "alembic_version" not in tables:
            raise BackupError(f"{path} is not an Assay database (it has no schema version)")
        revision = db.execute("SELECT version_num FROM alembic_version").fetchone()
        rows = {
            # COUNTED_TABLES are fixed names of ours, never input.
            table: db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608  # nosec B608
            for table in COUNTED_TABLES
            if table in tables
        }
    return Snapshot(path, path.stat().st_size, revision[0] if revision else None, rows)


def _copy(source: Path, destination: Path, *, destination_exists: bool) -> None:
    with (
        closing(_connect(source, must_exist=True)) as src,
        closing(_connect(destination, must_exist=destination_exists)) as dst,
    ):
        try:
            src.backup(dst, pages=PAGES_PER_STEP, sleep=STEP_PAUSE_SECONDS)
        except sqlite3.Error as exc:
            raise BackupError(f"copying {source} to {destination} failed: {exc}") from None


def default_backup_name(database: Path, suffix: str = "backup") -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return database.with_name(f"{database.stem}-{suffix}-{stamp}.db")


def backup(database: Path, destination: Path) -> Snapshot:
    """Copy the live database to a new file, then check the copy."""
    if destination.exists():
        raise BackupError(f"{destination} already exists; choose another name")
    if not destination.parent.is_dir():
        raise BackupError(f"the folder {destination.parent} does not exist")
    inspect(database)
    try:
        _copy(database, destination, destination_exists=False)
        return inspect(destination)
    except BackupError:
        destination.unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class Restored:
    restored: Snapshot
    previous: Snapshot | None  # where the data it replaced was kept


def restore(database: Path, source: Path, *, known_revisions: Collection[str]) -> Restored:
    """Replace the database's content with a backup's, after keeping a copy of what was there.

    A backup from an older Assay is restored as it is (`assay db upgrade` brings it to head); one from a newer
    Assay, whose schema this version does not know, is refused."""
    snapshot = inspect(source)
    if snapshot.revision not in known_revisions:
        raise BackupError(
            f"{source} was made by a newer Assay (schema {snapshot.revision}); "
            "upgrade Assay before restoring it"
        )
    previous = None
    if database.exists():
        kept = default_backup_name(database, "before-restore")
        previous = backup(database, kept)
    _copy(source, database, destination_exists=database.exists())
    return Restored(inspect(database), previous)
