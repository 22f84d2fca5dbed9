"""Who reads a diagnosis: the candidate after a sample run ("your code"), or the hiring team in the report
("the candidate's code"). Every diagnosis is written once, as a template naming its subject with {Code},
{code}, {Your} or {your}, and spoken to its reader here. Case messages name no one (they describe a case),
so the same text serves both."""

from __future__ import annotations

from typing import Literal

Audience = Literal["candidate", "recruiter"]
AUDIENCES: tuple[Audience, ...] = ("candidate", "recruiter")

_SUBJECTS: dict[Audience, dict[str, str]] = {
    "candidate": {"Code": "Your code", "code": "your code", "Your": "Your", "your": "your"},
    "recruiter": {
        "Code": "The candidate's code",
        "code": "the candidate's code",
        "Your": "The candidate's",
        "your": "the candidate's",
    },
}


def speak(template: str, audience: Audience) -> str:
    """A diagnosis template addressed to its reader (templates are the grader's own text, never a
    candidate's)."""
    return template.format_map(_SUBJECTS[audience])
