"""Candidate code as a reviewer sees it: every invisible or direction-changing character marked, every long
line flagged, and nothing the code contains able to change how the page reads."""

from __future__ import annotations

import unicodedata

from app.web.code_review import LONG_LINE, reviewable

# "Trojan Source": the comment's RLO...PDI make the early return look like part of a comment.
TROJAN = (
    'def is_admin(user):\n    """Check\u202e } \u2066if user.admin\u2069 \u2066 return True"""\n'
    "    return False\n"
)


def test_bidi_controls_and_invisible_characters_are_marked_not_rendered() -> None:
    source = TROJAN + "total\u200b = 1\nx\u00a0= 2\ny = 3\ufeff\n"
    review = reviewable(source)
    names = [(h.line, h.code_point) for h in review.hidden]
    assert names == [
        (2, "U+202E"),
        (2, "U+2066"),
        (2, "U+2069"),
        (2, "U+2066"),
        (4, "U+200B"),
        (5, "U+00A0"),
        (6, "U+FEFF"),
    ]
    html = str(review.html)
    for char in "\u202e\u2066\u2069\u200b\u00a0\ufeff":
        assert char not in html, unicodedata.name(char)
    assert 'title="Right-To-Left Override">U+202E</mark>' in html
    assert review.needs_attention


def test_every_hidden_category_is_caught_and_ordinary_code_passes_untouched() -> None:
    ordinary = "import numpy as np\n\ndef f(x):\n\treturn np.mean(x, axis=0)  # é, π, 日本 are visible\n"
    review = reviewable(ordinary)
    assert not review.needs_attention and review.hidden == [] and review.long_lines == []
    assert "&lt;" not in str(reviewable("a < b").html).replace("&lt;", "", 1)  # escaped once
    sneaky = [
        "\r",
        "\x1b",
        "\u2028",
        "\u2029",
        "\u061c",
        "\u200e",
        "\u3000",
        "\ue000",
        "\U000e0041",
        "\u00ad",
    ]
    for char in sneaky:
        assert [h.code_point for h in reviewable(f"x = 1{char}\n").hidden] == [f"U+{ord(char):04X}"], repr(
            char
        )


def test_long_lines_are_flagged_and_markup_in_code_is_escaped() -> None:
    hidden_tail = "x = 1" + " " * 300 + "; import os; os.system('rm -rf /')"
    review = reviewable(f"a = 1\n{hidden_tail}\n<script>alert(1)</script>\n")
    assert review.long_lines == [2] and len(hidden_tail) > LONG_LINE
    html = str(review.html)
    assert '<span class="line long" title="' in html and "<script>" not in html
    assert "&lt;script&gt;" in html
