"""GET /artifacts/{build_id}: pods download their release's tarball with a signed URL."""

from __future__ import annotations

import io
import tarfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from app.deps import Deps
from app.ids import parse_id
from app.runtime.kubernetes.artifact_urls import signed_url
from tests.support.api import Api
from tests.support.build_rows import succeeded_build


@pytest.fixture
def artifacts_in_tmp(deps: Deps, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # The API reads the store under state_dir; keep this test's files out of the shared one.
    monkeypatch.setattr(deps.settings, "state_dir", tmp_path / "state")
    return tmp_path


async def _build(api: Api, deps: Deps, tmp_path: Path, *, with_file: bool = True) -> str:
    """A SUCCEEDED build whose artifact holds app.py; returns the build id."""
    account = await api.sign_up("artifacts")
    project = await api.create_project(account.token, account.team_id)
    build_id = await succeeded_build(
        deps, parse_id(project["id"], "Project"), files={"app.py": "print('hello')\n"}
    )
    if not with_file:
        (deps.settings.artifacts_dir / f"{build_id}.tar.gz").unlink()
    return str(build_id)


def _path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


async def test_signed_url_streams_the_artifact(
    api: Api, deps: Deps, artifacts_in_tmp: Path
) -> None:
    build_id = await _build(api, deps, artifacts_in_tmp)
    url = signed_url(deps.settings, build_id)
    assert url.startswith(f"{deps.settings.public_url}/artifacts/{build_id}?")

    response = await api.client.get(_path(url))

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/gzip"
    with tarfile.open(fileobj=io.BytesIO(response.content), mode="r:gz") as tar:
        member = tar.extractfile("app.py")
        assert member is not None and member.read() == b"print('hello')\n"


async def test_bad_or_expired_signatures_are_refused(
    api: Api, deps: Deps, artifacts_in_tmp: Path
) -> None:
    build_id = await _build(api, deps, artifacts_in_tmp)
    other_id = str(uuid.uuid4())
    good = urlsplit(signed_url(deps.settings, build_id))
    expired = signed_url(deps.settings, build_id, now=time.time() - 10**8)
    tampered = good.query[:-1] + ("0" if good.query[-1] != "0" else "1")
    for path in [
        f"/artifacts/{build_id}",  # no signature at all
        f"/artifacts/{build_id}?{tampered}",
        f"/artifacts/{other_id}?{good.query}",  # signed for another build
        _path(expired),
        f"/artifacts/{build_id}?expires=abc&signature=00",
        f"/artifacts/{build_id}?expires=%C2%B2&signature=00",  # a digit int() refuses
    ]:
        response = await api.client.get(path)
        assert response.status_code == 403, path
        assert response.json() == {"error": "invalid or expired signature"}


async def test_unknown_builds_and_missing_files_are_404(
    api: Api, deps: Deps, artifacts_in_tmp: Path
) -> None:
    without_file = await _build(api, deps, artifacts_in_tmp, with_file=False)
    for build_id in [str(uuid.uuid4()), "not-a-uuid", without_file]:
        response = await api.client.get(_path(signed_url(deps.settings, build_id)))
        assert response.status_code == 404, build_id
        assert response.json() == {"error": "artifact not found"}
