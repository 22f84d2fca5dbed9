"""The attempt page's JSON conversation with the server: state, autosave, flags, integrity signals, code runs
and the Markdown preview.

Reached through the invitation link like the pages (`/i/{token}/api/…`); errors are problem+json. A save is
acknowledged only after its transaction has committed (SessionDep commits before the response is sent).
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from app.attempts.answers import ClientSave
from app.attempts.schemas import (
    AnswerState,
    AttemptState,
    FlagRequest,
    PreviewRequest,
    PreviewResponse,
    RunRequest,
    SaveRequest,
    SaveResponse,
    SignalBatch,
    SubmissionView,
)
from app.attempts.service import (
    SavedAnswer,
    hand_in_attempt,
    record_signals,
    run_samples,
    save_answer,
    save_answer_fast,
    set_flag,
    submit_code_for_grading,
)
from app.core.errors import Conflict
from app.core.ids import PathId
from app.core.markdown import render_markdown
from app.grading.service import candidate_view, submission_of
from app.http.deps import InvitationDep, SessionDep, SettingsDep, TokenPath
from app.invitations.service import invitation_for_token
from app.models import Answer, Attempt, Invitation, Submission, utcnow

# Request bodies on candidate links (pages and API): the largest answer (50,000 characters of code, up to 4
# bytes each in UTF-8) fits with room to spare.
MAX_BODY_BYTES = 256 * 1024

router = APIRouter(prefix="/i/{token}/api", tags=["candidate"])


def _started_attempt(invitation: Invitation) -> Attempt:
    """The attempt behind the link; whether it still takes writes is the service's rule (`_ensure_open`)."""
    attempt = invitation.attempt
    if attempt is None:
        raise Conflict("The assessment has not been started yet: open the invitation link and press Start.")
    return attempt


def _state_of(answer: Answer | SavedAnswer) -> AnswerState:
    return AnswerState(
        item_id=answer.item_id,
        revision=answer.revision,
        value=answer.value,
        saved_at=answer.saved_at,
        flagged=answer.flagged,
    )


@router.get("/state")
def attempt_state(invitation: InvitationDep) -> AttemptState:
    attempt = _started_attempt(invitation)
    now = utcnow()
    return AttemptState(
        server_now=now,
        deadline_at=attempt.deadline_at,
        remaining_s=max(0.0, (attempt.deadline_at - now).total_seconds()),
        closed=attempt.closed_at is not None,
        answers=[_state_of(answer) for answer in attempt.answers],
    )


@router.put("/answers/{item_id}")
def save(
    token: TokenPath, item_id: PathId, body: SaveRequest, session: SessionDep, settings: SettingsDep
) -> SaveResponse:
    client = ClientSave(body.client_id, body.seq)
    grace = settings.autosave_grace
    saved = save_answer_fast(session, token, item_id, body.value, grace=grace, client=client)
    if saved is not None:
        return SaveResponse(**_state_of(saved).model_dump(), applied=True, server_now=utcnow())
    attempt = _started_attempt(invitation_for_token(session, token))
    outcome = save_answer(session, attempt, item_id, body.value, grace=grace, client=client)
    return SaveResponse(
        **_state_of(outcome.answer).model_dump(), applied=outcome.applied, server_now=utcnow()
    )


@router.put("/answers/{item_id}/flag")
def flag(
    item_id: PathId, body: FlagRequest, session: SessionDep, settings: SettingsDep, invitation: InvitationDep
) -> AnswerState:
    grace = settings.autosave_grace
    return _state_of(set_flag(session, _started_attempt(invitation), item_id, body.flagged, grace=grace))


@router.post("/signals", status_code=204)
def signals(
    body: SignalBatch, session: SessionDep, settings: SettingsDep, invitation: InvitationDep
) -> Response:
    record_signals(
        session,
        _started_attempt(invitation),
        [signal.model_dump(mode="json") for signal in body.signals],
        grace=settings.autosave_grace,
    )
    return Response(status_code=204)


def _view(submission: Submission, invitation: Invitation) -> SubmissionView:
    assessment = invitation.assessment
    return SubmissionView.model_validate(
        candidate_view(
            submission,
            show_score=assessment.show_score_to_candidate,
            show_diagnoses=assessment.sample_run_diagnoses,
        )
    )


@router.post("/answers/{item_id}/run", status_code=202)
def run(
    item_id: PathId, body: RunRequest, session: SessionDep, settings: SettingsDep, invitation: InvitationDep
) -> SubmissionView:
    """Grade the code against the visible sample cases; poll /submissions/{id} for the result."""
    submission = run_samples(
        session,
        _started_attempt(invitation),
        item_id,
        body.source,
        grace=settings.autosave_grace,
        per_minute=settings.sample_runs_per_minute,
    )
    return _view(submission, invitation)


@router.post("/answers/{item_id}/submit", status_code=202)
def grade_code(
    item_id: PathId, session: SessionDep, settings: SettingsDep, invitation: InvitationDep
) -> SubmissionView:
    """Grade the saved code against the hidden cases; the newest submission of an item counts."""
    submission = submit_code_for_grading(
        session,
        _started_attempt(invitation),
        item_id,
        grace=settings.autosave_grace,
        per_minute=settings.sample_runs_per_minute,
    )
    return _view(submission, invitation)


@router.get("/submissions/{submission_id}")
def submission(submission_id: PathId, session: SessionDep, invitation: InvitationDep) -> SubmissionView:
    return _view(submission_of(session, _started_attempt(invitation), submission_id), invitation)


@router.post("/submit")
def hand_in(session: SessionDep, settings: SettingsDep, invitation: InvitationDep) -> AttemptState:
    """Hand the attempt in as saved (the page flushes its pending saves first); twice is harmless."""
    attempt = _started_attempt(invitation)
    hand_in_attempt(session, attempt)
    return attempt_state(invitation)


@router.post("/preview")
def preview(body: PreviewRequest, invitation: InvitationDep) -> PreviewResponse:
    """Markdown of a written answer rendered (and sanitized) exactly as the hiring team will read it."""
    _started_attempt(invitation)
    return PreviewResponse(html=str(render_markdown(body.text)))
