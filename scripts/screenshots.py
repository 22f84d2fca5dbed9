"""Regenerate the README's screenshots: a throw-away server on a temporary SQLite file, walked in Chromium.

.venv/bin/python scripts/screenshots.py      (needs Debian's chromium: apt-get install chromium)
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx2 as httpx
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        env = os.environ | {
            "ASSAY_DATABASE_URL": f"sqlite:///{tmp}/shots.db",
            "ASSAY_BASE_URL": base,
            "ASSAY_ADMIN_PASSWORD": "screenshot-password",
            "ASSAY_ADMIN_ORG": "Acme Robotics",
        }
        assay = [sys.executable, "-m", "app.cli"]
        subprocess.run([*assay, "db", "upgrade"], env=env, check=True, cwd=ROOT)
        subprocess.run([*assay, "bank", "sync"], env=env, check=True, cwd=ROOT)
        server = subprocess.Popen(
            [*assay, "serve", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            assert server.stdout is not None
            output = ""
            while "Sample candidate link" not in output:
                output += server.stdout.readline()
            link = re.search(r"Sample candidate link: (\S+)", output)
            assert link
            for _ in range(60):
                try:
                    if httpx.get(f"{base}/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.5)
            shoot(base, link.group(1))
        finally:
            server.terminate()
            server.wait(timeout=10)


def shoot(base: str, candidate_link: str) -> None:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 800})
        page.goto(f"{base}/login")
        page.fill("input[name=email]", "owner@example.com")
        page.fill("input[name=password]", "screenshot-password")
        page.screenshot(path=OUT / "01-login.png")
        page.click("button[type=submit]")
        page.screenshot(path=OUT / "02-assessments.png", full_page=True)
        page.goto(f"{base}/assessments/new")
        page.screenshot(path=OUT / "03-builder.png", full_page=True)

        # The candidate's pages are photographed by the browser tests (docs/screenshots/candidate/); here the
        # sample candidate only answers, through the plain form, so the recruiter's pages have a result.
        candidate = browser.new_page(java_script_enabled=False)
        candidate.goto(candidate_link)
        candidate.check("input[name=consent]")
        candidate.click("button[type=submit]")
        for group in candidate.locator("section.question").all():
            choices = group.locator("input[type=radio], input[type=checkbox]")
            if choices.count():
                choices.first.check()
            else:
                group.locator("textarea").fill("Eval mode uses the running statistics, which may be stale.")
        candidate.click("button[value=submit]")

        page.goto(f"{base}/")
        page.click("text=Sample: batch normalization essentials")
        page.screenshot(path=OUT / "06-assessment.png", full_page=True)
        page.click("text=Sample Candidate")
        page.screenshot(path=OUT / "07-result.png", full_page=True)
        browser.close()
    print(f"screenshots written to {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
