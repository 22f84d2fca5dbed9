"""Misconceptions across a round and the item response model, read from real gradings and answers: who
holds each misconception, how holders answered the concept question that names it, each case's pass rate,
and, past the attempts the model needs, abilities and curves on the statistics page."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.models import QuestionType
from app.questions.service import spec_of
from app.results.pool import assessment_insight, organization_insight
from tests import factories
from tests.api.conftest import new_key
from tests.forms import sign_in
from tests.similarity.population import INDEPENDENT

UNBIASED = INDEPENDENT["vectorised"].replace("((x - mu) ** 2).mean(axis=0)", "x.var(axis=0, ddof=1)")


def test_holders_of_a_misconception_are_set_beside_their_concept_answers(
    session: Session, run_jobs: Callable[[], int], client: TestClient
) -> None:
    _, org = factories.owner(session)
    assessment = factories.variance_round(session, org)
    concept, coding = assessment.items
    # Four candidates code the unbiased variance, three of whom also chose N - 1; of six who code it right,
    # one chose N - 1.
    people = (
        [(UNBIASED, "b")] * 3
        + [(UNBIASED, "a")]
        + [(INDEPENDENT["vectorised"], "b")]
        + [(INDEPENDENT["loops"], "a")] * 5
    )
    for n, (source, choice) in enumerate(people):
        factories.finished_attempt(
            session,
            org,
            assessment,
            f"c{n}@example.com",
            {concept.id: {"choice": choice}, coding.id: {"source": source}},
        )
    session.commit()
    run_jobs()
    session.expire_all()

    insight = assessment_insight(session, assessment)
    assert (insight.candidates, insight.graded) == (10, 10)
    counts = {d.code: d.holders for d in insight.diagnoses}
    assert counts.get("unbiased_variance") == 4
    [crossing] = [c for c in insight.crossings if c.code == "unbiased_variance"]
    assert (crossing.holders, crossing.holders_chose, crossing.others, crossing.others_chose) == (4, 3, 6, 1)
    assert crossing.sentence() == (
        "40% of these candidates' code shows the unbiased variance; 75% of them also chose "
        "“The unbiased variance, dividing by `N - 1`.” in question 1 (17% of the others did)."
    )
    hidden = [c for c in insight.cases if not c.visible]
    assert hidden and all(c.graded == 10 for c in insight.cases)
    assert any(c.passed == 6 for c in hidden), "the cases the unbiased variance fails: six pass"
    [task] = organization_insight(session, org)
    assert task.task_id == "bn-forward-train" and task.graded == 10
    assert {d.code: d.holders for d in task.diagnoses} == counts
    assert [(c.name, c.passed, c.graded) for c in task.cases] == sorted(
        [(c.name, c.passed, c.graded) for c in insight.cases], key=lambda c: (c[1] / c[2], c[0])
    )
    [across] = [c for c in task.crossings if c.code == "unbiased_variance"]
    assert across.sentence() == crossing.sentence().replace(
        "in question 1", "in “Which variance normalizes a training batch”"
    )

    sign_in(client, "owner@acme.test", factories.PASSWORD)
    stats = client.get(f"/assessments/{assessment.id}/stats").text
    assert "40% of these candidates" in stats and "unbiased variance" in stats and "<svg" in stats
    assert "the model is fitted at 30" in stats
    insights = client.get("/insights").text
    assert "bn-forward-train" in insights and "75% of them also chose" in insights


def test_past_the_attempts_it_needs_the_model_shows_abilities_and_curves(
    session: Session, client: TestClient
) -> None:
    _, org = factories.owner(session)
    assessment, finished = factories.simulated_round(session, org, candidates=40, seed=2)
    last = finished[-1]
    session.commit()
    sign_in(client, "owner@acme.test", factories.PASSWORD)
    stats = client.get(f"/assessments/{assessment.id}/stats").text
    assert "Chance of getting each question right, by ability" in stats
    assert "Candidates by ability (2PL estimate)" in stats
    assert stats.count(" ± ") >= 2 * 6 + 40
    # Every question has a distractor nobody chose (each candidate picked the key or the first wrong one).
    assert "it distracts nobody" in stats
    report = client.get(f"/invitations/{last.id}").text
    assert "Ability estimate: <strong>" in report and "2PL model of 40 scored attempts" in report
    key = new_key(session, org)
    session.commit()
    result = client.get(f"/api/v1/invitations/{last.id}/result", headers={"Authorization": f"Bearer {key}"})
    ability = result.json()["ability"]
    assert ability["among"] == 40 and 0 < ability["standard_error"] < 2 and -4 < ability["theta"] < 4
    assert f"{ability['theta']:+.2f} ± {ability['standard_error']:.2f}" in report


def test_a_round_the_model_cannot_fit_says_why_instead_of_failing(
    session: Session, client: TestClient
) -> None:
    _, org = factories.owner(session)
    assessment = factories.published_assessment(session, org, types=(QuestionType.MCQ_SINGLE,), per_type=4)
    keys = {
        item.id: {"choice": next(o.id for o in spec_of(item.question_version).options if o.correct)}  # type: ignore[union-attr]
        for item in assessment.items
    }
    for n in range(30):
        factories.finished_attempt(session, org, assessment, f"c{n}@example.com", keys)
    session.commit()
    sign_in(client, "owner@acme.test", factories.PASSWORD)
    stats = client.get(f"/assessments/{assessment.id}/stats")
    assert stats.status_code == 200
    assert (
        "could not be fitted to these 30 attempts: fewer than two questions tell these candidates apart"
        in stats.text
    )
