"""AES-256-GCM envelope encryption with keys from settings: the default, needs no server.

Why an envelope: each value gets its own random data key, so the key-encryption key (KEK)
only ever encrypts 32-byte random keys. That keeps GCM's random-nonce limits far away no
matter how many secrets are sealed, and matches what Vault transit does, so moving a row
between backends changes no assumptions.

Blob layout (version 1), all fixed-size except the tail:

    0x01 | wrap nonce (12) | wrapped data key (32 + 16 tag) | data nonce (12) | ciphertext+tag

The KEK id is not inside the blob: it lives in `Sealed.key_id` ("local:<kid>") and is bound
into the wrap's associated data, so relabelling a row with another key id fails to open.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app.secrets.box import Sealed, SecretBoxError, require_context
from app.settings import Settings, parse_secret_keys

KEY_ID_PREFIX = "local:"
_VERSION = 1
_NONCE = 12
_TAG = 16
_KEY = 32
_WRAPPED = _KEY + _TAG
_HEADER = 1 + _NONCE + _WRAPPED + _NONCE


def _wrap_aad(kid: bytes, context: bytes) -> bytes:
    """Bind the wrapped key to format version, KEK id and context (length-prefixed kid)."""
    return bytes([_VERSION]) + b"key" + len(kid).to_bytes(2, "big") + kid + context


def _data_aad(context: bytes) -> bytes:
    """Domain-separated from the wrap AAD so the two layers can never be swapped."""
    return bytes([_VERSION]) + b"data" + context


class LocalSecretBox:
    """SecretBox over a list of (key id, 32-byte KEK): the first seals, every one opens.

    Rotation: prepend a new key (`STRATUS_SECRET_KEYS=new:...,old:...`); new seals use it,
    old rows still open until they are re-sealed and the old key is removed.

    The work is a few microseconds of AES for the small values this stores, so it runs
    inline instead of paying for a thread hop.
    """

    def __init__(self, keys: Sequence[tuple[str, bytes]]) -> None:
        if not keys:
            raise ValueError("LocalSecretBox needs at least one key")
        self._keys: dict[str, AESGCM] = {}
        for kid, raw in keys:
            if not kid or len(kid.encode()) > 255:
                raise ValueError("key ids must be 1-255 bytes")
            if len(raw) != _KEY:
                raise ValueError(f"key {kid!r} must be {_KEY} bytes")
            if kid in self._keys:
                # Two different keys under one id would make opening depend on list order.
                raise ValueError(f"duplicate key id {kid!r}")
            self._keys[kid] = AESGCM(raw)
        self._active = keys[0][0]

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalSecretBox:
        return cls(parse_secret_keys(settings.secret_keys))

    @property
    def active_key_id(self) -> str:
        """The key id new seals get; rows with another id are due for re-sealing."""
        return KEY_ID_PREFIX + self._active

    async def seal(self, plaintext: bytes, *, context: str) -> Sealed:
        ctx = require_context(context)
        kid = self._active.encode()
        data_key = AESGCM.generate_key(bit_length=256)
        data_nonce, wrap_nonce = os.urandom(_NONCE), os.urandom(_NONCE)
        body = AESGCM(data_key).encrypt(data_nonce, plaintext, _data_aad(ctx))
        wrapped = self._keys[self._active].encrypt(wrap_nonce, data_key, _wrap_aad(kid, ctx))
        blob = bytes([_VERSION]) + wrap_nonce + wrapped + data_nonce + body
        return Sealed(key_id=KEY_ID_PREFIX + self._active, ciphertext=blob)

    async def open(self, sealed: Sealed, *, context: str) -> bytes:
        ctx = require_context(context)
        kek = self._kek_for(sealed.key_id)
        blob = sealed.ciphertext
        if len(blob) < _HEADER + _TAG or blob[0] != _VERSION:
            raise SecretBoxError(f"ciphertext for {sealed.key_id!r} is truncated or not v1")
        wrap_nonce = blob[1 : 1 + _NONCE]
        wrapped = blob[1 + _NONCE : 1 + _NONCE + _WRAPPED]
        data_nonce = blob[1 + _NONCE + _WRAPPED : _HEADER]
        kid = sealed.key_id.removeprefix(KEY_ID_PREFIX).encode()
        try:
            data_key = kek.decrypt(wrap_nonce, wrapped, _wrap_aad(kid, ctx))
            return AESGCM(data_key).decrypt(data_nonce, blob[_HEADER:], _data_aad(ctx))
        except InvalidTag:
            # One message for both layers: which layer failed is no use to an attacker's
            # oracle nor to an operator (the cause is tampering or a wrong context either way).
            raise SecretBoxError(
                f"cannot open secret sealed with {sealed.key_id!r}: "
                "data was modified or the context does not match"
            ) from None

    def _kek_for(self, key_id: str) -> AESGCM:
        kid = key_id.removeprefix(KEY_ID_PREFIX) if key_id.startswith(KEY_ID_PREFIX) else None
        kek = self._keys.get(kid) if kid is not None else None
        if kek is None:
            raise SecretBoxError(
                f"unknown key id {key_id!r}: not a local key listed in STRATUS_SECRET_KEYS"
            )
        return kek
