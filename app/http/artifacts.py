"""GET /artifacts/{build_id}: the build tarball, for pods holding a signed URL.

Kubernetes pods fetch their release's artifact here (init container, `wget | tar`). No
bearer token: the query's signature and expiry are the credential
(`app.runtime.kubernetes.artifact_urls`). A bad or expired signature is 403 before anything
is looked up, so the route tells an outsider nothing about which builds exist.
"""

from __future__ import annotations

import uuid

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from app.deps import Deps
from app.runtime.build.artifacts import FilesystemArtifactStore
from app.runtime.kubernetes import artifact_urls
from db import models


async def download_artifact(request: Request) -> Response:
    deps: Deps = request.app.state.deps
    build_id: str = request.path_params["build_id"]
    query = request.query_params
    if not artifact_urls.is_valid(
        deps.settings, build_id, query.get("expires"), query.get("signature")
    ):
        return JSONResponse({"error": "invalid or expired signature"}, status_code=403)
    try:
        key = uuid.UUID(build_id)
    except ValueError:
        return _not_found()
    async with deps.sessionmaker() as s:
        build = await s.get(models.Build, key)
    if build is None or not build.artifact_uri:
        return _not_found()
    store = FilesystemArtifactStore(deps.settings.artifacts_dir)
    try:
        path = await store.open_path(build.artifact_uri)
    except (FileNotFoundError, ValueError):
        return _not_found()
    # FileResponse streams the file in chunks; a large artifact never sits in memory.
    return FileResponse(
        path, media_type="application/gzip", headers={"Cache-Control": "private, no-store"}
    )


def _not_found() -> Response:
    return JSONResponse({"error": "artifact not found"}, status_code=404)
