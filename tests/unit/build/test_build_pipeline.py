"""The pieces chained the way the build job will chain them, with real git, npm and pip."""

import asyncio
import json
import sys
from pathlib import Path

import pytest

from app.runtime.build import (
    BuildPlan,
    DependencyCache,
    FilesystemArtifactStore,
    StepLimits,
    StepReason,
    cache_key,
    checkout,
    detect,
    probe_runtime_version,
    resolve_ref,
    run_step,
)
from tests.support.git_repos import create_repo

pytestmark = pytest.mark.slow  # real npm and a real venv: seconds, not milliseconds

# A local file: dependency gives npm a node_modules to create without any network.
NODE_PROJECT = {
    "package.json": json.dumps(
        {
            "name": "site",
            "version": "1.0.0",
            "scripts": {"build": "node build.js", "start": "node server.js"},
            "dependencies": {"greeting": "file:./greeting"},
        }
    ),
    "greeting/package.json": json.dumps({"name": "greeting", "version": "1.0.0"}),
    "greeting/index.js": "module.exports = '<h1>built</h1>';\n",
    "build.js": "const fs = require('fs');\n"
    "fs.mkdirSync('dist', {recursive: true});\n"
    "fs.writeFileSync('dist/index.html', require('greeting'));\n"
    "console.log('\\x1b[32mbuilt\\x1b[0m');\n",
}
# Offline and quiet: no audit, funding or update checks against the registry.
NPM_ENV = {
    "npm_config_audit": "false",
    "npm_config_fund": "false",
    "npm_config_update_notifier": "false",
}


async def build(src: Path, plan: BuildPlan, env: dict[str, str], cache: DependencyCache):
    lines: list[tuple[str, str]] = []

    async def on_line(stream: str, text: str) -> None:
        lines.append((stream, text))

    version = await probe_runtime_version(plan.framework, env=env)
    key = cache_key(plan, src, version)
    assert key is not None
    hit = await cache.restore(key, src, plan.cache_dirs)
    for step in plan.steps:
        result = await run_step(
            step,
            cwd=src,
            env=env,
            limits=StepLimits(timeout_s=120),
            on_line=on_line,
            cancel=asyncio.Event(),
        )
        assert result.reason == StepReason.OK, (step, result, lines)
    await cache.save(key, src, plan.cache_dirs)
    return hit, lines, version


async def test_node_project_from_git_to_artifact(tmp_path: Path) -> None:
    repo = create_repo(tmp_path, NODE_PROJECT)
    repo.tag("v1")
    repo.commit({"build.js": "process.exit(1)\n"})  # a later, broken commit on main
    sha = await resolve_ref(repo.url, "v1", timeout=10)
    cache = DependencyCache(tmp_path / "cache")
    store = FilesystemArtifactStore(tmp_path / "artifacts")

    digests = []
    for build_no in (1, 2):
        src = tmp_path / f"build{build_no}"
        await checkout(repo.url, sha, src, timeout=10)
        plan = detect(src)
        hit, lines, version = await build(src, plan, NPM_ENV, cache)
        assert hit is (build_no == 2)
        assert version is not None and version.startswith("node ")
        assert ("stdout", "\x1b[32mbuilt\x1b[0m") in lines
        assert (src / "dist" / "index.html").read_text() == "<h1>built</h1>"
        artifact = await store.put(f"b{build_no}", src / "dist")
        digests.append(artifact.sha256)
    assert digests[0] == digests[1]


async def test_python_project_with_empty_requirements(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "requirements.txt").write_text("")
    (src / "Procfile").write_text("web: .venv/bin/python -m http.server $PORT\n")
    plan = detect(src)
    env = {"PATH": f"{Path(sys.base_prefix) / 'bin'}:/usr/bin:/bin"}
    hit, _, version = await build(src, plan, env, DependencyCache(tmp_path / "cache"))
    assert hit is False and version == f"python {sys.version.split()[0]}"
    assert (src / ".venv" / "bin" / "python").exists()
    assert plan.start_command == ".venv/bin/python -m http.server $PORT"
