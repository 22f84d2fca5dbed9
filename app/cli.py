"""The `assay` command. Every failure an operator can cause prints one line on stderr, never a traceback."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

import typer
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from app.core.config import ConfigError, Settings, get_settings
from app.core.db import make_engine, make_session_factory, session_scope
from app.core.errors import AppError

if TYPE_CHECKING:  # the bank is imported inside the commands that need it, to keep start-up fast
    from app.questions.service import Bank

app = typer.Typer(help="Assay: candidate assessments for machine-learning hiring.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
bank_app = typer.Typer(help="The question bank.", no_args_is_help=True)
users_app = typer.Typer(help="Accounts.", no_args_is_help=True)
demo_app = typer.Typer(help="Sample content.", no_args_is_help=True)
tasks_app = typer.Typer(help="Coding tasks the grader knows.", no_args_is_help=True)
sandbox_app = typer.Typer(help="The sandbox that runs candidate code.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys for integrations.", no_args_is_help=True)
candidates_app = typer.Typer(help="Candidates' personal data, on their request.", no_args_is_help=True)
grading_app = typer.Typer(help="Gradings of submitted code.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(bank_app, name="bank")
app.add_typer(users_app, name="users")
app.add_typer(demo_app, name="demo")
app.add_typer(tasks_app, name="tasks")
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(keys_app, name="api-keys")
app.add_typer(candidates_app, name="candidates")
app.add_typer(grading_app, name="grading")

F = TypeVar("F", bound=Callable[..., Any])

OrgOption = Annotated[str, typer.Option(help="Organization name or slug")]

# How long a stopping server lets requests in flight finish.
GRACEFUL_SHUTDOWN_SECONDS = 30
KEEP_ALIVE_SECONDS = 65


def fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _describe_db(settings: Settings) -> str:
    return make_url(settings.database_url).render_as_string(hide_password=True)


def operator_errors(func: F) -> F:
    """Turn the errors an operator can cause into one clear line and a non-zero exit."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ConfigError as exc:
            raise fail(str(exc)) from None
        except OperationalError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc).splitlines()[0]
            raise fail(f"cannot use the database at {_describe_db(get_settings())}: {reason}") from None
        except AppError as exc:
            raise fail(exc.message) from None

    return wrapper  # type: ignore[return-value]


@contextmanager
def database() -> Iterator[tuple[Settings, Engine, Session]]:
    """A session for an operator's command, with every actor loaded: what it changes may send jobs."""
    from app.worker import load_actors

    load_actors()
    settings = get_settings()
    engine = make_engine(settings)
    try:
        with session_scope(make_session_factory(engine)) as session:
            yield settings, engine, session
    finally:
        engine.dispose()


def _require_schema_at_head(engine: Engine) -> None:
    from app.core.migrate import current_revision, head_revision

    with engine.connect() as connection:
        current = current_revision(connection)
    if current != head_revision():
        raise fail(
            f"the database schema is at {current or 'nothing'}, not at head: run `assay db upgrade` first"
        )


def _upgrade(settings: Settings) -> None:
    from app.core.migrate import upgrade

    engine = make_engine(settings)
    try:
        upgrade(engine)
    finally:
        engine.dispose()


@db_app.command("upgrade")
@operator_errors
def db_upgrade() -> None:
    """Apply every pending migration (safe to run repeatedly)."""
    settings = get_settings()
    _upgrade(settings)
    typer.echo(f"database at head: {_describe_db(settings)}")


def _sqlite_file(settings: Settings, command: str) -> Path:
    path = settings.sqlite_path()
    if path is None:
        raise fail(
            f"`assay db {command}` is for the embedded SQLite database; this one is "
            f"{_describe_db(settings)}: use PostgreSQL's own tools (the README's Backups section)"
        )
    return path


