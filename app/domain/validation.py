"""Input rules shared by several areas (names, slugs, emails)."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime

from app.errors import ErrorCode, UserInputError

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,46}[a-z0-9])?$")
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
MAX_NAME = 100


def name(value: str, field: str = "name", *, max_len: int = MAX_NAME) -> str:
    value = value.strip()
    if not value:
        raise UserInputError.one(ErrorCode.REQUIRED, f"{field} must not be empty", field)
    if len(value) > max_len:
        raise UserInputError.one(
            ErrorCode.TOO_LONG, f"{field} is longer than {max_len} characters", field
        )
    return value


def slug(value: str, field: str = "slug") -> str:
    if not SLUG_RE.match(value):
        raise UserInputError.one(
            ErrorCode.INVALID_SLUG,
            "slug must be 1-48 lowercase letters, digits or dashes, not starting or ending with a dash",
            field,
        )
    return value


def slugify(text: str, *, suffix: bool = False) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40].strip("-") or "x"
    return f"{base}-{secrets.token_hex(3)}" if suffix else base


def email(value: str, field: str = "email") -> str:
    value = value.strip().lower()
    if len(value) > 320 or not EMAIL_RE.match(value):
        raise UserInputError.one(ErrorCode.INVALID_EMAIL, "email address is not valid", field)
    return value


def utc(value: datetime) -> datetime:
    """An aware datetime; a client's naive one (no offset) is read as UTC, never compared raw."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value
