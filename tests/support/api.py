"""A tiny GraphQL client for tests, plus helpers to create users, teams and their objects."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from app.deps import Deps
    from app.settings import Settings

SIGN_UP = """
mutation($input: SignUpInput!) {
  signUp(input: $input) {
    accessToken refreshToken user { id email }
    userErrors { code message field }
  }
}"""

VIEWER_TEAMS = "{ viewer { user { id } teams { id slug } } }"

INVITE = """
mutation($input: InviteTeamMemberInput!) {
  inviteTeamMember(input: $input) {
    token invitation { id email role expiresAt }
    userErrors { code message field }
  }
}"""

ACCEPT = """
mutation($input: AcceptTeamInvitationInput!) {
  acceptTeamInvitation(input: $input) {
    member { id role user { id email } }
    userErrors { code message field }
  }
}"""

PROJECT_FIELDS = """
  id name slug gitUrl productionBranch rootDirectory framework installCommand buildCommand
  startCommand outputDirectory healthCheckPath createdAt updatedAt
  environments { id name kind variables { id key valueDigest createdAt updatedAt } }
"""

CREATE_PROJECT = (
    "mutation($input: CreateProjectInput!) { createProject(input: $input) { project { "
    + PROJECT_FIELDS
    + " } userErrors { code message field } } }"
)

UPSERT_VARIABLES = """
mutation($input: UpsertEnvironmentVariablesInput!) {
  upsertEnvironmentVariables(input: $input) {
    variables { id key valueDigest createdAt updatedAt }
    userErrors { code message field }
  }
}"""

CREATE_API_KEY = """
mutation($input: CreateApiKeyInput!) {
  createApiKey(input: $input) {
    secret
    apiKey { id name prefix scopes createdAt expiresAt lastUsedAt revokedAt }
    userErrors { code message field }
  }
}"""

AUDIT_LOG = """
query($team: ID!, $first: Int!, $after: String, $filter: AuditLogFilter) {
  team(id: $team) {
    auditLog(first: $first, after: $after, filter: $filter) {
      nodes {
        id action targetType targetId actorUserId actorApiKeyId requestId ip userAgent
        changes createdAt
      }
      pageInfo { hasNextPage endCursor }
    }
  }
}"""

PASSWORD = "correct horse battery"


@dataclass
class Account:
    email: str
    password: str
    token: str
    refresh_token: str
    user_id: str
    team_id: str


@dataclass
class Member:
    """A user who joined someone else's team with a role."""

    account: Account
    member_id: str
    team_id: str

    @property
    def token(self) -> str:
        return self.account.token


def error_codes(body: dict[str, Any]) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in body.get("errors", [])]


