"""Similarity between coding submissions: a signal for a person to review, never a verdict.

When an attempt's result is scored, each counted final submission (the code that earned its points) is
checked: its fingerprints (app/similarity/fingerprints.py) go into the organization's index for the task,
and the submissions that share the most of them are compared in full. Nothing compares every pair: the
index names the few worth comparing, so the work per submission does not grow with the pool.

What many candidates write alike is not evidence: a fingerprint that more than `common_cap(n)` of a task's
`n` submissions hold (2√n, at least 20) is an idiom of the pool, left out like the starter code. A copy
shares what is uncommon as well.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from app.accounts.principal import Principal
from app.audit.service import record
from app.core.db import upsert_insert
from app.core.errors import FieldError, NotFound, ValidationFailed
from app.events.service import record_event, subscribes
from app.grading.service import latest_final
from app.jobs.runtime import send_after_commit
from app.models import (
    Assessment,
    AssessmentItem,
    Attempt,
    CodeFingerprint,
    Event,
    FingerprintCount,
    Invitation,
    Organization,
    SimilarityCheck,
    SimilarityPair,
    Submission,
    utcnow,
)
from app.questions.kinds import ScoredBy, kind_of
from app.questions.kinds.coding import MAX_SOURCE_CHARS
from app.similarity.fingerprints import Comparison, Fingerprint, K, boilerplate_of, compare, fingerprint
from grader.tasks import TASKS

COMMON_FLOOR = 20
# Below this many characters of normalised code of their own (about three statements), a submission is not
# compared: the obvious answer to a short task is written alike by people who never met.
MIN_OWN_LENGTH = 3 * K
MIN_SHARED = 3  # fingerprints in common before two submissions are compared in full
CANDIDATES = 25  # the most-sharing submissions compared in full per check
KEEP_FROM = 0.3  # pairs in which neither shares this much are not kept


def common_cap(pool: int) -> int:
    """How many of a task's `pool` submissions may hold a fingerprint before it counts as an idiom."""
    return max(COMMON_FLOOR, math.ceil(2 * math.sqrt(pool)))


def _is_coding(item: AssessmentItem) -> bool:
    return kind_of(item.question_version.type).scored_by == ScoredBy.GRADER


@subscribes
def check_when_scored(session: Session, event: Event) -> None:
    """A scored attempt's counted code is checked once, in the background."""
    if event.type != "result.scored":
        return
    invitation = session.get(Invitation, event.payload["invitation_id"])
    if invitation is None or invitation.attempt is None:
        return
    for item in invitation.assessment.items:
        submission = latest_final(session, invitation.attempt.id, item.id) if _is_coding(item) else None
        if submission is None or not submission.source.strip() or _check_of(session, submission.id):
            continue
        check = SimilarityCheck(
            organization_id=invitation.organization_id,
            submission_id=submission.id,
            task_id=submission.task_id,
        )
        session.add(check)
        session.flush()
        send_after_commit(session, "check_similarity", check.id)


def _check_of(session: Session, submission_id: int) -> SimilarityCheck | None:
    return session.scalar(select(SimilarityCheck).where(SimilarityCheck.submission_id == submission_id))


# ------------------------------------------------------------------------------------------------ the check


def index(session: Session, check_id: int) -> bool:
    """Put the check's fingerprints in the index and count them, once: a second worker indexing the same
    check collides on the index's primary key and its transaction is rolled back. False if there is nothing
    to index (the check is gone or done)."""
    check = session.get(SimilarityCheck, check_id)
    if check is None or check.checked_at is not None:
        return False
    if session.scalar(select(CodeFingerprint.check_id).where(CodeFingerprint.check_id == check_id).limit(1)):
        return True
    hashes = sorted(_fingerprint_of(check).hashes)  # sorted: concurrent upserts lock counts in one order
    if not hashes:
        return True
    scope = {"organization_id": check.organization_id, "task_id": check.task_id}
    session.execute(
        upsert_insert(session)(CodeFingerprint), [{"check_id": check_id, "hash": h, **scope} for h in hashes]
    )
    if check.is_reference:
        return True  # a known solution is looked up, but what the pool writes is counted from the pool only
    counts = upsert_insert(session)(FingerprintCount.__table__)
    session.execute(
        counts.on_conflict_do_update(
            index_elements=["organization_id", "task_id", "hash"],
            set_={"count": FingerprintCount.__table__.c.count + 1},
        ),
        [{"hash": h, "count": 1, **scope} for h in hashes],
    )
    return True


