"""A tiny GraphQL client for tests, plus helpers to create users and teams."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx

SIGN_UP = """
mutation($input: SignUpInput!) {
  signUp(input: $input) {
    accessToken refreshToken user { id email }
    userErrors { code message field }
  }
}"""

VIEWER_TEAMS = "{ viewer { user { id } teams { id slug } } }"


@dataclass
class Account:
    email: str
    password: str
    token: str
    refresh_token: str
    user_id: str
    team_id: str


class Api:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def post(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        h = {"content-type": "application/json", "accept": "application/graphql-response+json"}
        if token:
            h["authorization"] = f"Bearer {token}"
        h.update(headers or {})
        return await self.client.post(
            "/graphql", json={"query": query, "variables": variables}, headers=h
        )

    async def gql(
        self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None
    ) -> dict[str, Any]:
        r = await self.post(query, variables, token=token)
        assert r.status_code in (200, 400), r.text
        body: dict[str, Any] = r.json()
        return body

    async def ok(
        self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None
    ) -> dict[str, Any]:
        """Data of a response that must have no errors and no userErrors."""
        body = await self.gql(query, variables, token=token)
        assert "errors" not in body, body
        data: dict[str, Any] = body["data"]
        for value in data.values():
            if isinstance(value, dict) and "userErrors" in value:
                assert value["userErrors"] == [], value
        return data

    async def sign_up(self, name: str = "user") -> Account:
        email = f"{name}-{uuid.uuid4().hex[:8]}@example.com"
        password = "correct horse battery"
        data = await self.ok(
            SIGN_UP, {"input": {"email": email, "password": password, "name": name}}
        )
        p = data["signUp"]
        teams = await self.ok(VIEWER_TEAMS, token=p["accessToken"])
        return Account(
            email,
            password,
            p["accessToken"],
            p["refreshToken"],
            p["user"]["id"],
            teams["viewer"]["teams"][0]["id"],
        )
