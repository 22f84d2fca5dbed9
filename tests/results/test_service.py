"""A candidate's report describes every kind of answer, and says when code is still being graded."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.principal import Principal
from app.assessments.service import create_assessment, publish_assessment
from app.attempts.service import close_attempt, save_answer, start_attempt
from app.core.errors import Forbidden, ValidationFailed
from app.invitations.service import cancel_invitation
from app.models import CloseReason, Event, PageSignal, QuestionType, Role
from app.questions.service import current_versions, spec_of
from app.results.report import attempt_report, time_per_item
from app.results.service import review_queue, round_counts, score_written_answer
from app.results.statistics import item_statistics
from app.results.table import export_csv, filter_and_sort, results_table
from tests import factories

GRACE = timedelta(seconds=30)


def test_numeric_and_code_answers_are_described_and_code_points_follow_grading(
    session: Session, run_jobs: Callable[[], int]
) -> None:
    _, org = factories.owner(session)
    assessment = factories.coding_assessment(session, org)
    issued = factories.invitation(session, org, assessment)
    attempt = start_attempt(session, issued.invitation)
    coding = next(i for i in assessment.items if i.question_version.type == QuestionType.CODING)
    save_answer(
        session,
        attempt,
        coding.id,
        {"source": "def batchnorm_forward_train(x, g, b, eps=1e-5):\n    return x"},
        grace=GRACE,
    )
    close_attempt(session, attempt, CloseReason.SUBMITTED)
    session.commit()

    pending = next(r for r in attempt_report(session, org, issued.invitation.id).items if r.kind == "coding")
    assert pending.points is None and pending.state == "grading" and pending.code is not None
    assert pending.code.state == "grading" and pending.code.source.startswith("def batchnorm_forward_train")
    assert run_jobs() == 2  # the final grading, then the similarity check its score announced
    session.expire_all()
    graded = next(r for r in attempt_report(session, org, issued.invitation.id).items if r.kind == "coding")
    assert graded.points == 0.0 and graded.state == "incorrect" and graded.code is not None
    assert graded.code.state == "graded" and graded.code.cases
    assert all(case.status != "passed" for case in graded.code.cases)


def test_a_numeric_answer_is_shown_as_typed(session: Session) -> None:
    _, org = factories.owner(session)
    assessment = factories.published_assessment(session, org, types=(QuestionType.NUMERIC,), per_type=1)
    issued = factories.invitation(session, org, assessment)
    attempt = start_attempt(session, issued.invitation)
    save_answer(session, attempt, assessment.items[0].id, {"number": "3e-4"}, grace=GRACE)
    close_attempt(session, attempt, CloseReason.SUBMITTED)
    report = attempt_report(session, org, issued.invitation.id)
    assert report.items[0].numeric is not None and report.items[0].numeric["given"] == "3e-4"


def _written_assessment(session: Session):
    _, org = factories.owner(session)
    versions = [
        *current_versions(session, types=[QuestionType.MCQ_SINGLE])[:2],
        current_versions(session, types=[QuestionType.WRITTEN])[0],
    ]
    draft = create_assessment(
        session,
        factories.operator(session, org),
        title="Mixed",
        duration_minutes=30,
        question_version_ids=[v.id for v in versions],
    )
    draft.pass_mark_pct = 50
    return org, publish_assessment(session, factories.operator(session, draft), draft)


def _correct(item) -> str:
    return next(o["id"] for o in item.question_version.spec["options"] if o["correct"])


def _wrong(item) -> str:
    return next(o["id"] for o in item.question_version.spec["options"] if not o["correct"])


def test_scoring_a_written_answer_completes_the_score_and_announces_it(session: Session) -> None:
    org, assessment = _written_assessment(session)
    mcq1, mcq2, written = assessment.items
    reviewer = factories.member(session, org, "rev@acme.test", Role.RECRUITER)
    invitation = factories.finished_attempt(
        session,
        org,
        assessment,
        "c@example.com",
        {
            mcq1.id: {"choice": _correct(mcq1)},
            mcq2.id: {"choice": _wrong(mcq2)},
            written.id: {"text": "Because"},
        },
    )
    report = attempt_report(session, org, invitation.id)
    assert report.score is not None and report.score.needs_review == 1 and report.score.passed is None
    assert [r.state for r in report.items] == ["correct", "incorrect", "needs review"]

    principal = Principal(user=reviewer, organization=org, role=Role.RECRUITER, session_id=0)
    rubric = spec_of(written.question_version).rubric  # type: ignore[union-attr]
    with pytest.raises(ValidationFailed) as refused:
        score_written_answer(session, principal, invitation, written.id, {rubric[0].id: 99, "made_up": 1}, "")
    assert {e.field for e in refused.value.errors} >= {f"criteria.{rubric[0].id}", "criteria"}
    full = {c.id: c.points for c in rubric}
    score_written_answer(session, principal, invitation, written.id, full, "Clear and complete.")
    report = attempt_report(session, org, invitation.id)
    assert report.score is not None and report.score.complete
    assert report.score.earned == mcq1.points + written.points
    assert report.items[2].state == "correct" and report.items[2].manual.comment == "Clear and complete."
    assert invitation.attempt is not None and invitation.attempt.review_pending == 0
    assert invitation.attempt.score == report.score.earned, "the persisted score is the report's"
    event = session.scalars(select(Event).where(Event.type == "result.updated")).one()
    assert event.payload["score"] == report.score.earned and event.payload["needs_manual_review"] is False

    viewer = Principal(user=reviewer, organization=org, role=Role.VIEWER, session_id=0)
    with pytest.raises(Forbidden):
        score_written_answer(session, viewer, invitation, written.id, full, "")


def test_concept_answers_are_set_beside_what_the_code_does(session: Session, run_jobs) -> None:
    """Answered that inference uses running statistics, but the code uses the batch's: a contradiction."""
    _, org = factories.owner(session)
    concept = next(
        v
        for v in current_versions(session, types=[QuestionType.MCQ_SINGLE])
        if any(o.get("misconception") == "test_uses_batch_stats" for o in v.spec["options"])
    )
    coding = next(
        v for v in current_versions(session, types=[QuestionType.CODING]) if v.spec["task"] == "bn-forward"
    )
    actor = factories.operator(session, org)
    draft = create_assessment(
        session, actor, title="Links", duration_minutes=30, question_version_ids=[concept.id, coding.id]
    )
    assessment = publish_assessment(session, actor, draft)
    mcq_item, code_item = assessment.items
    batch_stats_code = (
        "import numpy as np\n"
        "def batchnorm_forward(x, gamma, beta, bn_param):\n"
        "    momentum = bn_param.get('momentum', 0.9)\n"
        "    d = x.shape[1]\n"
        "    rm = bn_param.get('running_mean', np.zeros(d))\n"
        "    rv = bn_param.get('running_var', np.zeros(d))\n"
        "    mu, var = x.mean(axis=0), x.var(axis=0)\n"
        "    out = gamma * (x - mu) / np.sqrt(var + bn_param.get('eps', 1e-5)) + beta\n"
        "    if bn_param['mode'] == 'train':\n"
        "        bn_param['running_mean'] = momentum * rm + (1 - momentum) * mu\n"
        "        bn_param['running_var'] = momentum * rv + (1 - momentum) * var\n"
        "    return out, None\n"
    )
    invitation = factories.finished_attempt(
        session,
        org,
        assessment,
        "c@example.com",
        {mcq_item.id: {"choice": _correct(mcq_item)}, code_item.id: {"source": batch_stats_code}},
    )
    session.commit()
    run_jobs()
    session.expire_all()
    report = attempt_report(session, org, invitation.id)
    code = report.items[1].code
    assert code is not None and code.state == "graded", code
    assert "test_uses_batch_stats" in code.codes
    link = next(link for link in report.links if link.code == "test_uses_batch_stats")
    assert not link.agrees and "but the code does exactly that" in link.sentence


