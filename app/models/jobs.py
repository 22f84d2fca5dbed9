"""When each periodic job may next fire: shared by every process that schedules, so none fires twice."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class ScheduleTick(Base):
    __tablename__ = "schedule_ticks"

    name: Mapped[str] = mapped_column(String(120), primary_key=True)
    due_at: Mapped[datetime]
