"""Signed, expiring download URLs for build artifacts, fetched by the pods' init container.

Pods cannot read the worker's artifact store, so they download the tarball from the API
(`GET /artifacts/{build_id}`, `app/http/artifacts.py`). The URL carries an expiry and an
HMAC over (build id, expiry): whoever holds it may fetch that one artifact until then, and
nothing else. The key is derived from the JWT secret with a purpose label, so a signature
made here can never pass as a token elsewhere (and no new secret needs managing).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from urllib.parse import parse_qsl, urlencode, urlsplit

from app.settings import Settings

_PURPOSE = b"stratus/artifact-download/v1"
# Mirrors the filesystem store's addressing: fs://<build id>.tar.gz
_FS_URI = re.compile(r"^fs://([A-Za-z0-9][A-Za-z0-9._-]{0,127})\.tar\.gz$")


def signing_key(settings: Settings) -> bytes:
    return hmac.new(settings.jwt_secret.encode(), _PURPOSE, hashlib.sha256).digest()


def signature(key: bytes, build_id: str, expires: int) -> str:
    return hmac.new(key, f"{build_id}\n{expires}".encode(), hashlib.sha256).hexdigest()


def build_id_of(artifact_uri: str) -> str:
    """The build id in an artifact URI of the filesystem store; ValueError for other URIs."""
    match = _FS_URI.match(artifact_uri)
    if match is None:
        raise ValueError(f"artifact {artifact_uri!r} is not served by the download route")
    return match.group(1)


def signed_url(settings: Settings, build_id: str, *, now: float | None = None) -> str:
    expires = int(now if now is not None else time.time()) + (
        settings.kubernetes_artifact_url_ttl_seconds
    )
    query = urlencode(
        {"expires": expires, "signature": signature(signing_key(settings), build_id, expires)}
    )
    return f"{settings.public_url.rstrip('/')}/artifacts/{build_id}?{query}"


def parse(url: str) -> tuple[str, int]:
    """(build id, expiry) of a URL made by `signed_url`; ValueError for anything else."""
    parts = urlsplit(url)
    prefix = "/artifacts/"
    query = dict(parse_qsl(parts.query))
    expires = query.get("expires", "")
    if not parts.path.startswith(prefix) or not (expires.isascii() and expires.isdigit()):
        raise ValueError("not a signed artifact URL")
    return parts.path.removeprefix(prefix), int(expires)


def is_valid(
    settings: Settings,
    build_id: str,
    expires: str | None,
    given: str | None,
    *,
    now: float | None = None,
) -> bool:
    """True when `given` signs (build_id, expires) and `expires` is still in the future."""
    # isascii: str.isdigit() also accepts digits like '²' that int() refuses.
    if expires is None or given is None or not (expires.isascii() and expires.isdigit()):
        return False
    expected = signature(signing_key(settings), build_id, int(expires))
    # Constant-time comparison: the signature must not be guessable byte by byte.
    if not hmac.compare_digest(expected.encode(), given.encode()):
        return False
    return int(expires) > (now if now is not None else time.time())