def index_once(session: Session, check_id: int) -> bool:
    try:
        with session.begin_nested():
            return index(session, check_id)
    except IntegrityError:
        return True  # another worker indexed it meanwhile


def run_check(session: Session, check_id: int) -> SimilarityCheck | None:
    """Compare an indexed check with the submissions that share the most of its uncommon fingerprints,
    keep the pairs found alike, and flag whoever is over the organization's threshold."""
    check = session.get(SimilarityCheck, check_id)
    if check is None or check.checked_at is not None:
        return None
    whole = _fingerprint_of(check)
    common = _common_in(session, check, whole.hashes)
    own = whole.without(common)
    check.own_length = int(own.token_coverage)
    if check.own_length >= MIN_OWN_LENGTH:
        for other in _most_sharing(session, check, own.hashes):
            other_print = _fingerprint_of(other).without(common)
            if other_print.token_coverage < MIN_OWN_LENGTH:
                continue
            _keep(session, check, other, compare(own, other_print))
    check.checked_at = utcnow()
    session.flush()
    return check


def give_up(session: Session, check_id: int) -> None:
    """A check that raised is not tried again in a loop: it is marked checked with nothing measured, which the
    recruiter sees as "could not be checked"."""
    check = session.get(SimilarityCheck, check_id)
    if check is not None and check.checked_at is None:
        check.checked_at, check.own_length = utcnow(), None


def unfinished(session: Session, *, older_than: timedelta, limit: int = 200) -> list[int]:
    """Checks whose message may be lost (Redis restarted or was down) or whose worker died."""
    return list(
        session.scalars(
            select(SimilarityCheck.id)
            .where(SimilarityCheck.checked_at.is_(None), SimilarityCheck.created_at < utcnow() - older_than)
            .order_by(SimilarityCheck.id)
            .limit(limit)
        )
    )


def _fingerprint_of(check: SimilarityCheck) -> Fingerprint:
    """The check's code without the task's starter code."""
    task = TASKS.get(check.task_id)
    return fingerprint(check.source, boilerplate_of(task.starter) if task is not None else ())


def _scope(check: SimilarityCheck, model: type[CodeFingerprint] | type[FingerprintCount]) -> list:  # type: ignore[type-arg]
    return [model.organization_id == check.organization_id, model.task_id == check.task_id]


def _common_in(session: Session, check: SimilarityCheck, hashes: set[int]) -> set[int]:
    """Which of the check's fingerprints are idioms of its task's pool."""
    pool = session.scalar(
        select(func.count(SimilarityCheck.id)).where(
            SimilarityCheck.organization_id == check.organization_id,
            SimilarityCheck.task_id == check.task_id,
            SimilarityCheck.submission_id.is_not(None),
        )
    )
    cap = common_cap(pool or 0)
    return set(
        session.scalars(
            select(FingerprintCount.hash).where(
                *_scope(check, FingerprintCount),
                FingerprintCount.hash.in_(hashes),
                FingerprintCount.count > cap,
            )
        )
    )


