"""Property-based, through the upload form: whatever file a recruiter uploads (any bytes, or a CSV of any
columns, delimiters, quotes and cells), the page answers with invitations or with problems to fix, never a
server error; and a file with problems invites nobody."""

from __future__ import annotations

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Invitation
from tests import factories
from tests.forms import post_form, sign_in

PROPERTY_SETTINGS = settings(
    max_examples=100, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
)
COLUMNS = ["email", "first_name", "Last Name", "extra_time_pct", "E-mail", "notes", ""]
cells = (
    st.emails().map(lambda e: e[:80])
    | st.sampled_from(["", "25", "25%", "201", "-5", "²", "٣", "1e2", '"', "a,b", "a;b", "x\ny"])
    | st.text(max_size=30)
)


@st.composite
def csv_files(draw: st.DrawFn) -> bytes:
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    header = draw(st.lists(st.sampled_from(COLUMNS) | st.text(max_size=10), min_size=1, max_size=5))
    rows = draw(st.lists(st.lists(cells, max_size=6), max_size=6))

    def line(values: list[str]) -> str:
        quoted = draw(st.booleans())
        return delimiter.join(f'"{v.replace(chr(34), chr(34) * 2)}"' if quoted else v for v in values)

    text = "\n".join(line(values) for values in [header, *rows])
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "latin-1", "utf-16"]))
    return text.encode(encoding, errors="replace")


def test_any_upload_invites_or_explains(client: TestClient, session: Session) -> None:
    _, org = factories.owner(session)
    assessment = factories.published_assessment(session, org, per_type=1)
    session.commit()
    sign_in(client, "owner@acme.test", factories.PASSWORD)
    url = f"/assessments/{assessment.id}/invitations/csv"

    def invitations() -> int:
        return session.scalar(select(func.count()).select_from(Invitation)) or 0

    def upload(data: bytes) -> None:
        before = invitations()
        response = post_form(client, url, files={"file": ("candidates.csv", data, "text/csv")})
        assert response.status_code in (201, 422), (data[:200], response.status_code)
        if response.status_code == 422:
            assert 'role="alert"' in response.text or "problem" in response.text.lower()
            assert invitations() == before, "a file with problems invited someone"

    @PROPERTY_SETTINGS
    @given(st.binary(max_size=300))
    def any_bytes(data: bytes) -> None:
        upload(data)

    @PROPERTY_SETTINGS
    @given(csv_files())
    def any_csv(data: bytes) -> None:
        upload(data)

    any_bytes()
    any_csv()
    # Found by these properties: a field past the csv module's limit, and a digit that int() refuses.
    upload(b"email\n" + b"a" * 200_000 + b"@example.com\n")
    upload("email,extra_time_pct\nada@example.com,\u00b2\n".encode())
