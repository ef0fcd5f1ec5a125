"""Projects, environments and write-only environment variables."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import strawberry

from app.domain import projects, variables
from app.domain.projects import ProjectSettings
from app.domain.rollout_traffic import public_url
from app.domain.variables import VariableInput
from db import models
from db.enums import EnvironmentKind, Framework
from resolvers.builds import BuildConnection, build_page
from resolvers.common import Node, PageInfo, UserError, run_mutation
from resolvers.context import Info
from resolvers.deployments import Deployment, DeploymentConnection, active_list, deployment_page
from resolvers.ids import parse_id, to_global_id
from resolvers.loaders import MaybeAwaitable, ProjectChildren, project_children, selects

strawberry.enum(Framework, description="How a project is built and started.")
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
    # Set when the parent list prefetched this level (see resolvers/loaders.py).
    prefetched_variables: strawberry.Private[list[EnvironmentVariable] | None] = None

    @strawberry.field(
        description="Where the environment is served: the router, or its Ingress on Kubernetes. "
        "Null for `preview`, the template of the branch previews (which have their own)."
    )
    def url(self, info: Info) -> str | None:
        if self.kind == EnvironmentKind.PREVIEW and self.branch is None:
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


@strawberry.type(description="An app built from one git repository.")
class Project(Node):
    name: str = strawberry.field(description="Display name.")
    slug: str = strawberry.field(description="URL-safe name, unique within the team.")
    git_url: str = strawberry.field(description="Repository URL (https, ssh or file).")
    production_branch: str = strawberry.field(description="Branch deployed to production.")
    root_directory: str = strawberry.field(description="Sub-folder of the repository to build.")
    framework: Framework = strawberry.field(description="Build kind; `auto` detects it.")
    install_command: str | None = strawberry.field(description="Overrides the install step.")
    build_command: str | None = strawberry.field(description="Overrides the build step.")
    start_command: str | None = strawberry.field(description="Overrides the start command.")
    output_directory: str | None = strawberry.field(description="Static output folder.")
    health_check_path: str = strawberry.field(description="HTTP path probed before traffic.")
    auto_deploy: bool = strawberry.field(
        description="Pushes deploy: the production branch to production (blue-green), other "
        "branches to their preview. Off: pushes only build."
    )
    created_at: datetime = strawberry.field(description="Creation time.")
    updated_at: datetime = strawberry.field(description="Last settings change.")
    row_id: strawberry.Private[uuid.UUID]
    # Set when the page prefetched this level (see resolvers/loaders.py).
    prefetched_environments: strawberry.Private[list[Environment] | None] = None

    @classmethod
    def from_row(cls, r: models.Project, environments: list[Environment] | None = None) -> Project:
        return cls(
            id=strawberry.ID(to_global_id("Project", r.id)),
            name=r.name,
            slug=r.slug,
            git_url=r.git_url,
            production_branch=r.production_branch,
            root_directory=r.root_directory,
            framework=r.framework,
            install_command=r.install_command,
            build_command=r.build_command,
            start_command=r.start_command,
            output_directory=r.output_directory,
            health_check_path=r.health_check_path,
            auto_deploy=r.auto_deploy,
            created_at=r.created_at,
            updated_at=r.updated_at,
            row_id=r.id,
            prefetched_environments=environments,
        )

    @strawberry.field(description="Builds of the project, newest first.")
    async def builds(
        self, info: Info, first: int = 20, after: str | None = None
    ) -> BuildConnection:
        return await build_page(info, self.row_id, first, after)

    @strawberry.field(
        description="Deployments of the project, newest first; of one environment when "
        "`environment` is given."
    )
    async def deployments(
        self, info: Info, first: int = 20, after: str | None = None, environment: str | None = None
    ) -> DeploymentConnection:
        return await deployment_page(info, self.row_id, first, after, environment)

    @strawberry.field(
        description="Deployments the router sends traffic to in an environment, with weights."
    )
    async def active_deployments(
        self, info: Info, environment: str = "production"
    ) -> list[Deployment]:
        return await active_list(info, self.row_id, environment)

    @strawberry.field(description="The project's environments.", graphql_type=list[Environment])
    def environments(self, info: Info) -> MaybeAwaitable[list[Environment]]:
        if self.prefetched_environments is not None:
            return self.prefetched_environments
        return self._load_environments(info)

    async def _load_environments(self, info: Info) -> list[Environment]:
        rows = await info.context.loaders.environments_by_project.load(self.row_id)
        return [Environment.from_row(r, self.slug) for r in rows]


@strawberry.type(description="An edge of a ProjectConnection.")
class ProjectEdge:
    cursor: str = strawberry.field(description="Cursor of this item.")
    node: Project = strawberry.field(description="The project.")


@strawberry.type(description="A page of projects, oldest first.")
class ProjectConnection:
    edges: list[ProjectEdge] = strawberry.field(description="Items with their cursors.")
    nodes: list[Project] = strawberry.field(description="Items of this page.")
    page_info: PageInfo = strawberry.field(description="Pagination state.")


async def project_page(
    info: Info, team_id: uuid.UUID, first: int, after: str | None
) -> ProjectConnection:
    """A page of the team's projects with every selected level below it, in one session."""
    environments = selects(info, "nodes.environments", "edges.node.environments")
    with_variables = selects(
        info, "nodes.environments.variables", "edges.node.environments.variables"
    )
    async with info.context.session() as s:
        page = await projects.list_projects(
            s, await info.context.principal(), team_id=team_id, first=first, after=after
        )
        children = (
            await project_children(s, [r.id for r in page.items], with_variables=with_variables)
            if environments and page.items
            else None
        )
    nodes = [Project.from_row(r, _environments(children, r)) for r in page.items]
    return ProjectConnection(
        edges=[ProjectEdge(cursor=c, node=n) for c, n in zip(page.cursors, nodes, strict=True)],
        nodes=nodes,
        page_info=PageInfo.of(page),
    )


