"""Errors raised by the build pipeline; messages are safe to show to the project's users."""


class BuildError(Exception):
    """Base class: ``str(error)`` is a user-facing message without secrets."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class SourceError(BuildError):
    """The source could not be resolved or fetched (bad URL, unknown ref, auth, timeout)."""


class DetectionError(BuildError):
    """Nothing in the source tells us how to build it, or the overrides are invalid."""
