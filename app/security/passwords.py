"""argon2id password hashing. Hashing costs ~50 ms of CPU, so it runs in a thread."""

from __future__ import annotations

import asyncio
import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256


@functools.cache
def _hasher(time_cost: int, memory_kib: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=1)


async def hash_password(password: str, *, time_cost: int, memory_kib: int) -> str:
    return await asyncio.to_thread(_hasher(time_cost, memory_kib).hash, password)


async def verify_password(
    password_hash: str, password: str, *, time_cost: int, memory_kib: int
) -> bool:
    def check() -> bool:
        try:
            return _hasher(time_cost, memory_kib).verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(check)


# A real hash to verify against when the email is unknown, so that login takes
# the same time whether or not the account exists.
DUMMY_HASH = (
    "$argon2id$v=19$m=19456,t=2,p=1$2XYUPjJO+v5eWDKx24nCRw$"
    "QcxeT9Ta5bPRG+hSFjLDmKxx5a2T+7xqbZpQFBFlKos"
)
