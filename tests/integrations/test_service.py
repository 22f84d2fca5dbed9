"""Greenhouse told the truth: "complete" only once the score is final (written answers scored by a person
included), a new PATCH whenever the final score changes, the PATCH authenticated as Greenhouse's own
example does, and a repeated send_test answered with the same interview, not a second invitation."""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.accounts.principal import ApiPrincipal, Principal
from app.api.service import authenticate_key, create_api_key
from app.assessments.service import create_assessment, publish_assessment
from app.core.config import Settings
from app.integrations import service
from app.integrations.schemas import GreenhouseCandidate
from app.jobs.runtime import use_job_context
from app.models import (
    Assessment,
    DeliveryStatus,
    EmailMessage,
    Invitation,
    Organization,
    PartnerCallback,
    QuestionType,
    Role,
)
from app.questions.service import current_versions, spec_of
from app.results.service import score_written_answer
from tests import factories
from tests.webhooks.conftest import Receiver

CALLBACK = "https://app.greenhouse.io/integrations/testing_partners/take_home_tests/{n}"
PROFILE = "https://app.greenhouse.io/people/17681532?application_id={n}"


@pytest.fixture
def greenhouse(session: Session, settings: Settings) -> tuple[Organization, ApiPrincipal, str, Assessment]:
    """An organization with a published assessment (one choice question, one written answer) and the key
    Greenhouse holds."""
    user, org = factories.owner(session, email="gh-owner@example.com", org="Hiring Co")
    actor = factories.principal(user, org)
    versions = [
        current_versions(session, types=[QuestionType.MCQ_SINGLE])[0],
        current_versions(session, types=[QuestionType.WRITTEN])[0],
    ]
    draft = create_assessment(
        session, actor, title="Screen", duration_minutes=30, question_version_ids=[v.id for v in versions]
    )
    assessment = publish_assessment(session, actor, draft)
    _, key = create_api_key(
        session, actor, name="Greenhouse", scopes=["assessments:read", "invitations:write", "results:read"]
    )
    return org, authenticate_key(session, key), key, assessment


def _send(
    session: Session,
    settings: Settings,
    principal: ApiPrincipal,
    key: str,
    assessment: Assessment,
    n: int = 1,
) -> Invitation:
    return service.send_test(
        session,
        principal,
        partner_test_id=str(assessment.id),
        candidate=GreenhouseCandidate(
            email=f"cand{n}@example.com",
            first_name="Ada",
            last_name="L",
            greenhouse_profile_url=PROFILE.format(n=n),
        ),
        callback_url=CALLBACK.format(n=n),
        settings=settings,
        partner_key=key,
    )


def _answer_and_finish(
    session: Session, org: Organization, assessment: Assessment, invitation: Invitation
) -> None:
    mcq, written = assessment.items
    right = next(o["id"] for o in mcq.question_version.spec["options"] if o["correct"])
    factories.finish(
        session, invitation, {mcq.id: {"choice": right}, written.id: {"text": "Because batches vary."}}
    )


def _callback(session: Session, invitation: Invitation) -> PartnerCallback:
    row = session.scalars(select(PartnerCallback).where(PartnerCallback.invitation_id == invitation.id)).one()
    session.refresh(row)
    return row


def _score_written(session: Session, org: Organization, invitation: Invitation, share: float) -> None:
    reviewer = factories.member(session, org, f"rev{share}@example.com", Role.RECRUITER)
    written = invitation.assessment.items[1]
    rubric = spec_of(written.question_version).rubric  # type: ignore[union-attr]
    given = {c.id: c.points * share for c in rubric}
    principal = Principal(user=reviewer, organization=org, role=Role.RECRUITER, session_id=0)
    score_written_answer(session, principal, invitation, written.id, given, "")


