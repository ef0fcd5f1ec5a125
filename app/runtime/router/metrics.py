"""Per-deployment request metrics: counted in memory, flushed to Redis every second.

Redis format (metering, insights and the rollout observer read it; several routers add up):

    HASH  stratus:router:metrics:<deployment_id>          totals, no expiry
    HASH  stratus:router:window:<deployment_id>:<start>   one 10 s window; <start> is unix
                                                          seconds, a multiple of 10; expires 1 h
    fields, integers written with HINCRBY (an absent field is 0):
      requests              exchanges that ended, aborted ones included
      status_1xx..status_5xx  responses by class; the router's own 502 (upstream refused or
                            broke) and 504 (no response head in time) count as status_5xx
      aborted               the client left before the response ended (no status counted)
      bytes_in / bytes_out  bytes from / to the client: heads and bodies (chunked framing
                            not counted); websocket frames both ways for a tunnel
      latency_us_sum        sum of latencies in microseconds
      latency_le_<ms>       requests whose latency is <= <ms> and above the previous bound:
                            per-bucket counts, NOT cumulative; bounds in ms are
                            1 2.5 5 10 25 50 100 250 500 1000 2500 5000 10000 inf

Latency runs from the parsed request head to the last response byte handed to the socket
(to the 101 for websockets). A request belongs to the window in which it ended. Windows are
flushed every second, so a window starting at S is complete from about S + 12 s on: the
observer reads the last full windows, e.g. `read_windows(redis, keys, dep, now - 72, now - 12)`
for an error rate over a minute (`status_5xx / requests`). Unrouted requests (unknown host,
no live backend) have no deployment and are only counted in the Prometheus text.
"""

from __future__ import annotations

import bisect
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from redis.asyncio import Redis

from app.runtime.router.keys import WINDOW_SECONDS, RouterKeys, window_start

log = logging.getLogger(__name__)

BUCKETS_MS = (1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)
BUCKET_FIELDS = (*(f"latency_le_{b:g}" for b in BUCKETS_MS), "latency_le_inf")
_BOUNDS_S = tuple(b / 1000 for b in BUCKETS_MS)
STATUS_FIELDS = ("status_1xx", "status_2xx", "status_3xx", "status_4xx", "status_5xx")
WINDOW_TTL_SECONDS = 3600


