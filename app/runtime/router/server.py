"""The router as a whole: listeners, route sync, metrics flush, sweeping and draining."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.runtime.router.client import ClientConnection
from app.runtime.router.context import Context, RouterConfig
from app.runtime.router.sync import follow_routes

log = logging.getLogger(__name__)


class Router:
    def __init__(
        self, config: RouterConfig, redis: Redis, *, rnd: Callable[[], float] = random.random
    ) -> None:
        self.config = config
        self.redis = redis
        self.ctx = Context(config, rnd)
        self.routes_loaded = asyncio.Event()
        self._servers: list[asyncio.Server] = []
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def port(self) -> int:
        return int(self._servers[0].sockets[0].getsockname()[1])

    @property
    def admin_port(self) -> int | None:
        if len(self._servers) < 2:
            return None
        return int(self._servers[1].sockets[0].getsockname()[1])

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        cfg, ctx = self.config, self.ctx
        self._tasks = [
            loop.create_task(
                follow_routes(
                    self.redis, ctx.table, interval=cfg.reload_interval, loaded=self.routes_loaded
                )
            ),
            loop.create_task(self._flush_loop()),
            loop.create_task(self._sweep_loop()),
        ]
        # Serve only once the table is known (or Redis had a few seconds to answer):
        # a router that starts empty would answer 404 for every live app.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.routes_loaded.wait(), cfg.connect_timeout)
        self._servers.append(
            await loop.create_server(
                lambda: ClientConnection(ctx), cfg.host, cfg.port, backlog=1024
            )
        )
        if cfg.admin_port is not None:
            self._servers.append(
                await loop.create_server(
                    lambda: ClientConnection(ctx, admin_port=True), cfg.admin_host, cfg.admin_port
                )
            )

    async def stop(self, drain_timeout: float | None = None) -> None:
        """Stop accepting, let exchanges in flight finish (up to the drain timeout), then
        close everything and flush the last metrics."""
        ctx = self.ctx
        ctx.draining = True
        for server in self._servers:
            server.close()
        for conn in list(ctx.connections):
            conn.drain()
        if ctx.connections:
            timeout = self.config.drain_timeout if drain_timeout is None else drain_timeout
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ctx.drained.wait(), timeout)
        for conn in list(ctx.connections):
            if conn.transport is not None:
                conn.close_now()
                conn.transport.abort()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await ctx.pool.close()
        try:
            await ctx.metrics.flush(self.redis, self.config.keys)
        except (RedisError, OSError) as exc:
            log.warning("router: last metrics flush failed: %s", exc)
        for server in self._servers:
            await server.wait_closed()

    async def flush_metrics(self) -> None:
        await self.ctx.metrics.flush(self.redis, self.config.keys)

    async def _flush_loop(self) -> None:
        failing = False
        while True:
            await asyncio.sleep(self.config.flush_interval)
            try:
                await self.flush_metrics()
            except (RedisError, OSError) as exc:
                if not failing:  # once per outage, not once per second
                    log.warning("router: metrics flush failed, keeping counts: %s", exc)
                failing = True
            else:
                failing = False

    async def _sweep_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.config.sweep_interval)
            now = loop.time()
            self.ctx.pool.sweep(now)
            for conn in list(self.ctx.connections):
                conn.sweep(now)
