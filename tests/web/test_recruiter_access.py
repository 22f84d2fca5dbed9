"""Every recruiter page and action, enumerated from the app's routes: another organization gets 404 for each
object, a viewer is refused every change, and no page fails to render for its own organization."""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx2 as httpx
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.api.service import create_api_key
from app.assessments.service import create_assessment
from app.emails.service import queue_email
from app.models import Organization, QuestionType, Role, SimilarityPair
from app.questions.service import current_versions
from app.similarity.service import add_reference
from app.web import auth, builder, invitations, results, similarity, team
from tests import factories
from tests.forms import post_form, sign_in
from tests.http.test_security_headers import assert_only_nonced_inline_scripts

RECRUITER_ROUTERS = (builder.router, invitations.router, results.router, similarity.router, team.router)
# Routes about the signed-in person, not an organization's objects, or shared by every organization.
NOT_ORG_OBJECTS = {"/bank/{question_version_id}", "/bank/{question_version_id}/run"}
# Posts that change nothing, so a viewer may send them: a preview's sample run and a preview's hand-in.
PREVIEW_POSTS = {"/bank/{question_version_id}/run", "/assessments/{assessment_id}/preview/done"}


def recruiter_routes() -> list[tuple[str, str]]:
    found = []
    for router in RECRUITER_ROUTERS:
        for route in router.routes:
            assert isinstance(route, APIRoute)
            for method in route.methods:
                found.append((method, route.path))
    return sorted(found)


@dataclass
class World:
    ids: dict[str, int]

    def url(self, path: str) -> str:
        return re.sub(r"\{(\w+)\}", lambda m: str(self.ids[m.group(1)]), path)


@pytest.fixture
def world(session: Session) -> World:
    """Acme's objects of every kind, plus a Globex owner and an Acme viewer to attack them."""
    owner, acme = factories.owner(session, email="owner@acme.test", org="Acme")
    factories.owner(session, email="owner@globex.test", org="Globex")
    viewer = factories.member(session, acme, "viewer@acme.test", Role.VIEWER)
    written = current_versions(session, types=[QuestionType.WRITTEN])[0]
    mcq = current_versions(session, types=[QuestionType.MCQ_SINGLE])[0]
    draft = create_assessment(
        session,
        factories.operator(session, acme),
        title="Draft",
        duration_minutes=30,
        question_version_ids=[mcq.id, written.id],
    )
    published = factories.published_assessment(session, acme, per_type=1)
    item = next(i for i in published.items if i.question_version.type == QuestionType.WRITTEN)
    finished = factories.finished_attempt(
        session, acme, published, "done@example.com", {item.id: {"text": "Batch statistics differ."}}
    )
    waiting = factories.invitation(session, acme, published, email="waiting@example.com").invitation
    message = queue_email(
        session, to="x@example.com", template="password_reset", context={"link": "l"}, organization=acme
    )
    membership = next(m for m in acme.memberships if m.user_id == viewer.id)
    api_key, _ = create_api_key(session, factories.operator(session, acme), name="ATS", scopes="results:read")
    coding = factories.coding_assessment(session, acme)
    code = "import numpy as np\n\n\ndef batchnorm_forward_train(x, gamma, beta, eps=1e-5):\n" + "".join(
        f"    step{n} = np.sqrt(x.var(axis=0) + eps) * {n}\n" for n in range(6)
    )
    factories.checked_code(session, acme, coding, "first@example.com", code)
    factories.checked_code(session, acme, coding, "second@example.com", code)
    pair = session.scalars(select(SimilarityPair).where(SimilarityPair.organization_id == acme.id)).one()
    reference = add_reference(session, factories.operator(session, acme), "bn-forward-train", "notes", code)
    session.commit()
    return World(
        ids={
            "assessment_id": draft.id,
            "section_id": draft.sections[0].id,
            "item_id": draft.items[0].id,
            "invitation_id": finished.id,
            "membership_id": membership.id,
            "message_id": message.id,
            "question_version_id": mcq.id,
            "published_id": published.id,
            "written_item_id": item.id,
            "waiting_id": waiting.id,
            "owner_id": owner.id,
            "api_key_id": api_key.id,
            "pair_id": pair.id,
            "reference_id": reference.id,
        }
    )


