"""Enumerations shared by the database, the domain and the GraphQL schema."""

from __future__ import annotations

import enum


class TeamRole(enum.StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    DEVELOPER = "developer"
    VIEWER = "viewer"


class ApiKeyScope(enum.StrEnum):
    READ = "read"
    WRITE = "write"
    DEPLOY = "deploy"
    ADMIN = "admin"


class Framework(enum.StrEnum):
    AUTO = "auto"
    STATIC = "static"
    NODE = "node"
    PYTHON = "python"
    PROCFILE = "procfile"


class EnvironmentKind(enum.StrEnum):
    PRODUCTION = "production"
    PREVIEW = "preview"
    DEVELOPMENT = "development"


class BuildStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"
    TIMED_OUT = "timed_out"

    @property
    def is_terminal(self) -> bool:
        return self not in (BuildStatus.QUEUED, BuildStatus.RUNNING)


class BuildStep(enum.StrEnum):
    CLONE = "clone"
    INSTALL = "install"
    BUILD = "build"
    PACKAGE = "package"


class BuildTrigger(enum.StrEnum):
    MANUAL = "manual"
    PUSH = "push"


class LogStream(enum.StrEnum):
    STDOUT = "stdout"
    STDERR = "stderr"
    SYSTEM = "system"


class DeploymentStrategy(enum.StrEnum):
    IMMEDIATE = "immediate"
    ROLLING = "rolling"
    BLUE_GREEN = "blue_green"
    CANARY = "canary"


class DeploymentStatus(enum.StrEnum):
    QUEUED = "queued"
    BUILDING = "building"
    DEPLOYING = "deploying"
    VERIFYING = "verifying"
    PROMOTING = "promoting"
    ACTIVE = "active"
    FAILED = "failed"
    CANCELED = "canceled"
    ROLLED_BACK = "rolled_back"
    SUPERSEDED = "superseded"

    @property
    def is_terminal(self) -> bool:
        """The rollout is over (an ACTIVE or SUPERSEDED release may still serve later)."""
        return self in _DEPLOYMENT_ENDED

    @property
    def in_rollout(self) -> bool:
        """A rollout job owns the deployment (fenced by worker id and attempt)."""
        return self in (
            DeploymentStatus.BUILDING,
            DeploymentStatus.DEPLOYING,
            DeploymentStatus.VERIFYING,
            DeploymentStatus.PROMOTING,
        )


_DEPLOYMENT_ENDED = frozenset(
    {
        DeploymentStatus.ACTIVE,
        DeploymentStatus.FAILED,
        DeploymentStatus.CANCELED,
        DeploymentStatus.ROLLED_BACK,
        DeploymentStatus.SUPERSEDED,
    }
)


class DeploymentEventKind(enum.StrEnum):
    STATUS = "status"
    BUILD = "build"
    HEALTH = "health"
    TRAFFIC = "traffic"
    OBSERVATION = "observation"
    ROLLBACK = "rollback"
