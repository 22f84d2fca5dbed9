"""Building assessments from bank question versions, and their lifecycle."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, get_args

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, selectinload

from app.accounts.principal import Actor, acting_user
from app.audit.service import record
from app.core.db import claim
from app.core.errors import Conflict, NotFound, ValidationFailed
from app.core.errors import FieldError as FE
from app.core.tenancy import get_owned
from app.events.service import record_event
from app.models import (
    Assessment,
    AssessmentItem,
    AssessmentSection,
    AssessmentStatus,
    Organization,
    QuestionType,
    QuestionVersion,
    User,
    utcnow,
)
from app.questions.service import current_versions, get_version
from app.questions.spec import JobRole, Topic

MIN_MINUTES, MAX_MINUTES = 5, 480
MAX_ITEM_POINTS = 100
TOPICS: tuple[str, ...] = get_args(Topic)
ROLES: dict[str, str] = {
    "data-scientist": "Data scientist",
    "ai-engineer": "AI engineer",
    "deep-learning-engineer": "Deep learning engineer",
    "ml-engineer": "ML engineer",
    "research-scientist": "Research scientist",
}
assert set(ROLES) == set(get_args(JobRole)), "every job role of the bank format needs a display name"

SECTION_TITLES = {
    QuestionType.MCQ_SINGLE: "Concepts",
    QuestionType.MCQ_MULTI: "Concepts",
    QuestionType.NUMERIC: "Calculations",
    QuestionType.WRITTEN: "Written answers",
    QuestionType.CODING: "Coding",
}


def list_assessments(session: Session, org: Organization) -> list[Assessment]:
    return list(
        session.scalars(
            select(Assessment)
            .where(Assessment.organization_id == org.id)
            .options(selectinload(Assessment.items))
            .order_by(Assessment.created_at.desc(), Assessment.id.desc())
        )
    )


def version_lines(assessments: list[Assessment]) -> list[list[Assessment]]:
    """The assessments grouped by lineage (each new version points at the one it replaced), the newest
    version first in each group, the groups in the order of their newest version."""
    by_id = {a.id: a for a in assessments}

    def root(assessment: Assessment) -> int:
        seen = set()
        while assessment.previous_version_id in by_id and assessment.id not in seen:
            seen.add(assessment.id)
            assessment = by_id[assessment.previous_version_id]
        return assessment.id

    lines: dict[int, list[Assessment]] = {}
    for assessment in assessments:
        lines.setdefault(root(assessment), []).append(assessment)
    groups = [sorted(line, key=lambda a: a.version, reverse=True) for line in lines.values()]
    return sorted(groups, key=lambda line: (line[0].created_at, line[0].id), reverse=True)


def assessments_stmt(org: Organization, *, status: AssessmentStatus | None = None) -> Select[Assessment]:
    """The organization's assessments (in one state), for a page of the API to take from."""
    stmt = (
        select(Assessment).where(Assessment.organization_id == org.id).options(selectinload(Assessment.items))
    )
    return stmt if status is None else stmt.where(Assessment.status == status)


def get_assessment(session: Session, org: Organization, assessment_id: int) -> Assessment:
    return get_owned(
        session,
        Assessment,
        org,
        assessment_id,
        selectinload(Assessment.items).selectinload(AssessmentItem.question_version),
        selectinload(Assessment.sections),
    )


def create_assessment(
    session: Session,
    actor: Actor,
    *,
    title: str,
    duration_minutes: int,
    question_version_ids: Sequence[int],
    description: str = "",
    role: str = "",
) -> Assessment:
    """A draft with one section per kind of question (concepts, calculations, written, coding), in the order
    given; with no questions, an empty draft to fill from the bank."""
    assessment = _new_draft(
        session,
        actor,
        title=title,
        duration_minutes=duration_minutes,
        question_version_ids=question_version_ids,
        description=description,
        role=role,
    )
    record(session, actor, "assessment.created", assessment, title=assessment.title)
    return assessment