def change(client: TestClient, world: World, url: str) -> httpx.Response:
    """A POST with every field any recruiter form needs, valid, so only the rules under test can refuse it."""
    fields = {
        "title": "x",
        "points": "1",
        "email": "new@example.com",
        "role": "recruiter",
        "direction": "up",
        "index": "0",
        "duration_minutes": "30",
        "section_id": str(world.ids["section_id"]),
        "question_version_id": str(world.ids["question_version_id"]),
        "similarity_threshold": "75",
        "task_id": "bn-forward-train",
        "name": "A known solution",
        "source": "import numpy as np\n",
    }
    return post_form(client, url, fields, files={"file": ("c.csv", b"email\nc@example.com\n", "text/csv")})


def test_every_recruiter_route_is_known_to_this_test() -> None:
    """A new page must be added here (and so checked below) before it can ship."""
    params = {p for _, path in recruiter_routes() for p in re.findall(r"\{(\w+)\}", path)}
    assert params <= {
        "assessment_id",
        "section_id",
        "item_id",
        "invitation_id",
        "membership_id",
        "message_id",
        "question_version_id",
        "api_key_id",
        "pair_id",
        "reference_id",
    }


def test_another_organization_gets_404_on_every_object(client: TestClient, world: World) -> None:
    sign_in(client, "owner@globex.test", factories.PASSWORD)
    checked = 0
    for method, path in recruiter_routes():
        if "{" not in path or path in NOT_ORG_OBJECTS:
            continue
        url = world.url(path)
        response = client.get(url) if method == "GET" else change(client, world, url)
        assert response.status_code == 404, (method, path, response.status_code)
        checked += 1
    assert checked >= 25


def test_a_viewer_reads_every_page_and_is_refused_every_change(client: TestClient, world: World) -> None:
    sign_in(client, "viewer@acme.test", factories.PASSWORD)
    for method, path in recruiter_routes():
        url = world.url(path)
        if method == "GET":
            response = client.get(url)
            owners_only = (
                "/audit",
                "/outbox",
                "/outbox/{message_id}",
                "/api-keys",
                "/invitations/{invitation_id}/candidate/export",
            )
            expected = {200, 303} if path not in owners_only else {403}
            if path in (
                "/assessments/new",
                "/assessments/{assessment_id}/edit",
                "/assessments/{assessment_id}/bank",
            ):
                expected = {403}
            if path == "/assessments/{assessment_id}/compare":
                expected = {422}  # reading is allowed; it needs candidates to compare
            assert response.status_code in expected, (path, response.status_code)
        else:
            response = change(client, world, url)
            expected = {200, 422} if path in PREVIEW_POSTS else {403}  # 422: a run's body is JSON
            assert response.status_code in expected, (method, path, response.status_code)


def test_an_owner_opens_every_page_of_their_organization(client: TestClient, world: World) -> None:
    sign_in(client, "owner@acme.test", factories.PASSWORD)
    world.ids["assessment_id"] = world.ids["published_id"]
    for method, path in recruiter_routes():
        if method != "GET" or path.endswith("/compare"):
            continue
        response = client.get(world.url(path))
        assert response.status_code in (200, 303), (path, response.status_code, response.text[:500])
        if response.status_code == 200 and response.headers["content-type"].startswith("text/html"):
            assert_only_nonced_inline_scripts(response)


def test_session_routes_need_a_signed_in_user(client: TestClient) -> None:
    for router in (*RECRUITER_ROUTERS, auth.router):
        for route in router.routes:
            assert isinstance(route, APIRoute)
            if route.path in ("/login", "/logout") or route.path.startswith(("/password", "/join")):
                continue
            if "GET" in route.methods:
                url = re.sub(r"\{\w+\}", "1", route.path)
                assert client.get(url).headers.get("location", "").startswith("/login"), route.path


def test_a_recruiter_cannot_manage_members_keys_or_candidates_data(
    client: TestClient, session: Session, world: World
) -> None:
    """Every route of the team and key pages, and the candidate-data routes, enumerated."""
    acme = session.scalars(select(Organization).where(Organization.name == "Acme")).one()
    factories.member(session, acme, "recruiter@acme.test", Role.RECRUITER)
    session.commit()
    sign_in(client, "recruiter@acme.test", factories.PASSWORD)
    managed = [
        (m, p) for m, p in recruiter_routes() if p.startswith(("/team/", "/api-keys", "/audit", "/outbox"))
    ]
    managed += [(m, p) for m, p in recruiter_routes() if "/candidate/" in p]
    assert len(managed) >= 9
    for method, path in managed:
        url = world.url(path)
        response = client.get(url) if method == "GET" else change(client, world, url)
        assert response.status_code == 403, (method, path, response.status_code)
