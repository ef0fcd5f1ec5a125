"""The GraphQL view: strawberry's ASGI view plus what production needs.

- GraphQL-over-HTTP: `application/graphql-response+json` when the client asks for it,
  with 4xx for requests that could not be executed; `application/json` (200 for GraphQL
  errors) for older clients, `*/*` and a missing Accept header, as the spec says.
  Malformed requests get a JSON `errors` body, never strawberry's plain-text 400.
- Per-credential rate limit before any work, reported in headers and `extensions`.
- Automatic persisted queries.
- Credentials from `Authorization: Bearer` (HTTP) or the `connection_init` payload (ws).
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import orjson
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http import process_result as default_process_result
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET, UnsetType

from app.deps import Deps
from app.domain.authentication import authenticate, bearer
from app.domain.principal import Principal
from app.errors import AppError, Unauthenticated
from app.http import apq
from app.http.ratelimit import RateLimiter
from app.http.ws import StratusTransportWSHandler, StratusWSHandler, TextWebSocketAdapter
from app.observability import Metrics
from app.settings import Settings
from resolvers.context import Context

GRAPHQL_RESPONSE = "application/graphql-response+json"


def _media_ranges(accept: str) -> dict[str, float]:
    """`Accept` -> {media type: q}; a malformed q counts as 0 (not acceptable)."""
    ranges: dict[str, float] = {}
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if media:
            ranges[media.lower()] = max(q, ranges.get(media.lower(), 0.0))
    return ranges


def _wants_graphql_response(accept: str) -> bool:
    # Only an explicit request for it: the GraphQL-over-HTTP spec has `*/*` and a
    # missing Accept header mean `application/json` (legacy clients, curl).
    ranges = _media_ranges(accept)
    preferred = ranges.get(GRAPHQL_RESPONSE, 0.0)
    return preferred > 0 and preferred >= ranges.get("application/json", 0.0)


def error_body(code: str, message: str, **extensions: Any) -> bytes:
    return orjson.dumps(
        {"errors": [{"message": message, "extensions": {"code": code, **extensions}}]}
    )


class StratusGraphQL(GraphQL[Context, None]):
    graphql_transport_ws_handler_class = StratusTransportWSHandler
    graphql_ws_handler_class = StratusWSHandler
    websocket_adapter_class = TextWebSocketAdapter

    def __init__(self, schema: Any, settings: Settings, metrics: Metrics) -> None:
        super().__init__(
            schema,
            graphql_ide=None if settings.is_production else "graphiql",
            allow_queries_via_get=True,
            connection_init_wait_timeout=timedelta(seconds=settings.ws_init_timeout_seconds),
        )
        self.settings = settings
        self.metrics = metrics
        self._rate_limiter: RateLimiter | None = None

    # Context and credentials

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        deps: Deps = request.app.state.deps
        ctx = Context(deps=deps, request=request, response=response)
        if isinstance(request, Request):
            request.state.sub_response = response
            ctx.credential, principal, error = request.state.auth
            ctx.authenticated_as(principal, error)
        return ctx

    async def _authenticate(
        self, request: Request, deps: Deps
    ) -> tuple[str | None, Principal | None, AppError | None]:
        """Authenticate before rate limiting, so buckets belong to real principals."""
        try:
            credential = bearer(request.headers.get("authorization"))
        except Unauthenticated as exc:
            return None, None, exc
        try:
            principal = await authenticate(
                credential,
                settings=deps.settings,
                redis=deps.redis,
                sessionmaker=deps.sessionmaker,
            )
        except AppError as exc:
            return credential, None, exc
        return credential, principal, None

    def _limiter(self, deps: Deps) -> RateLimiter:
        if self._rate_limiter is None:
            self._rate_limiter = RateLimiter(
                deps.redis,
                capacity=self.settings.rate_limit_capacity,
                refill_per_second=self.settings.rate_limit_refill_per_second,
            )
        return self._rate_limiter

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        params = context.connection_params or {}
        raw = next(
            (
                params[k]
                for k in ("Authorization", "authorization", "authToken", "token")
                if isinstance(params.get(k), str)
            ),
            None,
        )
        try:
            context.credential = bearer(raw) if raw and " " in raw else raw
            await context.principal()
        except AppError:
            raise ConnectionRejectionError() from None
        return UnsetType()  # the singleton UNSET, typed: ack without a payload

    # HTTP

    async def run(self, request: Any, context: Any = UNSET, root_value: Any = UNSET) -> Any:
        if isinstance(request, WebSocket):
            self.metrics.websockets.inc()
            try:
                return await super().run(request, context, root_value)
            finally:
                self.metrics.websockets.dec()
        started = time.perf_counter()
        deps: Deps = request.app.state.deps
        request.state.auth = await self._authenticate(request, deps)
        client = request.client.host if request.client else ""
        # Made-up or stale credentials share the caller's address bucket: a fresh
        # random token must not buy a fresh bucket.
        decision = await self._limiter(deps).take(
            RateLimiter.key_for(request.state.auth[1], client)
        )
        request.state.rate = decision
        request.state.operation = ""
        request.state.outcome = "ok"
        if not decision.allowed:
            response = self._rate_limited(decision.retry_after)
            request.state.outcome = "rate_limited"
        else:
            try:
                response = await super().run(request, context, root_value)
            except HTTPException as exc:
                # strawberry answers malformed requests with a plain-text body; clients
                # parse `errors` either way, so give them JSON in the negotiated type.
                request.state.outcome = "rejected"
                response = self._request_error(request, exc)
            except apq.PersistedQueryError as exc:
                request.state.outcome = "rejected"
                response = Response(
                    error_body(exc.code, exc.message),
                    status_code=200,
                    media_type="application/json",
                )
        response.headers["RateLimit-Limit"] = str(decision.limit)
        response.headers["RateLimit-Remaining"] = str(decision.remaining)
        op = request.state.operation or "anonymous"
        self.metrics.requests.labels(op, request.state.outcome).inc()
        self.metrics.latency.labels(op).observe(time.perf_counter() - started)
        return response

    def _request_error(self, request: Request, exc: HTTPException) -> Response:
        status, headers = exc.status_code, {}
        if request.method == "GET" and isinstance(exc.__cause__, InvalidOperationTypeError):
            # A mutation over GET: the GraphQL-over-HTTP spec says 405 (strawberry: 400).
            status, headers = 405, {"Allow": "POST"}
        code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(status, "BAD_REQUEST")
        wants = _wants_graphql_response(request.headers.get("accept", ""))
        return Response(
            error_body(code, exc.reason),
            status_code=status,
            media_type=GRAPHQL_RESPONSE if wants else "application/json",
            headers=headers,
        )

    async def parse_http_body(
        self, request: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        data = await super().parse_http_body(request)
        # strawberry checks the type of `query`, `variables` and `extensions` but not
        # of `operationName`: an object there failed later as a 500.
        for item in data if isinstance(data, list) else [data]:
            if not isinstance(item.operation_name, str | None):
                raise HTTPException(
                    400, "The GraphQL operation's `operationName` must be a string or null."
                )
        return data

    def _rate_limited(self, retry_after: float) -> Response:
        return Response(
            error_body(
                "RATE_LIMITED",
                f"rate limit exceeded; retry after {retry_after:.1f}s",
                retryAfter=round(retry_after, 3),
            ),
            status_code=429,
            media_type="application/json",
            headers={"Retry-After": str(max(1, int(retry_after + 0.999)))},
        )

    async def execute_single(
        self,
        request: Any,
        request_adapter: Any,
        sub_response: Any,
        context: Context,
        root_value: Any,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        request_data.query = await apq.resolve(
            context.deps.redis, request_data.query, request_data.extensions
        )
        if isinstance(request, Request):
            request.state.operation = (request_data.operation_name or "")[:100]
        return await super().execute_single(
            request, request_adapter, sub_response, context, root_value, request_data
        )

    async def process_result(self, request: Any, result: ExecutionResult) -> GraphQLHTTPResponse:
        body = default_process_result(result)
        if not isinstance(request, Request):
            return body
        decision = getattr(request.state, "rate", None)
        if decision is not None:
            body["extensions"] = {
                **(body.get("extensions") or {}),
                "rateLimit": {"limit": decision.limit, "remaining": decision.remaining},
            }
        if result.errors:
            request.state.outcome = "error"
        # Errors without a path come from before execution (syntax, validation,
        # limits): a request error, which has no `data` entry at all.
        errors = result.errors or []
        request_error = result.data is None and bool(errors) and all(e.path is None for e in errors)
        if request_error:
            body.pop("data", None)
        sub = request.state.sub_response
        if _wants_graphql_response(request.headers.get("accept", "")):
            sub.media_type = GRAPHQL_RESPONSE
            if request_error and sub.status_code is None:
                sub.status_code = 400
        return body

    def create_response(self, response_data: Any, sub_response: Response) -> Response:
        response = Response(
            self.encode_json(response_data),
            status_code=sub_response.status_code or 200,
            media_type=getattr(sub_response, "media_type", None) or "application/json",
        )
        response.headers.raw.extend(
            (k, v) for k, v in sub_response.headers.raw if k.lower() != b"content-type"
        )
        return response

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)
