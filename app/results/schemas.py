"""The API's result object: the score of a candidate's attempt, its parts, and what the grader found."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from app.api.schemas import RequestBody
from app.results.report import AttemptReport, CodeReport, ItemReport, TimelineEntry
from app.results.scoring import Part, round_points
from app.results.sharing import DEFAULT_DAYS, MAX_DAYS, ReportLink
from app.results.statistics import PlacedAbility
from app.similarity.service import ItemSimilarity


class PartOut(BaseModel):
    name: str
    score: float
    max_score: float = Field(description="Points of the items already scored.")
    pending: int = Field(description="Items whose points are not known yet.")

    @classmethod
    def of(cls, part: Part) -> PartOut:
        return cls(
            name=part.name,
            score=round_points(part.earned),
            max_score=round_points(part.max_points),
            pending=part.pending,
        )


class DiagnosisOut(BaseModel):
    item_id: int
    code: str = Field(
        description="The misconception the grader recognised, e.g. `uses_batch_stats_at_inference`."
    )
    message: str
    confidence: float


class OptionOut(BaseModel):
    id: str
    text: str
    correct: bool
    chosen: bool
    misconception: str | None = Field(
        description="The grader's misconception code this option embodies, when it embodies one."
    )


class NumberOut(BaseModel):
    given: str | None = Field(description="What the candidate typed, as typed.")
    expected: float
    allowed_error: float
    unit: str | None


class TraceOut(BaseModel):
    line: int
    function: str = Field(description="`<module>` for the file's top level.")
    code: str = Field(description="The text of that line of the candidate's code.")


class CaseOut(BaseModel):
    name: str
    visible: bool = Field(description="A sample case the candidate could run, or a hidden one.")
    status: str = Field(description="`passed`, `wrong_answer`, `runtime_error`, `time_limit_exceeded`, …")
    message: str
    trace: list[TraceOut] = Field(
        description="Where the candidate's code failed, innermost last (visible cases only; else empty)."
    )


class CodeOut(BaseModel):
    source: str = Field(description="The code handed in for grading (or, before any, the last saved).")
    state: Literal["graded", "grading", "failed", "empty"]
    verdict: str | None = Field(description="The grader's verdict once graded, e.g. `accepted`.")
    score: float | None = Field(description="The share of the cases passed, 0 to 1.")
    cases: list[CaseOut]
    diagnoses: list[DiagnosisOut]

    @classmethod
    def of(cls, item_id: int, code: CodeReport) -> CodeOut:
        return cls(
            source=code.source,
            state=code.state,
            verdict=code.verdict or None,
            score=code.score,
            cases=[
                CaseOut(
                    name=c.name,
                    visible=c.visible,
                    status=c.status,
                    message=c.message,
                    trace=[TraceOut(line=t.line, function=t.function, code=t.code) for t in c.trace],
                )
                for c in code.cases
            ],
            diagnoses=[
                DiagnosisOut(item_id=item_id, code=d.code, message=d.message, confidence=d.confidence)
                for d in code.diagnoses
            ],
        )


class SimilarMatchOut(BaseModel):
    invitation_id: int | None = Field(description="The other candidate's invitation; null for a reference.")
    reference: str | None = Field(
        description="The name of the known solution the organization added, when the match is one."
    )
    similarity: int = Field(description="Percent of this candidate's code found in the other's.")
    other_similarity: int = Field(description="Percent of the other's code found in this candidate's.")


class SimilarityOut(BaseModel):
    """How alike one coding answer is to the organization's other submissions to the same task. A signal for
    a person to review (compare the two side by side), never a verdict: short tasks have few ways to be
    written, and two people can write the same lines."""

    item_id: int
    status: Literal["pending", "checked", "too_short", "failed"] = Field(
        description="`pending` until the background check has run; `too_short`: too little code of the "
        "candidate's own (starter code left out) to tell a copy from the obvious answer."
    )
    flagged: bool = Field(description="The highest similarity is at or over the organization's threshold.")
    threshold: int = Field(description="The organization's threshold, in percent.")
    matches: list[SimilarMatchOut] = Field(description="Alike submissions, most alike first (at most 5).")

    @classmethod
    def of(cls, found: ItemSimilarity, threshold: float) -> SimilarityOut:
        return cls(
            item_id=found.item.id,
            status=found.status.replace(" ", "_"),
            flagged=found.flagged(threshold),
            threshold=round(threshold * 100),
            matches=[
                SimilarMatchOut(
                    invitation_id=m.other_invitation.id if m.other_invitation else None,
                    reference=m.other.reference_name,
                    similarity=round(m.share * 100),
                    other_similarity=round(m.other_share * 100),
                )
                for m in found.matches[:5]
            ],
        )


class AbilityOut(BaseModel):
    """The candidate's place in the item response model (2PL) of their assessment's scored attempts."""

    theta: float = Field(description="Ability on the assessment's own scale: 0 is its average candidate.")
    standard_error: float = Field(description="The estimate's standard error (posterior spread).")
    among: int = Field(description="The fully scored attempts the model was fitted to.")


class ReviewOut(BaseModel):
    points: float
    comment: str
    scored_at: datetime


class ItemResultOut(BaseModel):
    item_id: int
    position: int = Field(description="1 for the first question the candidate saw.")
    title: str
    kind: str = Field(description="`mcq_single`, `mcq_multi`, `numeric`, `written` or `coding`.")
    topic: str
    state: Literal[
        "correct", "partly correct", "incorrect", "not answered", "needs review", "grading", "in progress"
    ]
    points: float | None = Field(description="Null while the grader or a reviewer has not scored it.")
    max_points: float
    seconds_on_screen: float | None = Field(
        description="Time the question was on screen, from the page's signals."
    )
    options: list[OptionOut] | None = Field(
        description="Choice questions: every option, the chosen ones marked."
    )
    number: NumberOut | None = Field(description="Numeric questions: the answer and what was expected.")
    text: str | None = Field(description="Written questions: the candidate's answer (Markdown).")
    review: ReviewOut | None = Field(description="Written questions: the reviewer's points and comment.")
    code: CodeOut | None = Field(description="Coding tasks: the code, each case's result and the diagnoses.")

    @classmethod
    def of(cls, r: ItemReport) -> ItemResultOut:
        return cls(
            item_id=r.item.id,
            position=r.position,
            title=r.title,
            kind=r.kind,
            topic=r.topic,
            state=r.state,
            points=None if r.points is None else round_points(r.points),
            max_points=round_points(r.max_points),
            seconds_on_screen=None if r.seconds is None else round(r.seconds, 1),
            options=[
                OptionOut(
                    id=o.id, text=o.text, correct=o.correct, chosen=o.chosen, misconception=o.misconception
                )
                for o in r.options
            ]
            or None,
            number=None
            if r.numeric is None
            else NumberOut(
                given=None if r.numeric["given"] in (None, "") else str(r.numeric["given"]),
                expected=r.numeric["expected"],
                allowed_error=r.numeric["allowed"],
                unit=r.numeric.get("unit") or None,
            ),
            text=r.text if r.rubric else None,
            review=None
            if r.manual is None
            else ReviewOut(
                points=round_points(r.manual.points), comment=r.manual.comment, scored_at=r.manual.scored_at
            ),
            code=None if r.code is None else CodeOut.of(r.item.id, r.code),
        )


class SignalOut(BaseModel):
    at: datetime = Field(description="When the page saw it, checked against when the server received it.")
    kind: str = Field(
        description="`page_hidden`, `page_visible`, `window_blur`, `window_focus`, `paste`, `item_shown`, or "
        "`page_load` (the test page opened, reloaded or come back to; a reload's hiding is not listed)."
    )
    description: str
    question_position: int | None


class IntegrityOut(BaseModel):
    """What the candidate's page noticed. Leaving the page or pasting is not proof of anything."""

    left_page: int = Field(description="Times the page was hidden (another tab, the window minimised).")
    switched_window: int = Field(description="Times another window took the focus.")
    pastes: int
    pasted_characters: int
    timeline: list[SignalOut]

    @classmethod
    def of(cls, timeline: list[TimelineEntry]) -> IntegrityOut:
        count = {
            kind: sum(e.kind == kind for e in timeline) for kind in ("page_hidden", "window_blur", "paste")
        }
        return cls(
            left_page=count["page_hidden"],
            switched_window=count["window_blur"],
            pastes=count["paste"],
            pasted_characters=sum(e.characters for e in timeline),
            timeline=[
                SignalOut(at=e.at, kind=e.kind, description=e.words, question_position=e.item_position)
                for e in timeline
            ],
        )


