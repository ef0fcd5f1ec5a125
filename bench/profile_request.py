"""Where one dashboard request spends its CPU: the real app in-process, under cProfile.

Run `python -m bench.dashboard` once first (it leaves the seeded `stratus_bench` database),
then:

    python -m bench.profile_request [--requests 200] [--concurrency 20] [--first 20] [--top 40]

Prints the mean wall time per request (no HTTP server: httpx's ASGI transport calls the app
directly) and the functions with the most own time and cumulative time.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import time
import uuid

import httpx

from app.deps import Deps
from app.main import create_app
from app.security.tokens import issue_access_token
from app.settings import Settings
from bench import query
from bench.dashboard import BENCH_DB, server_urls
from bench.seed import with_database


async def _owner(db_url: str, slug: str) -> uuid.UUID:
    import asyncpg

    conn = await asyncpg.connect(db_url)
    try:
        user_id: uuid.UUID = await conn.fetchval(
            "SELECT m.user_id FROM team_members m JOIN teams t ON t.id = m.team_id "
            "WHERE t.slug = $1 AND m.role = 'owner' LIMIT 1",
            slug,
        )
    finally:
        await conn.close()
    return user_id


async def run(args: argparse.Namespace) -> None:
    server_url, redis_url = server_urls()
    db_url = with_database(server_url, BENCH_DB)
    settings = Settings(
        database_url=db_url,
        redis_url=redis_url,
        env="test",
        rate_limit_capacity=1_000_000_000,
        rate_limit_refill_per_second=1_000_000_000,
    )
    slug = "bench-team-000"
    token, _ = issue_access_token(
        await _owner(db_url, slug), uuid.uuid4(), secret=settings.jwt_secret, ttl_seconds=3600
    )
    deps = await Deps.open(settings, with_queue=False)
    app = create_app(settings, deps=deps)
    app.state.deps = deps
    body = query.body(slug, args.first)
    headers = {"content-type": "application/json", "authorization": f"Bearer {token}"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:

        async def one() -> None:
            r = await client.post("/graphql", content=body, headers=headers)
            assert r.status_code == 200 and "errors" not in r.json(), r.text

        async def batch(n: int) -> tuple[float, float]:
            t0, c0 = time.perf_counter(), time.process_time()
            for _ in range(n // args.concurrency):
                await asyncio.gather(*(one() for _ in range(args.concurrency)))
            return (time.perf_counter() - t0) * 1000 / n, (time.process_time() - c0) * 1000 / n

        await batch(args.concurrency * 3)
        wall, cpu = await batch(args.requests)
        print(
            f"unprofiled, {args.concurrency} concurrent: {wall:.2f} ms wall and "
            f"{cpu:.2f} ms CPU of this process per request"
        )
        profiler = cProfile.Profile()
        profiler.enable()
        await batch(args.requests)
        profiler.disable()
    await deps.close()
    stats = pstats.Stats(profiler)
    if args.save:
        stats.dump_stats(args.save)
    stats.sort_stats("tottime").print_stats(args.top)
    stats.sort_stats("cumulative").print_stats(args.top)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--concurrency", type=int, default=20)
    ap.add_argument("--first", type=int, default=20)
    ap.add_argument("--top", type=int, default=40)
    ap.add_argument("--save", help="write the raw profile (pstats) to this file")
    asyncio.run(run(ap.parse_args()))


if __name__ == "__main__":
    main()
