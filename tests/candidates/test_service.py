"""A candidate's data on request: the export holds all of it (and nothing hidden), the erasure leaves none of
it anywhere in the database while every statistic stays the same."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.principal import Principal
from app.api.service import create_api_key
from app.assessments.service import create_assessment, publish_assessment
from app.attempts.service import close_attempt, save_answer, start_attempt
from app.audit.service import record
from app.candidates import service as candidates
from app.core.errors import Conflict, NotFound
from app.invitations.service import create_invitation, email_invitation, invitation_for_token
from app.models import (
    Assessment,
    Base,
    CloseReason,
    IdempotencyKey,
    Invitation,
    InvitationStatus,
    Organization,
    PartnerCallback,
    QuestionType,
    Role,
    StoredGrade,
    Submission,
    User,
    utcnow,
)
from app.questions.service import current_versions, spec_of
from app.results.service import score_written_answer
from app.results.statistics import item_statistics
from app.results.table import results_table
from tests import factories

GRACE = timedelta(seconds=30)
# Every one of these is something the person is or wrote, or something written about them.
MARKERS = {
    "email": "zebulon.q@example.com",
    "first name": "Zebulon",
    "last name": "Quixotic",
    "written answer": "MARKER-final-essay",
    "earlier draft": "MARKER-first-draft",
    "code": "MARKER-in-the-code",
    "what the code raised": "MARKER-raised-by-code",
    "recruiter's comment": "MARKER-recruiter-comment",
    "ATS reference": "MARKER-ats-ref",
    "ATS callback": "MARKER-callback",
}
CODE = (
    "import numpy as np\n"
    "def batchnorm_forward_train(x, gamma, beta, eps=1e-5):\n"
    "    # MARKER-in-the-code\n"
    "    raise ValueError('MARKER-raised-by-code')\n"
)


def everything_stored(session: Session) -> str:
    """Every row of every table, as text."""
    session.flush()
    return "\n".join(
        repr(tuple(row)) for table in Base.metadata.sorted_tables for row in session.execute(select(table))
    )


@dataclass
class Scene:
    org: Organization
    owner: User
    assessment: Assessment
    invitation: Invitation
    unused: Invitation
    unused_token: str
    token: str


def _assessment(session: Session, org: Organization) -> Assessment:
    mcq = current_versions(session, types=[QuestionType.MCQ_SINGLE])[0]
    written = current_versions(session, types=[QuestionType.WRITTEN])[0]
    coding = next(
        v
        for v in current_versions(session, types=[QuestionType.CODING])
        if v.spec["task"] == "bn-forward-train"
    )
    ids = [mcq.id, written.id, coding.id]
    actor = factories.operator(session, org)
    draft = create_assessment(session, actor, title="Screen", duration_minutes=30, question_version_ids=ids)
    return publish_assessment(session, actor, draft)


def _answers(assessment: Assessment, choice: int, text: str) -> dict[int, dict[str, str]]:
    mcq, written, _ = assessment.items
    options = [o.id for o in spec_of(mcq.question_version).options]  # type: ignore[union-attr]
    return {mcq.id: {"choice": options[choice]}, written.id: {"text": text}}


@pytest.fixture
def scene(session: Session, run_jobs: Callable[[], int]) -> Scene:
    """Zebulon finished an assessment (choice, essay with an earlier draft, graded code, a recruiter's
    comment), was emailed, came from an ATS, and has a second link not used yet; two others finished too."""
    owner, org = factories.owner(session)
    principal = Principal(owner, org, Role.OWNER, session_id=0)
    assessment = _assessment(session, org)
    _, written, coding = assessment.items
    for n, email in enumerate(("first@example.com", "second@example.com")):
        factories.finished_attempt(session, org, assessment, email, _answers(assessment, n, "Other text."))
    issued = create_invitation(
        session,
        org,
        assessment,
        email=MARKERS["email"],
        first_name=MARKERS["first name"],
        last_name=MARKERS["last name"],
        ttl=timedelta(days=3),
        secret_key=factories.SECRET_KEY,
        external_ref=MARKERS["ATS reference"],
    )
    invitation = issued.invitation
    email_invitation(session, invitation, issued.link("http://assay.test"))
    record(session, principal, "invitation.created", invitation, email=MARKERS["email"])
    session.add(
        PartnerCallback(
            organization_id=org.id,
            invitation_id=invitation.id,
            partner="greenhouse",
            url=f"https://app.greenhouse.io/{MARKERS['ATS callback']}",
        )
    )
    api_key, _ = create_api_key(
        session, factories.operator(session, org), name="ATS", scopes="invitations:write"
    )
    session.add(
        IdempotencyKey(
            api_key_id=api_key.id,
            key="retry-1",
            request_hash="0" * 64,
            response_status=201,
            response_body=json.dumps({"candidate": {"email": MARKERS["email"]}}),
            expires_at=utcnow() + timedelta(days=1),
        )
    )
    attempt = start_attempt(session, invitation)
    save_answer(session, attempt, written.id, {"text": MARKERS["earlier draft"]}, grace=GRACE)
    for item_id, value in _answers(assessment, 2, MARKERS["written answer"]).items():
        save_answer(session, attempt, item_id, value, grace=GRACE)
    save_answer(session, attempt, coding.id, {"source": CODE}, grace=GRACE)
    close_attempt(session, attempt, CloseReason.SUBMITTED)
    session.commit()
    run_jobs()  # the grading, and the emails
    session.expire_all()
    rubric = {c.id: 0.0 for c in spec_of(written.question_version).rubric}  # type: ignore[union-attr]
    score_written_answer(session, principal, invitation, written.id, rubric, MARKERS["recruiter's comment"])
    unused = create_invitation(
        session,
        org,
        assessment,
        email=MARKERS["email"],
        ttl=timedelta(days=3),
        secret_key=factories.SECRET_KEY,
    )
    session.flush()
    return Scene(org, owner, assessment, invitation, unused.invitation, unused.token, issued.token)


def test_the_scene_holds_every_marker(session: Session, scene: Scene) -> None:
    """Without this, the erasure test below could pass because a marker was never stored."""
    stored = everything_stored(session)
    assert [name for name, marker in MARKERS.items() if marker not in stored] == []


def test_the_export_holds_all_of_it_and_no_hidden_case(session: Session, scene: Scene) -> None:
    person = candidates.find(session, scene.org, MARKERS["email"].upper())
    document = candidates.export_candidate(session, factories.operator(session, scene.org), person)
    text = document.model_dump_json()
    missing = [name for name, marker in MARKERS.items() if marker not in text and name != "ATS callback"]
    assert missing == []
    finished = next(i for i in document.invitations if i.attempt)
    assert finished.attempt is not None
    written = next(a for a in finished.attempt.answers if "text" in a.value)
    assert [r.value["text"] for r in written.revisions] == [
        MARKERS["earlier draft"],
        MARKERS["written answer"],
    ]
    (graded,) = [s.grading for s in finished.attempt.submissions if s.grading]
    assert graded is not None and graded.hidden_cases > 0 and graded.sample_cases
    assert [e.to for e in document.emails] == [MARKERS["email"]]
    hidden_names = [case["name"] for case in _stored_cases(session, scene) if not case["visible"]]
    assert hidden_names and not any(name in text for name in hidden_names)
    assert scene.invitation.token_hash not in text and scene.token not in text


def _stored_cases(session: Session, scene: Scene) -> list[dict[str, object]]:
    result = session.scalar(
        select(StoredGrade).join(Submission).where(Submission.attempt_id == scene.invitation.attempt.id)  # type: ignore[union-attr]
    )
    assert result is not None
    return result.result["cases"]  # type: ignore[no-any-return]


def _statistics(session: Session, scene: Scene) -> list[object]:
    stats = [
        (s.item.id, s.attempts, s.facility, s.discrimination, s.option_counts, s.average_seconds)
        for s in item_statistics(session, scene.org, scene.assessment, min_attempts=1)
    ]
    scores = sorted(
        (r.score.earned, r.score.max_points)
        for r in results_table(session, scene.org, scene.assessment)
        if r.score
    )
    return [stats, scores]


def test_erasure_leaves_nothing_of_the_person_and_every_statistic(session: Session, scene: Scene) -> None:
    before = _statistics(session, scene)
    person = candidates.find(session, scene.org, MARKERS["email"])
    erased = candidates.erase_candidate(session, factories.operator(session, scene.org), person)
    assert (erased.invitations, erased.answers, erased.submissions, erased.emails) == (2, 3, 1, 1)

    stored = everything_stored(session)
    assert [name for name, marker in MARKERS.items() if marker in stored] == []
    session.expire_all()
    assert _statistics(session, scene) == before
    assert person.full_name == f"Erased candidate #{person.id}" and person.erased_at is not None
    assert scene.unused.status == InvitationStatus.CANCELLED
    for token in (scene.token, scene.unused_token):
        with pytest.raises(NotFound):
            invitation_for_token(session, token)
    with pytest.raises(NotFound):
        candidates.find(session, scene.org, MARKERS["email"])
    with pytest.raises(Conflict, match="already erased"):
        candidates.erase_candidate(session, factories.operator(session, scene.org), person)


def test_the_same_address_invited_again_is_a_new_person(session: Session, scene: Scene) -> None:
    candidates.erase_candidate(session, factories.operator(session, scene.org), scene.invitation.candidate)
    again = factories.invitation(session, scene.org, scene.assessment, email=MARKERS["email"]).invitation
    assert again.candidate.id != scene.invitation.candidate_id and again.candidate.erased_at is None


def test_erasure_waits_for_an_attempt_in_progress_and_for_grading(
    session: Session, run_jobs: Callable[[], int]
) -> None:
    _, org = factories.owner(session)
    assessment = factories.coding_assessment(session, org)
    invitation = factories.invitation(session, org, assessment).invitation
    attempt = start_attempt(session, invitation)
    with pytest.raises(Conflict, match="is taking an assessment"):
        candidates.erase_candidate(session, factories.operator(session, org), invitation.candidate)
    coding = assessment.items[1]
    save_answer(session, attempt, coding.id, {"source": "def f(): pass"}, grace=GRACE)
    close_attempt(session, attempt, CloseReason.SUBMITTED)
    session.commit()
    with pytest.raises(Conflict, match="still being graded"):
        candidates.erase_candidate(session, factories.operator(session, org), invitation.candidate)
    run_jobs()
    session.expire_all()
    candidates.erase_candidate(session, factories.operator(session, org), invitation.candidate)


def test_another_organization_cannot_find_the_candidate(session: Session, scene: Scene) -> None:
    _, globex = factories.owner(session, email="owner@globex.test", org="Globex")
    for who in (MARKERS["email"], str(scene.invitation.candidate_id)):
        with pytest.raises(NotFound):
            candidates.find(session, globex, who)


def test_what_names_no_candidate_is_not_found(session: Session, scene: Scene) -> None:
    """An operator's typo gets a clear answer: not a crash on "²" (a digit to str.isdigit, not to int) or on
    an id past the database's 64 bits."""
    for who in ("²", "0", "99999999999999999999", "nobody@example.com"):
        with pytest.raises(NotFound, match="no candidate"):
            candidates.find(session, scene.org, who)
