"""SecretBox over Vault/OpenBao transit: key material never leaves the Vault server.

Transit does the envelope work itself; we send base64 plaintext plus a base64 `context`
and store the returned "vault:vN:..." string. Context needs a *derived* key (transit derives a
per-context key with HKDF), which is why `ensure_key` creates the key with `derived=True` and
refuses an existing key without it.

hvac is synchronous (requests), so every call runs in `asyncio.to_thread` to keep the event
loop free; the client has a short timeout so a hung or unreachable Vault surfaces as a
SecretBoxError within seconds instead of stalling a request or job.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import re
from collections.abc import Callable
from typing import Any

import hvac
import hvac.exceptions
import requests

from app.secrets.box import Sealed, SecretBoxError, require_context
from app.settings import Settings

DEFAULT_TIMEOUT_SECONDS = 5.0
_CIPHERTEXT_VERSION = re.compile(r"^vault:v(\d+):")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class VaultTransitSecretBox:
    """Seal with the latest version of one transit key; open whatever version sealed a row.

    Rotating the transit key in Vault is all key rotation takes: old ciphertexts still open
    (down to the key's `min_decryption_version`) and `Sealed.key_id` records the version.
    """

    def __init__(self, client: hvac.Client, *, mount: str, key: str) -> None:
        self._client = client
        self._mount = mount
        self._key = key
        self._id_prefix = f"vault:{key}:v"

    @classmethod
    def from_settings(
        cls, settings: Settings, *, timeout: float = DEFAULT_TIMEOUT_SECONDS
    ) -> VaultTransitSecretBox:
        if not settings.vault_token:
            # hvac would silently fall back to VAULT_TOKEN or ~/.vault-token; be explicit.
            raise SecretBoxError("STRATUS_VAULT_TOKEN is empty; the vault backend needs a token")
        client = hvac.Client(url=settings.vault_addr, token=settings.vault_token, timeout=timeout)
        return cls(client, mount=settings.vault_transit_mount, key=settings.vault_transit_key)

    async def ensure_key(self) -> None:
        """Create the transit key (derived, so contexts work) unless it exists; check it."""
        transit = self._client.secrets.transit
        try:
            info = await self._call("read key", transit.read_key, name=self._key)
        except SecretBoxError as exc:
            if not isinstance(exc.__cause__, hvac.exceptions.InvalidPath):
                raise
            info = await self._call("create key", transit.create_key, name=self._key, derived=True)
        if not info.get("data", {}).get("derived"):
            raise SecretBoxError(
                f"transit key {self._key!r} exists but is not derived, and contexts need a "
                "derived key: create one with derived=true and set STRATUS_VAULT_TRANSIT_KEY"
            )

    async def seal(self, plaintext: bytes, *, context: str) -> Sealed:
        ctx = require_context(context)
        result = await self._call(
            "encrypt", self._client.secrets.transit.encrypt_data,
            name=self._key, plaintext=_b64(plaintext), context=_b64(ctx),
        )  # fmt: skip
        try:
            ciphertext = str(result["data"]["ciphertext"])
        except (KeyError, TypeError):
            raise SecretBoxError(f"Vault encrypt with key {self._key!r}: no ciphertext") from None
        version = _version_of(ciphertext)
        if version is None:
            raise SecretBoxError(f"Vault encrypt with key {self._key!r}: unexpected format")
        return Sealed(key_id=f"{self._id_prefix}{version}", ciphertext=ciphertext.encode())

    async def open(self, sealed: Sealed, *, context: str) -> bytes:
        ctx = require_context(context)
        try:
            ciphertext = sealed.ciphertext.decode("ascii")
        except UnicodeDecodeError:
            raise SecretBoxError(f"ciphertext for {sealed.key_id!r} is not transit text") from None
        version = _version_of(ciphertext)
        # The key id is our label, the prefix is Vault's: they must agree, and the label must
        # name the key this box uses (a row from another key is not ours to open).
        if version is None or sealed.key_id != f"{self._id_prefix}{version}":
            raise SecretBoxError(
                f"unknown key id {sealed.key_id!r} for Vault transit key {self._key!r}"
            )
        result = await self._call(
            "decrypt", self._client.secrets.transit.decrypt_data,
            name=self._key, ciphertext=ciphertext, context=_b64(ctx),
        )  # fmt: skip
        try:
            return base64.b64decode(result["data"]["plaintext"] or "", validate=True)
        except (KeyError, TypeError, binascii.Error):
            raise SecretBoxError(f"Vault decrypt with key {self._key!r}: bad response") from None

    async def _call(self, what: str, fn: Callable[..., Any], /, **kwargs: Any) -> dict[str, Any]:
        """Run one hvac call off the loop and turn every failure into a SecretBoxError.

        Causes are kept only for hvac's own errors (server messages, no payloads); requests'
        exceptions carry the prepared request, whose body holds the plaintext, so they are
        summarised and dropped rather than chained into logs and error trackers.
        """
        call = functools.partial(fn, mount_point=self._mount, **kwargs)
        try:
            result = await asyncio.to_thread(call)
        except hvac.exceptions.VaultError as exc:
            reason = "; ".join(map(str, exc.errors or [])) or type(exc).__name__
            raise SecretBoxError(
                f"Vault transit {what} with key {self._key!r} failed: {reason}"
            ) from exc
        except requests.RequestException as exc:
            raise SecretBoxError(
                f"Vault transit {what} with key {self._key!r} failed: cannot reach "
                f"{self._client.url} ({type(exc).__name__})"
            ) from None
        if not isinstance(result, dict):
            raise SecretBoxError(f"Vault transit {what} with key {self._key!r}: empty response")
        return result


def _version_of(ciphertext: str) -> int | None:
    match = _CIPHERTEXT_VERSION.match(ciphertext)
    return int(match.group(1)) if match else None
