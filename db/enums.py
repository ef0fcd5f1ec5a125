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
