"""Builds from git run end to end in-process: real git, real npm and a real venv."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import pytest

from db.enums import BuildStatus, BuildStep, LogStream
from tests.builds.conftest import MakeProject
from tests.support.build_apps import BROKEN_NODE_APP, NODE_APP, PYTHON_APP, STATIC_SITE
from tests.support.git_repos import GitHttpServer, create_repo

SET_CREDENTIAL = """mutation($i: SetProjectGitCredentialInput!) {
  setProjectGitCredential(input: $i) { ok userErrors { code message field } } }"""


def _step_names(build) -> list[tuple[str, str]]:
    return [(s["name"], s["status"]) for s in build.steps]


async def test_static_site_builds_an_artifact_matching_its_digest(make_project: MakeProject):
    project = await make_project(STATIC_SITE)
    build = await project.build_and_run()

    assert build.status == BuildStatus.SUCCEEDED, await project.texts(build.id)
    assert build.commit_sha == project.repo.sha
    assert build.framework == "static" and build.cache_hit is None
    assert _step_names(build) == [("clone", "succeeded"), ("package", "succeeded")]
    assert all(s["durationMs"] >= 0 and s["finishedAt"] for s in build.steps)
    path = project.deps.settings.artifacts_dir / build.artifact_uri.removeprefix("fs://")
    data = path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == build.artifact_sha256
    assert len(data) == build.artifact_size
    assert build.attempt == 1 and build.finished_at >= build.started_at
    # The work directory is gone; the artifact stays.
    assert not (project.deps.settings.builds_dir / str(build.id)).exists()


@pytest.mark.slow
async def test_node_app_builds(make_project: MakeProject):
    project = await make_project(NODE_APP)
    build = await project.build_and_run()

    texts = await project.texts(build.id)
    assert build.status == BuildStatus.SUCCEEDED, texts
    assert build.framework == "node" and build.start_command == "npm start"
    assert _step_names(build) == [
        ("clone", "succeeded"),
        ("install", "succeeded"),
        ("build", "succeeded"),
        ("package", "succeeded"),
    ]
    assert [s["exitCode"] for s in build.steps] == [None, 0, 0, None]
    assert "==> install: npm install" in texts and "==> build: npm run build" in texts
    assert "built dist/index.html" in texts


@pytest.mark.slow
async def test_python_app_builds(make_project: MakeProject):
    project = await make_project(PYTHON_APP)
    build = await project.build_and_run()

    assert build.status == BuildStatus.SUCCEEDED, await project.texts(build.id)
    assert build.framework == "python"
    assert build.start_command == ".venv/bin/python -m http.server $PORT"
    assert [s["name"] for s in build.steps] == ["clone", "install", "package"]


async def test_broken_build_fails_naming_the_step(make_project: MakeProject):
    project = await make_project(BROKEN_NODE_APP)
    build = await project.build_and_run()

    assert build.status == BuildStatus.FAILED
    assert build.reason == "STEP_FAILED"
    assert build.message == "build failed with exit code 1"
    assert build.current_step == BuildStep.BUILD
    assert build.steps[-1] | {"startedAt": 0, "finishedAt": 0, "durationMs": 0} == {
        "name": "build",
        "status": "failed",
        "exitCode": 1,
        "startedAt": 0,
        "finishedAt": 0,
        "durationMs": 0,
    }
    lines = await project.logs(build.id)
    assert any(ln.text == "boom" and ln.step == "build" for ln in lines)
    assert [ln.seq for ln in lines] == list(range(1, len(lines) + 1))
    assert (
        lines[-1].stream == LogStream.SYSTEM and "build failed with exit code 1" in lines[-1].text
    )
    assert build.artifact_uri is None


async def test_nothing_to_build_fails_detection_with_the_reason_in_the_log(
    make_project: MakeProject,
):
    project = await make_project({"README.md": "nothing here\n"})
    build = await project.build_and_run()

    assert (build.status, build.reason) == (BuildStatus.FAILED, "DETECTION_FAILED")
    assert "no package.json" in build.message
    lines = await project.logs(build.id)
    assert any(ln.stream == LogStream.SYSTEM and ln.text == build.message for ln in lines)


async def test_private_repository_is_cloned_with_the_projects_credential(
    make_project: MakeProject, tmp_path: Path
):
    create_repo(tmp_path / "private", STATIC_SITE, name="site")
    token = f"token-{uuid.uuid4().hex}"
    with GitHttpServer(tmp_path / "private", username="x-access-token", password=token) as git:
        project = await make_project(STATIC_SITE, gitUrl=git.url("site.git"))
        denied = await project.build_and_run()
        await project.api.ok(
            SET_CREDENTIAL,
            {"i": {"projectId": project.project_gid, "token": token}},
            token=project.account.token,
        )
        built = await project.build_and_run()

    assert (denied.status, denied.reason) == (BuildStatus.FAILED, "CLONE_FAILED")
    assert denied.message.startswith("authentication failed")
    assert built.status == BuildStatus.SUCCEEDED, await project.texts(built.id)
    for build in (denied, built):
        assert not any(token in t for t in await project.texts(build.id))