@db_app.command("backup")
@operator_errors
def db_backup(
    output: Annotated[
        Path | None, typer.Argument(help="File to write [default: beside the database, named by the time]")
    ] = None,
) -> None:
    """Copy the SQLite database to a file while Assay keeps running, then check the copy."""
    from app.core.backup import backup, default_backup_name

    database = _sqlite_file(get_settings(), "backup")
    snapshot = backup(database, output or default_backup_name(database))
    typer.echo(f"backup written: {snapshot.describe()}")


@db_app.command("restore")
@operator_errors
def db_restore(
    backup_file: Annotated[Path, typer.Argument(help="A file `assay db backup` wrote")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation")] = False,
) -> None:
    """Replace the SQLite database's content with a backup's. What it replaces is first copied beside it,
    and the schema is brought up to this version of Assay."""
    from app.core.backup import inspect, restore
    from app.core.migrate import known_revisions

    settings = get_settings()
    database = _sqlite_file(settings, "restore")
    source = inspect(backup_file)
    if not yes and not typer.confirm(
        f"Replace the data in {database} with {source.describe()}? What is there now is kept in a copy first."
    ):
        raise fail("nothing was restored")
    restored = restore(database, backup_file, known_revisions=known_revisions())
    if restored.previous is not None:
        typer.echo(f"the data it replaced is kept in {restored.previous.describe()}")
    _upgrade(settings)
    typer.echo(f"restored {database} from {restored.restored.describe()}; schema at head")


def _valid_bank(path: Path | None, refusal: str | None) -> Bank:
    """The bank, after printing each problem as file:line: field: message and stopping if there are any
    (with `refusal` as the last line, or silently with exit status 1)."""
    from app.questions.service import DEFAULT_BANK_DIR, load_bank

    bank = load_bank(path or DEFAULT_BANK_DIR)
    for problem in bank.problems:
        typer.echo(str(problem), err=True)
    if bank.problems:
        raise fail(refusal) if refusal else typer.Exit(1)
    return bank


@bank_app.command("validate")
def bank_validate(path: Annotated[Path | None, typer.Option(help="Bank folder")] = None) -> None:
    """Check every question file; print each problem as file:line: field: message."""
    typer.echo(f"{len(_valid_bank(path, None).entries)} questions valid")


@bank_app.command("sync")
@operator_errors
def bank_sync(path: Annotated[Path | None, typer.Option(help="Bank folder")] = None) -> None:
    """Upsert the bank into the database: edits become new versions, removed questions are retired."""
    from app.questions.service import sync_bank

    bank = _valid_bank(path, "the bank has problems; nothing was synced")
    with database() as (_, engine, session):
        _require_schema_at_head(engine)
        report = sync_bank(session, bank)
    typer.echo(f"question bank synced: {report}")


@bank_app.command("schema")
def bank_schema() -> None:
    """Print the question file format as JSON Schema."""
    from app.questions.service import bank_json_schema

    typer.echo(json.dumps(bank_json_schema(), indent=2))


@app.command("openapi")
def openapi() -> None:
    """Print the API's OpenAPI document (what /api/v1/openapi.json serves), e.g. to generate a client."""
    from app.api.router import build_document
    from app.main import create_app

    typer.echo(json.dumps(build_document(create_app(get_settings())), indent=2))


@bank_app.command("export-qti")
def bank_export_qti(
    output: Annotated[Path, typer.Argument(help="Package to write, e.g. bank-qti.zip")],
    path: Annotated[Path | None, typer.Option(help="Bank folder")] = None,
    pack: Annotated[str | None, typer.Option(help="Only this pack (a folder of the bank)")] = None,
) -> None:
    """Write the choice and written questions as an IMS QTI 2.1 content package."""
    from app.questions.qti import export_qti

    bank = _valid_bank(path, "the bank has problems; nothing was exported")
    entries = [e for e in bank.entries if pack is None or e.pack == pack]
    if not entries:
        raise fail(f"no questions in pack {pack!r}")
    try:
        report = export_qti([e.spec for e in entries], output)
    except OSError as exc:
        raise fail(f"cannot write {output}: {exc.strerror}") from None
    typer.echo(f"{report.items} items written to {output}; {len(report.skipped)} skipped:")
    for reason in report.skipped:
        typer.echo(f"  skipped {reason}")


@bank_app.command("import-qti")
def bank_import_qti(
    package: Annotated[Path, typer.Argument(help="QTI 2.1 content package (.zip)")],
    pack: Annotated[str, typer.Option(help="Pack folder the questions are written to")] = "imported",
    path: Annotated[Path | None, typer.Option(help="Bank folder")] = None,
    topic: Annotated[str | None, typer.Option(help="Topic for items from other tools")] = None,
    difficulty: Annotated[int, typer.Option(min=1, max=3, help="Difficulty for items from other tools")] = 2,
    role: Annotated[
        list[str] | None, typer.Option(help="Role for items from other tools (repeatable)")
    ] = None,
) -> None:
    """Turn each item of a QTI package into a question file; then review them and run `assay bank sync`."""
    from app.questions.qti import ImportDefaults, QtiError, import_qti
    from app.questions.service import DEFAULT_BANK_DIR

    defaults = ImportDefaults(topic=topic, difficulty=difficulty, roles=tuple(role or ImportDefaults.roles))
    destination = (path or DEFAULT_BANK_DIR) / pack
    try:
        report = import_qti(package, destination, defaults)
    except QtiError as exc:
        raise fail(str(exc)) from None
    for problem in report.problems:
        typer.echo(f"skipped {problem}", err=True)
    typer.echo(f"{len(report.written)} questions written to {destination}")
    if report.problems:
        raise fail(f"{len(report.problems)} items could not be imported")


@users_app.command("create-owner")
@operator_errors
def create_owner_cmd(
    email: Annotated[str, typer.Option(help="Sign-in email")],
    password: Annotated[str, typer.Option(help="At least 10 characters", prompt=True, hide_input=True)],
    org: Annotated[str, typer.Option(help="Organization name (created)")],
) -> None:
    """Create an organization with this user as its owner."""
    from app.accounts.service import create_owner

    with database() as (_, engine, session):
        _require_schema_at_head(engine)
        user, organization = create_owner(session, email=email, password=password, org_name=org)
    typer.echo(f"{user.email} is owner of {organization.name} ({organization.slug})")


@users_app.command("reset-password")
@operator_errors
def reset_password_cmd(
    email: Annotated[str, typer.Argument(help="The account's sign-in email")],
    password: Annotated[
        str | None,
        typer.Option(help="The new password (at least 10 characters); by default one is generated"),
    ] = None,
) -> None:
    """Set someone's password, for when no reset email can reach them (no mail server, or a lost mailbox).
    Unlocks the account and signs it out everywhere; the new password is printed once."""
    from app.accounts.service import reset_password_by_operator
    from app.core.security import generate_password

    chosen = password or generate_password()
    with database() as (_, engine, session):
        _require_schema_at_head(engine)
        user = reset_password_by_operator(session, email, chosen)
    typer.echo(f"password of {user.email} reset; every session of theirs is signed out")
    if password is None:
        typer.echo(f"new password: {chosen}  (shown only this once)")


@keys_app.command("create")
@operator_errors
def api_keys_create(
    org: OrgOption,
    scopes: Annotated[str, typer.Option(help="Comma-separated, e.g. invitations:write,results:read")],
    name: Annotated[str, typer.Option(help="What the key is for, e.g. Greenhouse")] = "",
    test: Annotated[bool, typer.Option("--test", help="An ak_test_ key, acting on test data only")] = False,
    expires_in_days: Annotated[
        int, typer.Option(min=0, max=3650, help="Refused after this many days; 0: never expires")
    ] = 0,
) -> None:
    """Create a key and print it once: it is stored only as a digest."""
    from app.accounts.principal import Operator
    from app.accounts.service import find_organization
    from app.api.service import create_api_key
    from app.models import utcnow

    expires_at = utcnow() + timedelta(days=expires_in_days) if expires_in_days else None
    with database() as (_, engine, session):
        _require_schema_at_head(engine)
        operator = Operator(find_organization(session, org))
        row, key = create_api_key(
            session, operator, name=name, scopes=scopes, test=test, expires_at=expires_at
        )
    typer.echo(key)
    typer.echo(
        f"key {row.prefix}…{row.last_four} with scopes {', '.join(row.scopes)}; it is not shown again",
        err=True,
    )


@keys_app.command("list")
@operator_errors
def api_keys_list(org: OrgOption) -> None:
    """The organization's keys: id, prefix, last four, name, scopes, last use, state (active, expires,
    expired, revoked)."""
    from app.accounts.service import find_organization
    from app.api.service import list_api_keys
    from app.models import utcnow

    with database() as (_, engine, session):
        _require_schema_at_head(engine)
        for row in list_api_keys(session, find_organization(session, org)):
            used = row.last_used_at.isoformat(timespec="seconds") if row.last_used_at else "never used"
            if row.revoked_at:
                state = f"revoked {row.revoked_at:%Y-%m-%d}"
            elif row.expires_at:
                state = f"{'expired' if row.expires_at <= utcnow() else 'expires'} {row.expires_at:%Y-%m-%d}"
            else:
                state = "active"
            fields = (str(row.id), f"{row.prefix}…{row.last_four}", row.name or "-", ",".join(row.scopes))
            typer.echo("\t".join((*fields, used, state)))


@keys_app.command("revoke")
@operator_errors
def api_keys_revoke(
    org: OrgOption,
    key_id: Annotated[int, typer.Argument(help="The id `assay api-keys list` shows")],
) -> None:
    """Stop a key from working, at once."""
    from app.accounts.principal import Operator
    from app.accounts.service import find_organization
    from app.api.service import revoke_api_key

    with database() as (_, engine, session):
        _require_schema_at_head(engine)
        row = revoke_api_key(session, Operator(find_organization(session, org)), key_id)
    typer.echo(f"key {row.prefix}…{row.last_four} revoked")


CandidateArgument = Annotated[str, typer.Argument(help="The candidate's email address or id")]


@candidates_app.command("export")
@operator_errors
def candidates_export(
    org: OrgOption,
    candidate: CandidateArgument,
    output: Annotated[Path | None, typer.Option(help="File to write [default: standard output]")] = None,
) -> None:
    """Everything held on a candidate, as JSON: details, invitations, answers with every revision, code,
    scores and comments, page signals, emails sent."""
    from app.accounts.principal import Operator
    from app.accounts.service import find_organization
    from app.candidates import service

    with database() as (_, engine, session):
        _require_schema_at_head(engine)
        organization = find_organization(session, org)
        person = service.find(session, organization, candidate)
        document = service.export_candidate(session, Operator(organization), person).model_dump_json(indent=2)
        if output is None:
            typer.echo(document)
            return
        try:
            output.write_text(document + "\n", encoding="utf-8")
        except OSError as exc:
            raise fail(f"cannot write {output}: {exc.strerror}") from None
    typer.echo(f"{person.full_name}'s data written to {output}", err=True)


@candidates_app.command("erase")
@operator_errors
def candidates_erase(
    org: OrgOption,
    candidate: CandidateArgument,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation")] = False,
) -> None:
    """Erase a candidate's personal data for good; their scores stay in the statistics, attached to nobody."""
    from app.accounts.principal import Operator
    from app.accounts.service import find_organization
    from app.candidates import service

    with database() as (_, engine, session):
        _require_schema_at_head(engine)
        organization = find_organization(session, org)
        person = service.find(session, organization, candidate)
        name = f"{person.full_name} <{person.email}>"
        if not yes and not typer.confirm(f"Erase everything {organization.name} holds on {name}?"):
            raise fail("nothing was erased")
        erased = service.erase_candidate(session, Operator(organization), person)
    typer.echo(
        f"erased {name}: {erased.invitations} invitations, {erased.answers} answers, "
        f"{erased.submissions} code runs, {erased.emails} emails; "
        f"their scores stay in the statistics as {person.full_name}"
    )


@grading_app.command("failed")
@operator_errors
def grading_failed(org: Annotated[str | None, typer.Option(help="Only this organization")] = None) -> None:
    """List the submissions whose grading failed, with the reason."""
    from app.accounts.service import find_organization
    from app.grading.service import failed_submissions

    with database() as (_, engine, session):
        _require_schema_at_head(engine)
        organization_id = find_organization(session, org).id if org else None
        failed = failed_submissions(session, organization_id)
        for submission in failed:
            assert submission.job is not None
            typer.echo(
                f"{submission.id}\t{submission.kind.value}\t{submission.task_id}\t{submission.job.error}"
            )
    typer.echo(f"{len(failed)} failed grading(s)", err=True)


@grading_app.command("retry")
@operator_errors
def grading_retry(
    submissions: Annotated[
        list[int] | None, typer.Argument(help="Submission ids (see `assay grading failed`)")
    ] = None,
    all_failed: Annotated[
        bool, typer.Option("--all-failed", help="Every submission whose grading failed")
    ] = False,
    org: Annotated[str | None, typer.Option(help="With --all-failed: only this organization")] = None,
) -> None:
    """Grade again submissions whose grading failed. A running worker (or the server, in the embedded
    set-up) picks them up at once, or at its next reconciliation if the message cannot be sent from here."""
    from app.accounts.principal import Operator
    from app.accounts.service import find_organization
    from app.core.ids import MAX_ID
    from app.grading.service import failed_submissions, retry_grading
    from app.models import Attempt, Organization, Submission

    if bool(submissions) == all_failed:
        raise fail("name the submissions to retry, or say --all-failed", code=2)
    with database() as (_, engine, session):
        _require_schema_at_head(engine)
        if all_failed:
            organization_id = find_organization(session, org).id if org else None
            chosen = failed_submissions(session, organization_id)
        else:
            chosen = []
            for submission_id in submissions or []:
                submission = session.get(Submission, submission_id) if 1 <= submission_id <= MAX_ID else None
                if submission is None:
                    raise fail(f"no submission {submission_id}")
                chosen.append(submission)
        for submission in chosen:
            attempt = session.get(Attempt, submission.attempt_id)
            assert attempt is not None  # the submission's foreign key
            owner = session.get(Organization, attempt.invitation.organization_id)
            assert owner is not None
            retry_grading(session, Operator(owner), submission)
        retried = [submission.id for submission in chosen]
    typer.echo(f"queued again: {', '.join(map(str, retried)) or 'nothing had failed'}")


@demo_app.command("seed")
@operator_errors
def demo_seed(org: OrgOption) -> None:
    """Add a published sample assessment and a ready invitation link to an organization."""
    from app.accounts.service import find_organization
    from app.onboarding.service import seed_demo

    with database() as (settings, engine, session):
        _require_schema_at_head(engine)
        organization = find_organization(session, org)
        seeded = seed_demo(
            session,
            organization,
            invitation_ttl=timedelta(days=settings.invitation_ttl_days),
            secret_key=settings.secret_key.get_secret_value(),
        )
        link = seeded.issued.link(settings.base_url)
    typer.echo(f"sample assessment: {settings.base_url}/assessments/{seeded.assessment.id}")
    typer.echo(f"candidate link:    {link}")


@tasks_app.command("list")
def tasks_list() -> None:
    """Print the coding task ids, one per line."""
    import grader

    for task_id in grader.list_tasks():
        typer.echo(task_id)


@sandbox_app.command("check")
def sandbox_check() -> None:
    """Show how candidate code will be isolated on this host, then run a probe submission."""
    import time

    import numpy as np

    from grader.sandbox import BubblewrapRunner, Input, RunRequest, SandboxUnavailable, Step, cgroup_support

    try:
        runner = BubblewrapRunner(warm=0)
    except SandboxUnavailable as exc:
        raise fail(f"the sandbox cannot run here: {exc}") from None
    with runner:
        host = runner.host
        typer.echo(f"bubblewrap:   {host.bwrap}")
        typer.echo(f"interpreter:  {host.interpreter.executable} (Python {host.interpreter.version})")
        typer.echo(
            f"sandbox uids: {host.uid_base}-{host.uid_base + host.slots - 1} (shared by every process)"
        )
        typer.echo(f"cgroup v2:    {cgroup_support()[1]}")
        started = time.perf_counter()
        probe = "import numpy as np\ndef f(x):\n    return x.mean(axis=0)"
        try:
            result = runner.run(RunRequest(probe, [Step("f", (Input("x"),))], {"x": np.eye(3)}))
        except SandboxUnavailable as exc:
            raise fail(f"the sandbox cannot run here: {exc}") from None
    if result.status != "ok" or result.steps[0].status != "ok":
        raise fail(f"the probe submission failed: {result.status} {result.message} {result.stderr[-300:]}")
    typer.echo(f"probe:        ok in {1000 * (time.perf_counter() - started):.0f} ms (cold start)")


@app.command("grade")
def grade(
    task_id: Annotated[str, typer.Argument(help="Task id (see `assay tasks list`)")],
    file: Annotated[Path, typer.Argument(help="Candidate source file")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON")] = False,
    seed: Annotated[int, typer.Option(help="Seed for hidden cases")] = 0,
    audience: Annotated[
        Literal["candidate", "recruiter"],  # grader.wording.Audience, spelled out: grader loads NumPy
        typer.Option("--for", help='Who the diagnoses address: the candidate ("your code") or the recruiter'),
    ] = "recruiter",
) -> None:
    """Grade a candidate file against a task; exits 0 whenever grading completed, whatever the score."""
    import grader
    from grader.sandbox import SandboxUnavailable

    try:
        grader.get_task(task_id)
    except grader.UnknownTask as exc:
        raise fail(str(exc), code=2) from None
    try:
        source = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"cannot read {file}: {exc}", code=2) from None
    try:
        result = grader.grade(task_id, source, seed=seed, audience=audience)
    except SandboxUnavailable as exc:
        raise fail(f"the sandbox cannot run here: {exc}") from None
    if as_json:
        typer.echo(result.model_dump_json())
        return
    typer.echo(
        f"{result.task_id}: {result.verdict}, score {result.score:.0%} ({result.timings.wall_s:.2f} s)"
    )
    for case in result.cases:
        where = "sample" if case.visible else "hidden"
        typer.echo(f"  {case.status:22s} {where} {case.name}  {case.message}".rstrip())
    for diagnosis in result.diagnoses:
        typer.echo(f"  diagnosis {diagnosis.code} ({diagnosis.confidence:.0%}): {diagnosis.message}")


def _print_first_run(settings: Settings, result: Any) -> None:
    lines = [
        "Assay is ready. Sign in at " + settings.base_url + "/login",
        f"  email:    {result.email}",
        f"  password: {result.password}  (generated; shown only this once)"
        if result.password
        else "  password: the one in ASSAY_ADMIN_PASSWORD",
    ]
    if result.demo is not None:
        lines.append(f"Sample candidate link: {result.demo.issued.link(settings.base_url)}")
    width = max(len(line) for line in lines) + 2
    typer.echo("=" * width)
    for line in lines:
        typer.echo(" " + line)
    typer.echo("=" * width)


@app.command("serve")
@operator_errors
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address [default: ASSAY_HOST or 127.0.0.1]")] = None,
    port: Annotated[int | None, typer.Option(help="Port [default: ASSAY_PORT or 8000]")] = None,
    workers: Annotated[int, typer.Option(help="Uvicorn worker processes")] = 1,
) -> None:
    """Serve the web app and API on ASSAY_HOST:ASSAY_PORT (127.0.0.1:8000), or the --host and --port given;
    links follow the port unless ASSAY_BASE_URL is set. On a database with no users, create the first owner
    and a sample."""
    import os

    import uvicorn

    from app.core.logs import logging_config
    from app.http.slow_clients import HeaderDeadlineProtocol
    from app.onboarding.service import first_run

    # The app's processes read their settings from the environment: what was given here holds for them too,
    # and the links the banner and the emails carry follow the port served on.
    if host is not None:
        os.environ["ASSAY_HOST"] = host
    if port is not None:
        os.environ["ASSAY_PORT"] = str(port)
    get_settings.cache_clear()
    with database() as (settings, engine, session):
        _require_schema_at_head(engine)
        password = settings.admin_password.get_secret_value() if settings.admin_password else None
        result = first_run(
            session,
            email=settings.admin_email,
            password=password,
            org_name=settings.admin_org,
            invitation_ttl=timedelta(days=settings.invitation_ttl_days),
            secret_key=settings.secret_key.get_secret_value(),
        )
    if result is not None:
        _print_first_run(settings, result)
    typer.echo(f"serving on http://{settings.host}:{settings.port} (links use {settings.base_url})", err=True)
    if workers > 1:
        _share_metrics_between_processes("web")
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers,
        log_config=logging_config(settings.log_format),
        # In-flight requests finish (an autosave is never cut off) before the app stops its jobs and exits.
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        # Longer than load balancers' idle timeout (60 s is common), so the balancer, not the app, closes an
        # idle connection: otherwise a request sent on it just as the app closes it is reset.
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        # A connection that does not finish its headers in time is closed (slowloris), and past this many
        # connections and requests at once new requests get 503 instead of exhausting the process.
        http=HeaderDeadlineProtocol,
        limit_concurrency=settings.max_connections,
    )