class Counts:
    __slots__ = ("aborted", "buckets", "bytes_in", "bytes_out", "latency_us", "requests", "status")

    def __init__(self) -> None:
        self.requests = self.aborted = self.bytes_in = self.bytes_out = self.latency_us = 0
        self.status = [0] * len(STATUS_FIELDS)
        self.buckets = [0] * len(BUCKET_FIELDS)

    def add(self, status: int, latency_s: float, bytes_in: int, bytes_out: int) -> None:
        self.requests += 1
        if 100 <= status < 600:
            self.status[status // 100 - 1] += 1
        else:
            self.aborted += 1
        self.bytes_in += bytes_in
        self.bytes_out += bytes_out
        self.latency_us += int(latency_s * 1_000_000)
        self.buckets[bisect.bisect_left(_BOUNDS_S, latency_s)] += 1

    def merge(self, other: Counts) -> None:
        self.requests += other.requests
        self.aborted += other.aborted
        self.bytes_in += other.bytes_in
        self.bytes_out += other.bytes_out
        self.latency_us += other.latency_us
        self.status = [a + b for a, b in zip(self.status, other.status, strict=True)]
        self.buckets = [a + b for a, b in zip(self.buckets, other.buckets, strict=True)]

    def fields(self) -> dict[str, int]:
        """The Redis fields of these counts (zeros left out: absent means 0)."""
        out = {
            "requests": self.requests,
            "aborted": self.aborted,
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
            "latency_us_sum": self.latency_us,
            **dict(zip(STATUS_FIELDS, self.status, strict=True)),
            **dict(zip(BUCKET_FIELDS, self.buckets, strict=True)),
        }
        return {k: v for k, v in out.items() if v}


class Metrics:
    """Cumulative counts for Prometheus plus not-yet-flushed deltas per (deployment, window)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self.totals: dict[str, Counts] = {}
        self.unrouted: dict[str, int] = {"unknown_host": 0, "no_backend": 0, "bad_request": 0}
        self._pending: dict[tuple[str, int], Counts] = {}

    def record(
        self, deployment_id: str, status: int, latency_s: float, bytes_in: int, bytes_out: int
    ) -> None:
        """Count one ended exchange; `status` 0 means the client aborted it."""
        total = self.totals.get(deployment_id)
        if total is None:
            total = self.totals[deployment_id] = Counts()
        total.add(status, latency_s, bytes_in, bytes_out)
        key = (deployment_id, window_start(self._clock()))
        pending = self._pending.get(key)
        if pending is None:
            pending = self._pending[key] = Counts()
        pending.add(status, latency_s, bytes_in, bytes_out)

    async def flush(self, redis: Redis, keys: RouterKeys) -> int:
        """Add the pending deltas to Redis; on failure keep them for the next flush."""
        pending, self._pending = self._pending, {}
        if not pending:
            return 0
        per_deployment: dict[str, Counts] = {}
        try:
            async with redis.pipeline(transaction=False) as pipe:
                for (dep, start), counts in pending.items():
                    per_deployment.setdefault(dep, Counts()).merge(counts)
                    window_key = keys.window(dep, start)
                    for field, value in counts.fields().items():
                        pipe.hincrby(window_key, field, value)
                    pipe.expire(window_key, WINDOW_TTL_SECONDS)
                for dep, counts in per_deployment.items():
                    for field, value in counts.fields().items():
                        pipe.hincrby(keys.metrics(dep), field, value)
                await pipe.execute()
        except BaseException:
            # Merging back can double-count only if Redis applied the pipeline and the
            # reply was lost; losing a second of metering data would be worse.
            for key, counts in pending.items():
                self._pending.setdefault(key, Counts()).merge(counts)
            raise
        return len(pending)

    def render(self, gauges: Iterable[tuple[str, str, dict[str, str], float]] = ()) -> str:
        """Prometheus text format; `gauges` adds (name, help, labels, value) samples."""
        lines: list[str] = []

        def family(name: str, kind: str, help_text: str) -> None:
            lines.append(f"# HELP {name} {help_text}")
            lines.append(f"# TYPE {name} {kind}")

        deps = sorted(self.totals.items())
        family("stratus_router_requests_total", "counter", "Requests proxied per deployment.")
        lines += [
            f"stratus_router_requests_total{_labels(deployment=d)} {c.requests}" for d, c in deps
        ]
        family("stratus_router_responses_total", "counter", "Responses by status class.")
        for d, c in deps:
            for field, n in zip(STATUS_FIELDS, c.status, strict=True):
                cls = field.removeprefix("status_")
                lines.append(f"stratus_router_responses_total{_labels(deployment=d, code=cls)} {n}")
        family("stratus_router_aborted_total", "counter", "Exchanges the client left early.")
        lines += [
            f"stratus_router_aborted_total{_labels(deployment=d)} {c.aborted}" for d, c in deps
        ]
        for name, attr in (("bytes_in", "bytes_in"), ("bytes_out", "bytes_out")):
            family(f"stratus_router_{name}_total", "counter", f"Client {name.replace('_', ' ')}.")
            lines += [
                f"stratus_router_{name}_total{_labels(deployment=d)} {getattr(c, attr)}"
                for d, c in deps
            ]
        _histogram(lines, family, deps)
        family("stratus_router_unrouted_total", "counter", "Requests with no deployment.")
        lines += [
            f"stratus_router_unrouted_total{_labels(reason=r)} {n}"
            for r, n in sorted(self.unrouted.items())
        ]
        seen: set[str] = set()
        for name, help_text, labels, value in gauges:
            if name not in seen:
                seen.add(name)
                family(name, "gauge", help_text)
            lines.append(f"{name}{_labels(**labels)} {value:g}")
        return "\n".join(lines) + "\n"


def _histogram(lines: list[str], family: Any, deps: list[tuple[str, Counts]]) -> None:
    name = "stratus_router_request_duration_seconds"
    family(name, "histogram", "Time from request head to last response byte.")
    for d, c in deps:
        running = 0
        for bound, n in zip((*_BOUNDS_S, None), c.buckets, strict=True):
            running += n
            le = "+Inf" if bound is None else f"{bound:g}"
            lines.append(f"{name}_bucket{_labels(deployment=d, le=le)} {running}")
        lines.append(f"{name}_sum{_labels(deployment=d)} {c.latency_us / 1_000_000:g}")
        lines.append(f"{name}_count{_labels(deployment=d)} {c.requests}")


def _labels(**labels: str) -> str:
    def esc(v: str) -> str:
        return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

    return "{" + ",".join(f'{k}="{esc(v)}"' for k, v in labels.items()) + "}"


async def read_windows(
    redis: Redis, keys: RouterKeys, deployment_id: str, since: float, until: float
) -> dict[str, int]:
    """Sum the windows of a deployment whose start lies in [since, until) (observer helper)."""
    first = -(-int(since) // WINDOW_SECONDS) * WINDOW_SECONDS
    starts = range(first, int(until), WINDOW_SECONDS)
    async with redis.pipeline(transaction=False) as pipe:
        for start in starts:
            pipe.hgetall(keys.window(deployment_id, start))
        replies: list[dict[Any, Any]] = await pipe.execute()
    out: dict[str, int] = {}
    for reply in replies:
        for field, value in reply.items():
            name = field.decode() if isinstance(field, bytes) else field
            out[name] = out.get(name, 0) + int(value)
    return out
