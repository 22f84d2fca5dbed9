"""Question kinds. Everything that differs between kinds lives in one module per kind here (how a question
is drawn for a candidate, how an answer is checked and stored, when it counts as answered, its automatic
points, what the report shows), one template of Jinja macros per kind (`app/web/templates/kinds/`: the
question as candidates see it, the answer key of the preview, the report's answer) and one object per kind
in `frontend/src/kinds.js` (reading, showing and setting up the answer on the attempt page). A new kind
adds a module here, a template there and an object in that script."""

from __future__ import annotations

from typing import Any

from app.models import QuestionType
from app.questions.kinds.base import Draw, Kind, ScoredBy
from app.questions.kinds.choice import MULTI, SINGLE
from app.questions.kinds.coding import CODING
from app.questions.kinds.numeric import NUMERIC
from app.questions.kinds.written import WRITTEN

KINDS: dict[QuestionType, Kind[Any]] = {kind.type: kind for kind in (SINGLE, MULTI, NUMERIC, WRITTEN, CODING)}


def kind_of(question_type: QuestionType | str) -> Kind[Any]:
    return KINDS[QuestionType(question_type)]


__all__ = ["KINDS", "Draw", "Kind", "ScoredBy", "kind_of"]
