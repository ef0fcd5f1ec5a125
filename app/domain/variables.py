"""Environment variables: sealed by the SecretBox at rest, write-only through the API.

The API returns a key's metadata and an HMAC digest of its value, never the value.
Only the build and runtime workers decrypt, through `decrypt_environment`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, ColumnElement, delete, func, literal_column, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from app.domain import audit
from app.domain.policy import Action, authorize
from app.domain.principal import Principal
from app.errors import ErrorCode, FieldError, NotFound, UserInputError
from app.secrets import Sealed, SecretBox
from app.uow import UnitOfWork
from db import models

KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,255}$")
MAX_VALUE_BYTES = 65_536
MAX_PER_CALL = 100
MAX_PER_ENVIRONMENT = 500


@dataclass(frozen=True, slots=True)
class VariableInput:
    key: str
    value: str


def value_digest(digest_key: str, value: str) -> str:
    return hmac.new(digest_key.encode(), value.encode(), hashlib.sha256).hexdigest()


def seal_context(environment_id: uuid.UUID, key: str) -> str:
    # Bound into the ciphertext: a value copied to another row or environment won't open.
    return f"envvar:{environment_id}:{key}"


def _validate(variables: Sequence[VariableInput]) -> None:
    if not variables:
        raise UserInputError.one(
            ErrorCode.REQUIRED, "at least one variable is required", "variables"
        )
    if len(variables) > MAX_PER_CALL:
        raise UserInputError.one(
            ErrorCode.TOO_MANY, f"at most {MAX_PER_CALL} variables per call", "variables"
        )
    errors: list[FieldError] = []
    seen: set[str] = set()
    for i, v in enumerate(variables):
        path = ["variables", str(i)]
        if not KEY_RE.match(v.key):
            errors.append(
                FieldError(
                    ErrorCode.INVALID_KEY,
                    f"{v.key[:64]!r} is not a valid variable name "
                    "(letters, digits, underscores; not starting with a digit)",
                    [*path, "key"],
                )
            )
        elif v.key in seen:
            errors.append(
                FieldError(ErrorCode.DUPLICATE_KEY, f"{v.key} appears twice", [*path, "key"])
            )
        seen.add(v.key)
        if len(v.value.encode()) > MAX_VALUE_BYTES:
            errors.append(
                FieldError(
                    ErrorCode.TOO_LONG, f"value is over {MAX_VALUE_BYTES} bytes", [*path, "value"]
                )
            )
    if errors:
        raise UserInputError(*errors)


async def _environment_for_write(uow: UnitOfWork, environment_id: uuid.UUID) -> models.Environment:
    env = await uow.session.get(models.Environment, environment_id, with_for_update=True)
    if env is None:
        raise NotFound("environment")
    await authorize(
        uow.session, uow.principal, env.team_id, Action.VARIABLES_WRITE, what="environment"
    )
    return env


async def upsert_variables(
    uow: UnitOfWork, *, environment_id: uuid.UUID, variables: Sequence[VariableInput]
) -> list[models.EnvironmentVariable]:
    _validate(variables)
    env = await _environment_for_write(uow, environment_id)
    existing = {
        v.key: v
        for v in (
            await uow.session.scalars(
                select(models.EnvironmentVariable).where(
                    models.EnvironmentVariable.environment_id == env.id
                )
            )
        ).all()
    }
    new_keys = {v.key for v in variables} - existing.keys()
    if len(existing) + len(new_keys) > MAX_PER_ENVIRONMENT:
        raise UserInputError.one(
            ErrorCode.LIMIT_REACHED,
            f"at most {MAX_PER_ENVIRONMENT} variables per environment",
            "variables",
        )
    box: SecretBox = uow.deps.secrets
    digest_key = uow.deps.settings.digest_key
    out: list[models.EnvironmentVariable] = []
    for v in variables:
        sealed = await box.seal(v.value.encode(), context=seal_context(env.id, v.key))
        row = existing.get(v.key)
        if row is None:
            row = models.EnvironmentVariable(
                id=uuid.uuid4(), environment_id=env.id, team_id=env.team_id, key=v.key
            )
            uow.session.add(row)
        row.ciphertext, row.key_id = sealed.ciphertext, sealed.key_id
        row.digest = value_digest(digest_key, v.value)
        out.append(row)
    audit.record(
        uow,
        action="variables.upsert",
        target_type="Environment",
        target_id=env.id,
        team_id=env.team_id,
        changes={"keys": sorted(v.key for v in variables)},
    )
    return out


async def delete_variables(
    uow: UnitOfWork, *, environment_id: uuid.UUID, keys: Sequence[str]
) -> list[str]:
    if not keys or len(keys) > MAX_PER_CALL:
        raise UserInputError.one(ErrorCode.INVALID_ARGUMENT, f"give 1-{MAX_PER_CALL} keys", "keys")
    env = await _environment_for_write(uow, environment_id)
    result = await uow.session.execute(
        delete(models.EnvironmentVariable)
        .where(
            models.EnvironmentVariable.environment_id == env.id,
            models.EnvironmentVariable.key.in_(list(keys)),
        )
        .returning(models.EnvironmentVariable.key)
    )
    deleted = sorted(result.scalars().all())
    audit.record(
        uow,
        action="variables.delete",
        target_type="Environment",
        target_id=env.id,
        team_id=env.team_id,
        changes={"keys": deleted},
    )
    return deleted


async def variables_of(
    session: AsyncSession, environment_ids: Sequence[uuid.UUID]
) -> list[models.EnvironmentVariable]:
    """Batch read of metadata for loaders; callers have already authorized."""
    rows = await session.scalars(
        select(models.EnvironmentVariable)
        .where(models.EnvironmentVariable.environment_id.in_(environment_ids))
        .order_by(models.EnvironmentVariable.key)
    )
    return list(rows.all())


@dataclass(frozen=True, slots=True)
class VariableMetadata:
    """What the API shows of a variable: never the sealed value."""

    id: uuid.UUID
    key: str
    digest: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_json(cls, item: dict[str, Any]) -> VariableMetadata:
        return cls(
            id=uuid.UUID(item["id"]),
            key=item["key"],
            digest=item["digest"],
            # UTC wall time (see metadata_json), like the driver's own timestamps.
            created_at=datetime.fromisoformat(item["created_at"]).replace(tzinfo=UTC),
            updated_at=datetime.fromisoformat(item["updated_at"]).replace(tzinfo=UTC),
        )


def metadata_json(environment_id: InstrumentedAttribute[uuid.UUID]) -> ColumnElement[Any]:
    """Correlated subquery: the environment's variables (by key) as a JSON array.

    Lets a batch read return environments with their variables in one statement and
    without a mapped object per variable (see projects.environments_with_variables_of).
    """
    v = models.EnvironmentVariable
    # Timestamps as UTC wall time: JSON renders timestamptz in the session's time zone.
    item = func.json_build_object(
        "id", v.id, "key", v.key, "digest", v.digest,
        "created_at", func.timezone("UTC", v.created_at),
        "updated_at", func.timezone("UTC", v.updated_at),
    )  # fmt: skip
    items = func.coalesce(
        func.json_agg(aggregate_order_by(item, v.key)), literal_column("'[]'::json"), type_=JSON
    )
    return select(items).where(v.environment_id == environment_id).scalar_subquery()


async def decrypt_environment(
    session: AsyncSession, box: SecretBox, environment_id: uuid.UUID
) -> dict[str, str]:
    """Plain values for a build or release. Workers only; never reachable from the API.

    A branch preview sees its template's ("preview") variables, overridden by its own.
    """
    template_id = await session.scalar(
        select(models.Environment.template_id).where(models.Environment.id == environment_id)
    )
    out: dict[str, str] = {}
    for env_id in [template_id, environment_id]:
        if env_id is None:
            continue
        for row in await variables_of(session, [env_id]):
            plain = await box.open(
                Sealed(row.key_id, row.ciphertext), context=seal_context(env_id, row.key)
            )
            out[row.key] = plain.decode()
    return out


async def get_variable(
    session: AsyncSession, principal: Principal | None, *, variable_id: uuid.UUID
) -> models.EnvironmentVariable:
    row = await session.get(models.EnvironmentVariable, variable_id)
    if row is None:
        raise NotFound("environment variable")
    await authorize(session, principal, row.team_id, Action.READ, what="environment variable")
    return row
