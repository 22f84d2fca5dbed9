"""An HR system's side of the whole flow, through the Python client generated from the document the live
server serves (openapi-python-client, as `make client` makes it): search the bank, build and publish an
assessment, invite with a callback of its own (and again with the same Idempotency-Key), the candidate
takes it, the callback hears each step signed, the result reads question by question, the report opens by
link and as a PDF, and errors parse as the problem documents they are."""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import httpx2 as httpx
import pytest
from standardwebhooks import Webhook

from app.api.service import SCOPES, create_api_key
from app.models import AssessmentItem
from tests import factories
from tests.web.conftest import LiveServer, live_server  # noqa: F401 - the server the client calls
from tests.webhooks.conftest import Receiver, receiver  # noqa: F401 - the invitation's callback URL

ROOT = Path(__file__).parents[2]
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def assay_client(live_server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:  # noqa: F811
    """The client generated from the live server's own document, imported."""
    folder = tmp_path_factory.mktemp("client")
    document = folder / "openapi.json"
    document.write_text(httpx.get(f"{live_server.base}/api/v1/openapi.json").text)
    generated = subprocess.run(
        [
            BIN / "openapi-python-client",
            "generate",
            "--path",
            document,
            "--config",
            ROOT / "clients" / "python.yaml",
            "--output-path",
            folder / "assay_client",
            "--meta",
            "none",
        ],
        capture_output=True,
        text=True,
        env=os.environ | {"PATH": f"{BIN}:{os.environ['PATH']}"},  # it formats with ruff
        check=False,
    )
    assert generated.returncode == 0, generated.stdout + generated.stderr
    assert "Warning" not in generated.stdout, generated.stdout  # every operation and schema understood
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module("assay_client")
    finally:
        sys.path.remove(str(folder))
        for name in [m for m in sys.modules if m == "assay_client" or m.startswith("assay_client.")]:
            del sys.modules[name]


def _key(live_server: LiveServer) -> str:  # noqa: F811
    with live_server.sessions() as session:
        _, org = factories.owner(session, email=f"hr-{time.monotonic_ns()}@example.com", org="HR Co")
        _, key = create_api_key(session, factories.operator(session, org), name="HR", scopes=list(SCOPES))
        session.commit()
    return key


def _take(live_server: LiveServer, link: str, written: str) -> None:  # noqa: F811
    """The candidate answers every choice right and writes `written`, then hands in."""
    candidate = httpx.Client(timeout=30)
    assert candidate.post(f"{link}/start").status_code == 303
    page = candidate.get(f"{link}/attempt").text
    answers = {}
    with live_server.sessions() as session:
        for item_id in dict.fromkeys(re.findall(r'name="item_(\d+)"', page)):
            spec = session.get_one(AssessmentItem, int(item_id)).question_version.spec
            options = spec.get("options")
            answers[f"item_{item_id}"] = (
                next(o["id"] for o in options if o["correct"]) if options else written
            )
    assert candidate.post(f"{link}/attempt", data={**answers, "action": "submit"}).status_code == 303


def test_an_hr_system_runs_the_whole_flow_through_the_generated_client(
    assay_client: ModuleType,
    live_server: LiveServer,  # noqa: F811
    receiver: Receiver,  # noqa: F811
) -> None:
    from assay_client import AuthenticatedClient  # type: ignore[import-not-found]
    from assay_client.api.assessments import create_assessment, publish_assessment  # type: ignore[import-not-found]
    from assay_client.api.invitations import (  # type: ignore[import-not-found]
        create_invitation,
        create_invitations,
        get_invitation,
        list_invitations,
    )
    from assay_client.api.question_bank import list_questions  # type: ignore[import-not-found]
    from assay_client.api.results import create_report_link, get_report_pdf, get_result  # type: ignore[import-not-found]
    from assay_client.models import (  # type: ignore[import-not-found]
        AssessmentCreate,
        BulkInvitationCreate,
        CandidateIn,
        InvitationCreate,
        InvitationStatus,
        Problem,
        QuestionType,
        ReportLinkIn,
        ResultOutStatus,
    )

    hr = AuthenticatedClient(
        base_url=live_server.base, token=_key(live_server), raise_on_unexpected_status=True
    )

    choices = list_questions.sync(client=hr, type_=QuestionType.MCQ_SINGLE)[:2]
    written = list_questions.sync(client=hr, type_=QuestionType.WRITTEN)[:1]
    assert len(choices) == 2 and len(written) == 1
    draft = create_assessment.sync(
        client=hr,
        body=AssessmentCreate(
            title="Batch norm screen",
            question_version_ids=[q.id for q in choices + written],
            duration_minutes=30,
        ),
    )
    published = publish_assessment.sync(draft.id, client=hr)
    assert published.status.value == "published"

    request = InvitationCreate(
        assessment_id=published.id,
        candidate=CandidateIn(email="grace@example.com", first_name="Grace", last_name="Hopper"),
        send_email=False,
        callback_url=f"{receiver.url}/candidates/grace",
    )
    invited = create_invitation.sync(client=hr, body=request, idempotency_key="ats-application-42")
    replayed = create_invitation.sync_detailed(client=hr, body=request, idempotency_key="ats-application-42")
    assert replayed.parsed.id == invited.id and replayed.headers["idempotent-replayed"] == "true"
    assert invited.callback_secret.startswith("whsec_") and invited.candidate_url

    _take(live_server, invited.candidate_url, "The running averages, not the batch's statistics.")
    deadline = time.monotonic() + 20
    while get_invitation.sync(invited.id, client=hr).status != InvitationStatus.COMPLETED:
        assert time.monotonic() < deadline, "the invitation never completed"
        time.sleep(0.2)
    completed = list_invitations.sync(client=hr, status=InvitationStatus.COMPLETED).data
    assert [i.id for i in completed] == [invited.id]

    result = get_result.sync(invited.id, client=hr)
    assert result.status == ResultOutStatus.NEEDS_REVIEW
    by_kind = {item.kind: item for item in result.items}
    assert by_kind["mcq_single"].state.value == "correct" and by_kind["mcq_single"].options
    assert by_kind["written"].state.value == "needs review" and "running averages" in by_kind["written"].text
    assert result.integrity is not None

    link = create_report_link.sync(invited.id, client=hr, body=ReportLinkIn(expires_in_days=3))
    opened = httpx.get(link.url)
    assert opened.status_code == 200 and "Grace Hopper" in opened.text
    pdf = get_report_pdf.sync(invited.id, client=hr)
    assert pdf.payload.read().startswith(b"%PDF-")

    # The invitation's own callback heard each step, signed with its own secret.
    deadline = time.monotonic() + 20
    while len(receiver.received) < 3 and time.monotonic() < deadline:
        time.sleep(0.2)
    heard = [Webhook(invited.callback_secret).verify(r.body, r.headers) for r in receiver.received]
    # Deliveries run as separate jobs, so they may arrive in any order (receivers order by the timestamp).
    assert sorted(h["type"] for h in heard) == ["invitation.completed", "invitation.started", "result.scored"]
    assert {h["data"]["invitation_id"] for h in heard} == {invited.id}

    # Errors are problem documents the client reads, not None.
    missing = get_invitation.sync(999_999_999, client=hr)
    assert isinstance(missing, Problem) and missing.status == 404
    bulk = create_invitations.sync(
        client=hr,
        body=BulkInvitationCreate(
            invitations=[
                InvitationCreate(assessment_id=published.id, candidate=CandidateIn(email="alan@example.com")),
                InvitationCreate(assessment_id=999_999_999, candidate=CandidateIn(email="ada@example.com")),
            ]
        ),
    )
    assert [row.status for row in bulk.data] == [201, 404] and bulk.invited == 1
    assert bulk.data[1].problem.status == 404
    refused = create_invitations.sync(
        client=hr,
        body=BulkInvitationCreate(
            invitations=[
                InvitationCreate(assessment_id=published.id, candidate=CandidateIn(email="not an address"))
            ]
        ),
    )
    assert isinstance(refused, Problem) and refused.status == 422
    assert [e.field for e in refused.errors] == ["invitations.0.candidate.email"]
