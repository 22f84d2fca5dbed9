"""Candidate code as a reviewer must see it: nothing hidden in plain sight.

A submission can hide code from a person reading it while Python still runs it: bidirectional controls
(the "Trojan Source" attack: U+202E makes text display in an order other than the one executed),
zero-width and other invisible characters, unusual spaces, and lines so long that what follows runs far
past the right edge. Each such character is shown as a visible mark naming it (the character itself is
left out, so it cannot reorder anything), every line wraps, and long lines are flagged.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

from markupsafe import Markup, escape

LONG_LINE = 120  # characters: past this a line is flagged (it still wraps)
# Categories of characters that show as nothing, or as something other than what they are.
HIDDEN_CATEGORIES = frozenset({"Cf", "Cc", "Zl", "Zp", "Zs", "Co", "Cn", "Cs"})
VISIBLE_AS_THEMSELVES = frozenset({"\n", "\t", " "})
ASCII_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True)
class HiddenCharacter:
    line: int
    code_point: str  # "U+202E"
    name: str


@dataclass(frozen=True)
class ReviewableCode:
    html: Markup
    hidden: list[HiddenCharacter] = field(default_factory=list)
    long_lines: list[int] = field(default_factory=list)

    @property
    def needs_attention(self) -> bool:
        return bool(self.hidden or self.long_lines)


def _is_hidden(char: str) -> bool:
    return char not in VISIBLE_AS_THEMSELVES and unicodedata.category(char) in HIDDEN_CATEGORIES


def _describe(char: str) -> tuple[str, str]:
    code_point = f"U+{ord(char):04X}"
    return code_point, unicodedata.name(char, "unnamed character").title()


def _marked(line: str, number: int, hidden: list[HiddenCharacter]) -> Markup:
    """One line as HTML, each hidden character replaced by a mark naming it (and listed in `hidden`)."""
    if line.isascii() and not ASCII_CONTROLS.search(line):
        return escape(line)  # the common case, without a look at every character
    parts: list[Markup] = []
    for char in line:
        if _is_hidden(char):
            code_point, name = _describe(char)
            hidden.append(HiddenCharacter(number, code_point, name))
            parts.append(Markup('<mark class="hidden-char" title="{}">{}</mark>').format(name, code_point))
        else:
            parts.append(escape(char))
    return Markup("").join(parts)


def reviewable(source: str, matched: Sequence[tuple[int, int]] = ()) -> ReviewableCode:
    """The source as HTML lines; the character ranges in `matched` (code found in another submission) are
    highlighted, hidden characters inside them marked as everywhere else."""
    hidden: list[HiddenCharacter] = []
    long_lines: list[int] = []
    lines: list[Markup] = []
    start = 0
    for number, line in enumerate(source.split("\n"), start=1):
        body = Markup("").join(
            Markup('<mark class="match">{}</mark>').format(_marked(part, number, hidden))
            if is_match
            else _marked(part, number, hidden)
            for part, is_match in _split(line, start, matched)
        )
        start += len(line) + 1
        if len(line) > LONG_LINE:
            long_lines.append(number)
            lines.append(
                Markup('<span class="line long" title="{} characters long">{}</span>').format(len(line), body)
            )
        else:
            lines.append(Markup('<span class="line">{}</span>').format(body))
    return ReviewableCode(Markup("\n").join(lines), hidden, long_lines)


def _split(line: str, offset: int, matched: Sequence[tuple[int, int]]) -> list[tuple[str, bool]]:
    """`line` (starting at `offset` in the source) cut where the matched ranges begin and end."""
    if not matched:
        return [(line, False)]
    inside = [False] * len(line)
    for begin, end in matched:
        for i in range(max(begin, offset), min(end, offset + len(line))):
            inside[i - offset] = True
    parts: list[tuple[str, bool]] = []
    for char, flag in zip(line, inside, strict=True):
        if parts and parts[-1][1] == flag:
            parts[-1] = (parts[-1][0] + char, flag)
        else:
            parts.append((char, flag))
    return parts or [("", False)]