def test_time_per_item_follows_what_was_on_screen(session: Session) -> None:
    org, assessment = _written_assessment(session)
    first, second, _ = assessment.items
    invitation = factories.finished_attempt(session, org, assessment, "c@example.com", {})
    attempt = invitation.attempt
    assert attempt is not None
    t0 = datetime(2026, 1, 1, tzinfo=UTC)

    def event(n: int, kind: str, seconds: int, item_id: int | None = None) -> PageSignal:
        detail = {"client_at": (t0 + timedelta(seconds=seconds)).isoformat()}
        if item_id:
            detail["item_id"] = item_id
        at = t0 + timedelta(seconds=seconds)
        return PageSignal(id=n, attempt_id=attempt.id, kind=kind, at=at, detail=detail)

    events = [
        event(1, "item_shown", 0, first.id),
        event(2, "page_hidden", 30),  # 30 s on the first question, then away for a minute
        event(3, "page_visible", 90),
        event(4, "item_shown", 100, second.id),  # 10 more on the first
        event(5, "item_shown", 160, first.id),  # 60 on the second
    ]
    attempt.closed_at = t0 + timedelta(seconds=175)  # the page's clock agrees with the server's here
    assert time_per_item(attempt, events) == {first.id: 55.0, second.id: 60.0}


