"""Server-rendered SVG charts (pygal), inline in the page: no script, no request to another site.

Every bar carries its value as text and every axis is labelled, so a chart reads without colour; pages put
the same figures in a table beside it for screen readers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from xml.etree import ElementTree

import pygal
from markupsafe import Markup
from pygal.style import Style

from app.questions.spec import TOPIC_NAMES
from app.results.scoring import Part

_STYLE = Style(
    background="transparent",
    plot_background="transparent",
    foreground="#1d2430",
    foreground_strong="#1d2430",
    foreground_subtle="#8a93a3",
    colors=("#1f4fd1", "#b3541e"),
    font_family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif",
    label_font_size=13,
    major_label_font_size=13,
    value_font_size=13,
    value_label_font_size=13,
    legend_font_size=13,
    title_font_size=15,
)

# Below the pass mark in the warm colour, passed in the blue every other chart uses.
_PASS_STYLE = Style(**{**_STYLE.to_dict(), "colors": ("#b3541e", "#1f4fd1")})

SVG_NS = "http://www.w3.org/2000/svg"
ElementTree.register_namespace("", SVG_NS)
ElementTree.register_namespace("xlink", "http://www.w3.org/1999/xlink")


def _svg(chart: Any) -> Markup:
    tree = chart.render_tree()
    # pygal always embeds a configuration <script> for its tooltips; a static chart needs none, and the
    # pages' Content-Security-Policy allows no inline script.
    for parent in tree.iter():
        for child in [c for c in parent if c.tag in ("script", f"{{{SVG_NS}}}script")]:
            parent.remove(child)
    svg = ElementTree.tostring(tree, encoding="unicode")
    return Markup(svg)  # noqa: S704 - ElementTree escaped every label  # nosec B704


def _config(**extra: object) -> dict[str, object]:
    return {
        "style": _STYLE,
        "js": [],  # pygal would otherwise load its tooltip script from a CDN
        "show_legend": False,
        "print_values": True,
        "explicit_size": False,
        "disable_xml_declaration": True,
        **extra,
    }


def percent_bars(names: Sequence[str], percents: Sequence[float], *, title: str, series: str) -> Markup:
    """One horizontal bar per name, 0 to 100 %, in the order given from the top, as the table beside it."""
    chart = pygal.HorizontalBar(
        **_config(
            title=title,
            range=(0, 100),
            width=640,
            height=max(160, 46 * len(names) + 80),
            value_formatter=lambda v: f"{v:.0f}%",
        )
    )
    # A horizontal bar chart draws its first bar at the bottom: reversed, it reads top-down as the table does.
    chart.x_labels = list(names)[::-1]
    chart.add(series, [round(p, 1) for p in percents][::-1])
    return _svg(chart)


def topic_profile(parts: Sequence[Part], title: str = "Score by topic (%)") -> Markup:
    shown = [p for p in parts if p.percent is not None]
    return percent_bars(
        [TOPIC_NAMES.get(p.name, p.name) for p in shown],
        [p.percent or 0.0 for p in shown],
        title=title,
        series="score",
    )


DISTRIBUTION_BINS = 10


def distribution_bins(percents: Sequence[float]) -> list[int]:
    """Counts of scores in 0 to 9 %, 10 to 19 %, and so on up to 90 to 100 %."""
    counts = [0] * DISTRIBUTION_BINS
    for value in percents:
        counts[min(DISTRIBUTION_BINS - 1, max(0, int(value // 10)))] += 1
    return counts


def bin_label(index: int) -> str:
    """`0-9`, `10-19`, … `90-100`: short enough that every label fits under its bar (the axis says %)."""
    return "90-100" if index == DISTRIBUTION_BINS - 1 else f"{index * 10}-{index * 10 + 9}"


def count_ticks(top: int) -> list[int]:
    """Whole-number ticks for a count axis from 0 to at least `top`: every one up to ten, then about five;
    never a fraction (a count of candidates is whole)."""
    step = 1 if top <= 10 else -(-top // 5)
    return list(range(0, max(top, 1) + step, step))


def _candidate_counts(counts: Sequence[int], **extra: object) -> dict[str, object]:
    """A bar chart of candidates counted in bins: whole ticks up to the tallest bar, every bin's label
    whole, the count written on each bar but an empty one."""
    ticks = count_ticks(max(counts))
    return _config(
        width=640,
        height=320,
        y_title="candidates",
        range=(0, ticks[-1]),
        y_labels=ticks,
        truncate_label=-1,  # "90-100" whole
        value_formatter=lambda v: f"{v:.0f}",  # the axis: whole candidates
        formatter=lambda v: f"{v:.0f}" if v else "",  # the bars: no "0" on an empty one
        **extra,
    )


def score_distribution(percents: Sequence[float], pass_mark_pct: float | None) -> Markup:
    """Finished candidates by score, ten bins of ten points. With a pass mark, each bar is split into those
    who passed and those below it (stacked, two colours named in the legend), so the mark is drawn where it
    falls even inside a bin."""
    below = [p for p in percents if pass_mark_pct is None or p < pass_mark_pct]
    passed = [p for p in percents if pass_mark_pct is not None and p >= pass_mark_pct]
    chart = pygal.StackedBar(
        **_candidate_counts(
            distribution_bins(percents),
            title="Candidates by score",
            x_title="score (%)",
            show_legend=pass_mark_pct is not None,
            legend_at_bottom=True,
            style=_STYLE if pass_mark_pct is None else _PASS_STYLE,
        )
    )
    chart.x_labels = [bin_label(i) for i in range(DISTRIBUTION_BINS)]
    if pass_mark_pct is None:
        chart.add("candidates", distribution_bins(percents))
    else:
        chart.add(f"below the pass mark ({pass_mark_pct:g}%)", distribution_bins(below))
        chart.add(f"passed (at least {pass_mark_pct:g}%)", distribution_bins(passed))
    return _svg(chart)


def misconception_frequencies(names: Sequence[str], shares: Sequence[float], title: str) -> Markup:
    """The share of candidates whose code shows each misconception, most frequent on top."""
    return percent_bars(names, [share * 100 for share in shares], title=title, series="candidates")


ABILITY_EDGES = [x / 2 for x in range(-6, 7)]  # -3 to 3 in halves: nearly everyone falls inside


def ability_bins(thetas: Sequence[float]) -> list[int]:
    """Counts of abilities below -2.5, in each half-unit from -2.5 to 2.5, and from 2.5 up."""
    counts = [0] * (len(ABILITY_EDGES) - 1)
    for theta in thetas:
        index = sum(1 for edge in ABILITY_EDGES[1:-1] if theta >= edge)
        counts[index] += 1
    return counts


def ability_distribution(thetas: Sequence[float]) -> Markup:
    counts = ability_bins(thetas)
    chart = pygal.Bar(
        **_candidate_counts(
            counts,
            title="Candidates by ability (2PL estimate)",
            x_title="ability (0 is the average candidate of this assessment)",
        )
    )
    chart.x_labels = [f"{low:+.1f}" for low in ABILITY_EDGES[:-1]]
    chart.add("candidates", counts)
    return _svg(chart)


def item_curves(curves: Sequence[tuple[str, Sequence[tuple[float, float]]]]) -> Markup:
    """Item characteristic curves: for each item, the chance of getting it right (%) against ability."""
    chart = pygal.XY(
        **_config(
            title="Chance of getting each question right, by ability",
            width=640,
            height=360,
            x_title="ability",
            y_title="chance right (%)",
            range=(0, 100),
            xrange=(-3, 3),
            show_legend=True,
            legend_at_bottom=True,
            print_values=False,
            show_dots=False,
            value_formatter=lambda v: f"{v:.0f}%",
            x_value_formatter=lambda v: f"{v:+.1f}",
            style=Style(**{**_STYLE.to_dict(), "colors": _CURVE_COLORS}),
        )
    )
    for name, points in curves:
        chart.add(name, [(round(x, 2), round(p * 100, 1)) for x, p in points])
    return _svg(chart)


_CURVE_COLORS = ("#1f4fd1", "#b3541e", "#1e6b30", "#7a3e00", "#6b21a8", "#0e7490", "#a61e1e", "#344054")
