"""Keep a router's table equal to the Redis hash, whichever process changed it.

Pub/sub gives the promptness (a change is live in one round trip); it has no replay, so a
message published while the router was reconnecting is lost: the periodic full reload is
the safety net, and so is reloading right after every (re)subscribe.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.runtime.router.table import RouteTable

log = logging.getLogger(__name__)
MAX_BACKOFF_SECONDS = 5.0


async def follow_routes(
    redis: Redis, table: RouteTable, *, interval: float, loaded: asyncio.Event | None = None
) -> None:
    """Run until cancelled; `loaded` is set after the first successful load."""
    loop = asyncio.get_running_loop()
    backoff = 0.2
    while True:
        pubsub = redis.pubsub(ignore_subscribe_messages=True)
        try:
            # Subscribe first, then load: a change between the two is seen by one or the other.
            await pubsub.subscribe(table.keys.changes)
            await table.load(redis)
            if loaded is not None:
                loaded.set()
            backoff = 0.2
            next_full = loop.time() + interval
            while True:
                wait = max(0.0, next_full - loop.time())
                message = await pubsub.get_message(timeout=wait)
                if message is None and loop.time() < next_full:
                    continue
                # A rollout step may publish several changes at once: one reload for all.
                while message is not None:
                    message = await pubsub.get_message(timeout=0)
                await table.load(redis)
                next_full = loop.time() + interval
        except (RedisError, OSError) as exc:
            log.warning("router: route sync failed (%s); retrying in %.1fs", exc, backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
        finally:
            with contextlib.suppress(RedisError, OSError):
                await pubsub.aclose()  # type: ignore[no-untyped-call]
