"""The migrations build exactly the schema the models describe.

A column added to a model without a migration (or the other way round) would only fail at
runtime on a real database; this compares the migrated test database with the models.
"""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from app.settings import Settings
from db.base import Base


async def test_migrated_database_matches_the_models(test_settings: Settings) -> None:
    import db.models  # noqa: F401  (registers every table on Base.metadata)

    engine = create_async_engine(test_settings.database_url)

    def diff(sync_conn: Any) -> list[Any]:
        ctx = MigrationContext.configure(sync_conn, opts={"compare_type": True})
        return list(compare_metadata(ctx, Base.metadata))

    try:
        async with engine.connect() as conn:
            changes = await conn.run_sync(diff)
    finally:
        await engine.dispose()
    assert changes == []
