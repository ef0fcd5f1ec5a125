"""LocalSecretBox: what callers rely on when secrets are sealed with keys from settings."""

from __future__ import annotations

import base64
import dataclasses
import os

import pytest

from app.secrets import (
    LocalSecretBox,
    Sealed,
    SecretBoxError,
    VaultTransitSecretBox,
    build_secret_box,
)
from app.settings import Settings


def _spec(raw: dict[str, bytes], *order: str) -> str:
    """A `secret_keys` setting listing the given keys in order (first one seals)."""
    return ",".join(f"{kid}:{base64.b64encode(raw[kid]).decode()}" for kid in order)


@pytest.fixture
def keys() -> dict[str, bytes]:
    return {"a": os.urandom(32), "b": os.urandom(32)}


@pytest.fixture
def box(keys: dict[str, bytes]) -> LocalSecretBox:
    return LocalSecretBox.from_settings(Settings(secret_keys=_spec(keys, "a")))


async def test_round_trip(box: LocalSecretBox) -> None:
    sealed = await box.seal(b"postgres://user:pw@db/app", context="env_var:1")
    assert sealed.key_id == "local:a"
    assert b"postgres" not in sealed.ciphertext
    assert await box.open(sealed, context="env_var:1") == b"postgres://user:pw@db/app"


@pytest.mark.parametrize("plaintext", [b"", os.urandom(64 * 1024)], ids=["empty", "64KiB"])
async def test_round_trip_sizes(box: LocalSecretBox, plaintext: bytes) -> None:
    sealed = await box.seal(plaintext, context="ctx")
    assert await box.open(sealed, context="ctx") == plaintext


async def test_same_plaintext_seals_differently(box: LocalSecretBox) -> None:
    first = await box.seal(b"same", context="ctx")
    second = await box.seal(b"same", context="ctx")
    assert first.ciphertext != second.ciphertext


async def test_wrong_context_fails(box: LocalSecretBox) -> None:
    sealed = await box.seal(b"secret", context="env_var:1")
    with pytest.raises(SecretBoxError, match="context"):
        await box.open(sealed, context="env_var:2")


@pytest.mark.parametrize("position", [0, 1, 20, 70, -1], ids=lambda p: f"byte{p}")
async def test_tampered_ciphertext_fails(box: LocalSecretBox, position: int) -> None:
    sealed = await box.seal(b"secret", context="ctx")
    blob = bytearray(sealed.ciphertext)
    blob[position] ^= 0x01
    with pytest.raises(SecretBoxError):
        await box.open(dataclasses.replace(sealed, ciphertext=bytes(blob)), context="ctx")


async def test_truncated_ciphertext_fails(box: LocalSecretBox) -> None:
    sealed = await box.seal(b"secret", context="ctx")
    for cut in (0, 10, len(sealed.ciphertext) - 1):
        with pytest.raises(SecretBoxError):
            await box.open(Sealed(sealed.key_id, sealed.ciphertext[:cut]), context="ctx")


@pytest.mark.parametrize("key_id", ["local:zzz", "vault:stratus:v1", "a", ""])
async def test_unknown_key_id_fails(box: LocalSecretBox, key_id: str) -> None:
    sealed = await box.seal(b"secret", context="ctx")
    with pytest.raises(SecretBoxError, match="unknown key id"):
        await box.open(dataclasses.replace(sealed, key_id=key_id), context="ctx")


async def test_relabelled_key_id_fails(keys: dict[str, bytes]) -> None:
    """Both keys listed: a row claiming the other key id must not open."""
    box = LocalSecretBox.from_settings(Settings(secret_keys=_spec(keys, "a", "b")))
    sealed = await box.seal(b"secret", context="ctx")
    with pytest.raises(SecretBoxError):
        await box.open(dataclasses.replace(sealed, key_id="local:b"), context="ctx")


async def test_empty_context_is_rejected(box: LocalSecretBox) -> None:
    with pytest.raises(SecretBoxError, match="context"):
        await box.seal(b"secret", context="")
    sealed = await box.seal(b"secret", context="ctx")
    with pytest.raises(SecretBoxError, match="context"):
        await box.open(sealed, context="")


async def test_key_rotation(keys: dict[str, bytes]) -> None:
    old_box = LocalSecretBox.from_settings(Settings(secret_keys=_spec(keys, "a")))
    old = await old_box.seal(b"sealed before rotation", context="ctx")

    rotated = LocalSecretBox.from_settings(Settings(secret_keys=_spec(keys, "b", "a")))
    assert await rotated.open(old, context="ctx") == b"sealed before rotation"
    new = await rotated.seal(b"sealed after rotation", context="ctx")
    assert new.key_id == "local:b" == rotated.active_key_id
    assert await rotated.open(new, context="ctx") == b"sealed after rotation"

    # The old key alone cannot open rows sealed with the new one...
    with pytest.raises(SecretBoxError, match="unknown key id"):
        await old_box.open(new, context="ctx")
    # ...and once the old key is dropped from the list, its rows stop opening.
    retired = LocalSecretBox.from_settings(Settings(secret_keys=_spec(keys, "b")))
    with pytest.raises(SecretBoxError, match="unknown key id"):
        await retired.open(old, context="ctx")


async def test_same_key_id_with_a_different_key_fails(keys: dict[str, bytes]) -> None:
    sealed = await LocalSecretBox([("a", keys["a"])]).seal(b"secret", context="ctx")
    with pytest.raises(SecretBoxError):
        await LocalSecretBox([("a", keys["b"])]).open(sealed, context="ctx")


def test_rejects_bad_key_lists(keys: dict[str, bytes]) -> None:
    with pytest.raises(ValueError, match="duplicate"):
        LocalSecretBox([("a", keys["a"]), ("a", keys["b"])])
    with pytest.raises(ValueError, match="32 bytes"):
        LocalSecretBox([("a", b"short")])
    with pytest.raises(ValueError, match="at least one"):
        LocalSecretBox([])


def test_build_secret_box_picks_the_configured_backend() -> None:
    assert isinstance(build_secret_box(Settings(secret_backend="local")), LocalSecretBox)
    vault = Settings(secret_backend="vault", vault_token="t", vault_addr="http://127.0.0.1:1")
    assert isinstance(build_secret_box(vault), VaultTransitSecretBox)
    with pytest.raises(SecretBoxError, match="STRATUS_VAULT_TOKEN"):
        build_secret_box(Settings(secret_backend="vault", vault_token=""))
