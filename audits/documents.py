"""Numbers of the documents the centre issues, per kind and year (e.g. 内邮责改〔2026〕第12号)."""
from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import DocumentCounter

WORDS = {"notice": "责改", "case": "立", "decision": "罚"}
"""The word of each kind in its number: 责令限期改正通知书, 立案, 行政处罚决定书."""


def next_number(session: Session, kind: str, year: int) -> int:
    """The next number of ``kind`` in ``year`` (1, 2, ...): one atomic increment of the counter row, which
    concurrent transactions wait on, so no two documents share a number."""
    if session.get(DocumentCounter, (kind, year)) is None:
        try:
            with session.begin_nested():
                session.add(DocumentCounter(kind=kind, year=year, last=0))
        except IntegrityError:
            pass  # made by a concurrent transaction meanwhile
    session.execute(update(DocumentCounter).where(DocumentCounter.kind == kind, DocumentCounter.year == year)
                    .values(last=DocumentCounter.last + 1).execution_options(synchronize_session=False))
    return session.scalar(select(DocumentCounter.last).where(DocumentCounter.kind == kind,
                                                             DocumentCounter.year == year)
                          .execution_options(populate_existing=True))


def document_no(prefix: str, kind: str, year: int | None, seq: int | None) -> str | None:
    """The printed number, e.g. ``document_no("内邮", "notice", 2026, 12)`` -> 内邮责改〔2026〕第12号."""
    if year is None or seq is None:
        return None
    return f"{prefix}{WORDS[kind]}〔{year}〕第{seq}号"
