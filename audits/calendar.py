"""Working days in China: public holidays and make-up working days (调休) from the ``calendar_days`` table.

The table is loaded from the chinese-calendar library for the years it knows and kept by admins for the others
(the State Council publishes each year's schedule in late autumn). A deadline counted through a year the table
does not know is still given (Monday-Friday in that year) but marked ``provisional``, and the admins are told to
load the year: never a silent weekday fallback.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import CalendarDay, CalendarYear, Notification, Role, User

HOLIDAY_NAMES = {  # chinese-calendar's names -> the names people use
    "New Year's Day": "元旦", "Spring Festival": "春节", "Tomb-sweeping Day": "清明节", "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节", "National Day": "国庆节", "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "中国人民抗日战争暨世界反法西斯战争胜利70周年纪念日",
}
MISSING_YEAR = "calendar_year_missing"  # the kind of the admins' notification


@dataclass(frozen=True)
class Deadline:
    """A date counted in working days; ``provisional`` when the count crossed a year without holiday data."""

    day: dt.date
    provisional: bool = False
    missing_years: tuple[int, ...] = ()


@dataclass(frozen=True)
class WorkCalendar:
    """The years whose holidays are known and the days that differ from Monday-Friday (True: working)."""

    years: frozenset[int] = frozenset()
    days: Mapping[dt.date, bool] = field(default_factory=dict)

    def knows(self, day: dt.date) -> bool:
        return day.year in self.years

    def is_working_day(self, day: dt.date) -> bool:
        """Per the State Council's arrangements for known years; Monday-Friday otherwise (see ``knows``)."""
        special = self.days.get(day)
        return special if special is not None else day.weekday() < 5

    def add_working_days(self, start: dt.date, days: int) -> Deadline:
        """The date ``days`` working days after ``start`` (``start`` itself not counted)."""
        day, left, unknown = start, days, set()
        while left > 0:
            day += dt.timedelta(days=1)
            if not self.knows(day):
                unknown.add(day.year)
            if self.is_working_day(day):
                left -= 1
        return Deadline(day, bool(unknown), tuple(sorted(unknown)))

    def next_working_day(self, after: dt.date) -> Deadline:
        return self.add_working_days(after, 1)

    def working_days(self, start: dt.date, end: dt.date) -> list[dt.date]:
        """The working days from ``start`` to ``end``, both included."""
        days, day = [], start
        while day <= end:
            if self.is_working_day(day):
                days.append(day)
            day += dt.timedelta(days=1)
        return days

    def unknown_years(self, start: dt.date, end: dt.date) -> tuple[int, ...]:
        return tuple(y for y in range(start.year, end.year + 1) if y not in self.years)


def load_calendar(session: Session) -> WorkCalendar:
    """The calendar as stored."""
    years = frozenset(session.scalars(select(CalendarYear.year)))
    days = {d.day: d.working for d in session.scalars(select(CalendarDay))}
    return WorkCalendar(years, days)


def library_years() -> range:
    """The years the chinese-calendar library has the State Council's arrangements for."""
    from chinese_calendar import constants

    years = {d.year for d in constants.holidays}
    return range(min(years), max(years) + 1)


def library_days(year: int) -> dict[dt.date, tuple[bool, str]]:
    """The library's holidays and make-up working days of ``year``: day -> (working, name)."""
    from chinese_calendar import constants

    days = {d: (False, HOLIDAY_NAMES.get(n, n)) for d, n in constants.holidays.items() if d.year == year}
    days.update({d: (True, HOLIDAY_NAMES.get(n, n) + "调休上班") for d, n in constants.workdays.items()
                 if d.year == year})
    return days


def load_library_years(session: Session) -> list[int]:
    """Load every year the library knows and the table does not (admins' years are left alone); safe to run
    again. Returns the years loaded."""
    have = set(session.scalars(select(CalendarYear.year)))
    loaded = []
    for year in library_years():
        if year in have:
            continue
        save_year(session, year, library_days(year), source="library", confirmed_by=None)
        loaded.append(year)
    return loaded


def save_year(session: Session, year: int, days: Mapping[dt.date, tuple[bool, str]], *, source: str,
              confirmed_by: User | None) -> CalendarYear:
    """Replace the special days of ``year`` and mark the year known. Days outside the year are ignored."""
    for old in session.scalars(select(CalendarDay).where(CalendarDay.day >= dt.date(year, 1, 1),
                                                         CalendarDay.day <= dt.date(year, 12, 31))):
        session.delete(old)
    session.flush()
    for day, (working, name) in sorted(days.items()):
        if day.year == year:
            session.add(CalendarDay(day=day, working=working, name=name[:64]))
    row = session.get(CalendarYear, year)
    if row is None:
        row = CalendarYear(year=year, source=source)
        session.add(row)
    row.source, row.confirmed_by_id = source, confirmed_by.id if confirmed_by else None
    session.flush()
    return row


def alert_missing_years(session: Session, years: Iterable[int]) -> list[Notification]:
    """Tell every active admin, once per year, that deadlines run into ``years`` whose holidays are not loaded."""
    made = []
    admins = session.scalars(select(User).where(User.role == Role.ADMIN, User.active.is_(True))).all()
    for year in sorted(set(years)):
        told = {n.user_id for n in session.scalars(select(Notification).where(Notification.kind == MISSING_YEAR))
                if n.data.get("year") == year}
        for admin in admins:
            if admin.id in told:
                continue
            note = Notification(user_id=admin.id, kind=MISSING_YEAR, data={"year": year},
                                message=f"Holidays of {year} are not loaded: deadlines in {year} are provisional.")
            session.add(note)
            made.append(note)
    session.flush()
    return made


def deadline(session: Session, calendar: WorkCalendar, start: dt.date, days: int) -> Deadline:
    """``days`` working days after ``start``; when it is provisional, the admins are alerted (this writes)."""
    result = calendar.add_working_days(start, days)
    if result.provisional:
        alert_missing_years(session, result.missing_years)
    return result
