"""Jinja2 environment shared by every page, with safe Markdown rendering."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import nh3
from fastapi.templating import Jinja2Templates
from markdown_it import MarkdownIt
from markupsafe import Markup

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


def render_markdown(text: str) -> Markup:
    """Markdown to HTML; raw HTML is disabled and the output sanitized again, so question text and
    candidate answers can never carry script."""
    return Markup(nh3.clean(_markdown.render(text or "")))  # noqa: S704 - sanitized by nh3 just above


def format_datetime(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "—"


def format_points(value: float | None) -> str:
    return "—" if value is None else f"{value:g}"


templates.env.filters["markdown"] = render_markdown
templates.env.filters["dt"] = format_datetime
templates.env.filters["points"] = format_points
