"""Per-principal token bucket in Redis, shared by every API process.

One Lua script does read-refill-take-write atomically and uses Redis's own clock,
so several API processes on several machines share one bucket per credential.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from app.domain.principal import Principal

_SCRIPT = """
local cap = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(b[1])
local ts = tonumber(b[2])
if tokens == nil then tokens = cap; ts = now end
tokens = math.min(cap, tokens + math.max(0, now - ts) * rate)
local allowed = 0
local retry = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
else
  retry = (cost - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(cap / rate * 1000) + 1000)
return {allowed, tostring(tokens), tostring(retry)}
"""


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    remaining: int
    limit: int
    retry_after: float


class RateLimiter:
    def __init__(self, redis: Redis, *, capacity: int, refill_per_second: float) -> None:
        self._script = redis.register_script(_SCRIPT)
        self.capacity = capacity
        self.rate = refill_per_second

    @staticmethod
    def key_for(principal: Principal | None, client_ip: str) -> str:
        """One bucket per API key, per user (all their sessions), or per address."""
        if principal is not None and principal.api_key_id is not None:
            return f"stratus:rl:k:{principal.api_key_id}"
        if principal is not None:
            return f"stratus:rl:u:{principal.user_id}"
        return "stratus:rl:ip:" + client_ip

    async def take(self, key: str, cost: int = 1) -> Decision:
        allowed, tokens, retry = await self._script(
            keys=[key], args=[self.capacity, self.rate, cost]
        )
        return Decision(
            allowed=bool(int(allowed)),
            remaining=int(float(tokens)),
            limit=self.capacity,
            retry_after=float(retry),
        )
