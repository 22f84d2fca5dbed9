"""The one Markdown dialect of Assay (CommonMark with tables, raw HTML disabled), for pages and exports."""

from __future__ import annotations

import html

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

# Raw HTML in the source is shown as text, never passed through; the output is XHTML (`<br />`), which
# QTI export embeds in XML as it is.
markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def render_markdown(text: str) -> Markup:
    """Markdown to HTML for a page; the output is sanitized again, so question text and candidate
    answers can never carry script."""
    sanitized = nh3.clean(markdown.render(text or ""))
    return Markup(sanitized)  # noqa: S704 - sanitized by nh3 just above  # nosec B704


def render_inline_markdown(text: str) -> Markup:
    """The same, for a phrase inside a sentence (an option quoted in the report): no paragraph around it."""
    sanitized = nh3.clean(markdown.renderInline(text or ""))
    return Markup(sanitized)  # noqa: S704 - sanitized by nh3 just above  # nosec B704


def render_plain(text: str) -> str:
    """A phrase's words without its Markdown (`ddof=1` reads as ddof=1), for a PDF, which has no HTML."""
    return html.unescape(nh3.clean(markdown.renderInline(text or ""), tags=set()))