def _most_sharing(session: Session, check: SimilarityCheck, hashes: set[int]) -> Sequence[SimilarityCheck]:
    if not hashes:
        return []
    shared = func.count(CodeFingerprint.hash)
    ranked = (
        select(CodeFingerprint.check_id)
        .where(
            *_scope(check, CodeFingerprint),
            CodeFingerprint.hash.in_(hashes),
            CodeFingerprint.check_id != check.id,
        )
        .group_by(CodeFingerprint.check_id)
        .having(shared >= MIN_SHARED)
        .order_by(shared.desc(), CodeFingerprint.check_id)
        .limit(CANDIDATES)
    )
    ids = list(session.scalars(ranked))
    found = session.scalars(
        select(SimilarityCheck)
        .where(SimilarityCheck.id.in_(ids))
        .options(selectinload(SimilarityCheck.submission))
    )
    return sorted(found, key=lambda c: ids.index(c.id))


def _keep(session: Session, check: SimilarityCheck, other: SimilarityCheck, found: Comparison) -> None:
    if max(found.first_share, found.second_share) < KEEP_FROM:
        return
    first, second = (check, other) if check.id < other.id else (other, check)
    first_share, second_share = (
        (found.first_share, found.second_share) if first is check else (found.second_share, found.first_share)
    )
    first_ranges, second_ranges = (
        (found.first_ranges, found.second_ranges)
        if first is check
        else (found.second_ranges, found.first_ranges)
    )
    values = {
        "organization_id": check.organization_id,
        "first_check_id": first.id,
        "second_check_id": second.id,
        "first_share": first_share,
        "second_share": second_share,
        "first_ranges": first_ranges,
        "second_ranges": second_ranges,
        "created_at": utcnow(),
    }
    statement = upsert_insert(session)(SimilarityPair.__table__).values(**values)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["first_check_id", "second_check_id"],
            set_={
                k: statement.excluded[k]
                for k in ("first_share", "second_share", "first_ranges", "second_ranges")
            },
        )
    )
    org = session.get(Organization, check.organization_id)
    assert org is not None
    threshold = org.similarity_threshold / 100
    for flagged, share, with_whom in ((first, first_share, second), (second, second_share, first)):
        if share >= threshold and not flagged.is_reference:
            _flag(session, flagged, share, with_whom)


def _flag(session: Session, check: SimilarityCheck, share: float, other: SimilarityCheck) -> None:
    """`result.flagged`, once per submission: its code is over the organization's threshold."""
    submission, other_submission = check.submission, other.submission
    assert submission is not None
    record_event(
        session,
        check.organization_id,
        "result.flagged",
        {
            "invitation_id": submission.attempt.invitation_id,
            "item_id": submission.item_id,
            "task_id": check.task_id,
            "similarity": round(share * 100),
            "other_invitation_id": other_submission.attempt.invitation_id if other_submission else None,
            "reference": other.reference_name,
        },
        once=f"result.flagged:{submission.id}",
    )


# ------------------------------------------------------------------------------------------------ reading


@dataclass(frozen=True)
class Match:
    """What one submission shares with another: `share` of its own code is found in `other`'s."""

    pair: SimilarityPair
    own: SimilarityCheck
    other: SimilarityCheck
    share: float
    other_share: float

    @property
    def other_invitation(self) -> Invitation | None:
        """The other candidate; None when the other is a reference (a known solution)."""
        if self.other.submission is None:
            return None
        invitation: Invitation = self.other.submission.attempt.invitation
        return invitation


@dataclass(frozen=True)
class ItemSimilarity:
    """One coding item of an attempt: where its check stands and its closest matches, most alike first."""

    item: AssessmentItem
    check: SimilarityCheck | None
    matches: list[Match]

    @property
    def status(self) -> str:
        if self.check is None or self.check.checked_at is None:
            return "pending"
        if self.check.own_length is None:
            return "failed"
        if self.check.own_length < MIN_OWN_LENGTH:
            return "too short"
        return "checked"

    @property
    def best(self) -> Match | None:
        return self.matches[0] if self.matches else None

    def flagged(self, threshold: float) -> bool:
        return self.best is not None and self.best.share >= threshold


