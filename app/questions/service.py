"""Reading the bank from disk, validating it, and syncing it into the database."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from app.core.errors import NotFound
from app.models import Question, QuestionType, QuestionVersion, utcnow
from app.questions.spec import AnyQuestion, question_adapter

QuestionSpecModel = AnyQuestion
DEFAULT_BANK_DIR = Path(__file__).resolve().parents[2] / "question_bank"


@dataclass(frozen=True)
class BankProblem:
    path: Path
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f" {self.field}:" if self.field else ""
        return f"{self.path}:{self.line}:{where} {self.message}"


@dataclass(frozen=True)
class BankEntry:
    pack: str
    slug: str
    path: Path
    spec: QuestionSpecModel


@dataclass
class Bank:
    entries: list[BankEntry] = field(default_factory=list)
    problems: list[BankProblem] = field(default_factory=list)


@dataclass
class SyncReport:
    created: int = 0
    new_versions: int = 0
    unchanged: int = 0
    retired: int = 0
    restored: int = 0

    def __str__(self) -> str:
        return (
            f"{self.created} new, {self.new_versions} changed (new version), {self.unchanged} unchanged, "
            f"{self.retired} retired, {self.restored} restored"
        )


def _line_of(node: yaml.Node | None, loc: Sequence[str | int]) -> int:
    """Follow a pydantic error location through the YAML node tree to the line it points at."""
    if node is None:
        return 1
    current = node
    for part in loc:
        if isinstance(current, yaml.MappingNode):
            match = next((v for k, v in current.value if getattr(k, "value", None) == part), None)
            if match is None:
                break
            current = match
        elif isinstance(current, yaml.SequenceNode) and isinstance(part, int) and part < len(current.value):
            current = current.value[part]
        else:
            break
    return current.start_mark.line + 1


def load_bank(root: Path = DEFAULT_BANK_DIR) -> Bank:
    bank = Bank()
    seen_uuids: dict[str, Path] = {}
    if not root.is_dir():
        bank.problems.append(BankProblem(root, 0, "", "question bank folder not found"))
        return bank
    for path in sorted(root.glob("*/*.yaml")):
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            line = path.read_bytes()[: exc.start].count(b"\n") + 1
            bank.problems.append(BankProblem(path, line, "", f"not UTF-8 text (byte {exc.start})"))
            continue
        try:
            node = yaml.compose(text)
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            bank.problems.append(
                BankProblem(path, mark.line + 1 if mark else 1, "", f"not valid YAML: {exc}")
            )
            continue
        if not isinstance(data, dict):
            bank.problems.append(BankProblem(path, 1, "", "expected a mapping of question fields"))
            continue
        try:
            spec = question_adapter.validate_python(data)
        except ValidationError as exc:
            for err in exc.errors():
                loc = list(err["loc"])
                if loc and loc[0] == data.get("type"):
                    loc = loc[1:]  # pydantic prefixes the discriminator tag
                message = err["msg"].removeprefix("Value error, ")
                bank.problems.append(BankProblem(path, _line_of(node, loc), ".".join(map(str, loc)), message))
            continue
        key = str(spec.uuid)
        if key in seen_uuids:
            bank.problems.append(
                BankProblem(path, _line_of(node, ["uuid"]), "uuid", f"duplicate of {seen_uuids[key]}")
            )
            continue
        seen_uuids[key] = path
        bank.entries.append(BankEntry(pack=path.parent.name, slug=path.stem, path=path, spec=spec))
    return bank


def content_hash(spec: QuestionSpecModel) -> str:
    # Defaults are left out so that adding an optional field to the format does not turn every question
    # into a new version.
    canonical = json.dumps(
        spec.model_dump(mode="json", exclude_defaults=True), sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


class _BankDumper(yaml.SafeDumper):
    """Writes question files the way people write them: multi-line text as literal blocks, roles inline."""


def _represent_str(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|" if "\n" in text else None)


def _represent_list(dumper: yaml.SafeDumper, items: list[Any]) -> yaml.SequenceNode:
    flat = all(isinstance(item, str) and len(item) < 40 for item in items)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", items, flow_style=flat)


_BankDumper.add_representer(str, _represent_str)
_BankDumper.add_representer(list, _represent_list)


def question_yaml(spec: QuestionSpecModel) -> str:
    """A question as the text of its bank file (defaults left out, identity and type first)."""
    data = spec.model_dump(mode="json", exclude_defaults=True)
    data = {"uuid": data.pop("uuid"), "type": spec.type, **data}
    text: str = yaml.dump(data, Dumper=_BankDumper, sort_keys=False, allow_unicode=True, width=4096)
    return text


def _new_version(question: Question, spec: QuestionSpecModel, digest: str, number: int) -> QuestionVersion:
    return QuestionVersion(
        question=question,
        number=number,
        content_hash=digest,
        type=QuestionType(spec.type),
        title=spec.title,
        topic=spec.topic,
        difficulty=spec.difficulty,
        roles=list(spec.roles),
        points=spec.points,
        time_estimate_s=spec.time_estimate_s,
        spec=spec.model_dump(mode="json"),
    )


def sync_bank(session: Session, bank: Bank) -> SyncReport:
    """Upsert the bank: an edit becomes a new version, a removed file retires its question (kept for
    history), a file that comes back restores it. Running it twice changes nothing the second time."""
    if bank.problems:
        raise ValueError("refusing to sync a bank with validation problems")
    report = SyncReport()
    existing = {q.uuid: q for q in session.scalars(select(Question).options(selectinload(Question.versions)))}
    present: set[str] = set()
    for entry in bank.entries:
        key = str(entry.spec.uuid)
        present.add(key)
        digest = content_hash(entry.spec)
        question = existing.get(key)
        if question is None:
            question = Question(uuid=key, pack=entry.pack, slug=entry.slug)
            session.add(question)
            session.add(_new_version(question, entry.spec, digest, 1))
            report.created += 1
            continue
        question.pack, question.slug = entry.pack, entry.slug
        if question.retired_at is not None:
            question.retired_at = None
            report.restored += 1
        latest = question.versions[-1] if question.versions else None
        if latest is not None and latest.content_hash == digest:
            report.unchanged += 1
            continue
        session.add(_new_version(question, entry.spec, digest, (latest.number if latest else 0) + 1))
        report.new_versions += 1
    for key, question in existing.items():
        if key not in present and question.retired_at is None:
            question.retired_at = utcnow()
            report.retired += 1
    session.flush()
    return report


def current_versions(
    session: Session, *, types: Sequence[QuestionType] | None = None
) -> list[QuestionVersion]:
    """The latest version of every question that is not retired, in bank order."""
    newest = (
        select(QuestionVersion.question_id, func.max(QuestionVersion.number).label("number"))
        .group_by(QuestionVersion.question_id)
        .subquery()
    )
    stmt = (
        select(QuestionVersion)
        .join(Question)
        .join(
            newest,
            (newest.c.question_id == QuestionVersion.question_id)
            & (newest.c.number == QuestionVersion.number),
        )
        .where(Question.retired_at.is_(None))
        .order_by(Question.pack, Question.slug)
    )
    if types:
        stmt = stmt.where(QuestionVersion.type.in_(list(types)))
    return list(session.scalars(stmt))


def spec_of(version: QuestionVersion) -> QuestionSpecModel:
    return question_adapter.validate_python(version.spec)


def bank_json_schema() -> dict[str, Any]:
    return question_adapter.json_schema()


class BankFilter(BaseModel):
    """What the bank browser narrows by; empty means any."""

    model_config = ConfigDict(extra="ignore")

    topic: Annotated[str, Field(max_length=80)] = ""
    difficulty: Literal["", "1", "2", "3"] = ""
    role: Annotated[str, Field(max_length=80)] = ""
    type: Annotated[str, Field(max_length=20)] = ""
    q: Annotated[
        str, Field(max_length=200, description="words that must all appear in the title or prompt")
    ] = ""

    def matches(self, version: QuestionVersion) -> bool:
        if self.topic and version.topic != self.topic:
            return False
        if self.difficulty and version.difficulty != int(self.difficulty):
            return False
        if self.role and self.role not in version.roles:
            return False
        if self.type and version.type.value != self.type:
            return False
        if self.q.strip():
            haystack = f"{version.title}\n{version.spec.get('prompt', '')}".casefold()
            return all(word in haystack for word in self.q.casefold().split())
        return True


def browse_bank(session: Session, filters: BankFilter) -> list[QuestionVersion]:
    # The bank is hundreds of questions, not millions: filtering the current versions in Python keeps the
    # text search identical on SQLite and PostgreSQL.
    return [v for v in current_versions(session) if filters.matches(v)]


def get_version(session: Session, version_id: int) -> QuestionVersion:
    version = session.get(QuestionVersion, version_id)
    if version is None:
        raise NotFound("question not found in the bank")
    return version