def test_complete_only_once_the_score_is_final_and_a_new_patch_when_it_changes(
    session: Session, settings: Settings, greenhouse: tuple[Organization, ApiPrincipal, str, Assessment]
) -> None:
    org, principal, key, assessment = greenhouse
    invitation = _send(session, settings, principal, key, assessment)
    _answer_and_finish(session, org, assessment, invitation)

    waiting = service.test_status(session, principal, invitation.id, settings.base_url)
    assert waiting.partner_status == "awaiting_review", "a written answer waits for a person"
    assert waiting.partner_score is None and waiting.partner_profile_url is None
    assert _callback(session, invitation).next_attempt_at is None, (
        "Greenhouse is not called before it is final"
    )

    _score_written(session, org, invitation, share=0.5)
    final = service.test_status(session, principal, invitation.id, settings.base_url)
    attempt = invitation.attempt
    assert attempt is not None and attempt.max_score
    assert final.partner_status == "complete"
    assert final.partner_score == round(100 * attempt.score / attempt.max_score, 1)  # type: ignore[operator]
    assert final.metadata is not None and final.metadata["Needs manual review"] == "no"
    callback = _callback(session, invitation)
    assert callback.status == DeliveryStatus.PENDING and callback.next_attempt_at is not None

    # Greenhouse got the PATCH; later a reviewer changes the written answer's score: Greenhouse is told again.
    callback.status, callback.next_attempt_at, callback.attempt_count = DeliveryStatus.SUCCEEDED, None, 1
    session.flush()
    _score_written(session, org, invitation, share=1.0)
    again = _callback(session, invitation)
    assert again.status == DeliveryStatus.PENDING and again.next_attempt_at is not None
    assert service.test_status(session, principal, invitation.id, settings.base_url).partner_score == 100.0


def test_the_same_send_test_twice_is_one_invitation_and_one_email(
    session: Session, settings: Settings, greenhouse: tuple[Organization, ApiPrincipal, str, Assessment]
) -> None:
    _, principal, key, assessment = greenhouse
    first = _send(session, settings, principal, key, assessment, n=7)
    again = _send(session, settings, principal, key, assessment, n=7)
    other = _send(session, settings, principal, key, assessment, n=8)  # another application
    assert again.id == first.id and other.id != first.id
    emails = session.scalar(
        select(func.count()).select_from(EmailMessage).where(EmailMessage.to_address == "cand7@example.com")
    )
    assert emails == 1


def test_the_patch_carries_the_partner_key_as_greenhouse_expects(
    session: Session,
    settings: Settings,
    greenhouse: tuple[Organization, ApiPrincipal, str, Assessment],
    receiver: Receiver,
    run_jobs: Callable[[], int],
    session_factory: object,
) -> None:
    """Greenhouse's side refuses a PATCH without its partner key; Assay's is accepted. The key is kept only
    sealed with the install's secret."""
    org, principal, key, assessment = greenhouse
    allowed = settings.model_copy(
        update={"outbound_allow_list": ["127.0.0.1"], "greenhouse_callback_hosts": ["127.0.0.1"]}
    )
    use_job_context(allowed, session_factory)  # type: ignore[arg-type]
    invitation = service.send_test(
        session,
        principal,
        partner_test_id=str(assessment.id),
        candidate=GreenhouseCandidate(email="auth@example.com", first_name="A", last_name="B"),
        callback_url=f"{receiver.url}/take_home_tests/1",
        settings=allowed,
        partner_key=key,
    )
    stored = _callback(session, invitation)
    assert key not in (stored.credentials or ""), "sealed, not stored in the clear"
    expected = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
    receiver.require_authorization = expected
    _answer_and_finish(session, org, assessment, invitation)
    _score_written(session, org, invitation, share=1.0)
    session.commit()
    run_jobs()
    (patch,) = [r for r in receiver.received if r.method == "PATCH"]
    assert patch.headers["authorization"] == expected
    assert _callback(session, invitation).status == DeliveryStatus.SUCCEEDED
    use_job_context(None, None)
