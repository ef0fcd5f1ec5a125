"""Environment variables sealed by Vault transit (real OpenBao): the same API upsert and
worker decrypt path as with the local box, with a Deps whose `secrets` is Vault's."""

from __future__ import annotations

import dataclasses
import uuid

import hvac
import pytest
from sqlalchemy import select

from app.deps import Deps
from app.domain import variables
from app.secrets import SecretBoxError, VaultTransitSecretBox
from app.settings import Settings
from db import models
from resolvers.ids import from_global_id
from tests.support.api import UPSERT_VARIABLES, other_app

pytestmark = pytest.mark.slow


@pytest.fixture
async def vault_deps(openbao: tuple[str, str], deps: Deps, test_settings: Settings) -> Deps:
    addr, token = openbao
    settings = test_settings.model_copy(
        update={
            "secret_backend": "vault",
            "vault_addr": addr,
            "vault_token": token,
            "vault_transit_key": f"vars-{uuid.uuid4().hex}",
        }
    )
    box = VaultTransitSecretBox.from_settings(settings)
    await box.ensure_key()
    return dataclasses.replace(deps, settings=settings, secrets=box)


async def _rows(deps: Deps, env_id: uuid.UUID) -> dict[str, models.EnvironmentVariable]:
    async with deps.sessionmaker() as s:
        rows = await s.scalars(
            select(models.EnvironmentVariable).where(
                models.EnvironmentVariable.environment_id == env_id
            )
        )
        return {r.key: r for r in rows}


async def _decrypt(deps: Deps, env_id: uuid.UUID) -> dict[str, str]:
    async with deps.sessionmaker() as s:
        return await variables.decrypt_environment(s, deps.secrets, env_id)


async def test_upsert_and_decrypt_through_vault(
    vault_deps: Deps, deps: Deps, openbao: tuple[str, str]
) -> None:
    async with other_app(vault_deps.settings, vault_deps) as api:
        acct = await api.sign_up("vault")
        project = await api.create_project(acct.token, acct.team_id)
        env_gid = project["environments"][0]["id"]
        env_id = from_global_id(env_gid)[1]
        secret = "vault-secret-" + uuid.uuid4().hex
        written = await api.upsert_variables(
            acct.token, env_gid, {"DATABASE_URL": secret, "EMPTY": ""}
        )
        assert secret not in str(written)
        [first] = [v for v in written if v["key"] == "DATABASE_URL"]

        rows = await _rows(vault_deps, env_id)
        key = vault_deps.settings.vault_transit_key
        for row in rows.values():
            assert row.key_id == f"vault:{key}:v1"
            assert row.ciphertext.startswith(b"vault:v1:")
            assert secret.encode() not in row.ciphertext
        assert await _decrypt(vault_deps, env_id) == {"DATABASE_URL": secret, "EMPTY": ""}
        # Sealed by Vault, so the local box of the same process cannot open it.
        with pytest.raises(SecretBoxError):
            await _decrypt(deps, env_id)

        # A new value after a key rotation: new version, new digest, both still open.
        addr, token = openbao
        hvac.Client(url=addr, token=token, timeout=5).secrets.transit.rotate_key(name=key)
        [changed] = await api.upsert_variables(acct.token, env_gid, {"DATABASE_URL": secret + "2"})
        assert changed["valueDigest"] != first["valueDigest"]
        rows = await _rows(vault_deps, env_id)
        assert rows["DATABASE_URL"].key_id == f"vault:{key}:v2"
        assert rows["EMPTY"].key_id == f"vault:{key}:v1"
        assert await _decrypt(vault_deps, env_id) == {"DATABASE_URL": secret + "2", "EMPTY": ""}


async def test_invalid_batch_writes_nothing_with_vault(vault_deps: Deps) -> None:
    async with other_app(vault_deps.settings, vault_deps) as api:
        acct = await api.sign_up("vault")
        project = await api.create_project(acct.token, acct.team_id)
        env_gid = project["environments"][0]["id"]
        await api.upsert_variables(acct.token, env_gid, {"KEEP": "old"})
        batch = [{"key": "KEEP", "value": "new"}, {"key": "9BAD", "value": "x"}]
        p = await api.payload(
            UPSERT_VARIABLES,
            {"input": {"environmentId": env_gid, "variables": batch}},
            token=acct.token,
        )
        assert [(e["code"], e["field"]) for e in p["userErrors"]] == [
            ("INVALID_KEY", ["variables", "1", "key"])
        ]
        env_id = from_global_id(env_gid)[1]
        assert await _decrypt(vault_deps, env_id) == {"KEEP": "old"}


async def test_vault_down_fails_the_mutation_cleanly(
    vault_deps: Deps, caplog: pytest.LogCaptureFixture
) -> None:
    """An unreachable Vault is an internal error (masked, logged), and nothing is written."""
    down = VaultTransitSecretBox.from_settings(
        vault_deps.settings.model_copy(update={"vault_addr": "http://127.0.0.1:9"}), timeout=1
    )
    broken = dataclasses.replace(vault_deps, secrets=down)
    async with other_app(broken.settings, broken) as api:
        acct = await api.sign_up("vault")
        project = await api.create_project(acct.token, acct.team_id)
        env_gid = project["environments"][0]["id"]
        body = await api.gql(
            UPSERT_VARIABLES,
            {"input": {"environmentId": env_gid, "variables": [{"key": "K", "value": "plain"}]}},
            token=acct.token,
        )
        assert [e["extensions"]["code"] for e in body["errors"]] == ["INTERNAL_SERVER_ERROR"]
        assert "plain" not in str(body)
    assert await _rows(vault_deps, from_global_id(env_gid)[1]) == {}