def _new_draft(
    session: Session,
    actor: Actor,
    *,
    title: str,
    duration_minutes: int,
    question_version_ids: Sequence[int],
    description: str,
    role: str,
) -> Assessment:
    title = title.strip()
    problems = _settings_problems(
        AssessmentSettings(title=title, duration_minutes=duration_minutes, role=role, description=description)
    )
    unique_ids = list(dict.fromkeys(question_version_ids))
    versions = {
        v.id: v for v in session.scalars(select(QuestionVersion).where(QuestionVersion.id.in_(unique_ids)))
    }
    missing = [i for i in unique_ids if i not in versions]
    if missing:
        problems.append(FE("question_version_ids", f"unknown question versions: {missing}"))
    if problems:
        raise ValidationFailed("The assessment could not be created.", errors=problems)

    created_by = acting_user(actor)
    assessment = Assessment(
        organization_id=actor.organization.id,
        title=title,
        description=description.strip(),
        duration_minutes=duration_minutes,
        role=role,
        created_by_id=created_by.id if created_by else None,
    )
    session.add(assessment)
    ordered = sorted((versions[i] for i in unique_ids), key=lambda v: list(SECTION_TITLES).index(v.type))
    sections: dict[str, AssessmentSection] = {}
    for position, version in enumerate(ordered):
        section_title = SECTION_TITLES[version.type]
        if section_title not in sections:
            sections[section_title] = AssessmentSection(
                assessment=assessment, position=len(sections), title=section_title
            )
        assessment.items.append(
            AssessmentItem(
                position=position,
                points=version.points,
                question_version=version,
                section=sections[section_title],
            )
        )
    session.flush()
    return assessment


def edit_draft(
    session: Session,
    actor: Actor,
    assessment: Assessment,
    action: str,
    change: Callable[[Session, Assessment], object],
    **detail: Any,
) -> None:
    """One change to a draft's sections or questions (the functions below), audited as `action`."""
    change(session, assessment)
    record(session, actor, action, assessment, **detail)


def _ensure_draft(assessment: Assessment) -> None:
    if assessment.status != AssessmentStatus.DRAFT:
        raise Conflict(
            f"This assessment is {assessment.status.value}, so its questions are frozen. "
            "Make a new version to change it."
        )


def _renumber(session: Session, rows: Sequence[AssessmentItem | AssessmentSection]) -> None:
    """Positions 0..n-1 in the given order. Two passes, because (assessment, position) is unique and the
    database checks it row by row: first out of the way, then into place."""
    for offset, row in enumerate(rows):
        row.position = POSITION_PARKING + offset
    session.flush()
    for position, row in enumerate(rows):
        row.position = position
    session.flush()


POSITION_PARKING = 100_000
# Where a new or moved row waits until the renumbering: after every row, and clear of the parking range.
POSITION_LAST = 2 * POSITION_PARKING


def _ordered_items(assessment: Assessment) -> list[AssessmentItem]:
    """Items grouped by section in section order, keeping their order inside a section."""
    section_rank = {s.id: s.position for s in assessment.sections}
    return sorted(assessment.items, key=lambda i: (section_rank.get(i.section_id or -1, -1), i.position))


def _reorder(
    session: Session, assessment: Assessment, sections: Sequence[AssessmentSection] | None = None
) -> None:
    """Renumber sections (in the order given, else their current order) and the items to follow them."""
    _renumber(session, sections or sorted(assessment.sections, key=lambda s: s.position))
    _renumber(session, _ordered_items(assessment))
    session.expire(assessment, ["items", "sections"])


@dataclass(frozen=True)
class AssessmentSettings:
    title: str
    duration_minutes: int
    description: str = ""
    role: str = ""
    pass_mark_pct: float | None = None
    show_score_to_candidate: bool = False
    shuffle_items: bool = False
    shuffle_options: bool = True
    sample_run_diagnoses: bool = False


def settings_of(assessment: Assessment) -> AssessmentSettings:
    return AssessmentSettings(
        title=assessment.title,
        duration_minutes=assessment.duration_minutes,
        description=assessment.description,
        role=assessment.role,
        pass_mark_pct=assessment.pass_mark_pct,
        show_score_to_candidate=assessment.show_score_to_candidate,
        shuffle_items=assessment.shuffle_items,
        shuffle_options=assessment.shuffle_options,
        sample_run_diagnoses=assessment.sample_run_diagnoses,
    )


