"""An assessment managed end to end over the API: find questions in the bank, build a draft, publish it,
make a new version that replaces it, duplicate it, archive it."""

from __future__ import annotations

from tests.api.conftest import Api


def test_an_assessment_is_managed_end_to_end_over_the_api(api: Api) -> None:
    bank = api.get("/questions", params={"type": "coding", "q": "forward"})
    assert bank.status_code == 200, bank.text
    coding = bank.json()
    assert coding and all(q["type"] == "coding" and q["object"] == "question" for q in coding)
    concepts = api.get("/questions", params={"type": "mcq_single", "difficulty": 1}).json()
    assert concepts and all(q["difficulty"] == 1 for q in concepts)
    assert api.get("/questions", params={"difficulty": 9}).status_code == 422

    draft = api.post(
        "/assessments",
        json={"title": "Backend screen", "question_version_ids": [concepts[0]["id"], coding[0]["id"]]},
    )
    assert draft.status_code == 201, draft.text
    first = draft.json()["id"]
    published = api.post(f"/assessments/{first}/publish")
    assert published.status_code == 200 and published.json()["status"] == "published"
    assert api.post(f"/assessments/{first}/publish").status_code == 409, "only a draft is published"

    version = api.post(f"/assessments/{first}/new_version")
    assert version.status_code == 201 and version.json()["version"] == 2
    second = version.json()["id"]
    assert api.post(f"/assessments/{second}/publish").json()["status"] == "published"
    assert api.get(f"/assessments/{first}").json()["status"] == "archived", "replaced by version 2"

    copy = api.post(f"/assessments/{second}/duplicate")
    assert copy.status_code == 201 and copy.json()["status"] == "draft"
    assert copy.json()["title"] == "Copy of Backend screen"
    archived = api.post(f"/assessments/{second}/archive")
    assert archived.status_code == 200 and archived.json()["status"] == "archived"


def test_another_organization_s_assessment_cannot_be_published(api: Api, other_api: Api) -> None:
    draft = api.post("/assessments", json={"title": "Mine"}).json()["id"]
    assert other_api.post(f"/assessments/{draft}/publish").status_code == 404
