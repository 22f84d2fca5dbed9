"""The recruiter's pages over real HTTP: CSRF, password reset and teammate invitations through the email
outbox, the audit log, CSV upload with its report, scoring, export and comparison."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.attempts.service import close_attempt, save_answer, submit_code_for_grading
from app.grading.service import fail_job
from app.models import (
    AuditEntry,
    CloseReason,
    EmailMessage,
    Invitation,
    JobStatus,
    Organization,
    QuestionType,
    Role,
)
from app.questions.service import current_versions
from app.web.csrf import CSRF_COOKIE
from tests import factories
from tests.forms import csrf_token, post_form, sign_in


def _link_in_last_email(session: Session, prefix: str) -> str:
    message = session.scalars(select(EmailMessage).order_by(EmailMessage.id.desc())).first()
    assert message is not None
    found = re.search(rf"http://testserver({prefix}[A-Za-z0-9_-]+)", message.text_body)
    assert found, message.text_body
    return found.group(1)


def test_a_form_without_the_right_token_changes_nothing(client: TestClient, session: Session) -> None:
    factories.owner(session)
    session.commit()
    refused = client.post("/login", data={"email": "owner@acme.test", "password": factories.PASSWORD})
    assert refused.status_code == 403 and "another site" in refused.text
    client.get("/login")
    forged = client.post(
        "/login", data={"email": "owner@acme.test", "password": factories.PASSWORD, "csrf_token": "0" * 64}
    )
    assert forged.status_code == 403
    # A token made for another browser's cookie does not work in this one.
    other = TestClient(client.app)
    stolen = csrf_token(other)
    assert client.cookies[CSRF_COOKIE] != other.cookies[CSRF_COOKIE]
    assert (
        client.post("/login", data={"email": "x", "password": "y", "csrf_token": stolen}).status_code == 403
    )
    sign_in(client, "owner@acme.test", factories.PASSWORD)
    assert (
        client.post("/team/invitations", data={"email": "a@example.com", "role": "viewer"}).status_code == 403
    )


def test_password_reset_through_the_emailed_link(client: TestClient, session: Session) -> None:
    factories.owner(session)
    session.commit()
    sent = post_form(client, "/password/forgot", {"email": "owner@acme.test"})
    assert sent.headers["location"] == "/login?notice=reset_sent"
    unknown = post_form(client, "/password/forgot", {"email": "nobody@acme.test"})
    assert unknown.headers["location"] == sent.headers["location"]  # nothing tells who has an account
    link = _link_in_last_email(session, "/password/reset/")
    assert client.get(link).status_code == 200
    mismatch = post_form(
        client, link, {"new_password": "a fresh password", "confirm_password": "different!!"}
    )
    assert mismatch.status_code == 422 and "must match" in mismatch.text
    done = post_form(
        client, link, {"new_password": "a fresh password", "confirm_password": "a fresh password"}
    )
    assert done.status_code == 303
    assert client.get(link).status_code == 410  # single use
    sign_in(client, "owner@acme.test", "a fresh password")


def test_a_teammate_joins_from_the_emailed_invitation_and_the_owner_sees_it_in_the_audit_log(
    client: TestClient, session: Session
) -> None:
    factories.owner(session)
    session.commit()
    sign_in(client, "owner@acme.test", factories.PASSWORD)
    assert (
        post_form(client, "/team/invitations", {"email": "new@example.com", "role": "recruiter"}).status_code
        == 303
    )
    assert "new@example.com" in client.get("/team").text
    assert "invites you to join Acme" in client.get("/outbox").text
    link = _link_in_last_email(session, "/join/")

    newcomer = TestClient(client.app, follow_redirects=False)
    page = newcomer.get(link)
    assert page.status_code == 200 and "recruiter" in page.text
    joined = post_form(newcomer, link, {"password": "my own password", "display_name": "New Person"})
    assert joined.status_code == 303
    assert "Acme · recruiter" in newcomer.get("/").text
    assert newcomer.get("/audit").status_code == 403

    audit = client.get("/audit").text
    for action in ("member.invited", "member.joined", "signed_in"):
        assert action in audit
    actions = set(session.scalars(select(AuditEntry.action)))
    assert {"member.invited", "member.joined"} <= actions


def test_csv_upload_reports_each_row_and_invites_only_a_clean_file(
    client: TestClient, session: Session
) -> None:
    _, org = factories.owner(session)
    assessment = factories.published_assessment(session, org, per_type=1)
    session.commit()
    sign_in(client, "owner@acme.test", factories.PASSWORD)
    url = f"/assessments/{assessment.id}/invitations/csv"
    bad = post_form(
        client, url, {"send_email": "true"}, files={"file": ("c.csv", b"email\nok@example.com\nnope\n")}
    )
    assert bad.status_code == 422 and "Nobody was invited" in bad.text and "nope" in bad.text
    assert session.scalars(select(Invitation)).first() is None
    good = post_form(
        client,
        url,
        {"send_email": "true"},
        files={"file": ("c.csv", b"email,first_name\nok@example.com,Ok\n")},
    )
    assert good.status_code == 201 and "Invited 1 candidate" in good.text
    assert session.scalars(select(EmailMessage.to_address)).all() == ["ok@example.com"]


def _finished_written_answer(session: Session, email: str, text: str) -> tuple[Organization, Invitation]:
    """Acme's owner, and a candidate who answered one written question with `text` and finished."""
    _, org = factories.owner(session)
    assessment = factories.published_assessment(session, org, types=(QuestionType.WRITTEN,), per_type=1)
    answers = {assessment.items[0].id: {"text": text}}
    return org, factories.finished_attempt(session, org, assessment, email, answers)


