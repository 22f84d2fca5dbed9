"""Safe Markdown rendering, used by every page."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from app.core.markdown import render_markdown, render_plain

PAYLOADS = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "[click](javascript:alert(1))",
    '<svg onload="alert(1)"><circle/></svg>',
    '<a href="javascript:alert(1)">x</a>',
    "![x](javascript:alert(1))",
]


class ElementCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))


def elements(html: str) -> list[tuple[str, dict[str, str | None]]]:
    collector = ElementCollector()
    collector.feed(html)
    return collector.elements


@pytest.mark.parametrize("payload", PAYLOADS)
def test_markdown_output_carries_no_script(payload: str) -> None:
    for tag, attrs in elements(str(render_markdown(f"Answer: {payload}"))):
        assert tag not in {"script", "svg", "iframe", "object", "embed"}
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
        for name in ("href", "src"):
            assert not (attrs.get(name) or "").lower().startswith("javascript:"), (tag, attrs)


def test_markdown_keeps_code_and_emphasis() -> None:
    html = str(render_markdown("Use `np.mean(x, axis=0)` and *not* axis 1"))
    assert "<code>np.mean(x, axis=0)</code>" in html and "<em>not</em>" in html
    assert [tag for tag, _ in elements(html)] == ["p", "code", "em"]


def test_a_phrase_reads_without_its_markdown_for_a_pdf() -> None:
    assert (
        render_plain("Divide by `N - 1` (**unbiased**) & <b>not</b> N")
        == "Divide by N - 1 (unbiased) & <b>not</b> N"
    )
