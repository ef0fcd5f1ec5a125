"""Teams, members, roles and invitations."""

from __future__ import annotations

import uuid
from datetime import datetime

import strawberry

from app.domain import api_keys, teams
from db import models
from db.enums import TeamRole
from resolvers.audit import AuditLogConnection, AuditLogFilter, audit_page
from resolvers.common import Node, UserError, run_mutation
from resolvers.context import Info
from resolvers.identity import ApiKey
from resolvers.ids import parse_id, to_global_id
from resolvers.loaders import MaybeAwaitable, selects
from resolvers.projects import ProjectConnection, project_page
from resolvers.users import User

strawberry.enum(TeamRole, description="What a member may do in a team.")


@strawberry.type(description="A person's membership of a team.")
class TeamMember(Node):
    role: TeamRole = strawberry.field(description="The member's role.")
    joined_at: datetime = strawberry.field(description="When the person joined.")
    user_id: strawberry.Private[uuid.UUID]
    # Set when the team's member list prefetched the users (see resolvers/loaders.py).
    prefetched_user: strawberry.Private[User | None] = None

    @classmethod
    def from_row(cls, row: models.TeamMember, user: models.User | None = None) -> TeamMember:
        return cls(
            id=strawberry.ID(to_global_id("TeamMember", row.id)),
            role=row.role,
            joined_at=row.created_at,
            user_id=row.user_id,
            prefetched_user=None if user is None else User.from_row(user),
        )

    @strawberry.field(description="The person.", graphql_type=User)
    def user(self, info: Info) -> MaybeAwaitable[User]:
        if self.prefetched_user is not None:
            return self.prefetched_user
        return self._load_user(info)

    async def _load_user(self, info: Info) -> User:
        row = await info.context.loaders.users.load(self.user_id)
        assert row is not None  # membership rows cascade with their user
        return User.from_row(row)


@strawberry.type(description="A group of people sharing projects, billing and an audit log.")
class Team(Node):
    name: str = strawberry.field(description="Display name.")
    slug: str = strawberry.field(description="Globally unique URL-safe name.")
    created_at: datetime = strawberry.field(description="Creation time.")
    row_id: strawberry.Private[uuid.UUID]

    @classmethod
    def from_row(cls, row: models.Team) -> Team:
        return cls(
            id=strawberry.ID(to_global_id("Team", row.id)),
            name=row.name,
            slug=row.slug,
            created_at=row.created_at,
            row_id=row.id,
        )

    @strawberry.field(description="Members with their roles.")
    async def members(self, info: Info) -> list[TeamMember]:
        loaders = info.context.loaders
        if selects(info, "user"):  # one statement for both levels
            pairs = await loaders.members_with_users_by_team.load(self.row_id)
            return [TeamMember.from_row(member, user) for member, user in pairs]
        rows = await loaders.members_by_team.load(self.row_id)
        return [TeamMember.from_row(r) for r in rows]

    @strawberry.field(description="Projects of the team, oldest first.")
    async def projects(
        self, info: Info, first: int = 20, after: str | None = None
    ) -> ProjectConnection:
        return await project_page(info, self.row_id, first, after)

    @strawberry.field(description="API keys of the team (admins only).")
    async def api_keys(self, info: Info) -> list[ApiKey]:
        async with info.context.session() as s:
            rows = await api_keys.list_api_keys(
                s, await info.context.principal(), team_id=self.row_id
            )
        return [ApiKey.from_row(r) for r in rows]

    @strawberry.field(description="Audit log of the team, newest first (admins only).")
    async def audit_log(
        self,
        info: Info,
        first: int = 20,
        after: str | None = None,
        filter: AuditLogFilter | None = None,
    ) -> AuditLogConnection:
        return await audit_page(info, self.row_id, first, after, filter)


@strawberry.type(description="A pending invitation to join a team.")
class TeamInvitation(Node):
    email: str = strawberry.field(description="Who is invited.")
    role: TeamRole = strawberry.field(description="Role granted on acceptance.")
    expires_at: datetime = strawberry.field(description="Expiry time.")

    @classmethod
    def from_row(cls, row: models.TeamInvitation) -> TeamInvitation:
        return cls(
            id=strawberry.ID(to_global_id("TeamInvitation", row.id)),
            email=row.email,
            role=row.role,
            expires_at=row.expires_at,
        )


@strawberry.input(description="A new team; the caller becomes its owner.")
class CreateTeamInput:
    name: str = strawberry.field(description="Display name.")
    slug: str | None = strawberry.field(default=None, description="Defaults to the slugged name.")


@strawberry.input(description="Changes to a team; omitted fields stay as they are.")
class UpdateTeamInput:
    team_id: strawberry.ID = strawberry.field(description="Team to change.")
    name: str | None = strawberry.field(default=None, description="Display name.")
    slug: str | None = strawberry.field(default=None, description="URL-safe name.")


@strawberry.type(description="Result of createTeam / updateTeam.")
class TeamPayload:
    team: Team | None = strawberry.field(description="The team, unless userErrors.")
    user_errors: list[UserError] = strawberry.field(description="Input problems.")


@strawberry.input(description="Team to delete, with everything in it.")
class DeleteTeamInput:
    team_id: strawberry.ID = strawberry.field(description="Team to delete.")


@strawberry.type(description="Result of deleteTeam.")
class DeleteTeamPayload:
    deleted_team_id: strawberry.ID | None = strawberry.field(description="Id of the team.")
    user_errors: list[UserError] = strawberry.field(description="Input problems.")