def test_scoring_a_written_answer_and_exporting(client: TestClient, session: Session) -> None:
    org, finished = _finished_written_answer(session, "w@example.com", "Hi")
    assessment, item = finished.assessment, finished.assessment.items[0]
    factories.member(session, org, "v@acme.test", Role.VIEWER)
    session.commit()
    sign_in(client, "owner@acme.test", factories.PASSWORD)
    report = client.get(f"/invitations/{finished.id}").text
    assert "needs review" in report
    criteria = re.findall(r'name="(criterion_[\w-]+)" min="0" max="([\d.]+)"', report)
    assert criteria
    too_many = post_form(
        client, f"/invitations/{finished.id}/items/{item.id}/score", {name: "99" for name, _ in criteria}
    )
    assert too_many.status_code == 422 and "between 0 and" in too_many.text
    scored = post_form(
        client,
        f"/invitations/{finished.id}/items/{item.id}/score",
        {**{name: top for name, top in criteria}, "comment": "Good"},
    )
    assert scored.status_code == 303
    assert f"{item.points:g} / {item.points:g}" in client.get(f"/invitations/{finished.id}").text
    exported = client.get(f"/assessments/{assessment.id}/results.csv")
    assert exported.headers["content-type"].startswith("text/csv")
    assert "attachment" in exported.headers["content-disposition"]
    assert "w@example.com" in exported.text and f",{item.points:g}," in exported.text
    # A viewer reads the report; the scoring form is there but disabled.
    client.cookies.clear()
    sign_in(client, "v@acme.test", factories.PASSWORD)
    assert "disabled" in client.get(f"/invitations/{finished.id}").text


def test_comparing_needs_two_finished_candidates(client: TestClient, session: Session) -> None:
    _, org = factories.owner(session)
    assessment = factories.published_assessment(session, org, types=(QuestionType.MCQ_SINGLE,), per_type=2)
    first = factories.finished_attempt(session, org, assessment, "a@example.com", {})
    second = factories.finished_attempt(session, org, assessment, "b@example.com", {})
    session.commit()
    sign_in(client, "owner@acme.test", factories.PASSWORD)
    url = f"/assessments/{assessment.id}/compare"
    assert client.get(url, params={"ids": [first.id]}).status_code == 422
    page = client.get(url, params={"ids": [first.id, second.id]})
    assert page.status_code == 200
    assert f'href="/invitations/{first.id}"' in page.text and f'href="/invitations/{second.id}"' in page.text


