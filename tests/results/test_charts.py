"""The charts' content, read from the SVG as a person would read it: whole-number ticks on a count axis,
every bin's label whole, the pass mark drawn (each bar split at it, named in the legend), and no "0" on an
empty bar."""

from __future__ import annotations

from xml.etree import ElementTree

from app.results import charts

SVG = "{http://www.w3.org/2000/svg}"


def _axis_labels(svg: str, axis: str) -> list[str]:
    tree = ElementTree.fromstring(svg)  # noqa: S314 - our own chart
    group = next(g for g in tree.iter(f"{SVG}g") if g.get("class", "").startswith(f"axis {axis}"))
    return [t.text or "" for t in group.iter(f"{SVG}text")]


def _printed(svg: str) -> list[str]:
    """The numbers written on the bars."""
    tree = ElementTree.fromstring(svg)  # noqa: S314 - our own chart
    return [t.text for t in tree.iter(f"{SVG}text") if t.get("class") == "value" and t.text]


def test_the_count_axis_has_whole_ticks_and_every_score_label_is_whole() -> None:
    svg = str(charts.score_distribution([12, 35, 61, 64, 66, 90, 95] + [100] * 7, None))
    assert _axis_labels(svg, "y") == [str(n) for n in range(10)]  # every whole count up to the tallest bar
    assert _axis_labels(svg, "x") == [
        "0-9", "10-19", "20-29", "30-39", "40-49", "50-59", "60-69", "70-79", "80-89", "90-100"
    ]  # fmt: skip
    assert sorted(_printed(svg)) == ["1", "1", "3", "9"]  # and no "0" on the empty bins


def test_few_or_many_candidates_count_in_whole_numbers() -> None:
    assert _axis_labels(str(charts.score_distribution([55.5], None)), "y") == ["0", "1"]
    many = str(charts.score_distribution([55.5] * 21, None))
    assert _axis_labels(many, "y") == ["0", "5", "10", "15", "20", "25"]


def test_the_pass_mark_splits_the_bars_and_is_named() -> None:
    svg = str(charts.score_distribution([61, 64, 66, 70], 65))
    assert "below the pass mark (65%)" in svg and "passed (at least 65%)" in svg
    # The 60-69 bin holds two below the mark and one above: two stacked bars, not one.
    assert charts.distribution_bins([61, 64]) == [0, 0, 0, 0, 0, 0, 2, 0, 0, 0]
    assert sorted(_printed(svg)) == ["1", "1", "2"]


def test_misconceptions_read_top_down_in_the_tables_order_with_their_shares() -> None:
    svg = str(charts.misconception_frequencies(["unbiased variance", "wrong axis"], [0.4, 0.125], "t"))
    # A horizontal chart lists its labels bottom-up: the most frequent is on top, as in the table.
    assert _axis_labels(svg, "y") == ["wrong axis", "unbiased variance"]
    assert _axis_labels(svg, "x")[::5] == ["0%", "50%", "100%"]
    assert sorted(_printed(svg)) == ["12%", "40%"]


def test_abilities_fall_in_half_unit_bins_with_the_extremes_kept() -> None:
    assert charts.ability_bins([-9.0, -2.6, -0.1, 0.0, 0.49, 2.9, 7.0]) == [
        2,
        0,
        0,
        0,
        0,
        1,
        2,
        0,
        0,
        0,
        0,
        2,
    ]
    svg = str(charts.ability_distribution([-0.1, 0.0, 0.49]))
    assert _axis_labels(svg, "x")[0] == "-3.0" and _axis_labels(svg, "y") == ["0", "1", "2"]


def test_each_item_curve_is_named_in_the_legend() -> None:
    svg = str(charts.item_curves([("Q1", [(-3.0, 0.1), (3.0, 0.9)]), ("Q2", [(-3.0, 0.4), (3.0, 0.6)])]))
    tree = ElementTree.fromstring(svg)  # noqa: S314 - our own chart
    legends = [
        t.text for g in tree.iter(f"{SVG}g") if "legend" in g.get("class", "") for t in g.iter(f"{SVG}text")
    ]
    assert list(dict.fromkeys(legends)) == ["Q1", "Q2"]
    assert "chance right (%)" in svg and "script" not in svg
