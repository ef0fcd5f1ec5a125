"""Alembic environment: runs migrations over the async engine."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from db.models import Base

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


async def _main() -> None:
    url = context.config.get_main_option("sqlalchemy.url")
    assert url
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            await conn.run_sync(_run)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `stratus migrate`")
try:
    asyncio.get_running_loop()
except RuntimeError:
    asyncio.run(_main())
else:  # called from inside a running loop (tests): run in a fresh thread's loop
    import threading

    errors: list[BaseException] = []

    def _thread() -> None:
        try:
            asyncio.run(_main())
        except BaseException as exc:
            errors.append(exc)

    t = threading.Thread(target=_thread)
    t.start()
    t.join()
    if errors:
        raise errors[0]
