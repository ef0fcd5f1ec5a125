"""Sign-up, log-in, sessions and team API keys."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.domain import accounts, api_keys
from db import models
from db.enums import ApiKeyScope
from resolvers.common import Node, UserError, run_mutation
from resolvers.context import Info
from resolvers.ids import parse_id, to_global_id
from resolvers.users import User

strawberry.enum(ApiKeyScope, description="What an API key may do.")


@strawberry.type(description="A team API key. The secret is shown only once, at creation.")
class ApiKey(Node):
    name: str = strawberry.field(description="Label chosen at creation.")
    prefix: str = strawberry.field(description="Public start of the key, to recognise it.")
    scopes: list[ApiKeyScope] = strawberry.field(description="Granted scopes.")
    created_at: datetime = strawberry.field(description="Creation time.")
    expires_at: datetime | None = strawberry.field(description="Expiry, if any.")
    last_used_at: datetime | None = strawberry.field(
        description="Last use (updated at most once a minute)."
    )
    revoked_at: datetime | None = strawberry.field(description="Revocation time, if revoked.")

    @classmethod
    def from_row(cls, r: models.ApiKey) -> ApiKey:
        return cls(
            id=strawberry.ID(to_global_id("ApiKey", r.id)),
            name=r.name,
            prefix=r.prefix,
            scopes=[ApiKeyScope(s) for s in r.scopes],
            created_at=r.created_at,
            expires_at=r.expires_at,
            last_used_at=r.last_used_at,
            revoked_at=r.revoked_at,
        )


@strawberry.type(description="Credentials of a session. Keep the refresh token secret.")
class AuthPayload:
    user: User | None = strawberry.field(description="The signed-in user.")
    access_token: str | None = strawberry.field(description="Bearer token for requests.")
    access_token_expires_at: datetime | None = strawberry.field(description="Its expiry.")
    refresh_token: str | None = strawberry.field(
        description="Exchange with refreshSession for new tokens; single use."
    )
    refresh_token_expires_at: datetime | None = strawberry.field(description="Its expiry.")
    user_errors: list[UserError] = strawberry.field(description="Input problems.")


def _auth(tokens: accounts.Tokens | None, errors: list[UserError]) -> AuthPayload:
    if tokens is None:
        return AuthPayload(
            user=None,
            access_token=None,
            access_token_expires_at=None,
            refresh_token=None,
            refresh_token_expires_at=None,
            user_errors=errors,
        )
    return AuthPayload(
        user=User.from_row(tokens.user),
        access_token=tokens.access_token,
        access_token_expires_at=tokens.access_token_expires_at,
        refresh_token=tokens.refresh_token,
        refresh_token_expires_at=tokens.refresh_token_expires_at,
        user_errors=errors,
    )


@strawberry.input(description="A new account.")
class SignUpInput:
    email: str = strawberry.field(description="Email address (unique).")
    password: str = strawberry.field(description="10-256 characters.")
    name: str = strawberry.field(default="", description="Display name.")


@strawberry.input(description="Email and password.")
class LogInInput:
    email: str = strawberry.field(description="Email address.")
    password: str = strawberry.field(description="Password.")


@strawberry.input(description="A refresh token to exchange.")
class RefreshSessionInput:
    refresh_token: str = strawberry.field(description="The latest refresh token.")


@strawberry.input(description="End a session.")
class LogOutInput:
    refresh_token: str | None = strawberry.field(
        default=None, description="Session to end; default: the caller's own session."
    )


@strawberry.type(description="Result of logOut.")
class LogOutPayload:
    ok: bool = strawberry.field(description="True when the session was revoked.")
    user_errors: list[UserError] = strawberry.field(description="Input problems.")


@strawberry.input(description="A new team API key.")
class CreateApiKeyInput:
    team_id: strawberry.ID = strawberry.field(description="Team the key acts in.")
    name: str = strawberry.field(description="Label.")
    scopes: list[ApiKeyScope] = strawberry.field(description="At least one scope.")
    expires_at: datetime | None = strawberry.field(default=None, description="Optional expiry.")


@strawberry.type(description="Result of createApiKey. `secret` is shown only here.")
class CreateApiKeyPayload:
    api_key: ApiKey | None = strawberry.field(description="The key's metadata.")
    secret: str | None = strawberry.field(description="The full key; store it now.")
    user_errors: list[UserError] = strawberry.field(description="Input problems.")


@strawberry.input(description="Key to revoke.")
class RevokeApiKeyInput:
    api_key_id: strawberry.ID = strawberry.field(description="Key to revoke.")


@strawberry.type(description="Result of revokeApiKey.")
class RevokeApiKeyPayload:
    api_key: ApiKey | None = strawberry.field(description="The revoked key.")
    user_errors: list[UserError] = strawberry.field(description="Input problems.")


@strawberry.type
class IdentityMutations:
    @strawberry.mutation(description="Create an account (with a personal team) and sign in.")
    async def sign_up(self, info: Info, input: SignUpInput) -> AuthPayload:
        return _auth(
            *await run_mutation(
                info,
                lambda uow: accounts.sign_up(
                    uow, email=input.email, password=input.password, name=input.name
                ),
                anonymous=True,
            )
        )

    @strawberry.mutation(description="Sign in with email and password.")
    async def log_in(self, info: Info, input: LogInInput) -> AuthPayload:
        return _auth(
            *await run_mutation(
                info,
                lambda uow: accounts.log_in(uow, email=input.email, password=input.password),
                anonymous=True,
            )
        )

    @strawberry.mutation(
        description="Exchange a refresh token for new tokens. Reusing an old refresh token "
        "revokes the whole session (UNAUTHENTICATED)."
    )
    async def refresh_session(self, info: Info, input: RefreshSessionInput) -> AuthPayload:
        return _auth(
            *await run_mutation(
                info,
                lambda uow: accounts.refresh(uow, refresh_token=input.refresh_token),
                anonymous=True,
            )
        )

    @strawberry.mutation(description="Revoke a session and its tokens.")
    async def log_out(self, info: Info, input: LogOutInput) -> LogOutPayload:
        # With a refresh token the session to end is named explicitly: the caller's
        # (possibly expired) access token is not needed.
        _, errors = await run_mutation(
            info,
            lambda uow: accounts.log_out(uow, refresh_token=input.refresh_token),
            anonymous=bool(input.refresh_token),
        )
        return LogOutPayload(ok=not errors, user_errors=errors)

    @strawberry.mutation(description="Create a team API key (signed-in users only).")
    async def create_api_key(self, info: Info, input: CreateApiKeyInput) -> CreateApiKeyPayload:
        team_id = parse_id(input.team_id, "Team")
        new, errors = await run_mutation(
            info,
            lambda uow: api_keys.create_api_key(
                uow,
                team_id=team_id,
                name=input.name,
                scopes=list(input.scopes),
                expires_at=input.expires_at,
            ),
        )
        return CreateApiKeyPayload(
            api_key=ApiKey.from_row(new.api_key) if new else None,
            secret=new.secret if new else None,
            user_errors=errors,
        )

    @strawberry.mutation(description="Revoke an API key at once.")
    async def revoke_api_key(self, info: Info, input: RevokeApiKeyInput) -> RevokeApiKeyPayload:
        key_id = parse_id(input.api_key_id, "ApiKey")
        row, errors = await run_mutation(
            info, lambda uow: api_keys.revoke_api_key(uow, api_key_id=key_id)
        )
        return RevokeApiKeyPayload(
            api_key=ApiKey.from_row(row) if row else None, user_errors=errors
        )
