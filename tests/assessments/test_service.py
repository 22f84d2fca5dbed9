"""Building assessments: sections, items, points and settings on drafts; versions, duplicates and archiving;
auto-compose."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from app.assessments import service as assessments
from app.core.errors import Conflict, NotFound, ValidationFailed
from app.models import Assessment, AssessmentStatus, Organization, QuestionType
from app.questions.service import current_versions
from tests import factories


def _draft(session: Session, org: Organization) -> Assessment:
    mcqs = current_versions(session, types=[QuestionType.MCQ_SINGLE])[:3]
    written = current_versions(session, types=[QuestionType.WRITTEN])[:1]
    return assessments.create_assessment(
        session,
        factories.operator(session, org),
        title="Draft",
        duration_minutes=30,
        question_version_ids=[v.id for v in mcqs + written],
    )


def _layout(assessment: Assessment) -> list[tuple[str, list[str]]]:
    """Section titles with their questions' titles, in the order a candidate meets them."""
    return [
        (s.title, [i.question_version.title for i in assessment.items if i.section_id == s.id])
        for s in assessment.sections
    ]


def _titles(assessment: Assessment) -> list[str]:
    return [i.question_version.title for i in assessment.items]


def test_sections_and_items_move_and_positions_stay_in_reading_order(session: Session) -> None:
    _, org = factories.owner(session)
    draft = _draft(session, org)
    concepts, written = draft.sections
    first, second, third = (i.question_version.title for i in draft.items[:3])

    assessments.move_item(session, draft, draft.items[0].id, +1)
    assert _layout(draft)[0] == ("Concepts", [second, first, third])
    assessments.move_item(session, draft, draft.items[0].id, -1)  # already first: nothing moves
    assert _titles(draft)[0] == second

    extra = assessments.add_section(session, draft, "Deployment")
    moved = next(i for i in draft.items if i.question_version.title == first)
    assessments.set_item_section(session, draft, moved.id, extra.id)
    assessments.move_section(session, draft, extra.id, -1)
    assert [t for t, _ in _layout(draft)] == ["Concepts", "Deployment", "Written answers"]
    assert _titles(draft) == [second, third, first, written_title(draft)]
    assert [i.position for i in draft.items] == list(range(len(draft.items)))

    removed = assessments.remove_section(session, draft, concepts.id)
    assert removed == 2 and _titles(draft) == [first, written_title(draft)]
    assert [s.position for s in draft.sections] == [0, 1]
    assert written in draft.sections


def test_a_question_dropped_anywhere_lands_there_and_positions_stay_in_reading_order(
    session: Session,
) -> None:
    _, org = factories.owner(session)
    draft = _draft(session, org)
    concepts, written = draft.sections
    first, second, third = (i.question_version.title for i in draft.items[:3])
    essay = written_title(draft)
    item = {i.question_version.title: i.id for i in draft.items}

    assessments.place_item(session, draft, item[third], concepts.id, 0)
    assert _layout(draft) == [("Concepts", [third, first, second]), ("Written answers", [essay])]
    assessments.place_item(session, draft, item[third], concepts.id, 99)  # past the end: last
    assert _layout(draft)[0] == ("Concepts", [first, second, third])
    assessments.place_item(session, draft, item[first], written.id, 1)  # after the essay
    assert _layout(draft) == [("Concepts", [second, third]), ("Written answers", [essay, first])]

    empty = assessments.add_section(session, draft, "Deployment")
    assessments.move_section(session, draft, empty.id, -1)  # between the two
    assessments.place_item(session, draft, item[essay], empty.id, 0)
    assert _layout(draft) == [
        ("Concepts", [second, third]),
        ("Deployment", [essay]),
        ("Written answers", [first]),
    ]
    assert [i.position for i in draft.items] == list(range(4))

    with pytest.raises(ValidationFailed):
        assessments.place_item(session, draft, item[first], concepts.id, -1)
    with pytest.raises(NotFound):
        assessments.place_item(session, draft, item[first], 10**9, 0)


def written_title(assessment: Assessment) -> str:
    return next(i.question_version.title for i in assessment.items if i.question_version.type == "written")


def test_adding_a_question_puts_it_in_its_kinds_section_once(session: Session) -> None:
    _, org = factories.owner(session)
    draft = _draft(session, org)  # already holding questions: the new one goes after them
    coding = current_versions(session, types=[QuestionType.CODING])[0]
    item = assessments.add_item(session, draft, coding.id)
    assert item.section is not None and item.section.title == "Coding" and item.points == coding.points
    with pytest.raises(Conflict, match="already in this assessment"):
        assessments.add_item(session, draft, coding.id)
    with pytest.raises(NotFound):
        assessments.add_item(session, draft, 10**9)
    assert [i.position for i in draft.items] == [0, 1, 2, 3, 4] and draft.items[-1] is item
    extra = current_versions(session, types=[QuestionType.MCQ_SINGLE])[5]
    assessments.add_item(session, draft, extra.id)
    assert [i.question_version_id for i in draft.items][3] == extra.id  # at the end of Concepts
    before = draft.max_points
    assessments.set_points(session, draft, item.id, 12.5)
    assert draft.max_points == before - coding.points + 12.5
    for bad in (0, -1, 101):
        with pytest.raises(ValidationFailed):
            assessments.set_points(session, draft, item.id, bad)