@app.command("worker")
@operator_errors
def worker(
    processes: Annotated[int, typer.Option(min=1, help="Worker processes")] = 1,
    threads: Annotated[
        int | None,
        typer.Option(
            min=1, help="Jobs at once per process, one warm sandbox each [default: ASSAY_WORKER_THREADS]"
        ),
    ] = None,
    queues: Annotated[
        list[str] | None, typer.Option("--queue", help="Only these queues (repeatable) [default: all]")
    ] = None,
    metrics_port: Annotated[
        int, typer.Option(min=0, max=65535, help="Port of the workers' /metrics; 0 turns it off")
    ] = 9191,
    metrics_host: Annotated[str, typer.Option(help="Address the workers' /metrics listens on")] = "127.0.0.1",
) -> None:
    """Consume background jobs from Redis (needs ASSAY_BROKER_URL). Each process also runs the periodic
    jobs' schedule (claimed in the database, so several workers never fire one twice)."""
    import os

    settings = get_settings()
    if not settings.uses_external_broker:
        raise fail(
            "set ASSAY_BROKER_URL=redis://… to run separate workers; the embedded app runs jobs itself"
        )
    threads = threads or settings.worker_threads
    os.environ.update(
        ASSAY_WORKER_THREADS=str(threads),
        dramatiq_prom_port=str(metrics_port),
        dramatiq_prom_host=metrics_host,
    )
    _share_metrics_between_processes("worker")
    args = ["dramatiq", "app.actors", "--processes", str(processes), "--threads", str(threads)]
    args += ["--skip-logging", *(arg for queue in queues or [] for arg in ("--queues", queue))]
    os.execvp(sys.executable, [sys.executable, "-m", *args])  # noqa: S606 - replaces this process, fixed args


def _share_metrics_between_processes(role: str) -> None:
    """prometheus_client's multiprocess folder, emptied, named before any process loads the client."""
    import os
    import shutil
    import tempfile

    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.path.join(
        tempfile.gettempdir(), f"assay-metrics-{role}-{os.getpid()}"
    )
    shutil.rmtree(folder, ignore_errors=True)  # counters of processes from an earlier run are not ours
    os.makedirs(folder, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
    os.environ["dramatiq_prom_db"] = folder  # noqa: SIM112 - the name Dramatiq's exporter reads


def main() -> None:
    app()


if __name__ == "__main__":
    main()
