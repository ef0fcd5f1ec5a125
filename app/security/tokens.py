"""Access tokens (short-lived JWT) and opaque secrets (refresh tokens, API keys, invitations).

Opaque secrets are random, shown once, and stored only as a SHA-256 digest: their
entropy (256 bits) makes a slow hash unnecessary, and lookups stay one index probe.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

ALGORITHM = "HS256"
ISSUER = "stratus"

REFRESH_PREFIX = "srt_"
API_KEY_PREFIX = "sk_"
INVITATION_PREFIX = "sti_"


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: uuid.UUID
    session_id: uuid.UUID
    expires_at: datetime


class TokenInvalid(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def issue_access_token(
    user_id: uuid.UUID, session_id: uuid.UUID, *, secret: str, ttl_seconds: int
) -> tuple[str, datetime]:
    now = datetime.now(UTC)
    expires = now + timedelta(seconds=ttl_seconds)
    claims = {
        "sub": str(user_id),
        "sid": str(session_id),
        "iat": int(now.timestamp()),
        "exp": int(expires.timestamp()),
        "iss": ISSUER,
        "typ": "access",
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM), expires


def decode_access_token(token: str, *, secret: str) -> AccessClaims:
    try:
        data = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["exp", "sub", "sid", "iss"]},
        )
    except jwt.ExpiredSignatureError:
        raise TokenInvalid("access token expired") from None
    except jwt.PyJWTError:
        raise TokenInvalid("access token invalid") from None
    if data.get("typ") != "access":
        raise TokenInvalid("access token invalid")
    try:
        return AccessClaims(
            user_id=uuid.UUID(data["sub"]),
            session_id=uuid.UUID(data["sid"]),
            expires_at=datetime.fromtimestamp(data["exp"], UTC),
        )
    except (ValueError, TypeError):
        raise TokenInvalid("access token invalid") from None


def new_opaque(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_api_key() -> tuple[str, str, str]:
    """-> (full key shown once, lookup prefix, digest). Format: sk_<12 hex>_<secret>."""
    lookup = secrets.token_hex(6)
    key = f"{API_KEY_PREFIX}{lookup}_{secrets.token_urlsafe(32)}"
    return key, f"{API_KEY_PREFIX}{lookup}", digest(key)


def split_api_key(key: str) -> str | None:
    """The lookup prefix of a well-formed key, else None."""
    if not key.startswith(API_KEY_PREFIX):
        return None
    lookup, sep, rest = key[len(API_KEY_PREFIX) :].partition("_")
    if not sep or len(lookup) != 12 or not rest:
        return None
    return API_KEY_PREFIX + lookup


def same_digest(a: str, b: str) -> bool:
    return hmac.compare_digest(a, b)
