"""Typed settings from the environment.

Every variable is prefixed `STRATUS_` except the two connection URLs that every
tool in this space already knows: `DATABASE_URL` and `REDIS_URL`. A bad value
stops start-up with one line naming the variable (see `load_settings`).
"""

from __future__ import annotations

import base64
import functools
import json
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class SettingsError(Exception):
    """A setting from the environment is missing or invalid (one line, names the variable)."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STRATUS_", extra="ignore")

    # Connections. Empty means "start the embedded server" (make up / make test).
    database_url: str = Field(
        default="", validation_alias=AliasChoices("DATABASE_URL", "STRATUS_DATABASE_URL")
    )
    redis_url: str = Field(
        default="", validation_alias=AliasChoices("REDIS_URL", "STRATUS_REDIS_URL")
    )
    state_dir: Path = Path(".stratus")

    # Serving
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    env: Literal["development", "test", "production"] = "development"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # The built-in router serving deployed apps as <project>-<environment>.localhost.
    router_port: int = Field(default=8080, ge=1, le=65535)
    # Where clients reach this API (used in webhook URLs shown to users).
    public_url: str = "http://127.0.0.1:8000"
    # NoDecode: the environment gives a comma-separated list (or a JSON list), parsed below;
    # without it pydantic-settings insists on JSON and rejects "http://a,http://b".
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["http://localhost:3000"]
    )
    db_pool_size: int = Field(default=10, ge=1, le=200)

    # Identity
    jwt_secret: str = Field(default="dev-only-insecure-jwt-secret-change-me", min_length=16)
    # Keys the HMAC that lets clients compare variable values without reading them.
    digest_key: str = Field(default="dev-only-insecure-digest-key-change-me", min_length=16)
    access_token_ttl_seconds: int = Field(default=900, ge=30, le=86_400)
    refresh_token_ttl_seconds: int = Field(default=30 * 86_400, ge=300)
    argon2_time_cost: int = Field(default=2, ge=1, le=10)
    argon2_memory_kib: int = Field(default=19_456, ge=1024)

    # Secrets: "local" (AES-256-GCM envelope) or "vault" (transit engine via hvac)
    secret_backend: Literal["local", "vault"] = "local"
    # Comma-separated `keyid:base64key` pairs; the first is used to encrypt, all to decrypt.
    secret_keys: str = "dev1:" + base64.b64encode(b"stratus-dev-only-key-32-bytes!!!").decode()
    vault_addr: str = "http://127.0.0.1:8200"
    vault_token: str = ""
    vault_transit_mount: str = "transit"
    vault_transit_key: str = "stratus"

    # Builds (documented in README "Limits")
    max_concurrent_builds_per_team: int = Field(default=2, ge=1, le=100)
    build_timeout_seconds: int = Field(default=1800, ge=10)
    build_step_timeout_seconds: int = Field(default=900, ge=5)
    build_cpu_seconds: int = Field(default=900, ge=1)
    build_memory_bytes: int = Field(default=4 * 1024**3, ge=64 * 1024**2)
    build_file_size_bytes: int = Field(default=2 * 1024**3, ge=1024**2)
    build_processes: int = Field(default=512, ge=16)
    build_max_output_bytes: int = Field(default=50 * 1024**2, ge=1024)
    build_max_line_bytes: int = Field(default=16_384, ge=256)
    build_heartbeat_seconds: float = Field(default=5.0, gt=0)
    # A running build whose worker has not beaten for this long is declared lost.
    build_lost_after_seconds: float = Field(default=30.0, gt=0)
    # file:// clone URLs are for local development and tests; refuse them in shared setups.
    allow_file_git_urls: bool = True

    # Live build logs over websockets: "shared" renders each batch once per selection for
    # all subscribers of a build; "per-subscriber" is plain strawberry (the benchmark's
    # baseline). The queue is how many batches a subscriber may fall behind.
    log_fanout: Literal["shared", "per-subscriber"] = "shared"
    log_fanout_queue: int = Field(default=128, ge=4, le=10_000)

    # API protection (documented in README "Limits")
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    max_query_depth: int = Field(default=12, ge=2)
    max_aliases: int = Field(default=30, ge=1)
    max_tokens: int = Field(default=5_000, ge=50)
    max_query_cost: int = Field(default=50_000, ge=10)
    rate_limit_capacity: int = Field(default=600, ge=1)
    rate_limit_refill_per_second: float = Field(default=10.0, gt=0)
    ws_init_timeout_seconds: float = Field(default=5.0, gt=0, le=60)

    # Deployments (rollouts on the local runtime behind the built-in router)
    router_key_prefix: str = "stratus:router"
    deploy_health_timeout_seconds: float = Field(default=2.0, gt=0)
    deploy_health_interval_seconds: float = Field(default=1.0, gt=0)
    # Probes before a release that never answers healthy is failed (no traffic ever moves).
    deploy_health_retries: int = Field(default=30, ge=1)
    # BLUE_GREEN traffic steps (percent to the new release), the last one must be 100.
    deploy_steps: list[int] = Field(default_factory=lambda: [5, 50, 100])
    # Each step below 100 is watched this long before the next one.
    deploy_observe_seconds: float = Field(default=30.0, ge=0)
    deploy_error_rate_threshold: float = Field(default=0.05, ge=0, le=1)
    # Fewer requests than this in a step are too few to judge an error rate.
    deploy_min_requests: int = Field(default=20, ge=1)
    # A superseded release stays running this long so that rollback needs no restart.
    deploy_retention_seconds: float = Field(default=3600.0, ge=0)
    deploy_heartbeat_seconds: float = Field(default=5.0, gt=0)
    deploy_lost_after_seconds: float = Field(default=30.0, gt=0)
    deploy_drain_seconds: float = Field(default=5.0, ge=0)
    # ROLLING: replicas replaced per batch (serving never drops below replicas minus this).
    deploy_max_unavailable: int = Field(default=1, ge=1)
    # A deployment waiting for its build gives up after this long.
    deploy_build_wait_seconds: float = Field(default=3600.0, gt=0)

    # A branch preview stops serving this long after its last deploy (7 days); the worker's
    # cleanup job stops its releases and removes its route.
    preview_retention_seconds: float = Field(default=7 * 24 * 3600.0, gt=0)
    # The public URL of an environment, from its router host (e.g. "https://{host}" behind a
    # TLS proxy); unset: "http://{host}:{router_port}".
    deploy_url_template: str | None = None

    # Kubernetes runtime: releases of `kubernetes_environments` run on the cluster of
    # `kubeconfig` (other environments, or no kubeconfig: the local runtime). Pods fetch the
    # build artifact from `public_url`, which must therefore be reachable from the cluster.
    kubeconfig: str | None = None
    kubernetes_context: str | None = None
    # Comma-separated environment names, e.g. "production".
    kubernetes_environments: Annotated[list[str], NoDecode] = Field(default_factory=list)
    kubernetes_namespace: str = Field(
        default="stratus", pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=63
    )
    # The Ingress host of an environment; {project} is the project slug.
    kubernetes_host_template: str = "{project}-{environment}.localhost"
    # The init container downloading and unpacking the artifact (needs sh, wget and tar).
    kubernetes_fetch_image: str = "busybox:1.36"
    # The generic image the app runs in, with `sh -c <start command>` in /app.
    kubernetes_runner_image: str = "python:3.11-slim"
    # Validity of a signed artifact URL; the hourly upkeep job renews it once half has passed.
    kubernetes_artifact_url_ttl_seconds: int = Field(default=30 * 86_400, ge=60)
    # start_release gives up on a Deployment that is not available after this long.
    kubernetes_rollout_timeout_seconds: float = Field(default=600.0, gt=0)

    @field_validator("kubernetes_environments", mode="before")
    @classmethod
    def _split_kubernetes_environments(cls, value: object) -> object:
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        return value

    @field_validator("kubernetes_host_template")
    @classmethod
    def _host_template_formats(cls, value: str) -> str:
        try:
            host = value.format(project="p", environment="e")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError("only {project} and {environment} may be used") from exc
        if not host or "/" in host or ":" in host:
            raise ValueError("must render a bare host name (no scheme, port or path)")
        return value

    def environment_url(self, host: str) -> str:
        template = self.deploy_url_template or f"http://{{host}}:{self.router_port}"
        return template.replace("{host}", host)

    @field_validator("secret_keys")
    @classmethod
    def _keys_parse(cls, value: str) -> str:
        parse_secret_keys(value)
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            if value.lstrip().startswith("["):
                return json.loads(value)
            return [v.strip() for v in value.split(",") if v.strip()]
        return value

    @model_validator(mode="after")
    def _no_dev_secrets_in_production(self) -> Settings:
        if self.env == "production":
            for name in ("jwt_secret", "digest_key", "secret_keys"):
                if getattr(self, name) == type(self).model_fields[name].default:
                    raise ValueError(
                        f"STRATUS_{name.upper()} must be set in production (the dev default is "
                        "public)"
                    )
        return self

    @property
    def builds_dir(self) -> Path:
        return self.state_dir / "builds"

    @property
    def artifacts_dir(self) -> Path:
        return self.state_dir / "artifacts"

    @property
    def cache_dir(self) -> Path:
        return self.state_dir / "cache"

    @property
    def is_production(self) -> bool:
        return self.env == "production"


def parse_secret_keys(value: str) -> list[tuple[str, bytes]]:
    """`id:base64,id:base64` -> [(id, 32-byte key)], first one active."""
    keys: list[tuple[str, bytes]] = []
    for part in value.split(","):
        key_id, sep, b64 = part.strip().partition(":")
        if not sep or not key_id:
            raise ValueError("expected comma-separated 'keyid:base64key' pairs")
        raw = base64.b64decode(b64, validate=True)
        if len(raw) != 32:
            raise ValueError(f"key {key_id!r} must decode to 32 bytes, got {len(raw)}")
        if any(k == key_id for k, _ in keys):
            raise ValueError(f"key id {key_id!r} is listed twice")
        keys.append((key_id, raw))
    if not keys:
        raise ValueError("at least one key is required")
    return keys


def load_settings() -> Settings:
    """Read and validate the environment; raise SettingsError naming the variable."""
    try:
        return Settings()
    except ValidationError as exc:
        err = exc.errors()[0]
        if not err["loc"]:  # a check across several settings names them itself
            raise SettingsError(f"invalid settings: {err['msg']}") from None
        name = str(err["loc"][0]).upper()
        if not name.startswith(("STRATUS_", "DATABASE_URL", "REDIS_URL")):
            name = "STRATUS_" + name
        raise SettingsError(f"invalid setting {name}: {err['msg']}") from None


@functools.cache
def get_settings() -> Settings:
    return load_settings()
