"""Team API keys: shown once, scoped, expiring, revocable, capped by their creator's role."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from app.deps import Deps
from db import models
from resolvers.ids import from_global_id
from tests.support.api import (
    CREATE_API_KEY,
    CREATE_PROJECT,
    INVITE,
    Api,
    error_codes,
    unique,
    user_error_codes,
)

KEYS = "query($t: ID!) { team(id: $t) { apiKeys { id prefix scopes lastUsedAt revokedAt } } }"
REVOKE = """
mutation($id: ID!) {
  revokeApiKey(input: {apiKeyId: $id}) { apiKey { id revokedAt } userErrors { code } }
}"""
VIEWER = "{ viewer { user { id } teams { id } } }"
ROLE = """
mutation($m: ID!, $r: TeamRole!) {
  updateTeamMemberRole(input: {memberId: $m, role: $r}) { member { role } userErrors { code } }
}"""


def _future(days: int = 30) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


async def test_create_key_secret_shown_once(api: Api, deps: Deps) -> None:
    owner = await api.sign_up("keys")
    expires = _future()
    secret, key = await api.create_api_key(
        owner.token, owner.team_id, ["READ", "WRITE"], expires_at=expires
    )
    assert secret.startswith("sk_")
    assert secret.startswith(key["prefix"] + "_")
    assert len(key["prefix"]) == len("sk_") + 12
    assert key["scopes"] == ["READ", "WRITE"]
    assert datetime.fromisoformat(key["expiresAt"]) == datetime.fromisoformat(expires)
    assert key["lastUsedAt"] is None and key["revokedAt"] is None

    # Not retrievable later: no field carries it, and only a digest is stored.
    data = await api.ok(KEYS, {"t": owner.team_id}, token=owner.token)
    assert secret not in str(data)
    fields = await api.ok('{ __type(name: "ApiKey") { fields { name } } }')
    names = {f["name"] for f in fields["__type"]["fields"]}
    assert not names & {"secret", "key", "token", "secretHash"}
    async with deps.sessionmaker() as s:
        row = await s.get(models.ApiKey, from_global_id(key["id"])[1])
    assert row is not None and secret not in (row.secret_hash, row.prefix)


async def test_key_without_expiry_and_naive_expiry(api: Api) -> None:
    owner = await api.sign_up("keys")
    _, key = await api.create_api_key(owner.token, owner.team_id, ["READ"])
    assert key["expiresAt"] is None
    # A naive datetime is read as UTC rather than failing.
    naive = (datetime.now(UTC) + timedelta(days=1)).replace(tzinfo=None).isoformat()
    _, key = await api.create_api_key(owner.token, owner.team_id, ["READ"], expires_at=naive)
    assert datetime.fromisoformat(key["expiresAt"]).replace(tzinfo=None) == datetime.fromisoformat(
        naive
    )


async def test_key_validation(api: Api) -> None:
    owner = await api.sign_up("keys")
    cases = [
        ({"scopes": []}, "REQUIRED", ["scopes"]),
        ({"expiresAt": "2001-01-01T00:00:00+00:00"}, "INVALID_EXPIRY", ["expiresAt"]),
        ({"name": "  "}, "REQUIRED", ["name"]),
        ({"name": "x" * 101}, "TOO_LONG", ["name"]),
    ]
    for change, code, field in cases:
        data = {"teamId": owner.team_id, "name": "ci", "scopes": ["READ"], **change}
        p = await api.payload(CREATE_API_KEY, {"input": data}, token=owner.token)
        assert [(e["code"], e["field"]) for e in p["userErrors"]] == [(code, field)], change
        assert p["secret"] is None
    data = await api.ok(KEYS, {"t": owner.team_id}, token=owner.token)
    assert data["team"]["apiKeys"] == []


async def test_key_works_as_bearer_and_records_last_use(api: Api) -> None:
    owner = await api.sign_up("keys")
    secret, key = await api.create_api_key(owner.token, owner.team_id, ["READ"])
    data = await api.ok(VIEWER, token=secret)
    assert data["viewer"]["user"]["id"] == owner.user_id
    data = await api.ok(KEYS, {"t": owner.team_id}, token=owner.token)
    [row] = data["team"]["apiKeys"]
    assert row["id"] == key["id"]
    used = datetime.fromisoformat(row["lastUsedAt"])
    assert abs((datetime.now(UTC) - used).total_seconds()) < 60


async def test_revoked_key_is_rejected(api: Api) -> None:
    owner = await api.sign_up("keys")
    secret, key = await api.create_api_key(owner.token, owner.team_id, ["READ"])
    await api.ok(VIEWER, token=secret)
    p = await api.payload(REVOKE, {"id": key["id"]}, token=owner.token)
    assert p["userErrors"] == [] and p["apiKey"]["revokedAt"]
    body = await api.gql(VIEWER, token=secret)
    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert "revoked" in body["errors"][0]["message"]


async def test_expired_key_is_rejected(api: Api, deps: Deps) -> None:
    owner = await api.sign_up("keys")
    secret, key = await api.create_api_key(
        owner.token, owner.team_id, ["READ"], expires_at=_future(1)
    )
    await api.ok(VIEWER, token=secret)
    async with deps.sessionmaker() as s, s.begin():
        await s.execute(
            update(models.ApiKey)
            .where(models.ApiKey.id == from_global_id(key["id"])[1])
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    body = await api.gql(VIEWER, token=secret)
    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert "expired" in body["errors"][0]["message"]


async def test_forged_key_with_a_real_prefix_is_rejected(api: Api) -> None:
    owner = await api.sign_up("keys")
    secret, _ = await api.create_api_key(owner.token, owner.team_id, ["READ"])
    forged = secret[: secret.index("_", 3) + 1] + "A" * 43
    assert await api.error(VIEWER, token=forged) == "UNAUTHENTICATED"
    assert await api.error(VIEWER, token="sk_short") == "UNAUTHENTICATED"


async def test_read_key_cannot_write_and_write_key_can(api: Api) -> None:
    owner = await api.sign_up("keys")
    read, _ = await api.create_api_key(owner.token, owner.team_id, ["READ"])
    write, _ = await api.create_api_key(owner.token, owner.team_id, ["WRITE"])
    variables = {"input": {"teamId": owner.team_id, "name": unique("app")}}
    assert await api.error(CREATE_PROJECT, variables, token=read) == "FORBIDDEN"
    p = await api.payload(CREATE_PROJECT, variables, token=write)
    assert p["userErrors"] == [] and p["project"]["name"] == variables["input"]["name"]
    # A write-only key has no READ scope: it cannot read the team.
    assert await api.error(KEYS, {"t": owner.team_id}, token=write) == "FORBIDDEN"


async def test_key_sees_only_its_team(api: Api) -> None:
    owner = await api.sign_up("keys")
    other_team = await api.ok(
        'mutation { createTeam(input: {name: "Second"}) { team { id } userErrors { code } } }',
        token=owner.token,
    )
    other_id = other_team["createTeam"]["team"]["id"]
    secret, _ = await api.create_api_key(owner.token, owner.team_id, ["READ", "WRITE", "ADMIN"])
    data = await api.ok(VIEWER, token=secret)
    assert data["viewer"]["teams"] == [{"id": owner.team_id}]
    assert (await api.ok(VIEWER, token=owner.token))["viewer"]["teams"] == [
        {"id": owner.team_id},
        {"id": other_id},
    ]
    assert await api.error(
        "query($t: ID!) { team(id: $t) { id } }", {"t": other_id}, token=secret
    ) == ("NOT_FOUND")
    variables = {"input": {"teamId": other_id, "name": "x"}}
    assert await api.error(CREATE_PROJECT, variables, token=secret) == "NOT_FOUND"


async def test_key_cannot_create_keys_or_teams(api: Api) -> None:
    owner = await api.sign_up("keys")
    secret, _ = await api.create_api_key(owner.token, owner.team_id, ["READ", "WRITE", "ADMIN"])
    variables = {"input": {"teamId": owner.team_id, "name": "minted", "scopes": ["ADMIN"]}}
    assert await api.error(CREATE_API_KEY, variables, token=secret) == "FORBIDDEN"
    create_team = 'mutation { createTeam(input: {name: "By key"}) { team { id } } }'
    assert await api.error(create_team, token=secret) == "FORBIDDEN"
    data = await api.ok(KEYS, {"t": owner.team_id}, token=owner.token)
    assert len(data["team"]["apiKeys"]) == 1


async def test_admin_scope_is_capped_by_the_creators_role(api: Api) -> None:
    owner = await api.sign_up("keys")
    admin = await api.join(owner, "ADMIN")
    secret, _ = await api.create_api_key(admin.token, owner.team_id, ["READ", "WRITE", "ADMIN"])
    invite = {
        "input": {"teamId": owner.team_id, "email": f"{uuid.uuid4().hex}@x.io", "role": "VIEWER"}
    }
    p = await api.payload(INVITE, invite, token=secret)
    assert p["userErrors"] == [] and p["token"]

    # The creator is demoted to developer: the same key loses its admin powers at once.
    await api.ok(ROLE, {"m": admin.member_id, "r": "DEVELOPER"}, token=owner.token)
    invite["input"]["email"] = f"{uuid.uuid4().hex}@x.io"
    assert await api.error(INVITE, invite, token=secret) == "FORBIDDEN"
    assert await api.error(KEYS, {"t": owner.team_id}, token=secret) == "FORBIDDEN"
    # ... and keeps what both allow.
    p = await api.payload(
        CREATE_PROJECT, {"input": {"teamId": owner.team_id, "name": "dev"}}, token=secret
    )
    assert p["userErrors"] == []

    # Removed from the team: the key sees nothing.
    await api.ok(
        "mutation($m: ID!) { removeTeamMember(input: {memberId: $m}) { userErrors { code } } }",
        {"m": admin.member_id},
        token=owner.token,
    )
    data = await api.ok(VIEWER, token=secret)
    assert data["viewer"]["teams"] == []
    q = "query($t: ID!) { team(id: $t) { id } }"
    assert await api.error(q, {"t": owner.team_id}, token=secret) == "NOT_FOUND"


async def test_owner_key_cannot_grant_or_take_the_owner_role(api: Api) -> None:
    """No scope includes owners.manage: only a signed-in owner grants ownership."""
    owner = await api.sign_up("keys")
    member = await api.join(owner, "ADMIN")
    secret, _ = await api.create_api_key(owner.token, owner.team_id, ["READ", "ADMIN"])
    assert await api.error(ROLE, {"m": member.member_id, "r": "OWNER"}, token=secret) == "FORBIDDEN"
    invite = {
        "input": {"teamId": owner.team_id, "email": f"{uuid.uuid4().hex}@x.io", "role": "OWNER"}
    }
    assert await api.error(INVITE, invite, token=secret) == "FORBIDDEN"
    # The admin scope still manages non-owner roles.
    p = await api.payload(ROLE, {"m": member.member_id, "r": "DEVELOPER"}, token=secret)
    assert p == {"member": {"role": "DEVELOPER"}, "userErrors": []}


async def test_revoke_needs_admin_and_is_team_scoped(api: Api, deps: Deps) -> None:
    owner = await api.sign_up("keys")
    dev = await api.join(owner, "DEVELOPER")
    stranger = await api.sign_up("stranger")
    _, key = await api.create_api_key(owner.token, owner.team_id, ["READ"])
    assert await api.error(REVOKE, {"id": key["id"]}, token=dev.token) == "FORBIDDEN"
    assert await api.error(REVOKE, {"id": key["id"]}, token=stranger.token) == "NOT_FOUND"
    async with deps.sessionmaker() as s:
        revoked = await s.scalar(
            select(models.ApiKey.revoked_at).where(models.ApiKey.id == from_global_id(key["id"])[1])
        )
    assert revoked is None
    assert user_error_codes(await api.payload(REVOKE, {"id": key["id"]}, token=owner.token)) == []