def matches_of(session: Session, checks: Sequence[SimilarityCheck]) -> dict[int, list[Match]]:
    """Every kept pair of each check, most alike (by the check's own share) first."""
    ids = [c.id for c in checks]
    found: dict[int, list[Match]] = defaultdict(list)
    if not ids:
        return found
    pairs = session.scalars(
        select(SimilarityPair)
        .where((SimilarityPair.first_check_id.in_(ids)) | (SimilarityPair.second_check_id.in_(ids)))
        .options(selectinload(SimilarityPair.first), selectinload(SimilarityPair.second))
    )
    for pair in pairs:
        for own in (pair.first, pair.second):
            if own.id in ids:
                other = pair.other_than(own.id)
                found[own.id].append(Match(pair, own, other, pair.share_of(own.id), pair.share_of(other.id)))
    for matches in found.values():
        matches.sort(key=lambda m: (-m.share, m.other.id))
    return found


def checks_of_attempts(session: Session, attempt_ids: Sequence[int]) -> dict[int, SimilarityCheck]:
    """The checks of these attempts' submissions, by submission id."""
    if not attempt_ids:
        return {}
    rows = session.scalars(
        select(SimilarityCheck)
        .join(Submission, Submission.id == SimilarityCheck.submission_id)
        .where(Submission.attempt_id.in_(attempt_ids))
    )
    return {check.submission_id: check for check in rows if check.submission_id is not None}


def for_attempt(session: Session, attempt: Attempt) -> list[ItemSimilarity]:
    """Each coding item of the attempt, with its counted submission's check and matches."""
    checks = checks_of_attempts(session, [attempt.id])
    matches = matches_of(session, list(checks.values()))
    found = []
    for item in attempt.invitation.assessment.items:
        if not _is_coding(item):
            continue
        submission = latest_final(session, attempt.id, item.id)
        check = checks.get(submission.id) if submission is not None else None
        found.append(ItemSimilarity(item, check, matches.get(check.id, []) if check else []))
    return found


@dataclass(frozen=True)
class Summary:
    """Where an assessment's checks stand."""

    checked: int
    pending: int
    too_short: int
    failed: int


def summary(session: Session, assessment: Assessment) -> Summary:
    checks = list(checks_of_attempts(session, _attempt_ids(session, assessment)).values())
    done = [c for c in checks if c.checked_at is not None]
    return Summary(
        checked=sum(1 for c in done if c.own_length is not None and c.own_length >= MIN_OWN_LENGTH),
        pending=len(checks) - len(done),
        too_short=sum(1 for c in done if c.own_length is not None and c.own_length < MIN_OWN_LENGTH),
        failed=sum(1 for c in done if c.own_length is None),
    )


def _attempt_ids(session: Session, assessment: Assessment) -> list[int]:
    return list(
        session.scalars(
            select(Attempt.id)
            .join(Invitation, Invitation.id == Attempt.invitation_id)
            .where(Invitation.assessment_id == assessment.id)
        )
    )


def pair_in(session: Session, org: Organization, pair_id: int) -> SimilarityPair | None:
    pair = session.get(SimilarityPair, pair_id)
    return pair if pair is not None and pair.organization_id == org.id else None


@dataclass(frozen=True)
class Cluster:
    """Submissions to one task linked by pairs at or over the threshold (each alike with at least one
    other in the group), with the pairs that link them."""

    task_id: str
    checks: list[SimilarityCheck]
    pairs: list[SimilarityPair]


def clusters(session: Session, org: Organization, assessment: Assessment) -> list[Cluster]:
    """Groups of this assessment's submissions alike at or over the organization's threshold, with whom
    they are alike (possibly a candidate of another assessment), largest group first."""
    ours = checks_of_attempts(session, _attempt_ids(session, assessment))
    threshold = org.similarity_threshold / 100
    linked = [
        m.pair
        for matches in matches_of(session, list(ours.values())).values()
        for m in matches
        if max(m.share, m.other_share) >= threshold
    ]
    groups: dict[int, set[int]] = {}
    by_id: dict[int, SimilarityCheck] = {}
    pairs_by_id = {pair.id: pair for pair in linked}
    for pair in pairs_by_id.values():
        by_id[pair.first.id], by_id[pair.second.id] = pair.first, pair.second
        merged = groups.get(pair.first.id, {pair.first.id}) | groups.get(pair.second.id, {pair.second.id})
        for member in merged:
            groups[member] = merged
    found = []
    for members in {id(g): g for g in groups.values()}.values():
        pairs = [p for p in pairs_by_id.values() if p.first.id in members]
        checks = sorted((by_id[m] for m in members), key=lambda c: c.id)
        found.append(Cluster(checks[0].task_id, checks, pairs))
    return sorted(found, key=lambda c: (-len(c.checks), c.checks[0].id))


