"""One simulated candidate for bench/load.py: start, autosave answers, run the sample tests, submit the code,
finish. Each user takes one invitation from ASSAY_LOAD_TOKENS (a JSON file of {token, items}) and records
what the server acknowledged to ASSAY_LOAD_RESULTS, for bench/load.py to check against the database."""

from __future__ import annotations

import json
import os
import time
from typing import Any

import gevent
from locust import HttpUser, between, events, task
from locust.exception import StopUser

CANDIDATES: list[dict[str, Any]] = json.loads(open(os.environ["ASSAY_LOAD_TOKENS"]).read())  # noqa: SIM115
RIGHT = """import numpy as np

def batchnorm_forward_train(x, gamma, beta, eps=1e-5):
    mean = x.mean(axis=0)
    return gamma * (x - mean) / np.sqrt(x.var(axis=0) + eps) + beta
"""
DRAFTS = 5
POLL_SECONDS = 0.5  # as the attempt page polls a code run
SAVE_TRIES = 5
acknowledged: dict[str, dict[str, Any]] = {}  # token → item id → the value the server last acknowledged
autosave_ms: list[float] = []
server_errors: list[str] = []
unfinished: list[str] = []
done: list[str] = []
done: list[str] = []


class Candidate(HttpUser):
    # The attempt page saves once typing pauses (700 ms debounce); people pause every few seconds, and a
    # 500-candidate screening still packs a whole attempt into a few minutes here to stay bounded in time.
    wait_time = between(2.0, 5.0)

    def on_start(self) -> None:
        self.candidate = CANDIDATES[len(acknowledged) % len(CANDIDATES)]
        self.token = self.candidate["token"]
        acknowledged[self.token] = {}
        self.seq = 0

    def _check(self, response: Any, what: str) -> Any:
        if response.status_code >= 500:
            server_errors.append(f"{what}: {response.status_code}")
        return response

    def save(self, item: int, value: dict[str, Any]) -> None:
        self.seq += 1
        body = {"client_id": f"load-{self.token[:12]}", "seq": self.seq, "value": value}
        for _ in range(SAVE_TRIES):  # the page keeps a draft and sends it again until it is acknowledged
            started = time.perf_counter()
            response = self._check(
                self.client.put(
                    f"/i/{self.token}/api/answers/{item}", json=body, name="PUT /i/[token]/api/answers/[item]"
                ),
                "autosave",
            )
            autosave_ms.append(1000 * (time.perf_counter() - started))
            if response.status_code == 200:
                acknowledged[self.token][str(item)] = response.json()["value"]
                return
            time.sleep(1)

    def wait_for_grading(self, submission: dict[str, Any]) -> None:
        deadline = time.monotonic() + 120
        while submission["status"] in ("queued", "running") and time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)
            submission = self._check(
                self.client.get(
                    f"/i/{self.token}/api/submissions/{submission['id']}",
                    name="GET /i/[token]/api/submissions/[id]",
                ),
                "poll",
            ).json()
        if submission["status"] in ("queued", "running"):
            unfinished.append(self.token)

    @task
    def take_the_assessment(self) -> None:
        items = self.candidate["items"]
        self._check(
            self.client.post(f"/i/{self.token}/start", allow_redirects=False, name="POST /i/[token]/start"),
            "start",
        )
        self._check(self.client.get(f"/i/{self.token}/api/state", name="GET /i/[token]/api/state"), "state")
        for draft in range(1, DRAFTS + 1):
            self.save(
                items["written"],
                {"text": f"Draft {draft}: batch statistics in training, running ones later."},
            )
            self.wait()
        self.save(items["mcq_single"], {"choice": None})
        self.save(items["coding"], {"source": RIGHT.replace("eps=1e-5", "eps=1e-3")})
        self.wait()
        self.save(items["coding"], {"source": RIGHT})
        run = self._check(
            self.client.post(
                f"/i/{self.token}/api/answers/{items['coding']}/run",
                json={"source": RIGHT},
                name="POST /i/[token]/api/answers/[item]/run",
            ),
            "sample run",
        )
        if run.status_code == 202:
            self.wait_for_grading(run.json())
        final = self._check(
            self.client.post(
                f"/i/{self.token}/api/answers/{items['coding']}/submit",
                name="POST /i/[token]/api/answers/[item]/submit",
            ),
            "submit code",
        )
        if final.status_code == 202:
            self.wait_for_grading(final.json())
        self._check(
            self.client.post(f"/i/{self.token}/api/submit", name="POST /i/[token]/api/submit"), "finish"
        )
        done.append(self.token)
        if len(done) == self.environment.parsed_options.num_users:  # everyone finished: end the run now
            gevent.spawn(self.environment.runner.quit)
        raise StopUser()


@events.quitting.add_listener
def _write_results(environment: Any, **_kwargs: Any) -> None:
    with open(os.environ["ASSAY_LOAD_RESULTS"], "w") as out:
        json.dump(
            {
                "acknowledged": acknowledged,
                "autosave_ms": autosave_ms,
                "server_errors": server_errors,
                "unfinished": unfinished,
            },
            out,
        )
