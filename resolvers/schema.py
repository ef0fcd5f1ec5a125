"""The one GraphQL schema: teams, projects, identity, audit (later builds, deployments...)."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from app.domain import teams
from app.settings import Settings
from resolvers.activity import ActivitySubscriptions
from resolvers.builds import BuildMutations, BuildQueries, BuildSubscriptions
from resolvers.common import Node
from resolvers.context import Info
from resolvers.deployments import (
    DeploymentMutations,
    DeploymentQueries,
    DeploymentSubscriptions,
)
from resolvers.environments import EnvironmentMutations
from resolvers.extensions import QueryCost, convert_error
from resolvers.identity import IdentityMutations
from resolvers.node import fetch_node, fetch_node_or_none
from resolvers.projects import ProjectMutations, ProjectQueries
from resolvers.subscriptions import ViewerSubscriptions
from resolvers.teams import Team, TeamMutations, TeamQueries
from resolvers.users import User

MAX_NODES = 100


@strawberry.type(description="The signed-in user (or API key's creator) and their teams.")
class Viewer:
    user: User = strawberry.field(description="The user.")

    @strawberry.field(description="Teams the viewer belongs to (an API key: its own team).")
    async def teams(self, info: Info) -> list[Team]:
        async with info.context.session() as s:
            rows = await teams.list_viewer_teams(s, await info.context.principal())
        return [Team.from_row(r) for r in rows]


@strawberry.type(description="Read entry points.")
class Query(ProjectQueries, TeamQueries, BuildQueries, DeploymentQueries):
    @strawberry.field(description="Who is calling. UNAUTHENTICATED without credentials.")
    async def viewer(self, info: Info) -> Viewer:
        from app.domain import accounts

        async with info.context.session() as s:
            user = await accounts.get_user(s, await info.context.principal())
        return Viewer(user=User.from_row(user))

    @strawberry.field(description="Any object by global id.")
    async def node(self, info: Info, id: strawberry.ID) -> Node:
        return await fetch_node(info, id)

    @strawberry.field(description="Objects by global id (at most 100); null where not found.")
    async def nodes(self, info: Info, ids: list[strawberry.ID]) -> list[Node | None]:
        from app.errors import ErrorCode, UserInputError

        if len(ids) > MAX_NODES:
            raise UserInputError.one(ErrorCode.INVALID_ARGUMENT, f"at most {MAX_NODES} ids", "ids")
        # One awaitable per item, so that an item the caller may not see (FORBIDDEN)
        # is null with its own error at ["nodes", i] instead of failing the whole list.
        # The lock keeps the fetches one at a time: at most one pooled connection.
        lock = asyncio.Lock()

        async def one(global_id: str) -> Node | None:
            async with lock:
                return await fetch_node_or_none(info, global_id)

        return cast(list[Node | None], [one(i) for i in ids])


@strawberry.type(
    description="Write entry points. Each takes one `input` and returns a payload "
    "with `userErrors`."
)
class Mutation(
    IdentityMutations,
    TeamMutations,
    ProjectMutations,
    EnvironmentMutations,
    BuildMutations,
    DeploymentMutations,
):
    pass


@strawberry.type(description="Live streams over websockets (graphql-transport-ws or graphql-ws).")
class Subscription(
    ViewerSubscriptions, BuildSubscriptions, DeploymentSubscriptions, ActivitySubscriptions
):
    pass


class StratusSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # In place: the same list object is what the transports serialise.
        errors[:] = [convert_error(e) for e in errors]


def build_schema(settings: Settings | None = None) -> StratusSchema:
    s = settings or Settings()
    # The limit rules are built once: ValidationCache keys on the rule classes, and the
    # limiter extensions build new classes per instance, so per-request limiters made
    # every request miss the cache and validate again (~6 ms of CPU a request).
    limit_rules = [
        *QueryDepthLimiter(max_depth=s.max_query_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=s.max_aliases).validation_rules,
    ]
    extensions: list[Any] = [
        # Factories: a fresh extension per request (parse/validation caches are
        # module-level in strawberry, so they are still shared).
        lambda: MaxTokensLimiter(max_token_count=s.max_tokens),
        lambda: ParserCache(maxsize=512),
        lambda: ValidationCache(maxsize=512),
        lambda: AddValidationRules(limit_rules),
        lambda: QueryCost(maximum=s.max_query_cost),
    ]
    return StratusSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        config=StrawberryConfig(auto_camel_case=True),
    )
