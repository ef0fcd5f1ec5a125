"""Deps: the long-lived clients one process needs, built once at start-up."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.events import EventBus
from app.secrets import SecretBox, build_secret_box
from app.settings import Settings
from db.engine import make_engine, make_sessionmaker


@dataclass
class Deps:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    redis: Redis
    events: EventBus
    secrets: SecretBox
    # arq pool; None in processes that never enqueue (set by open()).
    queue: Any = None

    @classmethod
    async def open(cls, settings: Settings, *, with_queue: bool = True) -> Deps:
        engine = make_engine(settings.database_url, pool_size=settings.db_pool_size)
        redis = Redis.from_url(settings.redis_url, decode_responses=False)
        deps = cls(
            settings=settings,
            engine=engine,
            sessionmaker=make_sessionmaker(engine),
            redis=redis,
            events=EventBus(settings.redis_url),
            secrets=build_secret_box(settings),
        )
        if with_queue:
            from arq import create_pool
            from arq.connections import RedisSettings

            deps.queue = await create_pool(RedisSettings.from_dsn(settings.redis_url))
        return deps

    async def close(self) -> None:
        await self.events.close()
        if self.queue is not None:
            await self.queue.aclose()
        await self.redis.aclose()
        await self.engine.dispose()
