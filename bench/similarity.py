"""How the similarity check scales: time and memory to check 100, 1,000 and 5,000 submissions to one task.

    .venv/bin/python bench/similarity.py                  # 100, 1000, 5000 on a fresh SQLite file
    .venv/bin/python bench/similarity.py --sizes 100 1000  # fewer
    .venv/bin/python bench/similarity.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test

Each pool is made of generated solutions to bn-forward-train: every candidate picks one of several ways to
write each step (the mean, the variance, the normalisation, the output), names of their own and comments,
and one in twenty hands in a disguised copy of an earlier one (renamed, reformatted, reordered). Each
submission is checked as the worker checks it, in order of arrival: its fingerprints indexed, then
compared in full with the few that share the most uncommon fingerprints.

Printed per pool: the total time, the time per submission and its ratio to the smallest pool's (1.0 means
the cost per submission does not grow with the pool; an all-pairs comparison would grow in proportion to
it), the comparisons made in full against the n(n-1)/2 an all-pairs check makes, the copies found, and the
process's memory (peak resident set) after the pool.
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.db import make_engine, make_session_factory
from app.core.migrate import upgrade
from app.models import QuestionType, SimilarityPair
from app.questions.service import load_bank, sync_bank
from app.similarity import service
from app.worker import load_actors
from tests import factories
from tests.similarity.population import TASK, disguised

STEPS = {
    "mean": [
        "{m} = {x}.mean(axis=0)",
        "{m} = np.mean({x}, axis=0)",
        "{m} = {x}.sum(axis=0) / {x}.shape[0]",
        "{m} = np.sum({x}, axis=0) / len({x})",
    ],
    "var": [
        "{v} = {x}.var(axis=0)",
        "{v} = np.var({x}, axis=0)",
        "{v} = (({x} - {m}) ** 2).mean(axis=0)",
        "{v} = np.mean(np.square({x} - {m}), axis=0)",
        "{v} = (({x} * {x}).sum(axis=0) / len({x})) - {m} * {m}",
    ],
    "norm": [
        "{h} = ({x} - {m}) / np.sqrt({v} + {e})",
        "{h} = ({x} - {m}) * (1.0 / np.sqrt({v} + {e}))",
        "{s} = np.sqrt({v} + {e})\n    {h} = ({x} - {m}) / {s}",
        "{s} = 1 / np.sqrt({v} + {e})\n    {h} = np.multiply({x} - {m}, {s})",
    ],
    "out": [
        "return {g} * {h} + {b}",
        "{o} = {g} * {h} + {b}\n    return {o}",
        "return np.add(np.multiply({h}, {g}), {b})",
        "{o} = {h} * {g}\n    {o} += {b}\n    return {o}",
    ],
}
WORDS = ["batch", "feat", "data", "inp", "val", "avg", "mu", "sigma", "tmp", "res", "norm", "scale", "shift"]
COMMENTS = ["# per feature", "# over the batch", "# as in the notes", "# numerically careful", ""]


def generated(rng: random.Random) -> str:
    names = iter(rng.sample([f"{w}{rng.randint(0, 99)}" for w in WORDS], len(WORDS)))
    n = {k: next(names) for k in "xmvhsogbe"}
    body = [rng.choice(variants).format(**n) for variants in STEPS.values()]
    comments = [rng.choice(COMMENTS) for _ in body]
    lines = "\n".join(
        f"    {c}\n    {line}" if c else f"    {line}" for c, line in zip(comments, body, strict=True)
    )
    signature = f"def batchnorm_forward_train({n['x']}, {n['g']}, {n['b']}, {n['e']}=1e-5):"
    return f"import numpy as np\n\n\n{signature}\n{lines}\n"


def run(url: str, size: int, seed: int) -> dict[str, float]:
    engine = make_engine(Settings(_env_file=None, database_url=url))  # type: ignore[call-arg]
    upgrade(engine)
    sessions = make_session_factory(engine)
    rng = random.Random(seed)
    with sessions() as session:
        sync_bank(session, load_bank())
        stamp = time.monotonic_ns()
        _, org = factories.owner(session, email=f"bench-{stamp}@example.com", org=f"Bench {stamp}")
        assessment = factories.coding_assessment(session, org, task=TASK)
        item = next(i for i in assessment.items if i.question_version.type == QuestionType.CODING)
        sources: list[str] = []
        for n in range(size):
            copy = sources and rng.random() < 0.05
            sources.append(disguised(rng.choice(sources), n) if copy else generated(rng))
            factories.finished_attempt(
                session, org, assessment, f"c{n}@example.com", {item.id: {"source": sources[-1]}}
            )
        session.commit()
        checks = _checks(session, org.id)
        session.commit()
    compared = 0
    original_keep = service._keep

    def counting_keep(*args: object) -> None:
        nonlocal compared
        compared += 1
        original_keep(*args)  # type: ignore[arg-type]

    service._keep = counting_keep  # type: ignore[assignment]
    started = time.perf_counter()
    for check_id in checks:
        with sessions() as session:
            service.index_once(session, check_id)
            session.commit()
        with sessions() as session:
            service.run_check(session, check_id)
            session.commit()
    elapsed = time.perf_counter() - started
    service._keep = original_keep  # type: ignore[assignment]
    with sessions() as session:
        threshold = 0.7
        flagged = session.scalar(
            select(func.count()).where(
                SimilarityPair.organization_id == org.id,
                (SimilarityPair.first_share >= threshold) | (SimilarityPair.second_share >= threshold),
            )
        )
    engine.dispose()
    return {
        "size": size,
        "seconds": elapsed,
        "per_submission_ms": elapsed / size * 1000,
        "compared": compared,
        "all_pairs": size * (size - 1) / 2,
        "flagged_pairs": flagged or 0,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _checks(session: Session, organization_id: int) -> list[int]:
    """Every counted submission gets its check, in order of arrival (what `result.scored` does)."""
    from app.grading.service import latest_final
    from app.models import Attempt, Invitation, SimilarityCheck

    ids = []
    attempts = session.scalars(
        select(Attempt)
        .join(Invitation)
        .where(Invitation.organization_id == organization_id)
        .order_by(Attempt.id)
    )
    for attempt in attempts:
        for item in attempt.invitation.assessment.items:
            submission = latest_final(session, attempt.id, item.id)
            if submission is not None:
                check = SimilarityCheck(
                    organization_id=organization_id, submission_id=submission.id, task_id=TASK
                )
                session.add(check)
                session.flush()
                ids.append(check.id)
    return ids


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 5000])
    parser.add_argument("--database-url", default="")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    load_actors()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            url = args.database_url or f"sqlite:///{tmp}/similarity-{size}.db"
            results.append(run(url, size, args.seed))
            r = results[-1]
            base = results[0]["per_submission_ms"]
            print(
                f"{size:>6} submissions: {r['seconds']:7.1f} s, {r['per_submission_ms']:6.1f} ms each "
                f"({r['per_submission_ms'] / base:.2f}x the {results[0]['size']:.0f}-pool's), "
                f"{r['compared']:,.0f} compared in full of {r['all_pairs']:,.0f} pairs "
                f"({r['compared'] / max(r['all_pairs'], 1):.4f}), {r['flagged_pairs']:.0f} pairs over 70 %, "
                f"peak memory {r['peak_rss_mb']:.0f} MB",
                flush=True,
            )


if __name__ == "__main__":
    main()
