"""GitHub-compatible push webhooks: verify, de-duplicate, build the pushed commit.

The HMAC signature over the raw body (`X-Hub-Signature-256: sha256=<hex>`) with the
project's webhook secret is the authorization: no user is involved. Deliveries are
de-duplicated by `X-GitHub-Delivery`, so a redelivery never builds twice. Pushes to
the production branch build and deploy production (blue-green); pushes to other branches build
and deploy the branch's preview (app/domain/previews.py); with the project's `auto_deploy`
off, pushes only build. Deleting a branch expires its preview.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert

from app.domain import builds, deployments, previews, project_secrets
from app.domain.rollout_traffic import public_url
from app.uow import UnitOfWork
from db import models
from db.enums import BuildTrigger, DeploymentStrategy

ZERO_SHA = "0" * 40
MAX_BODY_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class WebhookResult:
    status: int
    body: dict[str, Any]


def webhook_url(public_url: str, project_global_id: str) -> str:
    return f"{public_url.rstrip('/')}/webhooks/git/{project_global_id}"


def signature_ok(secret: str, body: bytes, header: str | None) -> bool:
    if not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header.removeprefix("sha256="))


async def handle(
    uow: UnitOfWork,
    *,
    project_id: uuid.UUID,
    event: str | None,
    delivery_id: str | None,
    signature: str | None,
    body: bytes,
) -> WebhookResult:
    project = await uow.session.get(models.Project, project_id, with_for_update=True)
    secret = await project_secrets.webhook_secret(uow.deps.secrets, project) if project else None
    # Unknown project, no secret, or a bad signature all look the same to the caller.
    if project is None or secret is None or not signature_ok(secret, body, signature):
        return WebhookResult(401, {"error": "invalid signature"})
    if event == "ping":
        return WebhookResult(200, {"ok": True, "pong": True})
    if event != "push":
        return WebhookResult(202, {"ok": True, "ignored": f"event {event!r}"})
    if not delivery_id or len(delivery_id) > 128:
        return WebhookResult(400, {"error": "X-GitHub-Delivery header is required"})
    try:
        push = orjson.loads(body)
        ref, sha = str(push["ref"]), str(push["after"])
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return WebhookResult(400, {"error": "body is not a push event"})
    inserted = await uow.session.execute(
        insert(models.WebhookDelivery)
        .values(project_id=project.id, delivery_id=delivery_id)
        .on_conflict_do_nothing()
        .returning(models.WebhookDelivery.delivery_id)
    )
    if inserted.first() is None:
        return WebhookResult(200, {"ok": True, "duplicate": True})
    if not ref.startswith("refs/heads/"):
        return WebhookResult(202, {"ok": True, "ignored": "not a branch push"})
    branch = ref.removeprefix("refs/heads/")
    if sha == ZERO_SHA:  # the branch was deleted
        expired = await previews.expire_branch(uow, project, branch)
        return WebhookResult(202, {"ok": True, "branchDeleted": branch, "previewExpired": expired})
    env = await builds.environment_for(uow, project, None, branch)
    build = await builds.create_build(
        uow,
        project,
        env,
        ref=sha,
        trigger=BuildTrigger.PUSH,
        audit_changes={"branch": branch, "delivery": delivery_id},
    )
    await uow.session.flush()
    await uow.session.execute(
        update(models.WebhookDelivery)
        .where(
            models.WebhookDelivery.project_id == project.id,
            models.WebhookDelivery.delivery_id == delivery_id,
        )
        .values(build_id=build.id)
    )
    out: dict[str, Any] = {
        "ok": True,
        "buildId": str(build.id),
        "commit": sha,
        "branch": branch,
        "environment": env.name,
    }
    if project.auto_deploy:
        # Production shifts traffic step by step with automatic rollback; a branch preview
        # serves nobody else, so it switches at once.
        preview = env.branch is not None
        deployment = await deployments.queue_deployment(
            uow,
            project,
            env,
            build,
            deployments.DeployRequest(
                project_id=project.id,
                environment=env.name,
                git_ref=None,
                build_id=build.id,
                strategy=DeploymentStrategy.IMMEDIATE if preview else DeploymentStrategy.BLUE_GREEN,
                idempotency_key=None,
            ),
        )
        out["deploymentId"] = str(deployment.id)
        out["url"] = public_url(uow.deps.settings, project.slug, env.name)
    return WebhookResult(202, out)
