"""The one interface the rest of Stratus uses to protect secret values at rest.

Domain code stores a `Sealed` (key id + opaque bytes) in its own row and never sees key
material, so the backend (local envelope encryption or Vault transit) can change by setting
without touching callers. Every seal is bound to a `context` string, normally the owning row's
identity (e.g. "env_var:<uuid>"): a ciphertext copied into another row then fails to open,
which turns a database-level swap attack into an error instead of a leak.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class SecretBoxError(Exception):
    """Sealing or opening failed: tampered data, wrong context, unknown key id, backend down.

    Messages name the key id, backend and cause, never a plaintext or key, so they are safe
    to log and to wrap into a user-facing error.
    """


@dataclass(frozen=True, slots=True)
class Sealed:
    """An encrypted value plus the id of the key that can open it.

    `key_id` is stored next to the ciphertext so a reader can tell which key (and backend)
    a row needs, and so rows still on an old key can be found and re-sealed after rotation.
    """

    key_id: str
    ciphertext: bytes


class SecretBox(Protocol):
    """Seal and open small secrets (env vars, tokens, webhook keys), bound to a context."""

    async def seal(self, plaintext: bytes, *, context: str) -> Sealed:
        """Encrypt `plaintext` with the current key; only the same `context` opens it."""
        ...

    async def open(self, sealed: Sealed, *, context: str) -> bytes:
        """Decrypt; raise SecretBoxError on any mismatch rather than return wrong bytes."""
        ...


def require_context(context: str) -> bytes:
    """Reject an empty context: binding to nothing would silently drop the swap protection.

    Vault's derived transit keys refuse an empty context too, so both backends agree.
    """
    if not context:
        raise SecretBoxError("a non-empty context is required to seal or open a secret")
    return context.encode("utf-8")
