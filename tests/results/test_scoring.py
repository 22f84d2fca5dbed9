"""One score: the summary persisted on the attempt after every change is what every reader shows (the
report, the API, events, Greenhouse, the candidate's export), rounded one way everywhere."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.principal import Principal
from app.assessments.service import create_assessment, publish_assessment
from app.candidates.service import export_candidate
from app.integrations.service import _metadata, _percent
from app.models import Event, QuestionType, Role
from app.questions.service import current_versions, spec_of
from app.results.report import attempt_report
from app.results.schemas import ResultOut
from app.results.scoring import format_points, round_points
from app.results.service import score_written_answer
from tests import factories


def _correct(item) -> str:  # type: ignore[no-untyped-def]
    return next(o["id"] for o in item.question_version.spec["options"] if o["correct"])


def test_a_written_answer_scored_by_hand_moves_the_one_score_every_reader_shows(session: Session) -> None:
    _, org = factories.owner(session)
    versions = [
        current_versions(session, types=[QuestionType.MCQ_SINGLE])[0],
        current_versions(session, types=[QuestionType.WRITTEN])[0],
    ]
    draft = create_assessment(
        session,
        factories.operator(session, org),
        title="Mixed",
        duration_minutes=30,
        question_version_ids=[v.id for v in versions],
    )
    assessment = publish_assessment(session, factories.operator(session, draft), draft)
    mcq, written = assessment.items
    invitation = factories.finished_attempt(
        session,
        org,
        assessment,
        "c@example.com",
        {mcq.id: {"choice": _correct(mcq)}, written.id: {"text": "Because the batch mean moves."}},
    )
    attempt = invitation.attempt
    assert attempt is not None
    assert (attempt.score, attempt.review_pending, attempt.grading_pending) == (mcq.points, 1, 0)

    reviewer = factories.member(session, org, "rev@acme.test", Role.RECRUITER)
    principal = Principal(user=reviewer, organization=org, role=Role.RECRUITER, session_id=0)
    rubric = spec_of(written.question_version).rubric  # type: ignore[union-attr]
    given = {c.id: (c.points if n == 0 else 0) for n, c in enumerate(rubric)}
    manual = score_written_answer(session, principal, invitation, written.id, given, "")
    total = mcq.points + manual.points
    assert (attempt.score, attempt.review_pending) == (total, 0)

    report = attempt_report(session, org, invitation.id)
    assert report.score is not None and report.score.earned == attempt.score
    api = ResultOut.of(report, "http://assay.test")
    assert (api.score, api.status) == (round_points(total), "scored")
    event = session.scalars(select(Event).where(Event.type == "result.updated")).one()
    assert (event.payload["score"], event.payload["pending_review"]) == (round_points(total), 0)
    greenhouse = _metadata(invitation, attempt)
    assert greenhouse["Score"] == f"{format_points(total)} / {format_points(assessment.max_points)}"
    assert greenhouse["Needs manual review"] == "no"
    assert _percent(attempt) == round(100 * total / assessment.max_points, 1)
    exported = export_candidate(session, factories.operator(session, org), invitation.candidate)
    assert [i.attempt.score for i in exported.invitations if i.attempt] == [attempt.score]


@pytest.mark.parametrize(
    ("points", "shown"), [(19 / 3, "6.33"), (7.0, "7"), (0.125, "0.12"), (-0.0, "0"), (None, "—")]
)
def test_points_are_written_one_way(points: float | None, shown: str) -> None:
    assert format_points(points) == shown
