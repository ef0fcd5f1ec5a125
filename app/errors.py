"""The errors a domain function may raise, and how the API shows them.

- `UserInputError` -> a `userErrors` entry on the mutation payload (the client can fix it);
  the whole transaction is rolled back, so nothing is half-written.
- `NotFound`, `Unauthenticated`, `Forbidden`, `RateLimited` -> a top-level GraphQL error with
  a stable `extensions.code`.
- Anything else is a bug: masked with an error id that is logged with the traceback.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass


class AppError(Exception):
    """An expected failure shown to the client as a top-level error with `code`."""

    code = "APP_ERROR"

    def __init__(self, message: str, **extensions: object) -> None:
        super().__init__(message)
        self.message = message
        self.extensions = extensions


class NotFound(AppError):
    code = "NOT_FOUND"

    def __init__(self, what: str = "object") -> None:
        # Same message whether the object is missing or belongs to another team.
        super().__init__(f"{what} not found")


class Unauthenticated(AppError):
    code = "UNAUTHENTICATED"

    def __init__(self, message: str = "authentication required") -> None:
        super().__init__(message)


class Forbidden(AppError):
    code = "FORBIDDEN"

    def __init__(self, message: str = "not allowed") -> None:
        super().__init__(message)


class RateLimited(AppError):
    code = "RATE_LIMITED"

    def __init__(self, retry_after: float) -> None:
        super().__init__(
            f"rate limit exceeded; retry after {retry_after:.1f}s", retryAfter=round(retry_after, 3)
        )
        self.retry_after = retry_after


class QueryRejected(AppError):
    """The document is over a documented limit (depth, aliases, tokens, cost)."""

    def __init__(self, code: str, message: str, **extensions: object) -> None:
        super().__init__(message, **extensions)
        self.code = code


class ErrorCode(enum.StrEnum):
    """Why a mutation's input was refused; the `code` of a `userErrors` entry."""

    ALREADY_MEMBER = "ALREADY_MEMBER"
    BUILD_FINISHED = "BUILD_FINISHED"
    BUILD_NOT_READY = "BUILD_NOT_READY"
    DEPLOYMENT_FINISHED = "DEPLOYMENT_FINISHED"
    DUPLICATE_KEY = "DUPLICATE_KEY"
    EMAIL_TAKEN = "EMAIL_TAKEN"
    GIT_URL_MISSING = "GIT_URL_MISSING"
    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    INVALID_BRANCH = "INVALID_BRANCH"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    INVALID_CURSOR = "INVALID_CURSOR"
    INVALID_EMAIL = "INVALID_EMAIL"
    INVALID_EXPIRY = "INVALID_EXPIRY"
    INVALID_GIT_URL = "INVALID_GIT_URL"
    INVALID_INVITATION = "INVALID_INVITATION"
    INVALID_KEY = "INVALID_KEY"
    INVALID_PATH = "INVALID_PATH"
    INVALID_REF = "INVALID_REF"
    INVALID_STATE = "INVALID_STATE"
    INVALID_WEIGHTS = "INVALID_WEIGHTS"
    INVALID_SLUG = "INVALID_SLUG"
    INVALID_TOKEN = "INVALID_TOKEN"
    INVITATION_EXPIRED = "INVITATION_EXPIRED"
    LAST_OWNER = "LAST_OWNER"
    LIMIT_REACHED = "LIMIT_REACHED"
    NO_SESSION = "NO_SESSION"
    RELEASE_NOT_RETAINED = "RELEASE_NOT_RETAINED"
    REQUIRED = "REQUIRED"
    SLUG_TAKEN = "SLUG_TAKEN"
    TOO_LONG = "TOO_LONG"
    TOO_MANY = "TOO_MANY"
    UNKNOWN_ENVIRONMENT = "UNKNOWN_ENVIRONMENT"
    WEAK_PASSWORD = "WEAK_PASSWORD"


@dataclass(frozen=True, slots=True)
class FieldError:
    code: ErrorCode
    message: str
    field: Sequence[str] | None = None


class UserInputError(Exception):
    """One or more problems the client can fix; becomes `userErrors` on the payload."""

    def __init__(self, *errors: FieldError) -> None:
        super().__init__("; ".join(e.message for e in errors))
        self.errors = errors

    @classmethod
    def one(
        cls, code: str, message: str, field: str | Sequence[str] | None = None
    ) -> UserInputError:
        path = [field] if isinstance(field, str) else field
        return cls(FieldError(ErrorCode(code), message, path))
