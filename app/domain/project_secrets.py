"""Per-project secrets: the push-webhook secret and the private-repository credential.

Both are sealed by the SecretBox with a context bound to the project and never
returned by the API, except the webhook secret once, when it is (re)generated.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass

from app.domain import audit
from app.domain.policy import Action, authorize
from app.errors import ErrorCode, NotFound, UserInputError
from app.secrets import Sealed, SecretBox
from app.uow import UnitOfWork
from db import models

MAX_CREDENTIAL_BYTES = 8_192


def git_credential_context(project_id: uuid.UUID) -> str:
    return f"project:{project_id}:git_credential"


def webhook_secret_context(project_id: uuid.UUID) -> str:
    return f"project:{project_id}:webhook_secret"


@dataclass(frozen=True, slots=True)
class NewWebhookSecret:
    project: models.Project
    secret: str


async def _project_for_write(uow: UnitOfWork, project_id: uuid.UUID) -> models.Project:
    project = await uow.session.get(models.Project, project_id, with_for_update=True)
    if project is None:
        raise NotFound("project")
    await authorize(
        uow.session, uow.principal, project.team_id, Action.PROJECT_WRITE, what="project"
    )
    return project


async def rotate_webhook_secret(uow: UnitOfWork, *, project_id: uuid.UUID) -> NewWebhookSecret:
    project = await _project_for_write(uow, project_id)
    secret = "whsec_" + secrets.token_urlsafe(32)
    sealed = await uow.deps.secrets.seal(
        secret.encode(), context=webhook_secret_context(project.id)
    )
    project.webhook_secret, project.webhook_secret_key_id = sealed.ciphertext, sealed.key_id
    audit.record(
        uow,
        action="project.webhook_secret_rotate",
        target_type="Project",
        target_id=project.id,
        team_id=project.team_id,
    )
    return NewWebhookSecret(project, secret)


async def set_git_credential(
    uow: UnitOfWork, *, project_id: uuid.UUID, token: str | None
) -> models.Project:
    project = await _project_for_write(uow, project_id)
    if token is None or token == "":
        project.git_credential = project.git_credential_key_id = None
    else:
        if len(token.encode()) > MAX_CREDENTIAL_BYTES or any(c in token for c in "\r\n\0"):
            raise UserInputError.one(
                ErrorCode.INVALID_ARGUMENT, "token must be one line of at most 8 KiB", "token"
            )
        sealed = await uow.deps.secrets.seal(
            token.encode(), context=git_credential_context(project.id)
        )
        project.git_credential, project.git_credential_key_id = sealed.ciphertext, sealed.key_id
    audit.record(
        uow,
        action="project.git_credential_set",
        target_type="Project",
        target_id=project.id,
        team_id=project.team_id,
        changes={"cleared": token in (None, "")},
    )
    return project


async def webhook_secret(box: SecretBox, project: models.Project) -> str | None:
    if project.webhook_secret is None or project.webhook_secret_key_id is None:
        return None
    plain = await box.open(
        Sealed(project.webhook_secret_key_id, project.webhook_secret),
        context=webhook_secret_context(project.id),
    )
    return plain.decode()


async def git_credential(box: SecretBox, project: models.Project) -> str | None:
    """For the build worker only."""
    if project.git_credential is None or project.git_credential_key_id is None:
        return None
    plain = await box.open(
        Sealed(project.git_credential_key_id, project.git_credential),
        context=git_credential_context(project.id),
    )
    return plain.decode()
