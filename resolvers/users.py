"""Users as other members see them."""

from __future__ import annotations

from datetime import datetime

import strawberry

from db import models
from resolvers.common import Node
from resolvers.ids import to_global_id


@strawberry.type(description="A person as other members see them.")
class User(Node):
    email: str = strawberry.field(description="Sign-in email, lower-cased.")
    name: str = strawberry.field(description="Display name.")
    created_at: datetime = strawberry.field(description="Sign-up time.")

    @classmethod
    def from_row(cls, row: models.User) -> User:
        return cls(
            id=strawberry.ID(to_global_id("User", row.id)),
            email=row.email,
            name=row.name,
            created_at=row.created_at,
        )