def update_settings(
    session: Session, actor: Actor, assessment: Assessment, settings: AssessmentSettings
) -> Assessment:
    _ensure_draft(assessment)
    problems = _settings_problems(settings)
    if problems:
        raise ValidationFailed("The settings were not saved.", errors=problems)
    before = dataclasses.asdict(settings_of(assessment))
    changed = sorted(k for k, v in dataclasses.asdict(settings).items() if before[k] != v)
    assessment.title = settings.title.strip()
    assessment.description = settings.description.strip()
    assessment.role = settings.role
    assessment.duration_minutes = settings.duration_minutes
    assessment.pass_mark_pct = settings.pass_mark_pct
    assessment.show_score_to_candidate = settings.show_score_to_candidate
    assessment.shuffle_items = settings.shuffle_items
    assessment.shuffle_options = settings.shuffle_options
    assessment.sample_run_diagnoses = settings.sample_run_diagnoses
    record(session, actor, "assessment.settings_changed", assessment, fields=changed)
    session.flush()
    return assessment


def _settings_problems(settings: AssessmentSettings) -> list[FE]:
    problems = []
    if not settings.title.strip():
        problems.append(FE("title", "give the assessment a title"))
    if not MIN_MINUTES <= settings.duration_minutes <= MAX_MINUTES:
        problems.append(
            FE("duration_minutes", f"duration must be between {MIN_MINUTES} and {MAX_MINUTES} minutes")
        )
    if settings.pass_mark_pct is not None and not 0 <= settings.pass_mark_pct <= 100:
        problems.append(FE("pass_mark_pct", "the pass mark is a percentage between 0 and 100"))
    if settings.role and settings.role not in ROLES:
        problems.append(FE("role", f"choose one of: {', '.join(ROLES)}"))
    return problems


def _section_of(assessment: Assessment, section_id: int) -> AssessmentSection:
    section = next((s for s in assessment.sections if s.id == section_id), None)
    if section is None:
        raise NotFound("section not found in this assessment")
    return section


def _item_of(assessment: Assessment, item_id: int) -> AssessmentItem:
    item = next((i for i in assessment.items if i.id == item_id), None)
    if item is None:
        raise NotFound("question not found in this assessment")
    return item


def add_section(session: Session, assessment: Assessment, title: str) -> AssessmentSection:
    _ensure_draft(assessment)
    section = AssessmentSection(assessment=assessment, position=POSITION_LAST, title=_section_title(title))
    session.add(section)
    session.flush()
    _reorder(session, assessment)
    return section


def rename_section(session: Session, assessment: Assessment, section_id: int, title: str) -> None:
    _ensure_draft(assessment)
    _section_of(assessment, section_id).title = _section_title(title)
    session.flush()


def _section_title(title: str) -> str:
    if not title.strip():
        raise ValidationFailed("The section needs a title.", errors=[FE("title", "required")])
    return title.strip()[:200]


def remove_section(session: Session, assessment: Assessment, section_id: int) -> int:
    """Removes the section with its questions; returns how many questions went with it."""
    _ensure_draft(assessment)
    section = _section_of(assessment, section_id)
    doomed = [i for i in assessment.items if i.section_id == section.id]
    for item in doomed:
        assessment.items.remove(item)
    assessment.sections.remove(section)
    session.flush()
    _reorder(session, assessment)
    return len(doomed)


def move_section(session: Session, assessment: Assessment, section_id: int, step: int) -> None:
    _ensure_draft(assessment)
    sections = sorted(assessment.sections, key=lambda s: s.position)
    index = sections.index(_section_of(assessment, section_id))
    target = min(max(index + step, 0), len(sections) - 1)
    sections.insert(target, sections.pop(index))
    _reorder(session, assessment, sections)


def add_item(
    session: Session, assessment: Assessment, question_version_id: int, section_id: int | None = None
) -> AssessmentItem:
    """Add a bank question at the end of a section (by default the one its kind belongs in)."""
    _ensure_draft(assessment)
    version = get_version(session, question_version_id)
    taken = {i.question_version.question_id for i in assessment.items}
    if version.question_id in taken:
        raise Conflict(f"“{version.title}” is already in this assessment.")
    if section_id is not None:
        section = _section_of(assessment, section_id)
    else:
        title = SECTION_TITLES[version.type]
        section = next((s for s in assessment.sections if s.title == title), None) or add_section(
            session, assessment, title
        )
    item = AssessmentItem(
        assessment=assessment,
        position=POSITION_LAST,
        points=version.points,
        question_version=version,
        section=section,
    )
    session.add(item)
    session.flush()
    _reorder(session, assessment)
    return item


