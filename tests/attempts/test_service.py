"""Attempts: server-side deadline, the ordered-save rule, scoring and closing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from app.attempts.answers import ClientSave
from app.attempts.service import (
    DEADLINE_TOLERANCE,
    auto_points,
    hand_in_attempt,
    items_in_order,
    save_answer,
    save_answer_fast,
    start_attempt,
)
from app.core.errors import Gone, NotFound, ValidationFailed
from app.invitations.service import IssuedInvitation
from app.models import CloseReason, InvitationStatus, QuestionType, utcnow
from app.questions.kinds import Draw
from app.questions.kinds.choice import option_order
from app.questions.kinds.numeric import variant
from app.questions.service import spec_of
from tests import factories

GRACE = timedelta(seconds=30)


@pytest.fixture
def issued(session: Session) -> IssuedInvitation:
    _, org = factories.owner(session)
    assessment = factories.published_assessment(session, org, minutes=20)
    return factories.invitation(session, org, assessment)


@pytest.fixture
def attempt(session: Session, issued: IssuedInvitation):
    return start_attempt(session, issued.invitation)


def item_of(attempt, kind: QuestionType):
    return next(i for i in attempt.invitation.assessment.items if i.question_version.type == kind)


def test_start_records_deadline_with_extra_time_and_is_idempotent(session: Session) -> None:
    _, org = factories.owner(session)
    assessment = factories.published_assessment(session, org, minutes=20)
    issued = factories.invitation(session, org, assessment)
    issued.invitation.extra_time_pct = 50
    attempt = start_attempt(session, issued.invitation)
    assert attempt.deadline_at - attempt.started_at == timedelta(minutes=30)
    assert issued.invitation.status == InvitationStatus.STARTED
    assert start_attempt(session, issued.invitation) is attempt


def _save(session: Session, attempt, item_id: int, text: str, tab: str, seq: int):
    return save_answer(session, attempt, item_id, {"text": text}, grace=GRACE, client=ClientSave(tab, seq))


def test_the_postgresql_autosave_path_stores_what_the_general_path_would(
    session: Session, attempt, issued: IssuedInvitation, backend: str
) -> None:
    """One statement instead of the ORM's ten; SQLite, and anything that is not a plain applied save, go
    the general way (None here)."""
    item = item_of(attempt, QuestionType.MCQ_MULTI)
    options = [o.id for o in spec_of(item.question_version).options]  # type: ignore[union-attr]

    def fast(value: dict, seq: int, tab: str = "tab-a"):  # type: ignore[no-untyped-def, type-arg]
        return save_answer_fast(
            session, issued.token, item.id, value, grace=GRACE, client=ClientSave(tab, seq)
        )

    first = fast({"choices": [options[1], options[0], options[1]]}, seq=1)
    if backend == "sqlite":
        assert first is None
        return
    assert first is not None and first.revision == 1 and first.value == {"choices": sorted(options[:2])}
    second = fast({"choices": [options[0]]}, seq=2)
    assert second is not None and second.revision == 2
    assert fast({"choices": []}, seq=2) is None, "a retried or older save is left to the general path"
    assert fast({"choices": []}, seq=1, tab="tab-b") is not None, "another tab's counter is its own"
    refused = fast({"choices": ["no-such-option"]}, seq=9)
    assert refused is None, "the general path checks the link, then says why"
    with pytest.raises(ValidationFailed, match="Unknown option"):
        save_answer(session, attempt, item.id, {"choices": ["no-such-option"]}, grace=GRACE)
    # A tab numbers its saves across items: on another answer its seq 2 is not stale because of seq 2 here.
    written = item_of(attempt, QuestionType.WRITTEN)
    for tab, expected_revision in (("tab-b", 1), ("tab-a", 2)):
        saved = save_answer_fast(
            session, issued.token, written.id, {"text": tab}, grace=GRACE, client=ClientSave(tab, 2)
        )
        assert saved is not None and saved.revision == expected_revision
    assert (
        save_answer_fast(session, "not-a-token", item.id, {}, grace=GRACE, client=ClientSave("t", 1)) is None
    )
    session.expire_all()
    answer = next(a for a in attempt.answers if a.item_id == item.id)
    assert answer.revision == 3 and answer.value == {"choices": []}
    assert [(r.revision, r.client_id, r.client_seq) for r in answer.revisions] == [
        (1, "tab-a", 1),
        (2, "tab-a", 2),
        (3, "tab-b", 1),
    ]
    hand_in_attempt(session, attempt)
    assert fast({"choices": [options[0]]}, seq=10) is None, "a closed attempt is the general path's to refuse"


def test_an_older_save_arriving_late_never_overwrites_a_newer_one(session: Session, attempt) -> None:
    item = item_of(attempt, QuestionType.WRITTEN)
    assert _save(session, attempt, item.id, "second draft", "tab-a", 2).applied
    late = _save(session, attempt, item.id, "first draft", "tab-a", 1)
    assert not late.applied and late.answer.value == {"text": "second draft"}
    assert [r.value["text"] for r in late.answer.revisions] == ["second draft"]
    retried = _save(session, attempt, item.id, "second draft", "tab-a", 2)
    assert not retried.applied and retried.answer.revision == 1
    newer = _save(session, attempt, item.id, "third", "tab-a", 3)
    assert newer.applied and [(r.revision, r.client_seq) for r in newer.answer.revisions] == [(1, 2), (2, 3)]


def test_each_tab_keeps_its_own_order_and_the_last_arrival_wins(session: Session, attempt) -> None:
    item = item_of(attempt, QuestionType.WRITTEN)
    other = item_of(attempt, QuestionType.MCQ_SINGLE)
    assert _save(session, attempt, item.id, "from the laptop", "laptop", 7).applied
    # A second device starts its own counter at 1; its saves are not mistaken for stale ones.
    assert _save(session, attempt, item.id, "from the phone", "phone", 1).applied
    # The laptop's delayed, older save must not bring back what it had replaced.
    assert not _save(session, attempt, item.id, "laptop, earlier", "laptop", 6).applied
    assert _save(session, attempt, item.id, "laptop again", "laptop", 8).answer.value == {
        "text": "laptop again"
    }
    # Sequence numbers are per item: the laptop's later number on another item does not block this one.
    choice = spec_of(other.question_version).options[0].id  # type: ignore[union-attr]
    save_answer(session, attempt, other.id, {"choice": choice}, grace=GRACE, client=ClientSave("laptop", 20))
    assert _save(session, attempt, item.id, "laptop, ninth", "laptop", 9).applied


def test_saves_after_the_deadline_plus_grace_are_refused(session: Session, attempt) -> None:
    item = item_of(attempt, QuestionType.WRITTEN)
    attempt.deadline_at = utcnow() - timedelta(seconds=10)
    assert save_answer(session, attempt, item.id, {"text": "in grace"}, grace=GRACE).applied
    attempt.deadline_at = utcnow() - timedelta(minutes=5)
    with pytest.raises(Gone, match="Time is up"):
        save_answer(session, attempt, item.id, {"text": "too late"}, grace=GRACE)


def test_bad_values_and_foreign_items_are_rejected(session: Session, attempt) -> None:
    mcq = item_of(attempt, QuestionType.MCQ_SINGLE)
    with pytest.raises(ValidationFailed, match="Unknown option"):
        save_answer(session, attempt, mcq.id, {"choice": "zz"}, grace=GRACE)
    with pytest.raises(NotFound):
        save_answer(session, attempt, 10**9, {"choice": "a"}, grace=GRACE)


def test_scoring_single_multi_and_written(session: Session, attempt) -> None:
    single = item_of(attempt, QuestionType.MCQ_SINGLE)
    multi = item_of(attempt, QuestionType.MCQ_MULTI)
    written = item_of(attempt, QuestionType.WRITTEN)
    right = next(iter(spec_of(single.question_version).correct_ids))  # type: ignore[union-attr]
    assert auto_points(attempt, single, {"choice": right}) == single.points
    assert auto_points(attempt, single, {"choice": None}) == 0
    correct = sorted(spec_of(multi.question_version).correct_ids)  # type: ignore[union-attr]
    every = [o["id"] for o in multi.question_version.spec["options"]]
    assert auto_points(attempt, multi, {"choices": correct}) == multi.points
    assert auto_points(attempt, multi, {"choices": every}) == pytest.approx(
        multi.points * (len(correct) - 1) / len(correct)
    )
    assert auto_points(attempt, multi, {"choices": correct[:1]}) == pytest.approx(multi.points / len(correct))
    assert auto_points(attempt, written, {"text": "anything"}) is None


def test_submit_scores_closes_and_blocks_further_saves(session: Session, attempt) -> None:
    single = item_of(attempt, QuestionType.MCQ_SINGLE)
    written = item_of(attempt, QuestionType.WRITTEN)
    right = next(iter(spec_of(single.question_version).correct_ids))  # type: ignore[union-attr]
    save_answer(session, attempt, single.id, {"choice": right}, grace=GRACE)
    save_answer(session, attempt, written.id, {"text": "my essay"}, grace=GRACE)
    hand_in_attempt(session, attempt)
    assert attempt.close_reason == CloseReason.SUBMITTED  # well before the deadline
    assert attempt.score == single.points
    assert attempt.max_score == attempt.invitation.assessment.max_points
    assert attempt.review_pending == 1
    assert attempt.invitation.status == InvitationStatus.COMPLETED
    with pytest.raises(Gone):
        save_answer(session, attempt, single.id, {"choice": right}, grace=GRACE)


def test_option_order_is_stable_per_attempt_and_varies_between_attempts(session: Session) -> None:
    _, org = factories.owner(session)
    assessment = factories.published_assessment(session, org)
    item = next(i for i in assessment.items if len(i.question_version.spec.get("options", [])) >= 4)
    ids = [o["id"] for o in item.question_version.spec["options"]]
    orders = set()
    for n in range(8):
        attempt = start_attempt(
            session, factories.invitation(session, org, assessment, f"c{n}@example.com").invitation
        )
        first = option_order(Draw.of(attempt, item), ids)
        assert option_order(Draw.of(attempt, item), ids) == first and sorted(first) == sorted(ids)
        orders.add(tuple(first))
    assert len(orders) > 1


def test_shuffled_questions_stay_in_their_sections_in_a_stable_per_attempt_order(session: Session) -> None:
    _, org = factories.owner(session)
    types = (QuestionType.MCQ_SINGLE, QuestionType.WRITTEN)
    assessment = factories.published_assessment(session, org, types=types, per_type=5)
    section_of = {i.id: i.section_id for i in assessment.items}
    plain = start_attempt(session, factories.invitation(session, org, assessment, "p@example.com").invitation)
    assert items_in_order(plain) == list(assessment.items)
    assessment.shuffle_items = True
    orders = set()
    for n in range(6):
        attempt = start_attempt(
            session, factories.invitation(session, org, assessment, f"s{n}@example.com").invitation
        )
        order = items_in_order(attempt)
        assert items_in_order(attempt) == order and sorted(i.id for i in order) == sorted(section_of)
        assert [section_of[i.id] for i in order] == [section_of[i.id] for i in assessment.items]
        orders.add(tuple(i.id for i in order))
    assert len(orders) > 1


def test_numeric_answers_are_scored_against_the_candidates_own_parameters(session: Session, attempt) -> None:
    item = item_of(attempt, QuestionType.NUMERIC)
    spec = spec_of(item.question_version)
    prompt, answer = variant(spec, Draw.of(attempt, item))  # type: ignore[arg-type]
    assert "{{" not in prompt and prompt == variant(spec, Draw.of(attempt, item))[0]  # type: ignore[arg-type]
    assert auto_points(attempt, item, {"number": repr(answer)}) == item.points
    assert auto_points(attempt, item, {"number": str(answer + 1 + abs(answer))}) == 0
    assert auto_points(attempt, item, {"number": None}) == 0
    prompts = set()
    for seed in range(10):  # other candidates, other parameters
        attempt.seed = seed
        prompts.add(variant(spec, Draw.of(attempt, item))[0])  # type: ignore[arg-type]
    assert len(prompts) >= 8


@pytest.mark.parametrize("typed", ["1.5e3", " -2 ", "\u22123.25"])
def test_numeric_answers_keep_what_was_typed(session: Session, attempt, typed: str) -> None:
    item = item_of(attempt, QuestionType.NUMERIC)
    saved = save_answer(session, attempt, item.id, {"number": typed}, grace=GRACE)
    assert float(saved.answer.value["number"]) == float(typed.strip().replace("\u2212", "-"))


@pytest.mark.parametrize("typed", ["abc", "nan", "inf", "1" * 50, "1,5"])
def test_numeric_answers_that_are_not_numbers_are_refused(session: Session, attempt, typed: str) -> None:
    item = item_of(attempt, QuestionType.NUMERIC)
    with pytest.raises(ValidationFailed, match="must be a number"):
        save_answer(session, attempt, item.id, {"number": typed}, grace=GRACE)


def test_the_server_decides_whether_the_time_ran_out(session: Session, attempt) -> None:
    attempt.deadline_at = utcnow() + DEADLINE_TOLERANCE / 2  # the page hands in at 0:00, give or take
    hand_in_attempt(session, attempt)
    assert attempt.close_reason == CloseReason.DEADLINE
