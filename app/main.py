"""create_app(): the ASGI application (GraphQL over HTTP and websockets, health, metrics)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import event, text
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute

from app.deps import Deps
from app.http.artifacts import download_artifact
from app.http.middleware import BodyLimitMiddleware, RequestContextMiddleware
from app.http.view import StratusGraphQL
from app.http.webhooks import git_push
from app.observability import Metrics
from app.settings import Settings, get_settings
from resolvers.schema import build_schema


def create_app(settings: Settings | None = None, *, deps: Deps | None = None) -> Starlette:
    settings = settings or get_settings()
    metrics = Metrics()
    view = StratusGraphQL(build_schema(settings), settings, metrics)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        owned = deps is None
        app.state.deps = deps or await Deps.open(settings)
        # Statements per request is the number that tells N+1 queries apart.
        event.listen(
            app.state.deps.engine.sync_engine,
            "before_cursor_execute",
            lambda *a, **k: metrics.db_statements.inc(),
        )
        try:
            yield
        finally:
            if owned:
                await app.state.deps.close()

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        d: Deps = request.app.state.deps
        checks: dict[str, str] = {}
        try:
            async with asyncio.timeout(2):
                async with d.engine.connect() as conn:
                    await conn.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:  # readiness reports, it does not raise
            checks["database"] = f"error: {type(exc).__name__}"
        try:
            async with asyncio.timeout(2):
                await d.redis.ping()
            checks["redis"] = "ok"
        except Exception as exc:
            checks["redis"] = f"error: {type(exc).__name__}"
        ok = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ok" if ok else "unavailable", "checks": checks},
            status_code=200 if ok else 503,
        )

    async def metrics_endpoint(request: Request) -> Response:
        pool = request.app.state.deps.engine.pool
        metrics.db_pool_checked_out.set(pool.checkedout())
        metrics.db_pool_size.set(pool.size())
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    app = Starlette(
        routes=[
            Route("/graphql", view, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", view),
            Route("/webhooks/git/{project_id}", git_push, methods=["POST"]),
            Route("/artifacts/{build_id}", download_artifact, methods=["GET"]),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics_endpoint),
        ],
        middleware=[
            Middleware(RequestContextMiddleware),
            Middleware(
                CORSMiddleware,
                allow_origins=settings.cors_origins,
                allow_methods=["GET", "POST"],
                allow_headers=["authorization", "content-type", "x-request-id"],
                expose_headers=[
                    "x-request-id",
                    "ratelimit-limit",
                    "ratelimit-remaining",
                    "retry-after",
                ],
                max_age=600,
            ),
            Middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes),
        ],
        lifespan=lifespan,
    )
    app.state.metrics = metrics
    return app
