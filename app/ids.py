"""Object ids as they arrive in addresses and request bodies. The database's ids are 64-bit: a larger number
is refused as input (422) instead of overflowing the database driver (a 500)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path
from pydantic import Field

MAX_ID = 2**63 - 1
ObjectId = Annotated[int, Field(ge=1, le=MAX_ID)]
PathId = Annotated[int, Path(ge=1, le=MAX_ID)]
