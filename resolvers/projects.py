"""Projects: the type with its builds, deployments and environments, and project CRUD."""

from __future__ import annotations

import uuid
from datetime import datetime

import strawberry

from app.domain import projects
from app.domain.projects import ProjectSettings
from db import models
from db.enums import Framework
from resolvers.builds import BuildConnection, build_page
from resolvers.common import Node, PageInfo, UserError, run_mutation
from resolvers.context import Info
from resolvers.deployments import Deployment, DeploymentConnection, active_list, deployment_page
from resolvers.environments import Environment
from resolvers.ids import parse_id, to_global_id
from resolvers.loaders import MaybeAwaitable, ProjectChildren, project_children, selects

strawberry.enum(Framework, description="How a project is built and started.")


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