def test_an_admin_creates_a_key_sees_it_once_and_revokes_it(client: TestClient, session: Session) -> None:
    _, org = factories.owner(session, email="owner@example.com")
    factories.member(session, org, "admin@example.com", Role.ADMIN)
    factories.member(session, org, "rec@example.com", Role.RECRUITER)
    session.commit()
    sign_in(client, "admin@example.com", factories.PASSWORD)
    refused = post_form(client, "/api-keys", {"name": "ATS"})
    assert refused.status_code == 422 and "at least one scope" in refused.text
    offered = re.findall(r'name="scopes" value="([\w:]+)"', refused.text)
    assert "candidates:read" in offered and "candidates:personal_data" not in offered  # an owner's to give
    owners_only = post_form(client, "/api-keys", {"name": "ATS", "scopes": ["candidates:personal_data"]})
    assert owners_only.status_code == 403 and "Only an owner" in owners_only.text
    made = post_form(client, "/api-keys", {"name": "ATS", "scopes": ["results:read", "invitations:read"]})
    assert made.status_code == 201
    key = re.search(r'value="(ak_live_[0-9A-Za-z]+)"', made.text)
    assert key, "the new key is shown"
    listing = client.get("/api-keys").text
    assert key.group(1) not in listing, "and never again"
    assert (
        f"{key.group(1)[:16]}…{key.group(1)[-4:]}" in listing and "invitations:read, results:read" in listing
    )
    api = {"Authorization": f"Bearer {key.group(1)}"}
    assert client.get("/api/v1/invitations", headers=api).status_code == 200
    assert client.get("/api/v1/assessments", headers=api).status_code == 403
    key_id = session.scalars(select(AuditEntry.target_id).where(AuditEntry.action == "api_key.created")).one()
    assert post_form(client, f"/api-keys/{key_id}/revoke").status_code == 303
    assert client.get("/api/v1/invitations", headers=api).status_code == 401
    sign_in(client, "rec@example.com", factories.PASSWORD)
    assert client.get("/api-keys").status_code == 403


