"""Crash cases on real processes (PostgreSQL, Redis, `assay worker`, `assay serve`): a worker SIGKILLed
mid-grading, Redis lost during grading, the app restarted during an autosave burst. Each ends with nothing
lost and nothing duplicated."""

from __future__ import annotations

import json
import signal
import threading
import time

import httpx2 as httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.emails.service import queue_email
from app.jobs.runtime import broker as test_broker
from app.models import (
    Answer,
    AnswerRevision,
    Event,
    GradingJob,
    JobStatus,
    QuestionType,
    StoredGrade,
    Submission,
    WebhookDelivery,
)
from app.webhooks.service import create_endpoint
from tests import factories
from tests.jobs.conftest import Cluster
from tests.ports import free_port
from tests.smtp import Inbox
from tests.webhooks.conftest import Receiver


def _finished_attempts(cluster: Cluster, count: int, *, pause: float, hook: str | None = None) -> list[int]:
    """`count` candidates who saved code and submitted: one final grading job each, committed."""
    with cluster.sessions() as session:
        _, org = factories.owner(session)
        if hook is not None:
            allow = Settings(_env_file=None, outbound_allow_list=["127.0.0.1"])  # type: ignore[call-arg]
            create_endpoint(
                session,
                factories.owner_of(session, org),
                url=hook,
                settings=allow,
                event_types=["result.scored"],
            )
        assessment = factories.coding_assessment(session, org)
        jobs = factories.final_grading_jobs(
            session, org, assessment, factories.SLOW_RIGHT.format(pause=pause), count
        )
        session.commit()
    test_broker.flush_all()  # the test process's own (in-memory) broker is not the cluster's
    return jobs


def _job(cluster: Cluster, job_id: int) -> GradingJob:
    with cluster.sessions() as session:
        job = session.get(GradingJob, job_id)
        assert job is not None
        return job


def _results(session: Session, job_ids: list[int]) -> dict[int, int]:
    rows = session.execute(
        select(GradingJob.id, func.count(StoredGrade.id))
        .join(Submission, Submission.id == GradingJob.submission_id)
        .outerjoin(StoredGrade, StoredGrade.submission_id == Submission.id)
        .where(GradingJob.id.in_(job_ids))
        .group_by(GradingJob.id)
    )
    return {job_id: count for job_id, count in rows}


def test_a_worker_killed_mid_grading_leaves_one_result_announced_once(
    cluster: Cluster, receiver: Receiver
) -> None:
    [job_id] = _finished_attempts(cluster, 1, pause=2, hook=receiver.url)
    doomed = cluster.start_worker("doomed")
    cluster.enqueue_grading(job_id)
    cluster.wait_until(lambda: _job(cluster, job_id).status == JobStatus.RUNNING, 60, "the first claim")
    time.sleep(0.5)
    cluster.kill(doomed)  # SIGKILL to every process of that worker: no chance to clean up
    assert _job(cluster, job_id).status == JobStatus.RUNNING, "the lease is still held by the dead worker"

    cluster.start_worker("survivor")
    cluster.wait_until(lambda: _job(cluster, job_id).status == JobStatus.DONE, 90, "the survivor's grading")
    cluster.wait_until(lambda: receiver.received, 30, "the result.scored webhook")
    time.sleep(2)  # room for a duplicate to arrive, if there were one

    with cluster.sessions() as session:
        job = session.get(GradingJob, job_id)
        assert job is not None and job.tries == 2 and job.submission.result is not None
        assert job.submission.result.verdict == "accepted"
        assert _results(session, [job_id]) == {job_id: 1}
        events = session.scalars(select(Event).where(Event.type == "result.scored")).all()
        assert len(events) == 1
        assert session.scalar(select(func.count()).select_from(WebhookDelivery)) == 1
    bodies = [json.loads(request.body) for request in receiver.received]
    assert len(bodies) == 1 and bodies[0]["type"] == "result.scored"
    assert receiver.received[0].headers["webhook-id"] == events[0].public_id, "consumers dedupe by event id"


def test_a_worker_stopped_mid_grading_finishes_it_before_exiting(cluster: Cluster) -> None:
    [job_id] = _finished_attempts(cluster, 1, pause=2)
    worker = cluster.start_worker()
    cluster.enqueue_grading(job_id)
    cluster.wait_until(lambda: _job(cluster, job_id).status == JobStatus.RUNNING, 60, "the claim")
    worker.send_signal(signal.SIGTERM)  # to the main process, as `docker stop` does on a deploy or scale-down
    worker.wait(timeout=60)
    job = _job(cluster, job_id)
    assert job.status == JobStatus.DONE and job.tries == 1, "the grading in flight finished before the exit"


