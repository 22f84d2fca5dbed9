"""Jinja2 environment shared by every page, with safe Markdown rendering (app.markdown)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from fastapi.templating import Jinja2Templates

from app.markdown import render_markdown

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


def format_datetime(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "—"


def format_points(value: float | None) -> str:
    return "—" if value is None else f"{value:g}"


templates.env.filters["markdown"] = render_markdown
templates.env.filters["dt"] = format_datetime
templates.env.filters["points"] = format_points