# ------------------------------------------------------------------------------------------------ erasure


def forget(session: Session, submission_ids: Sequence[int]) -> None:
    """Erasing a candidate: their checks, fingerprints and pairs go, and the pool's counts no longer hold
    them."""
    _drop(
        session,
        list(
            session.scalars(select(SimilarityCheck).where(SimilarityCheck.submission_id.in_(submission_ids)))
        ),
    )


def _drop(session: Session, checks: Sequence[SimilarityCheck]) -> None:
    if not checks:
        return
    ids = [c.id for c in checks]
    for check in checks:
        if check.is_reference:
            continue  # never counted
        held = select(CodeFingerprint.hash).where(CodeFingerprint.check_id == check.id)
        session.execute(
            update(FingerprintCount)
            .where(*_scope(check, FingerprintCount), FingerprintCount.hash.in_(held))
            .values(count=FingerprintCount.count - 1)
            .execution_options(synchronize_session=False)
        )
    session.execute(
        delete(SimilarityPair).where(
            SimilarityPair.first_check_id.in_(ids) | SimilarityPair.second_check_id.in_(ids)
        )
    )
    session.execute(delete(CodeFingerprint).where(CodeFingerprint.check_id.in_(ids)))
    session.execute(delete(SimilarityCheck).where(SimilarityCheck.id.in_(ids)))
    session.execute(delete(FingerprintCount).where(FingerprintCount.count <= 0))


# ------------------------------------------------------------------------------------------------ references

MAX_REFERENCE_NAME = 200


def references(session: Session, org: Organization) -> list[SimilarityCheck]:
    return list(
        session.scalars(
            select(SimilarityCheck)
            .where(SimilarityCheck.organization_id == org.id, SimilarityCheck.submission_id.is_(None))
            .order_by(SimilarityCheck.task_id, SimilarityCheck.id)
        )
    )


def add_reference(
    session: Session, actor: Principal, task_id: str, name: str, source: str
) -> SimilarityCheck:
    """A known solution (a public repository's, last year's answer key) every submission to the task is also
    compared with, from now on and for those already in; audited."""
    name = name.strip()
    errors = []
    if task_id not in TASKS:
        errors.append(FieldError("task_id", "choose one of the tasks"))
    if not name or len(name) > MAX_REFERENCE_NAME:
        errors.append(FieldError("name", f"say where it comes from, in 1 to {MAX_REFERENCE_NAME} characters"))
    if not source.strip():
        errors.append(FieldError("source", "paste the code or choose a .py file"))
    elif len(source) > MAX_SOURCE_CHARS:
        errors.append(FieldError("source", f"at most {MAX_SOURCE_CHARS:,} characters"))
    if errors:
        raise ValidationFailed("The known solution could not be added.", errors=errors)
    check = SimilarityCheck(
        organization_id=actor.organization.id, task_id=task_id, reference_name=name, reference_source=source
    )
    session.add(check)
    session.flush()
    record(session, actor, "similarity.reference_added", check, name=name, task_id=task_id)
    send_after_commit(session, "check_similarity", check.id)
    return check


def remove_reference(session: Session, actor: Principal, check_id: int) -> None:
    check = session.get(SimilarityCheck, check_id)
    if check is None or check.organization_id != actor.organization.id or not check.is_reference:
        raise NotFound("No such known solution.")
    record(session, actor, "similarity.reference_removed", check, name=check.reference_name)
    _drop(session, [check])
