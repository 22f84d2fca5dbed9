"""Known solutions an organization adds (a public repository's answer): every submission to the task is
compared with them, those already in included; a copy of one is flagged naming it; they never count as
the pool's idioms; removing one removes its matches."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Event, FingerprintCount, Organization, SimilarityCheck, SimilarityPair
from app.similarity import service, tasks
from app.webhooks.schemas import EVENT_DATA
from tests import factories
from tests.forms import post_form, sign_in
from tests.similarity.population import INDEPENDENT, TASK, disguised

PUBLISHED = INDEPENDENT["einsum"]


def _counts(session: Session, org: Organization) -> int:
    return (
        session.scalar(
            select(func.coalesce(func.sum(FingerprintCount.count), 0)).where(
                FingerprintCount.organization_id == org.id
            )
        )
        or 0
    )


def test_a_copy_of_a_known_solution_is_flagged_naming_it(
    session: Session, run_jobs: Callable[[], int]
) -> None:
    user, org = factories.owner(session)
    assessment = factories.coding_assessment(session, org, task=TASK)
    copier = factories.checked_code(session, org, assessment, "bob@example.com", disguised(PUBLISHED, 4))
    honest = factories.checked_code(session, org, assessment, "cy@example.com", INDEPENDENT["staged"])
    before = _counts(session, org)

    reference = service.add_reference(
        session, factories.principal(user, org), TASK, "github.com/someone/cs231n", PUBLISHED
    )
    tasks.check_similarity.fn(reference.id)  # what the worker runs once the request commits
    session.refresh(reference)
    assert reference.checked_at is not None
    assert _counts(session, org) == before, "a known solution is not one of the pool"

    pairs = session.scalars(select(SimilarityPair).where(SimilarityPair.organization_id == org.id)).all()
    alike = {
        frozenset((p.first_check_id, p.second_check_id))
        for p in pairs
        if max(p.first_share, p.second_share) >= 0.7
    }
    assert alike == {frozenset((copier, reference.id))}
    [flag] = session.scalars(
        select(Event).where(Event.organization_id == org.id, Event.type == "result.flagged")
    )
    EVENT_DATA["result.flagged"].model_validate(flag.payload)
    assert (
        flag.payload["other_invitation_id"] is None
        and flag.payload["reference"] == "github.com/someone/cs231n"
    )
    copier_check = session.get(SimilarityCheck, copier)
    assert copier_check is not None
    [best] = service.matches_of(session, [copier_check])[copier]
    assert best.other_invitation is None and best.other.reference_name == "github.com/someone/cs231n"
    assert honest not in {m.other.id for m in service.matches_of(session, [reference])[reference.id]}

    service.remove_reference(session, factories.principal(user, org), reference.id)
    assert session.get(SimilarityCheck, reference.id) is None
    assert not service.matches_of(session, [copier_check])[copier]


def test_known_solutions_are_added_from_text_and_files_with_clear_refusals(
    client: TestClient, session: Session
) -> None:
    factories.owner(session)
    session.commit()
    sign_in(client, "owner@acme.test", factories.PASSWORD)
    refused = post_form(
        client, "/similarity/references", {"task_id": "no-such-task", "name": "", "source": ""}
    )
    assert refused.status_code == 422
    for words in (
        "choose one of the tasks",
        "say where it comes from",
        "paste the code or choose a .py file",
    ):
        assert words in refused.text
    not_text = post_form(
        client,
        "/similarity/references",
        {"task_id": TASK, "name": "x"},
        files=[("files", ("a.py", b"\xff\xfe", "text/plain"))],
    )
    assert not_text.status_code == 422 and "a.py is not UTF-8 text" in not_text.text
    nul = post_form(client, "/similarity/references", {"task_id": TASK, "name": "x", "source": "x = 1\x00"})
    assert nul.status_code == 422 and "cannot be stored" in nul.text
    added = post_form(
        client,
        "/similarity/references",
        {"task_id": TASK, "name": "course notes"},
        files=[
            ("files", ("one.py", PUBLISHED.encode(), "text/plain")),
            ("files", ("two.py", INDEPENDENT["loops"].encode(), "text/plain")),
        ],
    )
    assert added.status_code == 303
    page = client.get("/similarity/references").text
    assert "course notes · one.py" in page and "course notes · two.py" in page and "being compared" in page