class ReportLinkIn(RequestBody):
    expires_in_days: int = Field(
        default=DEFAULT_DAYS,
        ge=1,
        le=MAX_DAYS,
        strict=True,
        description="How long the link opens the report.",
    )


class ReportLinkOut(BaseModel):
    object: Literal["report_link"] = "report_link"
    url: str = Field(description="The report page; opens without an Assay login until `expires_at`.")
    pdf_url: str = Field(description="The same report as a PDF, on the same terms.")
    expires_at: datetime

    @classmethod
    def of(cls, link: ReportLink) -> ReportLinkOut:
        return cls(url=link.url, pdf_url=link.pdf_url, expires_at=link.expires_at)


class ResultOut(BaseModel):
    object: Literal["result"] = "result"
    invitation_id: int
    status: Literal["not_started", "in_progress", "grading", "needs_review", "scored"] = Field(
        description="`scored` once every point is known; `needs_review` while written answers await a person."
    )
    score: float | None = Field(description="Points earned so far, to two decimals as every page shows them.")
    max_score: float | None
    percent: float | None
    passed: bool | None = Field(description="Null until the score is complete or when no pass mark is set.")
    needs_manual_review: bool
    sections: list[PartOut]
    topics: list[PartOut]
    diagnoses: list[DiagnosisOut]
    items: list[ItemResultOut] = Field(description="Every question in the order the candidate saw them.")
    integrity: IntegrityOut | None = Field(description="Null until the candidate starts.")
    ability: AbilityOut | None = Field(
        description="Null until the score is complete and the assessment has enough fully scored attempts "
        "for the model (30 by default)."
    )
    similarity: list[SimilarityOut] = Field(
        description="Each coding answer compared with the organization's other submissions to the same task."
    )
    started_at: datetime | None
    completed_at: datetime | None
    close_reason: Literal["submitted", "deadline", "cancelled"] | None = Field(
        description="`submitted`: handed in before the time was up; `deadline`: the time ran out (the "
        "server's clock decides); null while the attempt is open."
    )
    report_url: str = Field(
        description="The full report in Assay (for signed-in teammates); "
        "`POST /invitations/{id}/report_link` makes one anyone may open until it expires."
    )
    pdf_url: str = Field(description="The report as a PDF, with this API key.")

    @classmethod
    def of(cls, report: AttemptReport, base_url: str, ability: PlacedAbility | None = None) -> ResultOut:
        attempt, score = report.attempt, report.score
        status: Literal["not_started", "in_progress", "grading", "needs_review", "scored"]
        if attempt is None or score is None:
            status = "not_started"
        elif attempt.closed_at is None:
            status = "in_progress"
        elif score.grading:
            status = "grading"
        elif score.needs_review:
            status = "needs_review"
        else:
            status = "scored"
        return cls(
            invitation_id=report.invitation.id,
            status=status,
            score=round_points(score.earned) if score else None,
            max_score=round_points(score.max_points) if score else None,
            percent=round(score.percent, 2) if score and score.percent is not None else None,
            passed=score.passed if score else None,
            needs_manual_review=report.needs_manual_review,
            sections=[PartOut.of(p) for p in report.sections],
            topics=[PartOut.of(p) for p in report.topics],
            diagnoses=[
                DiagnosisOut(item_id=item.item.id, code=d.code, message=d.message, confidence=d.confidence)
                for item in report.items
                if item.code is not None
                for d in item.code.diagnoses
            ],
            items=[ItemResultOut.of(item) for item in report.items],
            integrity=None if attempt is None else IntegrityOut.of(report.timeline),
            ability=AbilityOut(
                theta=ability.ability.theta, standard_error=ability.ability.se, among=ability.among
            )
            if ability
            else None,
            similarity=[SimilarityOut.of(found, report.similarity_threshold) for found in report.similarity],
            started_at=attempt.started_at if attempt else None,
            completed_at=attempt.closed_at if attempt else None,
            close_reason=attempt.close_reason.value if attempt and attempt.close_reason else None,
            report_url=f"{base_url}/invitations/{report.invitation.id}",
            pdf_url=f"{base_url}/api/v1/invitations/{report.invitation.id}/report.pdf",
        )
