"""Managing webhook endpoints through the API: create (secret shown once), read, change, re-enable, rotate,
delete; the delivery log and redelivery with the same webhook-id."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session
from standardwebhooks import Webhook

from app.core.config import Settings
from app.events.service import record_event
from app.webhooks.service import create_endpoint
from tests import factories
from tests.api.conftest import Api
from tests.webhooks.conftest import Receiver


def test_endpoint_lifecycle(api: Api, allowed: Settings) -> None:
    made = api.post(
        "/webhook_endpoints", json={"url": "https://hooks.example.com/a", "event_types": ["result.scored"]}
    )
    assert made.status_code == 201
    endpoint = made.json()
    assert endpoint["secret"].startswith("whsec_") and endpoint["enabled"] is True
    read = api.get(f"/webhook_endpoints/{endpoint['id']}").json()
    assert "secret" not in read and read["event_types"] == ["result.scored"]
    changed = api.patch(f"/webhook_endpoints/{endpoint['id']}", json={"enabled": False, "description": "ATS"})
    assert changed.json()["enabled"] is False and changed.json()["disabled_reason"]
    enabled = api.patch(f"/webhook_endpoints/{endpoint['id']}", json={"enabled": True})
    assert enabled.json()["enabled"] is True and enabled.json()["disabled_reason"] == ""
    rotated = api.post(f"/webhook_endpoints/{endpoint['id']}/rotate_secret").json()
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != endpoint["secret"]
    assert [e["id"] for e in api.get("/webhook_endpoints").json()["data"]] == [endpoint["id"]]
    assert api.delete(f"/webhook_endpoints/{endpoint['id']}").status_code == 204
    assert api.get(f"/webhook_endpoints/{endpoint['id']}").status_code == 404


def test_bad_endpoints_are_refused_with_the_field(api: Api) -> None:
    private = api.post("/webhook_endpoints", json={"url": "http://10.0.0.7/hook"})
    assert private.status_code == 422 and private.json()["errors"][0]["field"] == "url"
    unknown = api.post(
        "/webhook_endpoints", json={"url": "https://h.example.com", "event_types": ["result.eaten"]}
    )
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "event_types"
    moved = api.post("/webhook_endpoints", json={"url": "https://h.example.com"}).json()
    assert api.patch(f"/webhook_endpoints/{moved['id']}", json={"url": "http://[::1]/x"}).status_code == 422


def test_the_delivery_log_and_redelivery_with_the_same_id(
    api: Api, session: Session, allowed: Settings, receiver: Receiver, run_jobs: Callable[[], int]
) -> None:
    receiver.script = [(500, {})]
    assert api.post("/webhook_endpoints", json={"url": receiver.url}).status_code == 422, "loopback"
    owner = factories.owner_of(session, api.org)
    made = create_endpoint(session, owner, url=receiver.url, settings=allowed)  # as the operator allows
    endpoint = {"id": made.id, "secret": made.secret}
    record_event(session, api.org.id, "invitation.created", {"invitation_id": 1})
    session.commit()
    run_jobs()
    (delivery,) = api.get(f"/webhook_endpoints/{endpoint['id']}/deliveries").json()["data"]
    assert delivery["status"] == "pending" and delivery["attempts"][0]["status_code"] == 500
    assert delivery["event_type"] == "invitation.created" and delivery["next_attempt_at"]
    again = api.post(f"/webhook_endpoints/{endpoint['id']}/deliveries/{delivery['id']}/redeliver")
    assert again.status_code == 202
    run_jobs()
    (delivery,) = api.get(f"/webhook_endpoints/{endpoint['id']}/deliveries").json()["data"]
    assert delivery["status"] == "succeeded" and [a["status_code"] for a in delivery["attempts"]] == [
        500,
        200,
    ]
    first, second = receiver.received
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == delivery["event_id"]
    Webhook(endpoint["secret"]).verify(second.body, second.headers)
    assert api.post(f"/webhook_endpoints/{endpoint['id']}/deliveries/999999/redeliver").status_code == 404