def remove_item(session: Session, assessment: Assessment, item_id: int) -> None:
    _ensure_draft(assessment)
    assessment.items.remove(_item_of(assessment, item_id))
    session.flush()
    _reorder(session, assessment)


def move_item(session: Session, assessment: Assessment, item_id: int, step: int) -> None:
    """One place up (step -1) or down (+1) within its section."""
    _ensure_draft(assessment)
    item = _item_of(assessment, item_id)
    siblings = [i for i in _ordered_items(assessment) if i.section_id == item.section_id]
    index = siblings.index(item)
    target = min(max(index + step, 0), len(siblings) - 1)
    if target == index:
        return
    ordered = _ordered_items(assessment)
    a, b = ordered.index(item), ordered.index(siblings[target])
    ordered[a], ordered[b] = ordered[b], ordered[a]
    _renumber(session, ordered)
    session.expire(assessment, ["items"])


def set_item_section(session: Session, assessment: Assessment, item_id: int, section_id: int) -> None:
    _ensure_draft(assessment)
    item = _item_of(assessment, item_id)
    item.section = _section_of(assessment, section_id)
    item.position = POSITION_LAST  # to the end of its new section
    session.flush()
    _reorder(session, assessment)


def place_item(session: Session, assessment: Assessment, item_id: int, section_id: int, index: int) -> None:
    """Put a question at `index` among the questions of a section (where it was dropped in the builder);
    an index past the end puts it last."""
    _ensure_draft(assessment)
    item = _item_of(assessment, item_id)
    section = _section_of(assessment, section_id)
    if index < 0:
        raise ValidationFailed(
            "A question's place cannot be negative.", errors=[FE("index", "must be 0 or more")]
        )
    ordered = [i for i in _ordered_items(assessment) if i is not item]
    siblings = [i for i in ordered if i.section_id == section.id]
    if index < len(siblings):
        at = ordered.index(siblings[index])
    elif siblings:
        at = ordered.index(siblings[-1]) + 1
    else:  # an empty section: after the sections before it
        before = {s.id for s in assessment.sections if s.position < section.position}
        at = sum(1 for i in ordered if i.section_id in before)
    item.section = section
    ordered.insert(at, item)
    _renumber(session, ordered)
    session.expire(assessment, ["items"])


def set_points(session: Session, assessment: Assessment, item_id: int, points: float) -> None:
    _ensure_draft(assessment)
    if not 0 < points <= MAX_ITEM_POINTS:
        raise ValidationFailed(
            "Points are out of range.",
            errors=[FE(f"points.{item_id}", f"points must be more than 0 and at most {MAX_ITEM_POINTS}")],
        )
    _item_of(assessment, item_id).points = points
    session.flush()


def publish_assessment(session: Session, actor: Actor, assessment: Assessment) -> Assessment:
    """Freeze the draft. Publishing a new version archives the version it replaces: links already sent for
    it keep working, new invitations use this one."""
    if assessment.status != AssessmentStatus.DRAFT:
        raise Conflict(f"only a draft can be published; this assessment is {assessment.status.value}")
    if not assessment.items:
        raise Conflict("add at least one question before publishing")
    now = utcnow()
    draft = Assessment.status == AssessmentStatus.DRAFT
    if not claim(session, assessment, draft, status=AssessmentStatus.PUBLISHED, published_at=now):
        raise Conflict(f"only a draft can be published; this assessment is {assessment.status.value}")
    previous = (
        session.get(Assessment, assessment.previous_version_id) if assessment.previous_version_id else None
    )
    published = Assessment.status == AssessmentStatus.PUBLISHED
    if previous is not None and claim(
        session, previous, published, status=AssessmentStatus.ARCHIVED, archived_at=now
    ):
        archived = f"assessment.archived:{previous.id}"
        _announce(session, previous, "assessment.archived", once=archived, replaced_by=assessment.id)
    _announce(session, assessment, "assessment.published", once=f"assessment.published:{assessment.id}")
    record(session, actor, "assessment.published", assessment, version=assessment.version)
    session.flush()
    return assessment


def _announce(
    session: Session, assessment: Assessment, event_type: str, *, once: str | None = None, **extra: Any
) -> None:
    record_event(
        session,
        assessment.organization_id,
        event_type,
        {"assessment_id": assessment.id, "version": assessment.version, **extra},
        once=once,
    )


