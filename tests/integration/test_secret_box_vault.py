"""VaultTransitSecretBox against a real OpenBao dev server (transit engine)."""

from __future__ import annotations

import base64
import dataclasses
import os
import socket
import uuid
from collections.abc import Iterator

import hvac
import pytest

from app.secrets import SecretBoxError, VaultTransitSecretBox, build_secret_box
from app.settings import Settings

pytestmark = pytest.mark.slow


def _settings(addr: str, token: str, key: str) -> Settings:
    return Settings(
        secret_backend="vault", vault_addr=addr, vault_token=token, vault_transit_key=key
    )


@pytest.fixture
async def box(openbao: tuple[str, str]) -> VaultTransitSecretBox:
    """A box on a fresh transit key per test, so rotation in one test cannot leak into another."""
    addr, token = openbao
    vault = VaultTransitSecretBox.from_settings(_settings(addr, token, f"k-{uuid.uuid4().hex}"))
    await vault.ensure_key()
    return vault


async def test_round_trip_and_key_id(box: VaultTransitSecretBox) -> None:
    sealed = await box.seal(b"sk_live_123", context="env_var:1")
    assert sealed.key_id.startswith("vault:k-") and sealed.key_id.endswith(":v1")
    assert sealed.ciphertext.startswith(b"vault:v1:")
    assert await box.open(sealed, context="env_var:1") == b"sk_live_123"


@pytest.mark.parametrize("plaintext", [b"", os.urandom(64 * 1024)], ids=["empty", "64KiB"])
async def test_round_trip_sizes(box: VaultTransitSecretBox, plaintext: bytes) -> None:
    assert await box.open(await box.seal(plaintext, context="ctx"), context="ctx") == plaintext


async def test_same_plaintext_seals_differently(box: VaultTransitSecretBox) -> None:
    first = await box.seal(b"same", context="ctx")
    assert first.ciphertext != (await box.seal(b"same", context="ctx")).ciphertext


async def test_wrong_context_fails(box: VaultTransitSecretBox) -> None:
    sealed = await box.seal(b"secret", context="env_var:1")
    with pytest.raises(SecretBoxError, match="message authentication failed"):
        await box.open(sealed, context="env_var:2")


async def test_tampered_ciphertext_fails(box: VaultTransitSecretBox) -> None:
    sealed = await box.seal(b"secret", context="ctx")
    prefix, body = sealed.ciphertext.rsplit(b":", 1)
    raw = bytearray(base64.b64decode(body))
    raw[-1] ^= 0x01
    tampered = prefix + b":" + base64.b64encode(bytes(raw))
    with pytest.raises(SecretBoxError):
        await box.open(dataclasses.replace(sealed, ciphertext=tampered), context="ctx")


@pytest.mark.parametrize("key_id", ["vault:other:v1", "local:a", "vault:{key}:v2"])
async def test_unknown_or_mismatched_key_id_fails(box: VaultTransitSecretBox, key_id: str) -> None:
    sealed = await box.seal(b"secret", context="ctx")
    key_id = key_id.format(key=sealed.key_id.split(":")[1])
    with pytest.raises(SecretBoxError, match="unknown key id"):
        await box.open(dataclasses.replace(sealed, key_id=key_id), context="ctx")


async def test_rotation_in_vault(openbao: tuple[str, str], box: VaultTransitSecretBox) -> None:
    old = await box.seal(b"before", context="ctx")
    addr, token = openbao
    key = old.key_id.split(":")[1]
    hvac.Client(url=addr, token=token, timeout=5).secrets.transit.rotate_key(name=key)
    new = await box.seal(b"after", context="ctx")
    assert (old.key_id, new.key_id) == (f"vault:{key}:v1", f"vault:{key}:v2")
    assert await box.open(old, context="ctx") == b"before"
    assert await box.open(new, context="ctx") == b"after"


async def test_ensure_key_is_idempotent_and_refuses_underived_keys(
    openbao: tuple[str, str], box: VaultTransitSecretBox
) -> None:
    await box.ensure_key()
    addr, token = openbao
    plain = f"plain-{uuid.uuid4().hex}"
    hvac.Client(url=addr, token=token, timeout=5).secrets.transit.create_key(name=plain)
    with pytest.raises(SecretBoxError, match="not derived"):
        await VaultTransitSecretBox.from_settings(_settings(addr, token, plain)).ensure_key()


async def test_bad_token_fails_clearly(openbao: tuple[str, str]) -> None:
    addr, _ = openbao
    box = build_secret_box(_settings(addr, "not-a-token", "stratus"))
    with pytest.raises(SecretBoxError, match="permission denied") as info:
        await box.seal(b"secret", context="ctx")
    assert "not-a-token" not in str(info.value)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_vault_down_fails_with_secret_box_error() -> None:
    box = build_secret_box(_settings(f"http://127.0.0.1:{_closed_port()}", "t", "stratus"))
    with pytest.raises(SecretBoxError, match="cannot reach") as info:
        await box.seal(b"do-not-log-me", context="ctx")
    assert "do-not-log-me" not in str(info.value)
    assert info.value.__cause__ is None  # the requests error holds the request body


@pytest.fixture
def silent_server() -> Iterator[str]:
    """Accepts TCP connections (kernel backlog) but never answers: a hung Vault."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


async def test_hung_vault_times_out(silent_server: str) -> None:
    settings = _settings(silent_server, "t", "stratus")
    box = VaultTransitSecretBox.from_settings(settings, timeout=0.5)
    with pytest.raises(SecretBoxError, match="ReadTimeout"):
        await box.seal(b"secret", context="ctx")
