"""The routing table: which live deployments serve a host, and with what weight.

Writers (deployment / rollout code, any process) and the router agree on this Redis format;
use `RouteTable.set_routes` / `RouteTable.remove` rather than writing it by hand:

    HASH    stratus:router:routes
            field  normalized host: lowercase, no port, no trailing dot
                   e.g. "shop-production.localhost"
            value  JSON list of backends (one per deployment), e.g.
                   [{"deployment_id": "4b9e...", "weight": 80,
                     "upstreams": ["127.0.0.1:9001", "127.0.0.1:9003", "127.0.0.1:9005"],
                     "upstream": "127.0.0.1:9001"},
                    {"deployment_id": "77c1...", "weight": 20,
                     "upstreams": ["127.0.0.1:9002"], "upstream": "127.0.0.1:9002"}]
    PUBSUB  stratus:router:changes
            message: the host that changed (informational: a router reloads the whole hash,
            which also makes it follow HSETs done without a PUBLISH within its reload period)

A host's list holds 1..16 backends, each deployment at most once; weights are integers
0..100 that sum to 100, or are all 0 (the host is known but drained: the router answers 503).
A weight-0 backend is never chosen; keeping it listed lets a rollout step 100/0 -> 0/100
without a moment where the host is unknown. A missing field means "unknown host" (404).

`upstreams` lists the deployment's replicas, 1..32 distinct "host:port" strings: the router
picks a backend by weight, then one of its replicas in turn. `upstream` is the older
one-replica format: readers accept an entry that has only `upstream` (a router upgraded
before its writers keeps working) and prefer `upstreams` when both are present; writers
still add `upstream` (= the first replica) so that a router not yet upgraded keeps serving,
on one replica, until it is. Drop it once every router reads `upstreams`.
The router reads leniently: a malformed field is logged and that host is skipped.
"""

from __future__ import annotations

import itertools
import logging
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from redis.asyncio import Redis

from app.runtime.router.keys import RouterKeys

log = logging.getLogger(__name__)
MAX_BACKENDS = 16
MAX_UPSTREAMS = 32  # a deployment's replicas (the runtime's MAX_REPLICAS)


class RouteError(ValueError):
    """A host's backend list breaks the rules in the module docstring."""


def _random_start() -> itertools.count[int]:
    return itertools.count(random.randrange(MAX_UPSTREAMS))  # noqa: S311 - load spreading only


@dataclass(frozen=True, slots=True)
class Backend:
    deployment_id: str
    upstreams: tuple[str, ...]  # ("127.0.0.1:9001", ...): one per replica
    weight: int
    # Round-robin rather than random among replicas: an even spread with no random draw per
    # request, and after a failed connect "the next one" is well defined. The table is
    # rebuilt on every reload, so each rebuild starts at a random replica: restarting at 0
    # would send a quiet deployment's few requests to its first replica only.
    _turn: itertools.count[int] = field(default_factory=_random_start, compare=False, repr=False)

    @property
    def upstream(self) -> str:
        """The first replica (what the one-replica format called `upstream`)."""
        return self.upstreams[0]

    def first_choice(self) -> int:
        """Index of the replica for the next request."""
        n = len(self.upstreams)
        return 0 if n == 1 else next(self._turn) % n


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
        _validate_upstreams(b)
    total = sum(b.weight for b in backends)
    if total not in (0, 100):
        raise RouteError(f"weights sum to {total}, expected 100 (or all 0 to drain)")


def _validate_upstreams(b: Backend) -> None:
    ups: Any = b.upstreams
    if not isinstance(ups, tuple) or not all(isinstance(u, str) for u in ups):
        raise RouteError(f"upstreams of {b.deployment_id} must be a list of host:port strings")
    if not 1 <= len(ups) <= MAX_UPSTREAMS:
        raise RouteError(f"{b.deployment_id} needs 1..{MAX_UPSTREAMS} upstreams, got {len(ups)}")
    if len(set(ups)) != len(ups):
        raise RouteError(f"upstreams of {b.deployment_id} repeat an address: {list(ups)}")
    for upstream in ups:
        host, sep, port = upstream.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise RouteError(f"upstream {upstream!r} of {b.deployment_id} is not host:port")


def to_json(b: Backend) -> dict[str, Any]:
    """One backend in the wire format (also what the admin port shows)."""
    return {
        "deployment_id": b.deployment_id,
        "upstreams": list(b.upstreams),
        "upstream": b.upstreams[0],  # for routers that predate `upstreams`
        "weight": b.weight,
    }


def encode(backends: Sequence[Backend]) -> bytes:
    validate(backends)
    return orjson.dumps([to_json(b) for b in backends])


def _from_json(item: Any) -> Backend:
    ups: Any = item["upstreams"] if "upstreams" in item else [item["upstream"]]
    if not isinstance(ups, list):
        raise RouteError(f"upstreams of {item['deployment_id']!r} is not a list: {ups!r}")
    # Non-strings are kept as they are so that validate() names them.
    return Backend(str(item["deployment_id"]), tuple(ups), item["weight"])


def decode(raw: bytes | str) -> list[Backend]:
    try:
        items: Any = orjson.loads(raw)
        backends = [_from_json(i) for i in items]
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
        for name, value in raw.items():
            try:
                routes[_text(name)] = decode(value)
            except RouteError as exc:
                log.warning("router: skipping host %s: %s", _text(name), exc)
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
