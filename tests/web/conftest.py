"""A real Assay server (uvicorn in its own process, embedded worker, SQLite file) and Debian's Chromium driven
by Playwright, for the browser tests. Data is made through the services on the server's database and
committed for real; every test gets its own organization, so tests do not see each other's data."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2 as httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.core.db import make_engine, make_session_factory
from app.core.migrate import upgrade
from app.models import QuestionType
from app.questions.service import load_bank, sync_bank
from tests import factories
from tests.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
# The flags the candidate-experience issue names, plus no first-run UI.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
AXE = ROOT / "frontend" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "docs" / "screenshots"
GRACE_SECONDS = 2


@dataclass
class LiveServer:
    base: str
    sessions: sessionmaker[Session]
    log: Path

    def invite(
        self,
        *,
        kind: str = "mixed",
        show_score: bool = False,
        instructions: str = "",
        sample_run_diagnoses: bool = False,
    ) -> str:
        """A published assessment in a new organization (with the recruiter's `instructions` for
        candidates) and an invitation to it; returns the link."""
        with self.sessions() as session:
            _, org = factories.owner(session, email=f"owner-{time.monotonic_ns()}@example.com")
            if kind == "coding":
                assessment = factories.coding_assessment(session, org)
            else:
                types = (QuestionType.MCQ_SINGLE, QuestionType.NUMERIC, QuestionType.WRITTEN)
                assessment = factories.published_assessment(session, org, types=types, per_type=2)
            assessment.show_score_to_candidate = show_score
            assessment.description = instructions
            assessment.sample_run_diagnoses = sample_run_diagnoses
            issued = factories.invitation(session, org, assessment)
            session.commit()
            return f"{self.base}/i/{issued.token}"

    def recruiter(self, *, with_results: bool = False) -> tuple[str, int | None]:
        """A new organization's owner (password factories.PASSWORD); with results, a published assessment
        whose candidates finished, one with a written answer to score. Returns (email, assessment id)."""
        email = f"owner-{time.monotonic_ns()}@example.com"
        with self.sessions() as session:
            _, org = factories.owner(session, email=email, org="Acme ML")
            assessment_id = None
            if with_results:
                types = (QuestionType.MCQ_SINGLE, QuestionType.WRITTEN)
                assessment = factories.published_assessment(session, org, types=types, per_type=2)
                assessment.pass_mark_pct = 60
                mcq, _, written, _ = assessment.items
                correct = next(o["id"] for o in mcq.question_version.spec["options"] if o["correct"])
                factories.finished_attempt(
                    session,
                    org,
                    assessment,
                    "grace@example.com",
                    {
                        mcq.id: {"choice": correct},
                        written.id: {"text": "The running averages are used at inference, not the batch's."},
                    },
                )
                factories.finished_attempt(session, org, assessment, "alan@example.com", {})
                assessment_id = assessment.id
            session.commit()
        return email, assessment_id


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package")
    if not (ROOT / "app" / "web" / "static" / "dist" / "candidate.js").exists():
        pytest.fail("the candidate page's bundle is missing: `make assets` (part of `make test`) builds it")
    tmp = tmp_path_factory.mktemp("live")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    url = f"sqlite:///{tmp / 'live.db'}"
    engine = make_engine(Settings(_env_file=None, database_url=url))  # type: ignore[call-arg]
    upgrade(engine)
    sessions = make_session_factory(engine)
    with sessions() as session:
        sync_bank(session, load_bank())
        session.commit()
    env = os.environ | {
        "ASSAY_DATABASE_URL": url,
        "ASSAY_SECRET_KEY": factories.SECRET_KEY,  # the links the tests make are the server's
        "ASSAY_BASE_URL": base,
        "ASSAY_ADMIN_PASSWORD": "browser-test-password",
        "ASSAY_AUTOSAVE_GRACE_SECONDS": str(GRACE_SECONDS),
        "ASSAY_DEADLINE_SWEEP_SECONDS": "0.5",
        "ASSAY_SAMPLE_RUNS_PER_MINUTE": "4",
        # Every browser test signs in from 127.0.0.1 against this one server: on a fast machine more than the
        # default 20 a minute. The limits themselves are tested in tests/web/test_auth.py.
        "ASSAY_SIGN_INS_PER_MINUTE": "10000",
        "ASSAY_PASSWORD_RESETS_PER_HOUR": "10000",
        # Partner callbacks go to a receiver on loopback, which only an operator allow-list opens.
        "ASSAY_OUTBOUND_ALLOW_LIST": "127.0.0.1",
        "ASSAY_GREENHOUSE_CALLBACK_HOSTS": "127.0.0.1",
        "ASSAY_OUTBOX_SWEEP_SECONDS": "0.5",
    }
    log = tmp / "server.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        for _ in range(120):
            try:
                if httpx.get(f"{base}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None:
                pytest.fail(f"the server exited: {log.read_text()[-2000:]}")
            time.sleep(0.25)
        yield LiveServer(base, sessions, log)
    finally:
        server.terminate()
        server.wait(timeout=20)
        engine.dispose()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser profile per test; any script error on the page, and anything the page's
    Content-Security-Policy refused (an inline script without the nonce, a style, a request), fails it."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    context.on("weberror", lambda error: errors.append(str(error.error)))
    context.on(
        "console",
        lambda message: errors.append(message.text) if "Content Security Policy" in message.text else None,
    )
    new_page = context.new_page()
    yield new_page
    context.close()
    assert not errors, f"script errors or policy violations on the page: {errors}"


def check_accessibility(page: Page) -> None:
    """axe-core (from npm) finds no serious or critical WCAG violation on the page as it is now."""
    page.evaluate(AXE.read_text())  # as the DevTools protocol runs it: the page's CSP refuses inline scripts
    found = page.evaluate(
        """async () => {
            const tags = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'];
            const result = await axe.run(document, {runOnly: tags});
            const where = v => v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', ');
            return result.violations
              .filter(v => v.impact === 'serious' || v.impact === 'critical')
              .map(v => `${v.id} (${v.impact}): ${v.help} at ${where(v)}`);
        }"""
    )
    assert found == [], "\n".join(found)


def screenshot(page: Page, name: str, *, full_page: bool = False, folder: str = "candidate") -> None:
    """Written for the README's tour."""
    (SCREENSHOTS / folder).mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / folder / f"{name}.png", full_page=full_page)
