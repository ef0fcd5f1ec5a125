"""Keyset pagination shared by every connection.

Cursors are opaque to clients: base64 of (sort value, id). Keyset rather than
OFFSET so that pages stay stable while rows are inserted and deep pages stay fast.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, and_, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from app.errors import ErrorCode, UserInputError

T = TypeVar("T")
MAX_PAGE = 100


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    cursors: list[str]
    has_next_page: bool


def check_first(first: int) -> int:
    if not 0 <= first <= MAX_PAGE:
        raise UserInputError.one(
            ErrorCode.INVALID_ARGUMENT, f"first must be between 0 and {MAX_PAGE}", "first"
        )
    return first


def encode_cursor(value: datetime | str, row_id: uuid.UUID) -> str:
    raw = (value.isoformat() if isinstance(value, datetime) else value) + "|" + str(row_id)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, *, as_datetime: bool) -> tuple[Any, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        value, _, row_id = raw.rpartition("|")
        key: Any = datetime.fromisoformat(value) if as_datetime else value
        return key, uuid.UUID(row_id)
    except (ValueError, UnicodeDecodeError):
        raise UserInputError.one(ErrorCode.INVALID_CURSOR, "cursor is not valid", "after") from None


async def keyset_page(
    session: AsyncSession,
    query: Select[Any],
    sort_col: InstrumentedAttribute[Any],
    id_col: InstrumentedAttribute[Any],
    *,
    first: int,
    after: str | None,
    newest_first: bool = False,
) -> Page[Any]:
    check_first(first)
    is_dt = isinstance(sort_col.type.python_type, type) and issubclass(
        sort_col.type.python_type, datetime
    )
    if after:
        key, last_id = decode_cursor(after, as_datetime=is_dt)
        if newest_first:
            query = query.where(or_(sort_col < key, and_(sort_col == key, id_col < last_id)))
        else:
            query = query.where(or_(sort_col > key, and_(sort_col == key, id_col > last_id)))
    order = (sort_col.desc(), id_col.desc()) if newest_first else (sort_col.asc(), id_col.asc())
    rows = list((await session.scalars(query.order_by(*order).limit(first + 1))).all())
    has_next = len(rows) > first
    rows = rows[:first]
    cursors = [encode_cursor(getattr(r, sort_col.key), getattr(r, id_col.key)) for r in rows]
    return Page(items=rows, cursors=cursors, has_next_page=has_next)