def archive_assessment(session: Session, actor: Actor, assessment: Assessment) -> Assessment:
    if assessment.status != AssessmentStatus.PUBLISHED:
        raise Conflict(f"only a published assessment can be archived; this one is {assessment.status.value}")
    if not claim(
        session,
        assessment,
        Assessment.status == AssessmentStatus.PUBLISHED,
        status=AssessmentStatus.ARCHIVED,
        archived_at=utcnow(),
    ):
        raise Conflict(f"only a published assessment can be archived; this one is {assessment.status.value}")
    _announce(session, assessment, "assessment.archived", once=f"assessment.archived:{assessment.id}")
    record(session, actor, "assessment.archived", assessment)
    session.flush()
    return assessment


def _copy(session: Session, source: Assessment, *, title: str, created_by: User | None) -> Assessment:
    copy = Assessment(
        organization_id=source.organization_id,
        title=title,
        description=source.description,
        role=source.role,
        duration_minutes=source.duration_minutes,
        pass_mark_pct=source.pass_mark_pct,
        show_score_to_candidate=source.show_score_to_candidate,
        shuffle_items=source.shuffle_items,
        shuffle_options=source.shuffle_options,
        sample_run_diagnoses=source.sample_run_diagnoses,
        created_by_id=created_by.id if created_by else None,
    )
    session.add(copy)
    sections = {
        s.id: AssessmentSection(assessment=copy, position=s.position, title=s.title) for s in source.sections
    }
    # Added here, not by the backref (SQLAlchemy 2 does not cascade along it): the items loaded below
    # autoflush, and a section not yet in the session would be left out of that flush.
    session.add_all(sections.values())
    for item in source.items:
        copy.items.append(
            AssessmentItem(
                position=item.position,
                points=item.points,
                question_version_id=item.question_version_id,
                section=sections.get(item.section_id) if item.section_id else None,
            )
        )
    session.flush()
    return copy


def new_version(session: Session, actor: Actor, assessment: Assessment) -> Assessment:
    """A draft copy of a published assessment to edit; the published one is untouched until it replaces it."""
    if assessment.status == AssessmentStatus.DRAFT:
        raise Conflict("a draft can be edited directly")
    newer = session.scalar(select(Assessment.id).where(Assessment.previous_version_id == assessment.id))
    if newer is not None:
        raise Conflict(f"version {assessment.version + 1} of this assessment already exists (#{newer})")
    draft = _copy(session, assessment, title=assessment.title, created_by=acting_user(actor))
    draft.version = assessment.version + 1
    draft.previous_version_id = assessment.id
    session.flush()
    record(session, actor, "assessment.new_version", draft, previous=assessment.id, version=draft.version)
    return draft


def duplicate_assessment(session: Session, actor: Actor, assessment: Assessment) -> Assessment:
    title = f"Copy of {assessment.title}"[:200]
    copy = _copy(session, assessment, title=title, created_by=acting_user(actor))
    record(session, actor, "assessment.duplicated", copy, source=assessment.id)
    return copy


def version_history(session: Session, assessment: Assessment) -> list[Assessment]:
    """Every version of this assessment, oldest first."""
    chain = [assessment]
    while chain[0].previous_version_id is not None:
        previous = session.get(Assessment, chain[0].previous_version_id)
        if previous is None or previous.organization_id != assessment.organization_id:
            break
        chain.insert(0, previous)
    while True:
        newer = session.scalar(select(Assessment).where(Assessment.previous_version_id == chain[-1].id))
        if newer is None:
            return chain
        chain.append(newer)


@dataclass(frozen=True)
class Summary:
    """What the builder shows beside the questions: does this fit the time, and what does it cover?"""

    questions: int
    points: float
    estimated_minutes: float
    duration_minutes: int
    topics: dict[str, int]
    uncovered_topics: list[str]
    difficulty: dict[int, int]
    types: dict[str, int]

    @property
    def over_time(self) -> bool:
        return self.estimated_minutes > self.duration_minutes


def summarize(assessment: Assessment) -> Summary:
    versions = [i.question_version for i in assessment.items]
    return Summary(
        questions=len(versions),
        points=assessment.max_points,
        estimated_minutes=round(sum(v.time_estimate_s for v in versions) / 60, 1),
        duration_minutes=assessment.duration_minutes,
        topics=dict(Counter(v.topic for v in versions)),
        uncovered_topics=[t for t in TOPICS if t not in {v.topic for v in versions}],
        difficulty=dict(sorted(Counter(v.difficulty for v in versions).items())),
        types=dict(Counter(v.type.value for v in versions)),
    )


