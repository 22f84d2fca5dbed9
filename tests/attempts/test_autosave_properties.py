"""Property-based, over HTTP: whatever an autosave carries (any JSON body, any value for any kind of question,
text with any characters), the answer is a clear 4xx or a save, never a server error; and a save that was
acknowledged is exactly what a reload shows."""

from __future__ import annotations

import itertools
from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from app.attempts.service import start_attempt
from tests import factories

PROPERTY_SETTINGS = settings(
    max_examples=120, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
)
TAB = "tab-properties"
ANSWER_KEYS = ("choice", "choices", "number", "text", "source")
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=10,
)
# A value under the keys the questions read, or under any key; the option ids are the bank's own.
answer_values = st.dictionaries(
    st.sampled_from(ANSWER_KEYS) | st.text(max_size=8),
    json_values | st.sampled_from(["a", "b", "c", "d", "1.5", "-2e-3", "nan", "1e400"]),
    max_size=3,
)


def test_any_autosave_is_a_save_or_a_clear_refusal(client: TestClient, session: Session) -> None:
    _, org = factories.owner(session)
    assessment = factories.published_assessment(session, org, per_type=1)
    issued = factories.invitation(session, org, assessment)
    start_attempt(session, issued.invitation)
    session.commit()
    base = f"/i/{issued.token}/api"
    item_ids = [item.id for item in assessment.items]
    seq = itertools.count(1)

    def check_acknowledged(item_id: int, saved: dict[str, Any]) -> None:
        shown = {a["item_id"]: a for a in client.get(f"{base}/state").json()["answers"]}
        assert shown[item_id]["value"] == saved["value"] and shown[item_id]["revision"] == saved["revision"]

    @PROPERTY_SETTINGS
    @given(item_id=st.sampled_from(item_ids), value=answer_values)
    def save_any_value(item_id: int, value: dict[str, Any]) -> None:
        response = client.put(
            f"{base}/answers/{item_id}", json={"client_id": TAB, "seq": next(seq), "value": value}
        )
        assert response.status_code in (200, 422), (value, response.status_code, response.text)
        if response.status_code == 422:
            problem = response.json()
            assert problem["title"] and problem["detail"] and problem["errors"], problem
        else:
            check_acknowledged(item_id, response.json())

    @PROPERTY_SETTINGS
    @given(item_id=st.sampled_from(item_ids), body=json_values)
    def send_any_body(item_id: int, body: object) -> None:
        response = client.put(f"{base}/answers/{item_id}", json=body)
        assert response.status_code in (200, 422), (body, response.status_code, response.text)

    save_any_value()
    send_any_body()


def test_text_with_a_nul_character_is_refused_before_it_is_stored(
    client: TestClient, session: Session
) -> None:
    """Stored, it would make the code ungradable and the attempt impossible to close."""
    _, org = factories.owner(session)
    assessment = factories.coding_assessment(session, org)
    issued = factories.invitation(session, org, assessment)
    start_attempt(session, issued.invitation)
    session.commit()
    coding = assessment.items[1]
    body = {"client_id": TAB, "seq": 1, "value": {"source": "def f():\x00\n    pass"}}
    refused = client.put(f"/i/{issued.token}/api/answers/{coding.id}", json=body)
    assert refused.status_code == 422 and "NUL" in refused.json()["detail"]
    assert client.get(f"/i/{issued.token}/api/state").json()["answers"] == []
