"""Similarity between submissions on generated populations (tests/similarity/population.py), against the
real databases: disguised copies are found, independent solutions are not, the pool's idioms are not
evidence, and erasing a candidate forgets their code here too."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.candidates.service import erase_candidate
from app.models import (
    Assessment,
    AssessmentItem,
    CodeFingerprint,
    Event,
    FingerprintCount,
    Invitation,
    Organization,
    QuestionType,
    SimilarityCheck,
    SimilarityPair,
)
from app.similarity import service
from tests import factories
from tests.similarity.population import INDEPENDENT, TASK, disguised

Scene = tuple[Organization, Assessment, AssessmentItem]


@pytest.fixture
def scene(session: Session, run_jobs: Callable[[], int]) -> Scene:
    _, org = factories.owner(session)
    assessment = factories.coding_assessment(session, org, task=TASK)
    item = next(i for i in assessment.items if i.question_version.type == QuestionType.CODING)
    return org, assessment, item


def submit(session: Session, scene: Scene, who: str, source: str) -> int:
    org, assessment, _ = scene
    return factories.checked_code(session, org, assessment, f"{who}@example.com", source)


def flagged_pairs(session: Session, org: Organization) -> set[frozenset[int]]:
    threshold = org.similarity_threshold / 100
    return {
        frozenset((p.first_check_id, p.second_check_id))
        for p in session.scalars(select(SimilarityPair).where(SimilarityPair.organization_id == org.id))
        if max(p.first_share, p.second_share) >= threshold
    }


def test_disguised_copies_are_found_and_independent_solutions_are_not(session: Session, scene: Scene) -> None:
    checks = {style: submit(session, scene, style, source) for style, source in INDEPENDENT.items()}
    copied = ["loops", "one_pass", "std_helper"]
    copies = {
        style: submit(session, scene, f"copy-of-{style}", disguised(INDEPENDENT[style], n))
        for n, style in enumerate(copied)
    }
    org, assessment, _ = scene

    assert flagged_pairs(session, org) == {frozenset((checks[s], copies[s])) for s in copied}
    # The figures the README states: independent solutions at most 38 % alike, disguised copies 83 % or more.
    originals = set(checks.values())
    for pair in session.scalars(select(SimilarityPair).where(SimilarityPair.organization_id == org.id)):
        alike = max(pair.first_share, pair.second_share)
        if {pair.first_check_id, pair.second_check_id} <= originals:
            assert alike <= 0.38
        else:
            assert alike >= 0.83
    clusters = service.clusters(session, org, assessment)
    assert sorted(sorted(c.id for c in cluster.checks) for cluster in clusters) == sorted(
        sorted((checks[s], copies[s])) for s in copied
    )
    # Each copy's closest match is its original, and what matched is located in both sources.
    copy_check = session.get(SimilarityCheck, copies["loops"])
    assert copy_check is not None
    best = service.matches_of(session, [copy_check])[copy_check.id][0]
    assert best.other.id == checks["loops"] and best.share >= 0.8
    assert best.pair.first_ranges and best.pair.second_ranges
    flagged = session.scalars(
        select(Event).where(Event.organization_id == org.id, Event.type == "result.flagged")
    )
    assert len({e.payload["invitation_id"] for e in flagged}) == 2 * len(copied)


def test_the_starter_code_alone_is_too_little_to_compare(session: Session, scene: Scene) -> None:
    from grader.tasks import TASKS

    starter = TASKS[TASK].starter
    first = submit(session, scene, "first", starter)
    second = submit(session, scene, "second", starter.replace("raise NotImplementedError", "return x"))
    for check_id in (first, second):
        check = session.get(SimilarityCheck, check_id)
        assert (
            check is not None
            and check.checked_at is not None
            and (check.own_length or 0) < service.MIN_OWN_LENGTH
        )
    assert not flagged_pairs(session, scene[0])


SHARED_HELPER = """

