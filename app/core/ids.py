"""Object ids as they arrive in addresses and request bodies. The database's ids are 64-bit: a larger number
is refused as input (422) instead of overflowing the database driver (a 500)."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Path
from pydantic import Field

MAX_ID = 2**63 - 1
ObjectId = Annotated[int, Field(ge=1, le=MAX_ID)]
PathId = Annotated[int, Path(ge=1, le=MAX_ID)]
_DIGITS = re.compile(r"[0-9]{1,19}")


def parse_id(text: str) -> int | None:
    """An id written as text (a CLI argument, a partner's reference, a form field), or None when it is not
    one: ASCII digits only (str.isdigit() also accepts "²", which int() refuses), within the database's
    64 bits (and short of int()'s 4300-digit limit)."""
    if not _DIGITS.fullmatch(text.strip()):
        return None
    value = int(text)
    return value if 1 <= value <= MAX_ID else None
