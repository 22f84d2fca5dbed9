"""Jinja2 environment shared by every page, with safe Markdown rendering (app.core.markdown), the CSRF field,
and one helper that renders a recruiter page."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from itertools import groupby
from operator import itemgetter
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from app.accounts.principal import Principal
from app.core.markdown import render_inline_markdown, render_markdown
from app.core.timezones import DEFAULT_ZONE, clock_time, local_time
from app.models import Answer, AssessmentItem
from app.questions.kinds import Draw, kind_of
from app.questions.service import spec_of
from app.questions.spec import TOPIC_NAMES, AnyQuestion
from app.results.scoring import format_points
from app.web.code_review import reviewable
from app.web.csrf import CSRF_FIELD, csrf_token

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


def _zone(context: Context) -> str:
    """The organization whose page this is: the signed-in member's, else the one the page names (a
    candidate's link, a shared report)."""
    me = context.get("me")
    return str(context.get("zone") or (me.organization.time_zone if me else DEFAULT_ZONE))


@pass_context
def format_datetime(context: Context, value: datetime | None) -> str:
    return local_time(value, _zone(context)) if value else "—"


@pass_context
def format_clock(context: Context, value: datetime) -> str:
    return clock_time(value, _zone(context))


def format_percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}%"


def csrf_input(request: Request) -> Markup:
    return Markup('<input type="hidden" name="{}" value="{}">').format(CSRF_FIELD, csrf_token(request))


templates.env.filters["markdown"] = render_markdown
templates.env.filters["inline_markdown"] = render_inline_markdown
templates.env.filters["topic"] = lambda slug: TOPIC_NAMES.get(slug, slug)

# What a form field is called on the page, for the errors that name it (never the field's internal name).
FIELD_LABELS = {
    "duration_minutes": "Time limit",
    "pass_mark_pct": "Pass mark",
    "extra_time_pct": "Extra time",
    "question_version_ids": "Questions",
    "confirm_email": "Confirmation",
    "current_password": "Current password",
    "new_password": "New password",
    "mix": "Difficulty mix",
    "expires_in_days": "Link works for",
    "days": "Valid for",
    "ids": "Candidates to compare",
}


def field_label(field: str) -> str:
    """`duration_minutes` → "Time limit"; a rubric criterion → "Rubric"; otherwise the words of the name."""
    if field.startswith(("criteria.", "criterion_")):
        return "Rubric"
    return FIELD_LABELS.get(field, field.replace("_", " ").replace(".", " ").strip().capitalize())


templates.env.filters["field_label"] = field_label
# One vocabulary for difficulty on every page (the bank's files and the API keep 1, 2, 3).
DIFFICULTY_WORDS = {1: "easy", 2: "medium", 3: "hard"}
templates.env.filters["difficulty"] = lambda level: DIFFICULTY_WORDS.get(int(level), str(level))
templates.env.filters["dt"] = format_datetime
templates.env.filters["clock"] = format_clock
templates.env.filters["points"] = format_points
templates.env.filters["percent"] = format_percent
templates.env.filters["reviewable"] = reviewable
templates.env.globals["csrf_input"] = csrf_input
templates.env.globals["csrf_token"] = csrf_token

# Messages shown after a redirect, chosen by a code in the address so no text from a link is ever displayed.
NOTICES = {
    "password_changed": "Your password is changed. Your other sessions were signed out.",
    "password_reset": "Your password is changed. Sign in with the new one.",
    "reset_sent": "If an account uses that address, a link to reset its password is on its way.",
    "teammate_invited": "Invitation sent.",
    "role_changed": "Role changed.",
    "member_removed": "Member removed.",
    "joined": "Welcome! You have joined the organization.",
    "saved": "Saved.",
    "composed": "Here is a proposal. Change anything you like, then publish it.",
    "published": "Published. You can now invite candidates.",
    "archived": "Archived. Existing links still work; no new candidates can be invited.",
    "duplicated": "This is a copy, saved as a draft.",
    "new_version": (
        "This is a new draft version; the published version stays in use until you publish this one."
    ),
    "invitation_cancelled": "Invitation cancelled; its link no longer works.",
    "invitation_resent": "A new link was sent; the previous link no longer works.",
    "scored": "Score saved.",
    "key_revoked": "Key revoked; requests with it are refused from now on.",
    "candidate_erased": "The candidate's personal data is erased; their scores stay in the statistics.",
    "regrading": "The code is being graded again; this page shows the result when it is done.",
}


def question_view(spec: AnyQuestion, draw: Draw, **fields: Any) -> dict[str, Any]:
    """What a kind's `question` macro renders (app/web/templates/kinds/): the same on the attempt page and in
    the recruiters' preview."""
    kind = kind_of(spec.type)
    return {
        "spec": spec,
        "prompt": kind.prompt(spec, draw),
        "options": kind.options(spec, draw),
        "value": {},
        **kind.extras(spec),
        **fields,
    }


def attempt_views(
    items: Iterable[AssessmentItem], draw: Callable[[AssessmentItem], Draw], answers: Mapping[int, Answer]
) -> list[dict[str, Any]]:
    """What the candidate's attempt page shows of each question, in the order given: a candidate's attempt
    with their answers, or a recruiter's preview with none."""
    views = []
    for position, item in enumerate(items, start=1):
        answer = answers.get(item.id)
        views.append(
            question_view(
                spec_of(item.question_version),
                draw(item),
                item=item,
                position=position,
                section_title=item.section.title if item.section else "Questions",
                value=answer.value if answer else {},
                revision=answer.revision if answer else 0,
                flagged=answer.flagged if answer else False,
            )
        )
    return views


def by_section(views: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    """The overview's groups: consecutive questions of one section under its title."""
    return [(title, list(group)) for title, group in groupby(views, key=itemgetter("section_title"))]


def page(
    request: Request, template: str, me: Principal | None, *, status_code: int = 200, **context: Any
) -> Response:
    notice = NOTICES.get(request.query_params.get("notice", ""))
    return templates.TemplateResponse(
        request, template, {"me": me, "notice": notice, **context}, status_code=status_code
    )


def redirect(url: str, notice: str | None = None) -> RedirectResponse:
    if notice is not None:
        assert notice in NOTICES, notice
        path, hash_mark, fragment = url.partition("#")
        url = path + ("&" if "?" in path else "?") + f"notice={notice}" + hash_mark + fragment
    return RedirectResponse(url, status_code=303)