@strawberry.input(description="Invite someone by email.")
class InviteTeamMemberInput:
    team_id: strawberry.ID = strawberry.field(description="Team to join.")
    email: str = strawberry.field(description="Invitee's email.")
    role: TeamRole = strawberry.field(description="Role on acceptance.")


@strawberry.type(description="Result of inviteTeamMember. The token is shown only here.")
class InviteTeamMemberPayload:
    invitation: TeamInvitation | None = strawberry.field(description="The invitation.")
    token: str | None = strawberry.field(description="One-time token for acceptTeamInvitation.")
    user_errors: list[UserError] = strawberry.field(description="Input problems.")


@strawberry.input(description="Accept an invitation sent to the caller's email.")
class AcceptTeamInvitationInput:
    token: str = strawberry.field(description="Token from inviteTeamMember.")


@strawberry.type(description="Result of acceptTeamInvitation / updateTeamMemberRole.")
class TeamMemberPayload:
    member: TeamMember | None = strawberry.field(description="The membership.")
    user_errors: list[UserError] = strawberry.field(description="Input problems.")


@strawberry.input(description="Change a member's role.")
class UpdateTeamMemberRoleInput:
    member_id: strawberry.ID = strawberry.field(description="Membership to change.")
    role: TeamRole = strawberry.field(description="New role.")


@strawberry.input(description="Remove a member (or leave, with your own membership).")
class RemoveTeamMemberInput:
    member_id: strawberry.ID = strawberry.field(description="Membership to remove.")


@strawberry.type(description="Result of removeTeamMember.")
class RemoveTeamMemberPayload:
    removed_member_id: strawberry.ID | None = strawberry.field(description="Removed membership.")
    user_errors: list[UserError] = strawberry.field(description="Input problems.")


@strawberry.type
class TeamQueries:
    @strawberry.field(description="A team by id.")
    async def team(self, info: Info, id: strawberry.ID) -> Team:
        async with info.context.session() as s:
            row = await teams.get_team(
                s, await info.context.principal(), team_id=parse_id(id, "Team")
            )
        return Team.from_row(row)

    @strawberry.field(description="A team by slug.")
    async def team_by_slug(self, info: Info, slug: str) -> Team:
        async with info.context.session() as s:
            row = await teams.get_team_by_slug(s, await info.context.principal(), slug=slug)
        return Team.from_row(row)


@strawberry.type
class TeamMutations:
    @strawberry.mutation(description="Create a team owned by the caller.")
    async def create_team(self, info: Info, input: CreateTeamInput) -> TeamPayload:
        row, errors = await run_mutation(
            info, lambda uow: teams.create_team(uow, name=input.name, slug=input.slug)
        )
        return TeamPayload(team=Team.from_row(row) if row else None, user_errors=errors)

    @strawberry.mutation(description="Rename a team or change its slug.")
    async def update_team(self, info: Info, input: UpdateTeamInput) -> TeamPayload:
        team_id = parse_id(input.team_id, "Team")
        row, errors = await run_mutation(
            info,
            lambda uow: teams.update_team(uow, team_id=team_id, name=input.name, slug=input.slug),
        )
        return TeamPayload(team=Team.from_row(row) if row else None, user_errors=errors)

    @strawberry.mutation(description="Delete a team and everything in it (owners only).")
    async def delete_team(self, info: Info, input: DeleteTeamInput) -> DeleteTeamPayload:
        team_id = parse_id(input.team_id, "Team")
        deleted, errors = await run_mutation(
            info, lambda uow: teams.delete_team(uow, team_id=team_id)
        )
        return DeleteTeamPayload(
            deleted_team_id=input.team_id if deleted else None, user_errors=errors
        )

    @strawberry.mutation(description="Invite someone by email; returns a one-time token.")
    async def invite_team_member(
        self, info: Info, input: InviteTeamMemberInput
    ) -> InviteTeamMemberPayload:
        team_id = parse_id(input.team_id, "Team")
        new, errors = await run_mutation(
            info,
            lambda uow: teams.invite_member(
                uow, team_id=team_id, email=input.email, role=input.role
            ),
        )
        return InviteTeamMemberPayload(
            invitation=TeamInvitation.from_row(new.invitation) if new else None,
            token=new.token if new else None,
            user_errors=errors,
        )

    @strawberry.mutation(description="Join a team with an invitation token.")
    async def accept_team_invitation(
        self, info: Info, input: AcceptTeamInvitationInput
    ) -> TeamMemberPayload:
        row, errors = await run_mutation(
            info, lambda uow: teams.accept_invitation(uow, token=input.token)
        )
        return TeamMemberPayload(
            member=TeamMember.from_row(row) if row else None, user_errors=errors
        )

    @strawberry.mutation(description="Change a member's role; a team keeps at least one owner.")
    async def update_team_member_role(
        self, info: Info, input: UpdateTeamMemberRoleInput
    ) -> TeamMemberPayload:
        member_id = parse_id(input.member_id, "TeamMember")
        row, errors = await run_mutation(
            info, lambda uow: teams.change_role(uow, member_id=member_id, role=input.role)
        )
        return TeamMemberPayload(
            member=TeamMember.from_row(row) if row else None, user_errors=errors
        )

    @strawberry.mutation(description="Remove a member; the last owner cannot be removed.")
    async def remove_team_member(
        self, info: Info, input: RemoveTeamMemberInput
    ) -> RemoveTeamMemberPayload:
        member_id = parse_id(input.member_id, "TeamMember")
        removed, errors = await run_mutation(
            info, lambda uow: teams.remove_member(uow, member_id=member_id)
        )
        return RemoveTeamMemberPayload(
            removed_member_id=input.member_id if removed else None, user_errors=errors
        )
