"""Shared GraphQL building blocks: Node, PageInfo, UserError and the mutation runner."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import strawberry

from app.domain.pagination import Page
from app.errors import ErrorCode, UserInputError
from app.uow import UnitOfWork, transaction
from resolvers.context import Info

T = TypeVar("T")

# Registers the domain enum under its GraphQL name; annotations use ErrorCode itself.
strawberry.enum(ErrorCode, name="UserErrorCode", description="Why a mutation's input was refused.")


@strawberry.interface(description="An object with a global id, fetchable with `node(id:)`.")
class Node:
    id: strawberry.ID = strawberry.field(description="Globally unique, opaque id.")


@strawberry.type(description="A problem with the input that the client can fix.")
class UserError:
    code: ErrorCode = strawberry.field(description="Stable machine-readable reason.")
    message: str = strawberry.field(description="Human-readable explanation.")
    field: list[str] | None = strawberry.field(
        description="Path to the input field at fault, e.g. ['variables', '2', 'key'].",
    )


@strawberry.type(description="Cursor pagination state of a connection.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="Whether more items follow.")
    end_cursor: str | None = strawberry.field(description="Pass as `after` for the next page.")

    @classmethod
    def of(cls, page: Page[Any]) -> PageInfo:
        """The page info of a keyset page (`app.domain.pagination`)."""
        return cls(
            has_next_page=page.has_next_page, end_cursor=page.cursors[-1] if page.cursors else None
        )


def seq_cursor(after: str | None) -> int:
    """A log or timeline cursor (a line's or event's seq); empty or None: from the start."""
    if after is None or after == "":
        return 0
    if not after.isdigit() or len(after) > 18:
        raise UserInputError.one(ErrorCode.INVALID_CURSOR, "cursor is not valid", "after")
    return int(after)


async def run_mutation(
    info: Info, work: Callable[[UnitOfWork], Awaitable[T]], *, anonymous: bool = False
) -> tuple[T | None, list[UserError]]:
    """Run `work` in one transaction; input problems become userErrors, nothing is written.

    `anonymous` mutations (sign-up, log-in, refresh) never look at the caller's credential:
    a client holding an expired or malformed token must still be able to get a new one.
    """
    ctx = info.context
    principal = None if anonymous else await ctx.principal()
    try:
        async with transaction(ctx.deps, principal) as uow:
            result = await work(uow)
            if uow.audited == 0:
                raise RuntimeError("a mutation must write an audit log entry")
    except UserInputError as exc:
        return None, [
            UserError(code=e.code, message=e.message, field=list(e.field) if e.field else None)
            for e in exc.errors
        ]
    return result, []
