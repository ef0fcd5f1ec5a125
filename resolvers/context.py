"""Per-request (HTTP) or per-connection (websocket) GraphQL context."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.types import Info as _Info

from app.deps import Deps
from app.domain.authentication import authenticate
from app.domain.principal import Principal
from app.errors import AppError
from resolvers.loaders import Loaders


@dataclass
class Context:
    deps: Deps
    request: Any
    response: Any
    credential: str | None = None
    # A bad credential fails only the fields that need a principal, so that
    # `logIn` still works for a client holding an expired token.
    auth_error: AppError | None = None
    connection_params: dict[str, Any] | None = None
    loaders: Loaders = field(init=False)
    _principal: Principal | None = None
    _authenticated: bool = False

    def __post_init__(self) -> None:
        self.loaders = Loaders(self.deps.sessionmaker)

    def authenticated_as(self, principal: Principal | None, error: AppError | None) -> None:
        """Adopt an authentication already done by the transport (HTTP does it first,
        to rate-limit by principal)."""
        self._principal, self.auth_error, self._authenticated = principal, error, True

    async def principal(self) -> Principal | None:
        if self.auth_error is not None:
            raise self.auth_error
        if not self._authenticated:
            self._principal = await authenticate(
                self.credential,
                settings=self.deps.settings,
                redis=self.deps.redis,
                sessionmaker=self.deps.sessionmaker,
            )
            self._authenticated = True
        return self._principal

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A short session of the resolver's own (never shared between siblings)."""
        async with self.deps.sessionmaker() as s:
            yield s


Info = _Info[Context, None]
