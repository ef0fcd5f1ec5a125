"""Preview cleanup: end branch previews past their expiry and stop their releases.

Thin and idempotent; the rules live in `app.domain.previews`. A release left running by a
failed stop here is stopped by the rollout reconciler (it is no longer held by any row).
"""

from __future__ import annotations

import logging
from typing import Any

from app.domain import previews

log = logging.getLogger(__name__)


async def expire_previews(ctx: dict[str, Any]) -> int:
    """Returns the number of releases stopped."""
    deps, runtime = ctx["deps"], ctx["runtime"]
    releases = await previews.expire_previews(deps)
    for release_id in releases:
        try:
            await runtime.stop_release(release_id, drain_seconds=deps.settings.deploy_drain_seconds)
        except Exception:
            log.exception("stopping expired preview release %s failed", release_id)
    return len(releases)
