"""GitHub-compatible push webhooks: signatures, de-duplication, the pushed commit built."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid

from app.ids import parse_id
from db import models
from db.enums import BuildTrigger
from tests.support.api import Api

ROTATE = """mutation($p: ID!) { rotateProjectWebhookSecret(input: {projectId: $p}) {
  secret webhookUrl userErrors { code } } }"""


async def _hooked_project(api: Api):
    acct = await api.sign_up("hooks")
    project = await api.create_project(
        acct.token, acct.team_id, name="web", gitUrl="https://git.example/web.git"
    )
    data = await api.ok(ROTATE, {"p": project["id"]}, token=acct.token)
    hook = data["rotateProjectWebhookSecret"]
    assert hook["secret"].startswith("whsec_")
    assert hook["webhookUrl"].endswith(f"/webhooks/git/{project['id']}")
    return acct, project, hook["secret"], "/webhooks/git/" + project["id"]


def _push(branch: str, sha: str) -> bytes:
    return json.dumps(
        {"ref": f"refs/heads/{branch}", "after": sha, "repository": {"full_name": "acme/web"}}
    ).encode()


def _headers(secret: str, body: bytes, delivery: str, event: str = "push") -> dict[str, str]:
    sig = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {
        "x-github-event": event,
        "x-github-delivery": delivery,
        "x-hub-signature-256": f"sha256={sig}",
        "content-type": "application/json",
    }


async def test_push_builds_the_pushed_commit_once(api: Api, deps) -> None:
    _, project, secret, path = await _hooked_project(api)
    sha = "a" * 40
    body = _push("main", sha)
    delivery = str(uuid.uuid4())
    r = await api.client.post(path, content=body, headers=_headers(secret, body, delivery))
    assert r.status_code == 202, r.text
    result = r.json()
    assert result["commit"] == sha and result["environment"] == "production"
    async with deps.sessionmaker() as s:
        build = await s.get(models.Build, uuid.UUID(result["buildId"]))
        assert build.git_ref == sha and build.trigger == BuildTrigger.PUSH
        assert build.project_id == parse_id(project["id"], "Project")
    # GitHub redelivers: nothing new is built.
    r = await api.client.post(path, content=body, headers=_headers(secret, body, delivery))
    assert r.status_code == 200 and r.json()["duplicate"] is True
    # Another branch builds and deploys its own preview.
    body = _push("feature/login", "b" * 40)
    r = await api.client.post(path, content=body, headers=_headers(secret, body, "d2"))
    assert r.status_code == 202 and r.json()["environment"] == "preview-feature-login"
    # Both deploy (auto-deploy is on by default): production blue-green, the preview at once.
    async with deps.sessionmaker() as s:
        strategies = {
            env: (await s.get(models.Deployment, uuid.UUID(body["deploymentId"]))).strategy.value
            for env, body in (("production", result), ("preview", r.json()))
        }
    assert strategies == {"production": "blue_green", "preview": "immediate"}


async def test_with_auto_deploy_off_pushes_only_build(api: Api) -> None:
    acct, project, secret, path = await _hooked_project(api)
    update = """mutation($p: ID!) { updateProject(input: {projectId: $p, autoDeploy: false}) {
      project { autoDeploy } userErrors { code } } }"""
    data = await api.ok(update, {"p": project["id"]}, token=acct.token)
    assert data["updateProject"]["project"]["autoDeploy"] is False
    for n, branch in enumerate(("main", "feature/x")):
        body = _push(branch, str(n + 1) * 40)
        r = await api.client.post(path, content=body, headers=_headers(secret, body, f"o{n}"))
        assert r.status_code == 202 and "buildId" in r.json()
        assert "deploymentId" not in r.json()


async def test_bad_signature_is_rejected_and_builds_nothing(api: Api, deps) -> None:
    _, project, secret, path = await _hooked_project(api)
    body = _push("main", "c" * 40)
    for headers in (
        _headers("whsec_wrong", body, "x1"),
        {**_headers(secret, body, "x2"), "x-hub-signature-256": "sha256=" + "0" * 64},
        {k: v for k, v in _headers(secret, body, "x3").items() if k != "x-hub-signature-256"},
    ):
        r = await api.client.post(path, content=body, headers=headers)
        assert r.status_code == 401
    # Tampered body with the original signature.
    r = await api.client.post(
        path, content=body.replace(b"main", b"prod"), headers=_headers(secret, body, "x4")
    )
    assert r.status_code == 401
    # Unknown or malformed project ids look the same as a bad signature.
    for bad in ("/webhooks/git/nope", "/webhooks/git/" + project["id"][:-2] + "AA"):
        r = await api.client.post(bad, content=body, headers=_headers(secret, body, "x5"))
        assert r.status_code == 401
    async with deps.sessionmaker() as s:
        from sqlalchemy import func, select

        count = await s.scalar(
            select(func.count())
            .select_from(models.Build)
            .where(models.Build.project_id == parse_id(project["id"], "Project"))
        )
    assert count == 0


async def test_ping_other_events_and_deletions(api: Api) -> None:
    _, _, secret, path = await _hooked_project(api)
    r = await api.client.post(path, content=b"{}", headers=_headers(secret, b"{}", "p1", "ping"))
    assert r.status_code == 200 and r.json()["pong"] is True
    r = await api.client.post(path, content=b"{}", headers=_headers(secret, b"{}", "p2", "issues"))
    assert r.status_code == 202 and "ignored" in r.json()
    body = _push("gone", "0" * 40)  # a deleted branch: no build, its preview (none) expires
    r = await api.client.post(path, content=body, headers=_headers(secret, body, "p3"))
    assert r.status_code == 202 and r.json()["previewExpired"] is False
    r = await api.client.post(
        path, content=b"not json", headers=_headers(secret, b"not json", "p4")
    )
    assert r.status_code == 400


async def test_rotating_invalidates_the_old_secret(api: Api) -> None:
    acct, project, old, path = await _hooked_project(api)
    await api.ok(ROTATE, {"p": project["id"]}, token=acct.token)
    body = _push("main", "d" * 40)
    r = await api.client.post(path, content=body, headers=_headers(old, body, "r1"))
    assert r.status_code == 401


async def test_push_builds_exactly_the_pushed_commit(make_project) -> None:
    """End to end: a push webhook for commit A builds A, even after B landed on the branch."""
    bp = await make_project({"index.html": "<h1>first</h1>"})
    data = await bp.api.ok(ROTATE, {"p": bp.project_gid}, token=bp.account.token)
    secret = data["rotateProjectWebhookSecret"]["secret"]
    pushed = bp.repo.commit({"index.html": "<h1>pushed</h1>"}, "pushed")
    bp.repo.commit({"index.html": "<h1>later</h1>"}, "later")  # the branch moved on
    body = _push("main", pushed)
    r = await bp.api.client.post(
        f"/webhooks/git/{bp.project_gid}",
        content=body,
        headers=_headers(secret, body, str(uuid.uuid4())),
    )
    assert r.status_code == 202, r.text
    build_id = uuid.UUID(r.json()["buildId"])
    await bp.run(build_id)
    build = await bp.get(build_id)
    assert build.status.value == "succeeded", (build.reason, build.message)
    assert build.commit_sha == pushed and build.trigger == BuildTrigger.PUSH
    # The artifact holds the pushed commit's page, not the later one.
    import tarfile

    from app.runtime.build import FilesystemArtifactStore

    store = FilesystemArtifactStore(bp.deps.settings.artifacts_dir)
    with tarfile.open(await store.open_path(build.artifact_uri)) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith("index.html"))
        assert tar.extractfile(member).read() == b"<h1>pushed</h1>"


async def test_a_push_that_cannot_build_is_refused_with_its_reason(api: Api, deps) -> None:
    """422 with the problem, nothing written: a redelivery after the fix builds."""
    _, project, secret, path = await _hooked_project(api)
    body = _push("bad..branch", "d" * 40)  # not a ref the build accepts
    r = await api.client.post(path, content=body, headers=_headers(secret, body, "u1"))
    assert r.status_code == 422 and r.json()["problems"][0]["code"] == "INVALID_REF"
    # A project without a git URL cannot build what is pushed to it.
    async with deps.sessionmaker() as s, s.begin():
        row = await s.get(models.Project, parse_id(project["id"], "Project"))
        row.git_url = ""
    body = _push("main", "e" * 40)
    r = await api.client.post(path, content=body, headers=_headers(secret, body, "u2"))
    assert r.status_code == 422 and r.json()["problems"][0]["code"] == "GIT_URL_MISSING"
    async with deps.sessionmaker() as s, s.begin():
        row = await s.get(models.Project, parse_id(project["id"], "Project"))
        row.git_url = "https://git.example/web.git"
    # The delivery was not recorded: the git host's redelivery now builds.
    r = await api.client.post(path, content=body, headers=_headers(secret, body, "u2"))
    assert r.status_code == 202 and r.json()["commit"] == "e" * 40
