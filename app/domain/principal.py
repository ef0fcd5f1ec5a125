"""Who is acting: a signed-in user, or an API key acting for its creator within one team."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from app.errors import Forbidden, Unauthenticated
from db.enums import ApiKeyScope, TeamRole


@dataclass(slots=True)
class Principal:
    user_id: uuid.UUID
    session_id: uuid.UUID | None = None
    api_key_id: uuid.UUID | None = None
    # An API key only ever sees its own team, and only what its scopes allow.
    api_key_team_id: uuid.UUID | None = None
    scopes: frozenset[ApiKeyScope] | None = None
    # Per-request cache of team roles; never shared across requests or operations.
    roles: dict[uuid.UUID, TeamRole | None] = field(default_factory=dict)

    @property
    def is_api_key(self) -> bool:
        return self.api_key_id is not None

    def fresh(self) -> Principal:
        """A copy with an empty role cache (one per websocket operation)."""
        return Principal(
            self.user_id, self.session_id, self.api_key_id, self.api_key_team_id, self.scopes
        )


def require_principal(principal: Principal | None) -> Principal:
    if principal is None:
        raise Unauthenticated()
    return principal


def require_user_session(principal: Principal | None) -> Principal:
    """Account-level actions (creating teams, API keys) need a person, not a key."""
    p = require_principal(principal)
    if p.is_api_key:
        # The key is valid (so not UNAUTHENTICATED, which tells clients to sign in
        # again); it is just not allowed to act for a person here.
        raise Forbidden("this action needs a signed-in user, not an API key")
    return p