@dataclass(frozen=True)
class DifficultyMix:
    """Shares of easy, medium and hard questions, in percent."""

    easy: int = 30
    medium: int = 50
    hard: int = 20

    def shares(self) -> dict[int, float]:
        total = self.easy + self.medium + self.hard
        return {1: self.easy / total, 2: self.medium / total, 3: self.hard / total}

    @property
    def target_difficulty(self) -> int:
        return round(sum(level * share for level, share in self.shares().items()))


COMPOSE_MIN_MINUTES = 25
SHORT_TYPES = (QuestionType.MCQ_SINGLE, QuestionType.MCQ_MULTI, QuestionType.NUMERIC)


def compose(
    session: Session, actor: Actor, *, role: str, duration_minutes: int, mix: DifficultyMix
) -> Assessment:
    """A balanced draft for `role`: one coding task, one written answer, then concept and calculation
    questions spread over the topics and the difficulty mix until the time is used. Deterministic, so the
    same request proposes the same draft; the recruiter edits it from there."""
    problems = []
    if role not in ROLES:
        problems.append(FE("role", f"choose one of: {', '.join(ROLES)}"))
    if not COMPOSE_MIN_MINUTES <= duration_minutes <= MAX_MINUTES:
        problems.append(
            FE(
                "duration_minutes",
                f"between {COMPOSE_MIN_MINUTES} and {MAX_MINUTES} minutes (a coding task alone takes 15)",
            )
        )
    if min(mix.easy, mix.medium, mix.hard) < 0 or mix.easy + mix.medium + mix.hard == 0:
        problems.append(FE("mix", "give each difficulty a share of 0 or more, not all 0"))
    if problems:
        raise ValidationFailed("Nothing was composed.", errors=problems)

    pool = [v for v in current_versions(session) if role in v.roles]
    budget = duration_minutes * 60
    chosen: list[QuestionVersion] = []

    def closest(candidates: list[QuestionVersion], difficulty: int) -> QuestionVersion | None:
        fitting = [
            v for v in candidates if v.time_estimate_s <= budget - sum(c.time_estimate_s for c in chosen)
        ]
        return min(fitting, key=lambda v: (abs(v.difficulty - difficulty), v.time_estimate_s), default=None)

    coding = closest(
        [v for v in pool if v.type == QuestionType.CODING and v.time_estimate_s <= budget // 2],
        mix.target_difficulty,
    )
    if coding is not None:
        chosen.append(coding)
    written = closest(
        [
            v
            for v in pool
            if v.type == QuestionType.WRITTEN
            and v.topic not in {c.topic for c in chosen}
            and v.time_estimate_s <= budget // 4
        ],
        mix.target_difficulty,
    )
    if written is not None:
        chosen.append(written)

    shares = mix.shares()
    short = [
        v for v in pool if v.type in (QuestionType.MCQ_SINGLE, QuestionType.MCQ_MULTI, QuestionType.NUMERIC)
    ]
    while True:
        remaining = budget - sum(c.time_estimate_s for c in chosen)
        left = [v for v in short if v not in chosen and v.time_estimate_s <= remaining]
        if not left:
            break
        fills = [c for c in chosen if c in short]
        counts = Counter(c.difficulty for c in fills)
        wanted = max(shares, key=lambda d: (shares[d] * (len(fills) + 1) - counts[d], -d))
        covered = Counter(c.topic for c in chosen)
        # Every fourth short question is a calculation, when one fits.
        want_numeric = len(fills) % 4 == 3
        pick = min(
            left,
            key=lambda v: (
                v.difficulty != wanted,
                covered[v.topic],
                (v.type == QuestionType.NUMERIC) != want_numeric,
                abs(v.difficulty - wanted),
                v.id,
            ),
        )
        chosen.append(pick)
    if not chosen:
        raise ValidationFailed(
            "No bank question fits this role and duration.", errors=[FE("role", "no questions for this role")]
        )
    assessment = _new_draft(
        session,
        actor,
        title=f"{ROLES[role]} screen ({duration_minutes} min)",
        duration_minutes=duration_minutes,
        question_version_ids=[v.id for v in chosen],
        description="",
        role=role,
    )
    record(session, actor, "assessment.composed", assessment, role=role, minutes=duration_minutes)
    return assessment
