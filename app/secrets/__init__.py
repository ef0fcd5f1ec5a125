"""Secret values at rest: one `SecretBox` Protocol, a local and a Vault transit backend.

Callers depend on `SecretBox` only and get an instance from `build_secret_box(settings)`,
so switching `STRATUS_SECRET_BACKEND` needs no code change.
"""

from __future__ import annotations

from app.secrets.box import Sealed, SecretBox, SecretBoxError
from app.secrets.local import LocalSecretBox
from app.secrets.vault import VaultTransitSecretBox
from app.settings import Settings

__all__ = [
    "LocalSecretBox",
    "Sealed",
    "SecretBox",
    "SecretBoxError",
    "VaultTransitSecretBox",
    "build_secret_box",
]


def build_secret_box(settings: Settings) -> SecretBox:
    """The backend named by `settings.secret_backend`.

    Does no I/O: for Vault, call `ensure_key()` at start-up (or `stratus up`) so a missing
    key or an unreachable server is reported once, clearly, instead of on the first seal.
    """
    match settings.secret_backend:
        case "vault":
            return VaultTransitSecretBox.from_settings(settings)
        case "local":
            return LocalSecretBox.from_settings(settings)
