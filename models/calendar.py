"""The working-day calendar: public holidays and make-up working days (调休) per year, as the State Council
publishes them each late autumn; a year without a row in ``calendar_years`` is not known."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, utcnow


class CalendarYear(Base):
    """A year whose holidays and make-up working days are all in ``calendar_days`` (loaded or confirmed)."""

    __tablename__ = "calendar_years"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    source: Mapped[str] = mapped_column(String(16))  # "library" (chinese-calendar) or "admin"
    confirmed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class CalendarDay(Base):
    """A day that differs from Monday-Friday: a holiday (``working`` false) or a make-up working day (true)."""

    __tablename__ = "calendar_days"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    working: Mapped[bool] = mapped_column(Boolean)
    name: Mapped[str] = mapped_column(String(64), default="")
