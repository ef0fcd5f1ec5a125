"""frontend-contract/generated/ is what graphql-codegen makes of the committed SDL and
operations today, with the pinned tool versions. Node is required: no skips."""

from __future__ import annotations

import difflib
import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ROOT / "frontend-contract"
GENERATED = CONTRACT / "generated"
CODEGEN = CONTRACT / "node_modules" / ".bin" / "graphql-codegen"

# Exactly the versions of ../shared/tools/graphql-conformance/package.json.
PINS = {
    "@graphql-codegen/cli": "7.4.3",
    "@graphql-codegen/typescript": "6.1.0",
    "@graphql-codegen/typescript-operations": "6.1.9",
    "graphql": "16.15.0",
}


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.fail(
            "`node` is not on PATH: the frontend contract needs Node.js >= 20 and npm "
            "(then `make contract-deps`)",
            pytrace=False,
        )
    return node


def _installed(package: str) -> str | None:
    manifest = CONTRACT / "node_modules" / package / "package.json"
    return json.loads(manifest.read_text())["version"] if manifest.exists() else None


def test_tool_versions_are_pinned_and_installed() -> None:
    _node()
    manifest = json.loads((CONTRACT / "package.json").read_text())
    assert manifest["devDependencies"] == PINS
    lock = json.loads((CONTRACT / "package-lock.json").read_text())
    assert {p: lock["packages"][f"node_modules/{p}"]["version"] for p in PINS} == PINS
    installed = {p: _installed(p) for p in PINS}
    if installed != PINS:
        pytest.fail(f"frontend-contract/node_modules is {installed}: run `make contract-deps`")


def test_generated_types_are_fresh(tmp_path: Path) -> None:
    node = _node()
    if not CODEGEN.exists():
        pytest.fail("graphql-codegen is not installed: run `make contract-deps`", pytrace=False)
    # The same relative layout as the repository, so the committed codegen.yml runs as is.
    work = tmp_path / "frontend-contract"
    shutil.copytree(CONTRACT / "operations", work / "operations")
    shutil.copy2(CONTRACT / "codegen.yml", work / "codegen.yml")
    (work / "node_modules").symlink_to(CONTRACT / "node_modules", target_is_directory=True)
    (tmp_path / "graphql" / "schema").mkdir(parents=True)
    shutil.copy2(ROOT / "graphql" / "schema" / "schema.graphql", tmp_path / "graphql" / "schema")

    run = subprocess.run(
        [node, str(CODEGEN), "--config", "codegen.yml", "--silent"],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert run.returncode == 0, f"graphql-codegen failed:\n{run.stdout}\n{run.stderr}"

    fresh = {p.name: p.read_bytes() for p in (work / "generated").iterdir()}
    committed = {p.name: p.read_bytes() for p in GENERATED.iterdir()} if GENERATED.exists() else {}
    stale = []
    for name in sorted(fresh.keys() | committed.keys()):
        old, new = committed.get(name, b""), fresh.get(name, b"")
        if old != new:
            diff = difflib.unified_diff(
                old.decode().splitlines(keepends=True),
                new.decode().splitlines(keepends=True),
                f"committed generated/{name}",
                f"fresh generated/{name}",
                n=1,
            )
            stale.append("".join(list(diff)[:30]))
    if stale:
        pytest.fail(
            "frontend-contract/generated/ is stale (SDL or operations changed): run "
            "`make contract` and commit the result.\n" + "\n".join(stale),
            pytrace=False,
        )
