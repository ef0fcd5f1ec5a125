"""A project's activity feed: its builds' status changes and its deployments' timeline
events, in one Redis stream per project (what a dashboard's project page shows live).

Entries are published after the commit of the change they describe, by the same code that
publishes the build's or deployment's own stream. The cursor is the Redis stream id; the
stream keeps its newest `STREAM_MAXLEN` entries (app/events.py), so a client can resume
from any cursor inside that window. The per-build and per-deployment streams remain the
complete, database-backed records (`buildEvents`, `deploymentEvents`); this feed is the
overview that points at them.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from app.events import Event, EventBus

if TYPE_CHECKING:
    from app.domain.deploy_events import DeployEvent
    from db import models

LIVE_WAIT_S = 5.0
REPLAY_PAGE = 500


def project_stream(project_id: uuid.UUID) -> str:
    return f"stratus:project:{project_id}:activity"


def build_entry(build: models.Build, at: str) -> dict[str, Any]:
    return {
        "subject": "build",
        "id": str(build.id),
        "number": build.number,
        "status": build.status.value,
        "event": None,
        "message": build.message,
        "at": at,
    }


def deployment_entry(deployment: models.Deployment, event: DeployEvent) -> dict[str, Any]:
    return {
        "subject": "deployment",
        "id": str(deployment.id),
        "number": deployment.number,
        "status": event.status.value,
        "event": event.kind.value,
        "message": event.message,
        "at": event.at.isoformat(),
        "seq": event.seq,
    }


def parse_cursor(cursor: str) -> tuple[int, int]:
    """A Redis stream id `<ms>-<seq>`; ValueError otherwise."""
    ms, sep, seq = cursor.partition("-")
    if not sep or not ms.isdigit() or not seq.isdigit():
        raise ValueError(f"not a stream cursor: {cursor!r}")
    return int(ms), int(seq)


async def follow(
    bus: EventBus, project_id: uuid.UUID, *, after: str | None
) -> AsyncIterator[Event]:
    """Entries after the cursor still retained (none when `after` is None), then live ones."""
    stream = project_stream(project_id)
    # Subscribed before the replay: an entry published in between is in the queue.
    async with bus.subscribe([stream]) as sub:
        last = parse_cursor(after) if after is not None else None
        if after is not None:
            while True:
                page = await bus.history(stream, after=after, count=REPLAY_PAGE)
                for event in page:
                    after, last = event.id, parse_cursor(event.id)
                    yield event
                if len(page) < REPLAY_PAGE:
                    break
        while True:
            live = await sub.get(LIVE_WAIT_S)
            if live is None:
                continue
            position = parse_cursor(live.id)
            if last is not None and position <= last:
                continue  # already replayed
            last = position
            yield live
