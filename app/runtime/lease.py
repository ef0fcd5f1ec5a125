"""Leases in Redis: at most one process at a time does a named piece of work.

Used where several worker processes would otherwise all do the same thing, e.g. follow one
release's pod logs (each line would reach the deployment's log once per worker). A holder
renews its lease on every `hold` call; a holder that dies loses it after `ttl_s`, and another
process takes over.
"""

from __future__ import annotations

import logging
from typing import Protocol

from redis.asyncio import Redis

log = logging.getLogger(__name__)

# Renew if ours, take if free; atomic, so a lease that expires between the check and the
# renewal cannot be extended for someone else.
_HOLD = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


class Lease(Protocol):
    async def hold(self, name: str) -> bool:
        """Take or renew the lease `name`; False while another process holds it."""
        ...

    async def release(self, name: str) -> None:
        """Give the lease up at once (no-op unless held by this process)."""
        ...


class RedisLease:
    def __init__(self, redis: Redis, owner: str, *, ttl_s: float, prefix: str) -> None:
        self._redis, self._owner, self._prefix = redis, owner, prefix
        self._ttl_ms = max(1, int(ttl_s * 1000))

    async def hold(self, name: str) -> bool:
        try:
            held = await self._redis.eval(  # type: ignore[misc]
                _HOLD, 1, self._prefix + name, self._owner, str(self._ttl_ms)
            )
        except Exception:
            # Redis away: doing the work twice (duplicate log lines) beats nobody doing it
            # (lost lines); the lease is taken again once Redis is back.
            log.warning("lease %s: Redis unavailable, proceeding without it", name, exc_info=True)
            return True
        return bool(held)

    async def release(self, name: str) -> None:
        try:
            await self._redis.eval(_RELEASE, 1, self._prefix + name, self._owner)  # type: ignore[misc]
        except Exception:
            log.warning("lease %s: release failed; it expires by itself", name, exc_info=True)
