"""The routing table: which live deployments serve a host, and with what weight.

Writers (deployment / rollout code, any process) and the router agree on this Redis format;
use `RouteTable.set_routes` / `RouteTable.remove` rather than writing it by hand:

    HASH    stratus:router:routes
            field  normalized host: lowercase, no port, no trailing dot
                   e.g. "shop-production.localhost"
            value  JSON list of backends, e.g.
                   [{"deployment_id": "4b9e...", "upstream": "127.0.0.1:9001", "weight": 80},
                    {"deployment_id": "77c1...", "upstream": "127.0.0.1:9002", "weight": 20}]
    PUBSUB  stratus:router:changes
            message: the host that changed (informational: a router reloads the whole hash,
            which also makes it follow HSETs done without a PUBLISH within its reload period)

A host's list holds 1..16 backends, each deployment at most once; weights are integers
0..100 that sum to 100, or are all 0 (the host is known but drained: the router answers 503).
A weight-0 backend is never chosen; keeping it listed lets a rollout step 100/0 -> 0/100
without a moment where the host is unknown. A missing field means "unknown host" (404).
The router reads leniently: a malformed field is logged and that host is skipped.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from redis.asyncio import Redis

from app.runtime.router.keys import RouterKeys

log = logging.getLogger(__name__)
MAX_BACKENDS = 16


class RouteError(ValueError):
    """A host's backend list breaks the rules in the module docstring."""


@dataclass(frozen=True, slots=True)
class Backend:
    deployment_id: str
    upstream: str  # "127.0.0.1:9001"
    weight: int

    def address(self) -> tuple[str, int]:
        host, _, port = self.upstream.rpartition(":")
        return host, int(port)


def normalize_host(host: str) -> str:
    """`Shop-Production.localhost:8080` -> `shop-production.localhost` (IPv6 literals kept)."""
    host = host.strip().lower()
    if host.startswith("["):
        end = host.find("]")
        return host[: end + 1] if end != -1 else host
    name, sep, port = host.rpartition(":")
    if sep and port.isdigit():
        host = name
    return host.rstrip(".")


def pick(backends: Sequence[Backend], rnd: Callable[[], float] = random.random) -> Backend | None:
    """Weighted choice; None when no backend has a positive weight.

    `rnd` returns a float in [0, 1) (`random.random`, or a seeded `Random().random` in tests).
    Weights are normally out of 100 but any positive total works, so a hand-edited table
    still routes proportionally.
    """
    total = 0
    last: Backend | None = None
    for backend in backends:
        if backend.weight > 0:
            total += backend.weight
            last = backend
    if last is None:
        return None
    point = rnd() * total
    for backend in backends:
        if backend.weight > 0:
            point -= backend.weight
            if point < 0:
                return backend
    return last  # only reachable through float rounding at the very top of the range


class Route:
    """One host's backends, prepared for the per-request choice."""

    __slots__ = ("backends", "host", "only")

    def __init__(self, host: str, backends: Sequence[Backend]) -> None:
        self.host = host
        self.backends = tuple(backends)
        live = [b for b in self.backends if b.weight > 0]
        # The common case (one live release) needs no random number.
        self.only = live[0] if len(live) == 1 else None

    def choose(self, rnd: Callable[[], float] = random.random) -> Backend | None:
        return self.only if self.only is not None else pick(self.backends, rnd)


def validate(backends: Sequence[Backend]) -> None:
    if not 1 <= len(backends) <= MAX_BACKENDS:
        raise RouteError(f"a host needs 1..{MAX_BACKENDS} backends, got {len(backends)}")
    seen: set[str] = set()
    for b in backends:
        if not b.deployment_id or b.deployment_id in seen:
            raise RouteError(f"deployment id {b.deployment_id!r} is empty or repeated")
        seen.add(b.deployment_id)
        if isinstance(b.weight, bool) or not isinstance(b.weight, int) or not 0 <= b.weight <= 100:
            raise RouteError(f"weight {b.weight!r} of {b.deployment_id} is not an integer 0..100")
        host, sep, port = b.upstream.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise RouteError(f"upstream {b.upstream!r} is not host:port")
    total = sum(b.weight for b in backends)
    if total not in (0, 100):
        raise RouteError(f"weights sum to {total}, expected 100 (or all 0 to drain)")


def encode(backends: Sequence[Backend]) -> bytes:
    validate(backends)
    return orjson.dumps(
        [
            {"deployment_id": b.deployment_id, "upstream": b.upstream, "weight": b.weight}
            for b in backends
        ]
    )


def decode(raw: bytes | str) -> list[Backend]:
    try:
        items: Any = orjson.loads(raw)
        backends = [
            Backend(str(i["deployment_id"]), str(i["upstream"]), i["weight"]) for i in items
        ]
    except (orjson.JSONDecodeError, TypeError, KeyError) as exc:
        raise RouteError(f"not a JSON list of backends: {exc}") from None
    validate(backends)
    return backends


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RouteTable:
    """The router's in-memory table plus the Redis helpers writers call.

    Lookups are plain dict reads of an immutable snapshot that `replace` swaps whole, so a
    reload never leaves a request looking at half a table.
    """

    def __init__(self, keys: RouterKeys | None = None) -> None:
        self.keys = keys or RouterKeys()
        self._routes: dict[str, Route] = {}

    def lookup(self, host: str) -> Route | None:
        return self._routes.get(normalize_host(host))

    def hosts(self) -> dict[str, tuple[Backend, ...]]:
        return {host: route.backends for host, route in self._routes.items()}

    def replace(self, routes: Mapping[str, Iterable[Backend]]) -> None:
        self._routes = {
            normalize_host(h): Route(normalize_host(h), list(b)) for h, b in routes.items()
        }

    async def load(self, redis: Redis) -> int:
        """Replace the table with the Redis hash; return the number of hosts."""
        raw: dict[Any, Any] = await redis.hgetall(self.keys.routes)  # type: ignore[misc]
        routes: dict[str, list[Backend]] = {}
        for field, value in raw.items():
            try:
                routes[_text(field)] = decode(value)
            except RouteError as exc:
                log.warning("router: skipping host %s: %s", _text(field), exc)
        self.replace(routes)
        return len(routes)

    async def set_routes(self, redis: Redis, host: str, backends: Sequence[Backend]) -> None:
        """Validate and store a host's backends, then tell every router to reload."""
        host = normalize_host(host)
        value = encode(backends).decode()
        async with redis.pipeline(transaction=True) as pipe:
            pipe.hset(self.keys.routes, host, value)
            pipe.publish(self.keys.changes, host)
            await pipe.execute()

    async def remove(self, redis: Redis, host: str) -> None:
        host = normalize_host(host)
        async with redis.pipeline(transaction=True) as pipe:
            pipe.hdel(self.keys.routes, host)
            pipe.publish(self.keys.changes, host)
            await pipe.execute()

    async def get(self, redis: Redis, host: str) -> list[Backend] | None:
        """The stored backends of a host (for writers computing the next traffic step)."""
        raw = await redis.hget(self.keys.routes, normalize_host(host))  # type: ignore[misc]
        return None if raw is None else decode(raw)