def test_results_table_filters_sorts_and_exports_safely(session: Session) -> None:
    org, assessment = _written_assessment(session)
    mcq1, mcq2, _ = assessment.items
    both = {mcq1.id: {"choice": _correct(mcq1)}, mcq2.id: {"choice": _correct(mcq2)}}
    strong = factories.finished_attempt(session, org, assessment, "strong@example.com", both)
    weak = factories.finished_attempt(session, org, assessment, "weak@example.com", {})
    strong.candidate.first_name = '=HYPERLINK("http://evil")'
    assessment.pass_mark_pct = 100 * (mcq1.points + mcq2.points) / assessment.max_points - 1
    factories.invitation(session, org, assessment, email="waiting@example.com")
    rows = results_table(session, org, assessment)
    by_score = filter_and_sort(rows, sort="score", descending=True)
    assert [r.invitation.id for r in by_score[:2]] == [strong.id, weak.id]
    assert [r.invitation.candidate.email for r in filter_and_sort(rows, status="sent")] == [
        "waiting@example.com"
    ]
    assert len(filter_and_sort(rows, review="needed")) == 0  # neither wrote anything: nothing to review
    assert [r.invitation.id for r in filter_and_sort(rows, verdict="fail")] == [weak.id]
    assert [r.invitation.id for r in filter_and_sort(rows, q="STRONG@")] == [strong.id]

    exported = list(csv.reader(io.StringIO(export_csv(assessment, rows))))
    header, lines = exported[0], {r[1]: r for r in exported[1:]}
    assert header[:4] == ["candidate_name", "email", "status", "invited_at"]
    assert len([h for h in header if h.startswith("item_")]) == 3
    assert any(h.startswith("topic_") for h in header)
    strong_line = dict(zip(header, lines["strong@example.com"], strict=True))
    assert strong_line["candidate_name"].startswith("'=HYPERLINK")  # stays text in a spreadsheet
    assert float(strong_line["score"]) == mcq1.points + mcq2.points and strong_line["passed"] == "yes"
    assert lines["waiting@example.com"][2] == "sent" and lines["waiting@example.com"][6] == ""


def test_item_statistics_on_a_known_set_of_answers(session: Session) -> None:
    """Five candidates, two items. Item 1 is answered right exactly by the candidates who do well on the
    rest; item 2 by the weak ones. Facility and point-biserial are checked against hand-computed values."""
    _, org = factories.owner(session)
    mcqs = current_versions(session, types=[QuestionType.MCQ_SINGLE])[:4]
    actor = factories.operator(session, org)
    draft = create_assessment(
        session, actor, title="Stats", duration_minutes=30, question_version_ids=[v.id for v in mcqs]
    )
    assessment = publish_assessment(session, actor, draft)
    items = assessment.items
    # rows: which of the 4 items each candidate gets right
    pattern = [
        (1, 0, 1, 1),
        (1, 0, 1, 0),
        (1, 1, 0, 0),
        (0, 1, 0, 0),
        (0, 1, 0, 0),
    ]
    for n, rights in enumerate(pattern):
        answers = {
            item.id: {"choice": _correct(item) if right else _wrong(item)}
            for item, right in zip(items, rights, strict=True)
        }
        factories.finished_attempt(session, org, assessment, f"c{n}@example.com", answers)
    stats = item_statistics(session, org, assessment, min_attempts=5)
    first, second = stats[0], stats[1]
    points = [i.points for i in items]
    totals = [sum(p * r for p, r in zip(points, rights, strict=True)) for rights in pattern]

    def expected_r(index: int) -> float:
        xs = [rights[index] for rights in pattern]
        rest = [t - points[index] * x for t, x in zip(totals, xs, strict=True)]
        return float(np.corrcoef(xs, rest)[0, 1])

    assert first.attempts == 5 and first.facility == pytest.approx(0.6)
    assert first.discrimination == pytest.approx(expected_r(0)) and first.discrimination > 0.2
    assert second.facility == pytest.approx(0.6) and second.discrimination == pytest.approx(expected_r(1))
    assert second.discrimination < 0 and any("discriminates poorly" in f for f in second.flags)
    assert not first.flags
    chosen = dict((oid, count) for oid, _, _, count in first.option_counts)
    assert chosen[_correct(items[0])] == 3 and sum(chosen.values()) == 5
    fewer = item_statistics(session, org, assessment, min_attempts=6)
    assert not fewer[0].enough and not fewer[1].flags


def test_each_round_is_counted_and_the_review_queue_holds_who_waits(session: Session) -> None:
    _, org = factories.owner(session)
    assessment = factories.published_assessment(
        session, org, types=(QuestionType.MCQ_SINGLE, QuestionType.WRITTEN), per_type=1
    )
    written = next(i for i in assessment.items if i.question_version.type == QuestionType.WRITTEN)
    waiting = factories.finished_attempt(
        session, org, assessment, "w@example.com", {written.id: {"text": "A."}}
    )
    factories.finished_attempt(session, org, assessment, "done@example.com", {})
    start_attempt(session, factories.invitation(session, org, assessment, email="s@example.com").invitation)
    lapsed = factories.invitation(session, org, assessment, email="e@example.com").invitation
    lapsed.expires_at = datetime.now(UTC) - timedelta(seconds=1)  # expired as of now, not yet swept
    factories.invitation(session, org, assessment, email="u@example.com")
    cancelled = factories.invitation(session, org, assessment, email="c@example.com").invitation
    cancel_invitation(session, factories.operator(session, org), cancelled)
    session.flush()

    counts = round_counts(session, org)[assessment.id]
    assert (counts.invited, counts.started, counts.completed, counts.needs_review) == (5, 1, 2, 1)
    assert [i.id for i in review_queue(session, org)] == [waiting.id]
    _, other = factories.owner(session, email="other@example.com", org="Other")
    assert round_counts(session, other) == {} and review_queue(session, other) == []
