"""The committed SDL is exactly what the code builds, and `graphql/` stays a plain folder."""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import graphql
import pytest

from app.cli import main as stratus

ROOT = Path(__file__).resolve().parents[2]
SDL = ROOT / "graphql" / "schema" / "schema.graphql"


def test_committed_sdl_matches_the_code(tmp_path: Path) -> None:
    # What `stratus export-schema` writes: str(build_schema()) + "\n".
    fresh = tmp_path / "schema.graphql"
    stratus(["export-schema", "--output", str(fresh)])
    generated = fresh.read_bytes()
    committed = SDL.read_bytes() if SDL.exists() else b""
    if generated != committed:
        diff = difflib.unified_diff(
            committed.decode().splitlines(keepends=True),
            generated.decode().splitlines(keepends=True),
            "graphql/schema/schema.graphql (committed)",
            "the code (stratus export-schema)",
        )
        pytest.fail(
            "graphql/schema/schema.graphql is out of date with the code: run `make schema` "
            "and commit the result (record breaking changes in graphql/schema/CHANGELOG.md).\n"
            + "".join(list(diff)[:80])
        )


def test_graphql_folder_is_never_a_package() -> None:
    # A package named `graphql` would shadow graphql-core and break strawberry.
    found = [
        Path(folder, name).relative_to(ROOT).as_posix()
        for folder, _, files in os.walk(ROOT / "graphql")
        for name in files
        if name == "__init__.py"
    ]
    assert not found, f"graphql/ must never be a Python package; delete {found}"
    assert not (ROOT / "graphql.py").exists(), "graphql.py would shadow graphql-core"


def test_graphql_resolves_to_graphql_core() -> None:
    location = Path(graphql.__file__).resolve()
    assert not location.is_relative_to(ROOT / "graphql"), f"`import graphql` found {location}"
    assert hasattr(graphql, "build_schema")
