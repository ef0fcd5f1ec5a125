"""Environments of a project and their write-only variables."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import strawberry

from app.domain import previews, variables
from app.domain.rollout_traffic import public_url
from app.domain.variables import VariableInput
from db import models
from db.enums import EnvironmentKind
from resolvers.common import Node, UserError, run_mutation
from resolvers.context import Info
from resolvers.ids import parse_id, to_global_id
from resolvers.loaders import MaybeAwaitable

strawberry.enum(EnvironmentKind, description="What an environment is for.")


@strawberry.type(description="A variable of an environment. The value is write-only.")
class EnvironmentVariable(Node):
    key: str = strawberry.field(description="Variable name, e.g. DATABASE_URL.")
    value_digest: str = strawberry.field(
        description="HMAC-SHA256 of the value under a server key: compare, never read."
    )
    created_at: datetime = strawberry.field(description="When the key was first set.")
    updated_at: datetime = strawberry.field(description="When the value last changed.")

    @classmethod
    def from_row(
        cls, row: models.EnvironmentVariable | variables.VariableMetadata
    ) -> EnvironmentVariable:
        return cls(
            id=strawberry.ID(to_global_id("EnvironmentVariable", row.id)),
            key=row.key,
            value_digest=row.digest,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


@strawberry.type(description="A deploy target of a project: production, preview or development.")
class Environment(Node):
    name: str = strawberry.field(description="Environment name, unique in the project.")
    kind: EnvironmentKind = strawberry.field(description="What the environment is for.")
    created_at: datetime = strawberry.field(description="Creation time.")
    branch: str | None = strawberry.field(
        description="A branch preview's branch (null for production, preview, development)."
    )
    expires_at: datetime | None = strawberry.field(
        description="A branch preview stops serving then (each deploy extends it)."
    )
    expired_at: datetime | None = strawberry.field(
        description="When the preview expired: its deployments were stopped and unrouted."
    )
    row_id: strawberry.Private[uuid.UUID]
    project_slug: strawberry.Private[str]
    is_template: strawberry.Private[bool]
    # Set when the parent list prefetched this level (see resolvers/loaders.py).
    prefetched_variables: strawberry.Private[list[EnvironmentVariable] | None] = None

    @strawberry.field(
        description="Where the environment is served: the router, or its Ingress on Kubernetes. "
        "Null for `preview`, the template of the branch previews (which have their own)."
    )
    def url(self, info: Info) -> str | None:
        if self.is_template:
            return None
        return public_url(info.context.deps.settings, self.project_slug, self.name)

    @classmethod
    def from_row(
        cls,
        row: models.Environment,
        project_slug: str,
        variable_rows: Sequence[models.EnvironmentVariable | variables.VariableMetadata]
        | None = None,
    ) -> Environment:
        return cls(
            id=strawberry.ID(to_global_id("Environment", row.id)),
            name=row.name,
            kind=row.kind,
            created_at=row.created_at,
            branch=row.branch,
            expires_at=row.expires_at,
            expired_at=row.expired_at,
            project_slug=project_slug,
            is_template=previews.is_template(row),
            row_id=row.id,
            prefetched_variables=(
                None
                if variable_rows is None
                else [EnvironmentVariable.from_row(v) for v in variable_rows]
            ),
        )

    @strawberry.field(
        description="Variables of this environment (metadata only), by key.",
        graphql_type=list[EnvironmentVariable],
    )
    def variables(self, info: Info) -> MaybeAwaitable[list[EnvironmentVariable]]:
        if self.prefetched_variables is not None:
            return self.prefetched_variables
        return self._load_variables(info)

    async def _load_variables(self, info: Info) -> list[EnvironmentVariable]:
        rows = await info.context.loaders.variables_by_environment.load(self.row_id)
        return [EnvironmentVariable.from_row(r) for r in rows]


@strawberry.input(description="A variable to create or overwrite.")
class EnvironmentVariableInput:
    key: str = strawberry.field(description="Name: letters, digits, underscores.")
    value: str = strawberry.field(description="Value, at most 64 KiB. Never returned.")


@strawberry.input(description="Create or overwrite up to 100 variables at once.")
class UpsertEnvironmentVariablesInput:
    environment_id: strawberry.ID = strawberry.field(description="Target environment.")
    variables: list[EnvironmentVariableInput] = strawberry.field(description="1-100 variables.")


@strawberry.type(description="Result of upsertEnvironmentVariables.")
class UpsertEnvironmentVariablesPayload:
    variables: list[EnvironmentVariable] = strawberry.field(description="Written variables.")
    user_errors: list[UserError] = strawberry.field(description="Input problems.")


@strawberry.input(description="Delete variables by key.")
class DeleteEnvironmentVariablesInput:
    environment_id: strawberry.ID = strawberry.field(description="Target environment.")
    keys: list[str] = strawberry.field(description="1-100 keys; unknown keys are ignored.")


@strawberry.type(description="Result of deleteEnvironmentVariables.")
class DeleteEnvironmentVariablesPayload:
    deleted_keys: list[str] = strawberry.field(description="Keys that existed and were deleted.")
    user_errors: list[UserError] = strawberry.field(description="Input problems.")


@strawberry.type
class EnvironmentMutations:
    @strawberry.mutation(description="Create or overwrite variables; values are write-only.")
    async def upsert_environment_variables(
        self, info: Info, input: UpsertEnvironmentVariablesInput
    ) -> UpsertEnvironmentVariablesPayload:
        env_id = parse_id(input.environment_id, "Environment")
        items = [VariableInput(key=v.key, value=v.value) for v in input.variables]
        rows, errors = await run_mutation(
            info,
            lambda uow: variables.upsert_variables(uow, environment_id=env_id, variables=items),
        )
        return UpsertEnvironmentVariablesPayload(
            variables=[EnvironmentVariable.from_row(r) for r in rows or []], user_errors=errors
        )

    @strawberry.mutation(description="Delete variables by key.")
    async def delete_environment_variables(
        self, info: Info, input: DeleteEnvironmentVariablesInput
    ) -> DeleteEnvironmentVariablesPayload:
        env_id = parse_id(input.environment_id, "Environment")
        keys, errors = await run_mutation(
            info,
            lambda uow: variables.delete_variables(uow, environment_id=env_id, keys=input.keys),
        )
        return DeleteEnvironmentVariablesPayload(deleted_keys=keys or [], user_errors=errors)