def _environments(
    children: ProjectChildren | None, project: models.Project
) -> list[Environment] | None:
    if children is None:
        return None
    by_environment = children.variables
    return [
        Environment.from_row(
            e, project.slug, None if by_environment is None else by_environment.get(e.id, [])
        )
        for e in children.environments.get(project.id, [])
    ]


@strawberry.input(description="Settings of a new project.")
class CreateProjectInput:
    team_id: strawberry.ID = strawberry.field(description="Team that owns the project.")
    name: str = strawberry.field(description="Display name (1-100 characters).")
    slug: str | None = strawberry.field(default=None, description="Defaults to the slugged name.")
    git_url: str | None = strawberry.field(default=None, description="Repository URL.")
    production_branch: str | None = strawberry.field(default=None, description="Default `main`.")
    root_directory: str | None = strawberry.field(default=None, description="Relative folder.")
    framework: Framework | None = strawberry.field(default=None, description="Default `auto`.")
    install_command: str | None = strawberry.field(default=None, description="Install step.")
    build_command: str | None = strawberry.field(default=None, description="Build step.")
    start_command: str | None = strawberry.field(default=None, description="Start command.")
    output_directory: str | None = strawberry.field(default=None, description="Static output.")
    health_check_path: str | None = strawberry.field(default=None, description="Default `/`.")
    auto_deploy: bool | None = strawberry.field(
        default=None, description="Pushes deploy (default true)."
    )


@strawberry.input(description="Changes to a project; omitted fields stay as they are.")
class UpdateProjectInput:
    project_id: strawberry.ID = strawberry.field(description="Project to change.")
    name: str | None = strawberry.field(default=None, description="Display name.")
    slug: str | None = strawberry.field(default=None, description="URL-safe name.")
    git_url: str | None = strawberry.field(default=None, description="Repository URL.")
    production_branch: str | None = strawberry.field(default=None, description="Branch.")
    root_directory: str | None = strawberry.field(default=None, description="Relative folder.")
    framework: Framework | None = strawberry.field(default=None, description="Build kind.")
    install_command: str | None = strawberry.field(default=None, description="Install step.")
    build_command: str | None = strawberry.field(default=None, description="Build step.")
    start_command: str | None = strawberry.field(default=None, description="Start command.")
    output_directory: str | None = strawberry.field(default=None, description="Static output.")
    health_check_path: str | None = strawberry.field(default=None, description="Probe path.")
    auto_deploy: bool | None = strawberry.field(default=None, description="Pushes deploy.")


def _settings(data: CreateProjectInput | UpdateProjectInput) -> ProjectSettings:
    return ProjectSettings(
        name=data.name,
        slug=data.slug,
        git_url=data.git_url,
        production_branch=data.production_branch,
        root_directory=data.root_directory,
        framework=data.framework,
        install_command=data.install_command,
        build_command=data.build_command,
        start_command=data.start_command,
        output_directory=data.output_directory,
        health_check_path=data.health_check_path,
        auto_deploy=data.auto_deploy,
    )


@strawberry.type(description="Result of createProject / updateProject.")
class ProjectPayload:
    project: Project | None = strawberry.field(description="The project, unless userErrors.")
    user_errors: list[UserError] = strawberry.field(description="Input problems.")


@strawberry.input(description="Project to delete.")
class DeleteProjectInput:
    project_id: strawberry.ID = strawberry.field(description="Project to delete.")


@strawberry.type(description="Result of deleteProject.")
class DeleteProjectPayload:
    deleted_project_id: strawberry.ID | None = strawberry.field(description="Id of the project.")
    user_errors: list[UserError] = strawberry.field(description="Input problems.")


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
class ProjectQueries:
    @strawberry.field(description="A project by id.")
    async def project(self, info: Info, id: strawberry.ID) -> Project:
        async with info.context.session() as s:
            row = await projects.get_project(
                s, await info.context.principal(), project_id=parse_id(id, "Project")
            )
        return Project.from_row(row)


@strawberry.type
class ProjectMutations:
    @strawberry.mutation(description="Create a project with production, preview and development.")
    async def create_project(self, info: Info, input: CreateProjectInput) -> ProjectPayload:
        team_id = parse_id(input.team_id, "Team")
        row, errors = await run_mutation(
            info,
            lambda uow: projects.create_project(uow, team_id=team_id, settings=_settings(input)),
        )
        return ProjectPayload(project=Project.from_row(row) if row else None, user_errors=errors)

    @strawberry.mutation(description="Change a project's settings.")
    async def update_project(self, info: Info, input: UpdateProjectInput) -> ProjectPayload:
        project_id = parse_id(input.project_id, "Project")
        row, errors = await run_mutation(
            info,
            lambda uow: projects.update_project(
                uow, project_id=project_id, settings=_settings(input)
            ),
        )
        return ProjectPayload(project=Project.from_row(row) if row else None, user_errors=errors)

    @strawberry.mutation(description="Delete a project with its environments and variables.")
    async def delete_project(self, info: Info, input: DeleteProjectInput) -> DeleteProjectPayload:
        project_id = parse_id(input.project_id, "Project")
        deleted, errors = await run_mutation(
            info, lambda uow: projects.delete_project(uow, project_id=project_id)
        )
        return DeleteProjectPayload(
            deleted_project_id=input.project_id if deleted else None, user_errors=errors
        )

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
