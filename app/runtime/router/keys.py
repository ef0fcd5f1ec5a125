"""Redis key names shared by the router and the processes that feed or read it.

One prefix (``stratus:router`` by default) so that tests can run against a shared Redis
with a prefix of their own. The formats stored under these keys are documented in
`app.runtime.router.table` (routes) and `app.runtime.router.metrics` (counters).
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_PREFIX = "stratus:router"
WINDOW_SECONDS = 10


@dataclass(frozen=True, slots=True)
class RouterKeys:
    prefix: str = DEFAULT_PREFIX

    @property
    def routes(self) -> str:
        return f"{self.prefix}:routes"

    @property
    def changes(self) -> str:
        return f"{self.prefix}:changes"

    def metrics(self, deployment_id: str) -> str:
        return f"{self.prefix}:metrics:{deployment_id}"

    def window(self, deployment_id: str, window_start: int) -> str:
        return f"{self.prefix}:window:{deployment_id}:{window_start}"


def window_start(unix_seconds: float) -> int:
    """The start of the 10 s window holding this instant (windows are aligned to the epoch)."""
    return int(unix_seconds) // WINDOW_SECONDS * WINDOW_SECONDS
