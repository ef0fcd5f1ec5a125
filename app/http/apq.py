"""Automatic persisted queries (Apollo's `persistedQuery` extension, sha256, version 1).

A client first sends only the hash; on PERSISTED_QUERY_NOT_FOUND it sends the hash
with the query, which is verified and stored in Redis for every API process.
"""

from __future__ import annotations

import hashlib
from typing import Any

from graphql import GraphQLError, parse
from redis.asyncio import Redis

TTL_SECONDS = 7 * 86_400
MAX_QUERY_BYTES = 100_000
MAX_TOKENS = 10_000


class PersistedQueryError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _hash_of(extensions: dict[str, Any] | None) -> str | None:
    pq = (extensions or {}).get("persistedQuery")
    if pq is None:
        return None
    if not isinstance(pq, dict) or pq.get("version") != 1:
        raise PersistedQueryError(
            "PERSISTED_QUERY_NOT_SUPPORTED", "only persistedQuery version 1 is supported"
        )
    digest = pq.get("sha256Hash")
    if not isinstance(digest, str) or len(digest) != 64:
        raise PersistedQueryError("BAD_REQUEST", "persistedQuery.sha256Hash must be 64 hex")
    return digest.lower()


async def resolve(redis: Redis, query: str | None, extensions: dict[str, Any] | None) -> str | None:
    """The query text to execute (stored or looked up), or raise PersistedQueryError."""
    digest = _hash_of(extensions)
    if digest is None:
        return query
    key = f"stratus:apq:{digest}"
    if query is None:
        stored = await redis.get(key)
        if stored is None:
            raise PersistedQueryError("PERSISTED_QUERY_NOT_FOUND", "PersistedQueryNotFound")
        return bytes(stored).decode()
    if hashlib.sha256(query.encode()).hexdigest() != digest:
        raise PersistedQueryError("BAD_REQUEST", "provided sha does not match query")
    if len(query.encode()) <= MAX_QUERY_BYTES and _parses(query):
        # Only documents that parse are kept: junk must not fill Redis for a week.
        await redis.set(key, query.encode(), ex=TTL_SECONDS)
    return query


def _parses(query: str) -> bool:
    try:
        parse(query, max_tokens=MAX_TOKENS)
    except GraphQLError:
        return False
    return True
