"""ORM models. `models.Team` is the row; the GraphQL type of the same name lives in resolvers."""

from db.base import Base
from db.models.audit import AuditLogEntry
from db.models.builds import Build, BuildLogLine, WebhookDelivery
from db.models.deployments import Deployment, DeploymentEvent, DeploymentLogLine
from db.models.identity import ApiKey, RefreshToken, User
from db.models.projects import Environment, EnvironmentVariable, Project
from db.models.teams import Team, TeamInvitation, TeamMember

__all__ = [
    "ApiKey",
    "AuditLogEntry",
    "Base",
    "Build",
    "BuildLogLine",
    "Deployment",
    "DeploymentEvent",
    "DeploymentLogLine",
    "Environment",
    "EnvironmentVariable",
    "Project",
    "RefreshToken",
    "Team",
    "TeamInvitation",
    "TeamMember",
    "User",
    "WebhookDelivery",
]
