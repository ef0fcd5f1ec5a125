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
