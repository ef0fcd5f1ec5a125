"""Global object ids: base64url("Type:uuid"), opaque to clients, as Relay expects.

Lives in `app` because more than GraphQL speaks them (webhook URLs carry a project id).
"""

from __future__ import annotations

import base64
import binascii
import uuid

from app.errors import NotFound


def to_global_id(type_name: str, row_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{row_id}".encode()).decode().rstrip("=")


def from_global_id(global_id: str) -> tuple[str, uuid.UUID]:
    """Parse any global id; a malformed one is simply an unknown object."""
    try:
        raw = base64.urlsafe_b64decode(global_id + "=" * (-len(global_id) % 4)).decode()
        type_name, _, row_id = raw.partition(":")
        return type_name, uuid.UUID(row_id)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise NotFound("object") from None


def parse_id(global_id: str, type_name: str) -> uuid.UUID:
    """The row id behind a global id of the expected type, or NotFound."""
    found_type, row_id = from_global_id(global_id)
    if found_type != type_name:
        raise NotFound(type_name)
    return row_id