def test_losing_redis_during_grading_loses_no_work(cluster: Cluster) -> None:
    jobs = _finished_attempts(cluster, 4, pause=1.5)
    cluster.start_worker()
    for job_id in jobs:
        cluster.enqueue_grading(job_id)
    cluster.wait_until(
        lambda: any(_job(cluster, j).status == JobStatus.RUNNING for j in jobs), 60, "grading to start"
    )
    cluster.redis.stop()  # every queued message is gone with it
    time.sleep(2)
    cluster.redis.start()  # empty: the database still knows what is left to do
    cluster.wait_until(
        lambda: all(_job(cluster, j).status == JobStatus.DONE for j in jobs), 120, "every job to finish"
    )
    with cluster.sessions() as session:
        assert _results(session, jobs) == {job_id: 1 for job_id in jobs}
        assert all(session.get(GradingJob, j).tries <= 2 for j in jobs)  # type: ignore[union-attr]


def test_restarting_the_app_during_an_autosave_burst_loses_no_acknowledged_save(cluster: Cluster) -> None:
    with cluster.sessions() as session:
        _, org = factories.owner(session)
        assessment = factories.published_assessment(session, org, types=(QuestionType.WRITTEN,) * 3)
        issued = factories.invitation(session, org, assessment)
        session.commit()
        items = [item.id for item in assessment.items]
    port = free_port()
    base = f"http://127.0.0.1:{port}"

    def serve() -> object:
        server = cluster.spawn("app", ["serve", "--port", str(port)], ASSAY_BROKER_URL="")
        cluster.wait_until(lambda: _ready(base), 60, "the app to serve")
        return server

    server = serve()
    assert httpx.post(f"{base}/i/{issued.token}/start").status_code == 303
    acknowledged: dict[int, int] = {}  # item → highest sequence number the server acknowledged
    applied: dict[int, set[int]] = {item: set() for item in items}
    errors: list[str] = []
    stop = threading.Event()

    def candidate_tab(item_id: int) -> None:
        """Saves a new draft as fast as the server answers, retrying each until it is acknowledged, as the
        candidate page does."""
        with httpx.Client(timeout=10) as client:
            seq = 0
            while not stop.is_set():
                seq += 1
                body = {"client_id": f"tab-{item_id:010d}", "seq": seq, "value": {"text": f"draft {seq}"}}
                while True:
                    try:
                        response = client.put(f"{base}/i/{issued.token}/api/answers/{item_id}", json=body)
                    except httpx.TransportError:
                        time.sleep(0.05)  # the server is restarting: the page keeps the draft and retries
                        continue
                    if response.status_code >= 500:
                        errors.append(f"{response.status_code}: {response.text[:200]}")
                    if response.status_code == 200:
                        acknowledged[item_id] = seq
                        if response.json()["applied"]:
                            applied[item_id].add(seq)
                        break
                    time.sleep(0.05)

    tabs = [threading.Thread(target=candidate_tab, args=(item,)) for item in items]
    for tab in tabs:
        tab.start()
    try:
        time.sleep(2)
        cluster.kill(server, signal.SIGTERM)  # a rolling restart: finish what is in flight, then exit
        serve()
        time.sleep(2)
    finally:
        stop.set()
        for tab in tabs:
            tab.join(timeout=30)
    assert not errors
    assert all(acknowledged.get(item, 0) > 10 for item in items), acknowledged
    with cluster.sessions() as session:
        for item in items:
            answer = session.scalars(select(Answer).where(Answer.item_id == item)).one()
            assert answer.value == {"text": f"draft {acknowledged[item]}"}, (
                "the last acknowledged save is kept"
            )
            revisions = session.scalar(
                select(func.count()).select_from(AnswerRevision).where(AnswerRevision.answer_id == answer.id)
            )
            assert revisions == len(applied[item]), "each save stored once, retries included"


def _ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/readyz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def test_an_email_written_while_redis_is_down_goes_once_it_is_back(
    cluster: Cluster, smtp_server: tuple[Inbox, int]
) -> None:
    """Its message was lost with Redis; the row was not: the outbox sweep sends it within its interval."""
    inbox, port = smtp_server
    cluster.spawn(
        "worker",
        ["worker", "--processes", "1", "--threads", "2", "--metrics-port", "0"],
        ASSAY_SMTP_HOST="127.0.0.1",
        ASSAY_SMTP_PORT=str(port),
        ASSAY_SMTP_STARTTLS="false",
    )
    cluster.redis.stop()
    with cluster.sessions() as session:
        _, org = factories.owner(session)
        queue_email(
            session,
            to="during-outage@example.com",
            template="password_reset",
            context={"link": "http://example.com/reset"},
            organization=org,
        )
        session.commit()
    test_broker.flush_all()  # its message went to this process's broker: as good as lost
    time.sleep(2)
    cluster.redis.start()  # empty
    back = time.monotonic()
    cluster.wait_until(lambda: inbox.messages, 30, "the email written during the outage")
    assert time.monotonic() - back < 10, "within a few sweeps (every 0.5 s here), not after a lease"
    time.sleep(2)
    assert [envelope.rcpt_tos for envelope, _ in inbox.messages] == [["during-outage@example.com"]]