def test_settings_are_checked_and_saved(session: Session) -> None:
    _, org = factories.owner(session)
    draft = _draft(session, org)
    with pytest.raises(ValidationFailed) as refused:
        assessments.update_settings(
            session,
            factories.operator(session, org),
            draft,
            assessments.AssessmentSettings(title=" ", duration_minutes=2, pass_mark_pct=120, role="wizard"),
        )
    assert {e.field for e in refused.value.errors} == {"title", "duration_minutes", "pass_mark_pct", "role"}
    assessments.update_settings(
        session,
        factories.operator(session, org),
        draft,
        assessments.AssessmentSettings(
            title="ML screen",
            duration_minutes=45,
            pass_mark_pct=60,
            show_score_to_candidate=True,
            shuffle_items=True,
            shuffle_options=False,
            role="ml-engineer",
        ),
    )
    assert (draft.title, draft.duration_minutes, draft.pass_mark_pct, draft.shuffle_items) == (
        "ML screen",
        45,
        60,
        True,
    )


def test_a_published_assessment_is_frozen_and_edits_make_a_new_version(session: Session) -> None:
    _, org = factories.owner(session)
    draft = _draft(session, org)
    draft.pass_mark_pct = 50
    published = assessments.publish_assessment(session, factories.operator(session, draft), draft)
    with pytest.raises(Conflict, match="frozen"):
        assessments.remove_item(session, published, published.items[0].id)
    with pytest.raises(Conflict, match="frozen"):
        assessments.update_settings(
            session, factories.operator(session, org), published, assessments.AssessmentSettings("x", 30)
        )

    v2 = assessments.new_version(session, factories.operator(session, published), published)
    assert (v2.status, v2.version, v2.previous_version_id, v2.pass_mark_pct) == (
        AssessmentStatus.DRAFT,
        2,
        published.id,
        50,
    )
    assert _layout(v2) == _layout(published)
    with pytest.raises(Conflict, match="already exists"):
        assessments.new_version(session, factories.operator(session, published), published)
    assessments.remove_item(session, v2, v2.items[0].id)
    assert len(published.items) == 4  # the published version is untouched
    assessments.publish_assessment(session, factories.operator(session, v2), v2)
    assert published.status == AssessmentStatus.ARCHIVED  # replaced: no new invitations for it
    assert [a.version for a in assessments.version_history(session, published)] == [1, 2]


def test_duplicate_and_archive(session: Session) -> None:
    _, org = factories.owner(session)
    draft = _draft(session, org)
    published = assessments.publish_assessment(session, factories.operator(session, org), draft)
    copy = assessments.duplicate_assessment(session, factories.operator(session, published), published)
    assert copy.title == "Copy of Draft" and copy.status == AssessmentStatus.DRAFT and copy.version == 1
    assert _layout(copy) == _layout(published) and copy.previous_version_id is None
    with pytest.raises(Conflict):
        assessments.archive_assessment(session, factories.operator(session, copy), copy)
    assessments.archive_assessment(session, factories.operator(session, published), published)
    assert published.status == AssessmentStatus.ARCHIVED and published.archived_at is not None


@pytest.mark.parametrize(
    ("role", "minutes"), [("ml-engineer", 60), ("research-scientist", 90), ("deep-learning-engineer", 30)]
)
def test_compose_proposes_a_balanced_assessment_that_fits_the_time(
    session: Session, role: str, minutes: int
) -> None:
    _, org = factories.owner(session)
    mix = assessments.DifficultyMix(easy=30, medium=50, hard=20)
    draft = assessments.compose(
        session, factories.operator(session, org), role=role, duration_minutes=minutes, mix=mix
    )
    versions = [i.question_version for i in draft.items]
    kinds = [v.type for v in versions]
    assert kinds.count(QuestionType.CODING) == 1 and kinds.count(QuestionType.WRITTEN) == 1
    assert sum(k in assessments.SHORT_TYPES for k in kinds) >= minutes // 8
    assert all(role in v.roles for v in versions) and draft.role == role
    summary = assessments.summarize(draft)
    assert summary.estimated_minutes <= minutes and summary.estimated_minutes >= 0.85 * minutes
    assert len(summary.topics) >= 6  # spread over the topics, not piled on one
    short = [v for v in versions if v.type in assessments.SHORT_TYPES]
    medium_share = sum(v.difficulty == 2 for v in short) / len(short)
    assert 0.3 <= medium_share <= 0.7
    # The same request proposes the same draft.
    again = assessments.compose(
        session, factories.operator(session, org), role=role, duration_minutes=minutes, mix=mix
    )
    assert _titles(again) == _titles(draft)


def test_compose_explains_what_it_cannot_do(session: Session) -> None:
    _, org = factories.owner(session)
    with pytest.raises(ValidationFailed) as refused:
        assessments.compose(
            session,
            factories.operator(session, org),
            role="astronaut",
            duration_minutes=10,
            mix=assessments.DifficultyMix(0, 0, 0),
        )
    assert {e.field for e in refused.value.errors} == {"role", "duration_minutes", "mix"}
