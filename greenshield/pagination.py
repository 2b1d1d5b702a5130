"""One page of a statement's rows for flask-smorest's ``@blp.paginate()`` (which sets X-Pagination)."""
from __future__ import annotations

from sqlalchemy import Select, func, select

from greenshield import db


def page_of(stmt: Select, pagination_parameters) -> list:
    """The rows of ``stmt`` on the requested page; tells flask-smorest the total for the header."""
    session = db.session()
    pagination_parameters.item_count = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    size = pagination_parameters.page_size
    offset = (pagination_parameters.page - 1) * size
    if offset >= pagination_parameters.item_count:
        return []  # past the last page; a huge page number would overflow the database's OFFSET
    return session.scalars(stmt.limit(size).offset(offset)).all()


def page_window(stmt: Select, pagination_parameters) -> tuple[int, int] | None:
    """``(limit, offset)`` of the requested page of ``stmt`` (None past the last page); tells flask-smorest the
    total, for callers that read the page's rows themselves."""
    pagination_parameters.item_count = db.session().scalar(
        select(func.count()).select_from(stmt.order_by(None).subquery()))
    size = pagination_parameters.page_size
    offset = (pagination_parameters.page - 1) * size
    return None if offset >= pagination_parameters.item_count else (size, offset)