def user_error_codes(payload: dict[str, Any]) -> list[str]:
    return [e["code"] for e in payload["userErrors"]]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class Api:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def post(
        self,
        query: str | None,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
        operation_name: str | None = None,
        extensions: dict[str, Any] | None = None,
        method: str = "POST",
    ) -> httpx.Response:
        h = {"content-type": "application/json", "accept": "application/graphql-response+json"}
        if token:
            h["authorization"] = f"Bearer {token}"
        h.update(headers or {})
        body: dict[str, Any] = {"variables": variables}
        if query is not None:
            body["query"] = query
        if operation_name is not None:
            body["operationName"] = operation_name
        if extensions is not None:
            body["extensions"] = extensions
        if method == "GET":
            params = {
                k: v if isinstance(v, str) else json.dumps(v)
                for k, v in body.items()
                if v is not None
            }
            return await self.client.get("/graphql", params=params, headers=h)
        return await self.client.post("/graphql", json=body, headers=h)

    async def gql(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        r = await self.post(query, variables, token=token, headers=headers)
        assert r.status_code in (200, 400), r.text
        body: dict[str, Any] = r.json()
        return body

    async def ok(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Data of a response that must have no errors and no userErrors."""
        body = await self.gql(query, variables, token=token, headers=headers)
        assert "errors" not in body, body
        data: dict[str, Any] = body["data"]
        for value in data.values():
            if isinstance(value, dict) and "userErrors" in value:
                assert value["userErrors"] == [], value
        return data

    async def error(
        self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None
    ) -> str:
        """The code of the one top-level error a response must have."""
        body = await self.gql(query, variables, token=token)
        codes = error_codes(body)
        assert len(codes) == 1, body
        return codes[0]

    async def payload(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """The one payload of a mutation without top-level errors (userErrors allowed)."""
        body = await self.gql(query, variables, token=token, headers=headers)
        assert "errors" not in body, body
        [value] = body["data"].values()
        result: dict[str, Any] = value
        return result

    async def sign_up(self, name: str = "user") -> Account:
        email = f"{name}-{uuid.uuid4().hex[:8]}@example.com"
        data = await self.ok(
            SIGN_UP, {"input": {"email": email, "password": PASSWORD, "name": name}}
        )
        p = data["signUp"]
        teams = await self.ok(VIEWER_TEAMS, token=p["accessToken"])
        return Account(
            email,
            PASSWORD,
            p["accessToken"],
            p["refreshToken"],
            p["user"]["id"],
            teams["viewer"]["teams"][0]["id"],
        )

    async def invite(self, owner: Account, team_id: str, email: str, role: str) -> str:
        data = await self.ok(
            INVITE, {"input": {"teamId": team_id, "email": email, "role": role}}, token=owner.token
        )
        token: str = data["inviteTeamMember"]["token"]
        return token

    async def join(self, owner: Account, role: str, *, team_id: str | None = None) -> Member:
        """A new user invited to `owner`'s team (default: their personal team) with `role`."""
        team_id = team_id or owner.team_id
        user = await self.sign_up(role.lower())
        token = await self.invite(owner, team_id, user.email, role)
        data = await self.ok(ACCEPT, {"input": {"token": token}}, token=user.token)
        member = data["acceptTeamInvitation"]["member"]
        assert member["role"] == role
        return Member(user, member["id"], team_id)

    async def create_project(self, token: str, team_id: str, **fields: Any) -> dict[str, Any]:
        fields.setdefault("name", unique("app"))
        data = await self.ok(CREATE_PROJECT, {"input": {"teamId": team_id, **fields}}, token=token)
        project: dict[str, Any] = data["createProject"]["project"]
        return project

    async def upsert_variables(
        self, token: str, environment_id: str, values: dict[str, str]
    ) -> list[dict[str, Any]]:
        data = await self.ok(
            UPSERT_VARIABLES,
            {
                "input": {
                    "environmentId": environment_id,
                    "variables": [{"key": k, "value": v} for k, v in values.items()],
                }
            },
            token=token,
        )
        rows: list[dict[str, Any]] = data["upsertEnvironmentVariables"]["variables"]
        return rows

    async def create_api_key(
        self, token: str, team_id: str, scopes: list[str], *, expires_at: str | None = None
    ) -> tuple[str, dict[str, Any]]:
        """(secret, apiKey) of a new key."""
        data = await self.ok(
            CREATE_API_KEY,
            {
                "input": {
                    "teamId": team_id,
                    "name": unique("key"),
                    "scopes": scopes,
                    "expiresAt": expires_at,
                }
            },
            token=token,
        )
        p = data["createApiKey"]
        return p["secret"], p["apiKey"]

    async def audit_log(
        self,
        token: str,
        team_id: str,
        *,
        first: int = 100,
        after: str | None = None,
        **filter: Any,
    ) -> dict[str, Any]:
        data = await self.ok(
            AUDIT_LOG,
            {"team": team_id, "first": first, "after": after, "filter": filter or None},
            token=token,
        )
        log: dict[str, Any] = data["team"]["auditLog"]
        return log


@asynccontextmanager
async def other_app(
    settings: Settings, deps: Deps, *, client_ip: str = "127.0.0.1", **overrides: Any
) -> AsyncIterator[Api]:
    """A second app on the same database and Redis, with some settings changed."""
    from app.main import create_app

    app = create_app(settings.model_copy(update=overrides), deps=deps)
    app.state.deps = deps
    transport = httpx.ASGITransport(app=app, client=(client_ip, 4321))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield Api(client)
