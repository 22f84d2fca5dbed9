"""An invitation's own callback URL, given when the API creates it (as HackerRank's test_result_url): signed
and retried as every webhook, it hears that invitation's events and no other's, besides the organization's
endpoints which hear them all."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session
from standardwebhooks import Webhook

from app.core.config import Settings
from app.invitations.service import cancel_invitation
from app.models import Invitation, QuestionType, WebhookDelivery
from app.webhooks.service import INVITATION_EVENT_TYPES, add_invitation_callback, create_endpoint
from tests import factories
from tests.api.conftest import Api
from tests.webhooks.conftest import Receiver


def _delivered(session: Session, endpoint_id: int) -> list[tuple[str, int | None]]:
    session.expire_all()
    rows = session.scalars(
        select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id).order_by(WebhookDelivery.id)
    )
    return [(d.event.type, d.event.payload.get("invitation_id")) for d in rows]


def test_a_callback_hears_its_invitations_events_and_no_others(
    api: Api, session: Session, settings: Settings
) -> None:
    assessment = factories.published_assessment(
        session, api.org, types=(QuestionType.MCQ_SINGLE,), per_type=1
    )
    everything = create_endpoint(
        session, factories.owner_of(session, api.org), url="https://hr.example.com/all", settings=settings
    )
    session.commit()
    made = api.post(
        "/invitations",
        json={
            "assessment_id": assessment.id,
            "candidate": {"email": "one@example.com"},
            "callback_url": "https://ats.example.com/callbacks/one",
        },
    )
    assert made.status_code == 201, made.text
    one = made.json()
    assert one["callback_secret"].startswith("whsec_")
    callback = one["callback"]
    assert callback["url"] == "https://ats.example.com/callbacks/one" and callback["enabled"] is True
    assert callback["event_types"] == INVITATION_EVENT_TYPES
    read = api.get(f"/invitations/{one['id']}").json()
    assert read["callback"] == callback and read["callback_secret"] is None, "the secret is shown once"
    other = api.post(
        "/invitations", json={"assessment_id": assessment.id, "candidate": {"email": "two@example.com"}}
    ).json()
    assert other["callback"] is None

    for invitation_id in (one["id"], other["id"]):
        assert api.post(f"/invitations/{invitation_id}/cancel").status_code == 200
    assert _delivered(session, callback["endpoint_id"]) == [("invitation.cancelled", one["id"])]
    assert _delivered(session, everything.id) == [
        ("invitation.created", one["id"]),
        ("invitation.created", other["id"]),
        ("invitation.cancelled", one["id"]),
        ("invitation.cancelled", other["id"]),
    ]
    listed = api.get(f"/webhook_endpoints/{callback['endpoint_id']}").json()
    assert listed["invitation_id"] == one["id"]
    (delivery,) = api.get(f"/webhook_endpoints/{callback['endpoint_id']}/deliveries").json()["data"]
    assert delivery["event_type"] == "invitation.cancelled"


def test_a_callback_is_checked_like_any_webhook_url(api: Api, session: Session) -> None:
    assessment = factories.published_assessment(
        session, api.org, types=(QuestionType.MCQ_SINGLE,), per_type=1
    )
    session.commit()

    def invite(**extra: object) -> tuple[int, list[str]]:
        body = {"assessment_id": assessment.id, "candidate": {"email": "c@example.com"}, **extra}
        answer = api.post("/invitations", json=body)
        return answer.status_code, [e["field"] for e in answer.json().get("errors", [])]

    assert invite(callback_url="http://10.0.0.7/cb") == (422, ["callback_url"])
    assert invite(callback_url="https://ats.example.com/cb", callback_events=["assessment.published"]) == (
        422,
        ["callback_events"],
    )
    assert invite(callback_events=["result.scored"]) == (422, ["callback_events"])
    assert session.scalars(select(Invitation).where(Invitation.organization_id == api.org.id)).all() == []
    narrowed = api.post(
        "/invitations",
        json={
            "assessment_id": assessment.id,
            "candidate": {"email": "c@example.com"},
            "callback_url": "https://ats.example.com/cb",
            "callback_events": ["result.scored", "result.updated"],
        },
    ).json()
    endpoint = narrowed["callback"]["endpoint_id"]
    refused = api.patch(f"/webhook_endpoints/{endpoint}", json={"event_types": ["assessment.archived"]})
    assert refused.status_code == 422
    bulk = api.post(
        "/invitations/bulk",
        json={
            "invitations": [
                {
                    "assessment_id": assessment.id,
                    "candidate": {"email": f"b{n}@example.com"},
                    "callback_url": f"https://ats.example.com/cb/{n}",
                }
                for n in range(2)
            ]
        },
    ).json()
    secrets = [row["invitation"]["callback_secret"] for row in bulk["data"]]
    assert len(set(secrets)) == 2 and all(s.startswith("whsec_") for s in secrets)


def test_the_callback_is_signed_with_its_own_secret(
    session: Session, allowed: Settings, receiver: Receiver, run_jobs: Callable[[], int]
) -> None:
    _, org = factories.owner(session)
    assessment = factories.published_assessment(session, org, types=(QuestionType.MCQ_SINGLE,), per_type=1)
    invitation = factories.invitation(session, org, assessment).invitation
    actor = factories.owner_of(session, org)
    callback = add_invitation_callback(session, actor, invitation, url=receiver.url, settings=allowed)
    cancel_invitation(session, actor, invitation)
    session.commit()
    run_jobs()
    (got,) = receiver.received
    payload = Webhook(callback.secret).verify(got.body, got.headers)
    assert payload["type"] == "invitation.cancelled" and payload["data"]["invitation_id"] == invitation.id