def check_shapes(x, gamma, beta):
    if x.ndim != 2 or gamma.shape != (x.shape[1],) or beta.shape != (x.shape[1],):
        raise ValueError("x must be (N, D) and gamma, beta (D,): got " + str(x.shape))
    if not np.all(np.isfinite(x)):
        raise ValueError("x holds values that are not finite")


def relative_error(x, y):
    return np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y)))


def print_mean_std(x, axis=0):
    print("  means: ", x.mean(axis=axis))
    print("  stds:  ", x.std(axis=axis))
    print()
"""


def test_what_most_of_the_pool_writes_alike_is_an_idiom_not_a_copy(session: Session, scene: Scene) -> None:
    """Helpers every candidate was given by their course (a shape check, an error measure, a printout) are
    shared by the whole pool, and are most of each submission: counted as they are, two different solutions
    would be 66 to 85 % alike. Held by more submissions than the cap, they stop counting, so each
    candidate's own code decides."""
    org = scene[0]
    styles = list(INDEPENDENT.items())
    pool = service.COMMON_FLOOR + 4
    for n in range(pool):
        source = styles[n % len(styles)][1]
        # Each candidate's own solution: the style's, with its names made theirs by a different disguise.
        submit(
            session,
            scene,
            f"c{n}",
            disguised(source, n) + SHARED_HELPER if n >= len(styles) else source + SHARED_HELPER,
        )
    # The last candidates were checked once the helper was an idiom: only candidates who share a style
    # (copies, by construction here) are alike; two different styles with the same helper are not.
    last = session.scalars(select(SimilarityCheck).order_by(SimilarityCheck.id.desc()).limit(4)).all()
    for check in last:
        for match in service.matches_of(session, [check])[check.id]:
            same_style = (match.other.id - check.id) % len(styles) == 0
            assert same_style or match.share < org.similarity_threshold / 100
    common = session.scalar(
        select(func.count())
        .select_from(FingerprintCount)
        .where(FingerprintCount.organization_id == org.id, FingerprintCount.count > service.COMMON_FLOOR)
    )
    assert common, "the shared helper's fingerprints are counted as the pool's"


def test_indexing_a_check_twice_counts_it_once(session: Session, scene: Scene) -> None:
    check_id = submit(session, scene, "ada", INDEPENDENT["staged"])
    check = session.get(SimilarityCheck, check_id)
    assert check is not None
    check.checked_at = None  # as if a second message for it arrived before it was done
    assert service.index_once(session, check_id)
    counts = session.scalars(
        select(FingerprintCount.count).where(FingerprintCount.organization_id == scene[0].id)
    )
    assert set(counts) == {1}


def test_erasing_a_candidate_forgets_their_fingerprints_and_pairs(
    session: Session, scene: Scene, run_jobs: Callable[[], int]
) -> None:
    org = scene[0]
    original = submit(session, scene, "ada", INDEPENDENT["einsum"])
    copy = submit(session, scene, "bob", disguised(INDEPENDENT["einsum"], 1))
    assert flagged_pairs(session, org) == {frozenset((original, copy))}
    session.commit()
    run_jobs()  # their code graded: a candidate is erased once nothing of theirs is being written
    copier = session.scalar(
        select(Invitation)
        .join(Invitation.candidate)
        .where(Invitation.organization_id == org.id)
        .order_by(Invitation.id.desc())
    )
    assert copier is not None
    erase_candidate(session, factories.operator(session, org), copier.candidate)
    assert session.get(SimilarityCheck, copy) is None
    assert not flagged_pairs(session, org)
    assert not session.scalar(
        select(func.count()).select_from(CodeFingerprint).where(CodeFingerprint.check_id == copy)
    )
    held = select(CodeFingerprint.hash).where(CodeFingerprint.check_id == original)
    assert set(session.scalars(select(FingerprintCount.count).where(FingerprintCount.hash.in_(held)))) == {1}
