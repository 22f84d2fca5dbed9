"""Similar code, for a person to review: the side-by-side view of two submissions with what matches
highlighted, and an assessment's groups of submissions alike over the organization's threshold."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import Response
from sqlalchemy.orm import Session

from app.accounts.principal import Principal
from app.assessments.service import get_assessment
from app.core.errors import AppError, FieldError, NotFound, ValidationFailed
from app.core.ids import PathId
from app.http.deps import CurrentPrincipal, Editor, SessionDep
from app.questions.kinds.coding import MAX_SOURCE_CHARS
from app.similarity import service as similarity
from app.web.code_review import reviewable
from app.web.pages import page, redirect
from grader.tasks import TASKS

router = APIRouter()
MAX_FILES = 50


def _references_page(
    request: Request,
    session: Session,
    principal: Principal,
    *,
    error: AppError | None = None,
    status_code: int = 200,
) -> Response:
    return page(
        request,
        "similarity_references.html",
        principal,
        status_code=error.status_code if error else status_code,
        references=similarity.references(session, principal.organization),
        tasks=sorted((task.id, task.title) for task in TASKS.values()),
        min_own=similarity.MIN_OWN_LENGTH,
        error=error,
    )


@router.get("/similarity/references")
def references(request: Request, session: SessionDep, principal: CurrentPrincipal) -> Response:
    return _references_page(request, session, principal)


@router.post("/similarity/references")
async def add_references(
    request: Request,
    session: SessionDep,
    principal: Editor,
    task_id: Annotated[str, Form(max_length=80)] = "",
    name: Annotated[str, Form(max_length=similarity.MAX_REFERENCE_NAME + 1)] = "",
    source: Annotated[str, Form(max_length=MAX_SOURCE_CHARS + 1)] = "",
    files: Annotated[list[UploadFile] | None, File()] = None,
) -> Response:
    """Known solutions from the text box, and one from each .py file chosen (named after the file)."""
    chosen = [f for f in files or [] if f.filename]
    try:
        if len(chosen) > MAX_FILES:
            raise ValidationFailed(
                "Too many files.", errors=[FieldError("files", f"at most {MAX_FILES} at once")]
            )
        for upload in chosen:
            data = await upload.read(MAX_SOURCE_CHARS * 4 + 1)
            try:
                text = data.decode()
            except UnicodeDecodeError:
                raise ValidationFailed(
                    "A file is not text.",
                    errors=[FieldError("files", f"{upload.filename} is not UTF-8 text")],
                ) from None
            label = f"{name.strip()} · {upload.filename}" if name.strip() else str(upload.filename)
            similarity.add_reference(
                session, principal, task_id, label[: similarity.MAX_REFERENCE_NAME], text
            )
        if source.strip() or not chosen:
            similarity.add_reference(session, principal, task_id, name, source)
    except AppError as exc:
        session.rollback()
        return _references_page(request, session, principal, error=exc)
    return redirect("/similarity/references", "saved")


@router.post("/similarity/references/{reference_id}/remove")
def remove_reference(session: SessionDep, principal: Editor, reference_id: PathId) -> Response:
    similarity.remove_reference(session, principal, reference_id)
    return redirect("/similarity/references", "saved")


@router.get("/similarity/{pair_id}")
def side_by_side(
    request: Request, session: SessionDep, principal: CurrentPrincipal, pair_id: PathId
) -> Response:
    pair = similarity.pair_in(session, principal.organization, pair_id)
    if pair is None:
        raise NotFound("No such comparison. It may have gone with an erased candidate's data.")
    sides = [
        (pair.first, pair.first_share, reviewable(pair.first.source, pair.first_ranges)),
        (pair.second, pair.second_share, reviewable(pair.second.source, pair.second_ranges)),
    ]
    return page(
        request,
        "similarity_pair.html",
        principal,
        pair=pair,
        sides=sides,
        threshold=principal.organization.similarity_threshold / 100,
    )


@router.get("/assessments/{assessment_id}/similarity")
def groups(
    request: Request, session: SessionDep, principal: CurrentPrincipal, assessment_id: PathId
) -> Response:
    assessment = get_assessment(session, principal.organization, assessment_id)
    return page(
        request,
        "similarity.html",
        principal,
        assessment=assessment,
        clusters=similarity.clusters(session, principal.organization, assessment),
        summary=similarity.summary(session, assessment),
        threshold=principal.organization.similarity_threshold,
    )