def test_an_owner_downloads_then_erases_a_candidates_data(client: TestClient, session: Session) -> None:
    org, invitation = _finished_written_answer(session, "ada@example.com", "My own words.")
    admin = factories.member(session, org, "admin@acme.test", Role.ADMIN)
    session.commit()
    report = f"/invitations/{invitation.id}"

    sign_in(client, admin.email, factories.PASSWORD)
    assert "Personal data" not in client.get(report).text
    assert client.get(f"{report}/candidate/export").status_code == 403
    assert (
        post_form(client, f"{report}/candidate/erase", {"confirm_email": "ada@example.com"}).status_code
        == 403
    )

    client.cookies.clear()
    sign_in(client, "owner@acme.test", factories.PASSWORD)
    page = client.get(report)
    assert "Download all their data" in page.text and "Erase their personal data" in page.text
    download = client.get(f"{report}/candidate/export")
    assert download.status_code == 200 and download.headers["cache-control"] == "no-store"
    assert download.headers["content-disposition"].startswith('attachment; filename="candidate-')
    exported = download.json()
    assert exported["candidate"]["email"] == "ada@example.com"
    assert exported["invitations"][0]["attempt"]["answers"][0]["value"] == {"text": "My own words."}

    mistyped = post_form(client, f"{report}/candidate/erase", {"confirm_email": "ada@example.org"})
    assert mistyped.status_code == 422 and "type the candidate&#39;s email address exactly" in mistyped.text
    erased = post_form(client, f"{report}/candidate/erase", {"confirm_email": " ADA@example.com "})
    assert erased.status_code == 303 and erased.headers["location"] == f"{report}?notice=candidate_erased"
    after = client.get(erased.headers["location"])
    assert "Erased candidate #" in after.text and "ada@example.com" not in after.text
    assert "My own words." not in after.text and "personal data is erased" in after.text
    actions = [e.action for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert actions[-2:] == ["candidate.exported", "candidate.erased"]


def test_an_editor_grades_failed_code_again_from_the_report(client: TestClient, session: Session) -> None:
    attempt, item = factories.coding_attempt(session)
    org = session.get(Organization, attempt.invitation.organization_id)
    assert org is not None
    grace = timedelta(seconds=30)
    save_answer(session, attempt, item.id, {"source": "def batchnorm_forward(*a):\n    pass\n"}, grace=grace)
    final = submit_code_for_grading(session, attempt, item.id, grace=grace, per_minute=5)
    assert final.job is not None
    fail_job(session, final.job.id, "the grader failed; see the worker's log")
    close_attempt(session, attempt, CloseReason.SUBMITTED)
    factories.member(session, org, "viewer@acme.test", Role.VIEWER)
    session.commit()
    report = f"/invitations/{attempt.invitation_id}"
    regrade = f"{report}/items/{item.id}/regrade"

    sign_in(client, "viewer@acme.test", factories.PASSWORD)
    page = client.get(report).text
    assert "Grading failed: the grader failed" in page and "Grade again" not in page
    assert post_form(client, regrade, {}).status_code == 403

    client.cookies.clear()
    sign_in(client, "owner@acme.test", factories.PASSWORD)
    assert "Grade again" in client.get(report).text
    retried = post_form(client, regrade, {})
    assert (
        retried.status_code == 303
        and retried.headers["location"] == f"{report}?notice=regrading#item-{item.id}"
    )
    after = client.get(retried.headers["location"]).text
    assert "being graded again" in after and "Being graded…" in after and "Grade again" not in after
    session.refresh(final.job)
    assert final.job.status == JobStatus.QUEUED
    again = post_form(client, regrade, {})
    assert again.status_code == 409 and "only a grading that failed can be retried" in again.text
    actions = [e.action for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert actions[-1] == "grading.retried"


def test_a_teammate_shares_a_report_by_link_and_downloads_its_pdf(
    client: TestClient, session: Session
) -> None:
    org, finished = _finished_written_answer(session, "s@example.com", "Running statistics at inference.")
    factories.member(session, org, "v@acme.test", Role.VIEWER)
    factories.owner(session, email="rival@example.com", org="Rival")
    session.commit()
    sign_in(client, "v@acme.test", factories.PASSWORD)  # a viewer downloads the PDF but shares nothing
    report = client.get(f"/invitations/{finished.id}").text
    assert f'href="/invitations/{finished.id}/report.pdf"' in report and "Share this report" not in report
    pdf = client.get(f"/invitations/{finished.id}/report.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    assert post_form(client, f"/invitations/{finished.id}/report_link", {"days": "3"}).status_code == 403
    client.cookies.clear()
    sign_in(client, "owner@acme.test", factories.PASSWORD)
    assert post_form(client, f"/invitations/{finished.id}/report_link", {"days": "0"}).status_code == 422
    shared = post_form(client, f"/invitations/{finished.id}/report_link", {"days": "3"})
    assert shared.status_code == 200
    link = re.search(r'value="http://testserver(/reports/[\w.-]+)"', shared.text)
    assert link, "the link is shown to copy"

    client.cookies.clear()
    opened = client.get(link.group(1))
    assert opened.status_code == 200 and "Running statistics at inference." in opened.text
    assert 'href="/team"' not in opened.text and "Share this report" not in opened.text
    sign_in(client, "rival@example.com", factories.PASSWORD)
    assert client.get(f"/invitations/{finished.id}/report.pdf").status_code == 404
    assert post_form(client, f"/invitations/{finished.id}/report_link", {"days": "3"}).status_code == 404


def test_preview_runs_need_a_coding_question_the_token_and_stay_within_the_rate(
    client: TestClient, session: Session
) -> None:
    factories.owner(session)
    coding = current_versions(session, types=[QuestionType.CODING])[0]
    concept = current_versions(session, types=[QuestionType.MCQ_SINGLE])[0]
    other_org = factories.coding_assessment(session, factories.owner(session, email="b@other.test")[1])
    session.commit()
    sign_in(client, "owner@acme.test", factories.PASSWORD)
    json = {"Accept": "application/json", "X-CSRF-Token": csrf_token(client)}
    body = {"source": "def f(:\n"}
    assert (
        client.post(f"/bank/{coding.id}/run", json=body, headers={"Accept": "application/json"}).status_code
        == 403
    )
    assert client.post(f"/bank/{concept.id}/run", json=body, headers=json).status_code == 409
    ran = client.post(f"/bank/{coding.id}/run", json=body, headers=json)
    assert ran.status_code == 200, ran.text
    assert ran.json()["result"]["verdict"] == "compile_error"
    assert ran.json()["result"]["cases"][0]["trace"][0]["code"] == "def f(:"
    too_long = client.post(f"/bank/{coding.id}/run", json={"source": "#" * 50_001}, headers=json)
    assert too_long.status_code == 422 and too_long.json()["detail"] == "The code is too long."
    for _ in range(10):
        last = client.post(f"/bank/{coding.id}/run", json=body, headers=json)
    assert last.status_code == 429 and "Too many preview runs" in last.json()["detail"]
    # Another organization's assessment is not there to preview.
    assert client.get(f"/assessments/{other_org.id}/preview").status_code == 404
