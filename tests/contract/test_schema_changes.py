"""Breaking schema changes need a CHANGELOG entry: .ci/schema_check.py, on this repo and
on small SDLs in throwaway git repositories."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
from graphql import build_schema, find_breaking_changes

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / ".ci" / "schema_check.py"


def _load_tool() -> ModuleType:
    # By path: a `tools` package from some dependency must not shadow ours.
    spec = importlib.util.spec_from_file_location("schema_check", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["schema_check"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


schema_check = _load_tool()

BASE_SDL = """
type Query { team(id: ID!): Team }
interface Node { id: ID! }
type Team implements Node {
  id: ID!
  name: String!
  slug: String!
  role: TeamRole!
  size: Int!
  projects(first: Int = 20, after: String): [String!]!
}
enum TeamRole { OWNER VIEWER }
type Heartbeat { at: String! }
union ViewerEvent = Team | Heartbeat
input CreateTeamInput { name: String! }
"""

BREAKING_ENTRY = """# GraphQL schema changelog

## [Unreleased]

### Breaking
- `Team.slug`: removed; use `Team.name`.
"""


def test_this_repository_records_its_breaking_changes() -> None:
    # What CI relies on: HEAD~1's SDL against the working tree's.
    run = subprocess.run(
        [sys.executable, str(TOOL)], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "schema-check:" in run.stdout


def test_the_changelog_starts_with_the_rule_and_the_first_entry() -> None:
    text = (ROOT / "graphql" / "schema" / "CHANGELOG.md").read_text()
    assert "## The rule for breaking changes" in text
    assert "## [0.1.0]" in text
    # The entry template inside the rule is fenced: its example `### Breaking` line is not
    # an entry (only the entries below the rule may hold breaking lines).
    rule = text[: text.index("\n## [")]
    assert "### Breaking" in rule
    assert schema_check.breaking_lines(rule) == []


Repo = Callable[..., Path]


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Repo:
    """`repo(sdl=..., changelog=...)` commits the given files; None leaves a file as is."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", "/dev/null")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for var in ("GIT_AUTHOR", "GIT_COMMITTER"):
        monkeypatch.setenv(f"{var}_NAME", "Contract Test")
        monkeypatch.setenv(f"{var}_EMAIL", "contract@example.com")
    path = tmp_path / "repo"
    (path / "graphql" / "schema").mkdir(parents=True)
    git = ["git", "-C", str(path)]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)

    def commit(sdl: str | None = None, changelog: str | None = None, *, push: bool = True) -> Path:
        for rel, text in ((schema_check.SCHEMA, sdl), (schema_check.CHANGELOG, changelog)):
            if text is not None:
                (path / rel).write_text(text)
        if push:
            subprocess.run([*git, "add", "-A"], check=True)
            subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "change"], check=True)
        return path

    return commit


def check(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = schema_check.main(["--repo", str(path)])
    return code, capsys.readouterr().out


def without(sdl: str, text: str) -> str:
    assert text in sdl
    return sdl.replace(text, "")


def test_breaking_change_without_entry_fails(
    repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    repo(BASE_SDL)
    path = repo(without(BASE_SDL, "  slug: String!\n"))
    code, out = check(path, capsys)
    assert code == 1, out
    assert "BREAKING  Team.slug  Field Team.slug was removed.  [NOT RECORDED]" in out
    assert "- `Team.slug`:" in out  # tells the developer what to write


def test_breaking_change_with_entry_passes(repo: Repo, capsys: pytest.CaptureFixture[str]) -> None:
    repo(BASE_SDL, "# GraphQL schema changelog\n")
    path = repo(without(BASE_SDL, "  slug: String!\n"), BREAKING_ENTRY)
    code, out = check(path, capsys)
    assert code == 0, out
    assert "[recorded]" in out


def test_uncommitted_change_and_entry_are_checked(
    repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    repo(BASE_SDL)
    repo(BASE_SDL)  # HEAD~1 and HEAD alike; the working tree differs
    path = repo(without(BASE_SDL, "  slug: String!\n"), push=False)
    assert check(path, capsys)[0] == 1
    repo(changelog=BREAKING_ENTRY, push=False)
    assert check(path, capsys)[0] == 0


def test_additive_change_passes(repo: Repo, capsys: pytest.CaptureFixture[str]) -> None:
    repo(BASE_SDL)
    additive = (
        BASE_SDL.replace("enum TeamRole { OWNER VIEWER }", "enum TeamRole { OWNER ADMIN VIEWER }")
        .replace("after: String)", "after: String, filter: String)")
        .replace("  role: TeamRole!\n", "  role: TeamRole!\n  createdAt: String\n")
        + "type Project { id: ID! }\n"
    )
    code, out = check(repo(additive), capsys)
    assert code == 0, out
    assert "0 breaking" in out
    assert "DANGEROUS Enum value TeamRole.ADMIN was added." in out


def test_old_mention_does_not_record_a_new_change(
    repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    repo(BASE_SDL, BREAKING_ENTRY)  # Team.slug was named before, for another change
    code, out = check(repo(without(BASE_SDL, "  slug: String!\n"), BREAKING_ENTRY), capsys)
    assert code == 1, out


@pytest.mark.parametrize(
    "entry",
    [
        "## [Unreleased]\n\n### Added\n- `Team.slug`: removed.\n",  # not under Breaking
        "## [Unreleased]\n\n### Breaking\n- `Team.slugs`: removed.\n",  # another field
        "## [Unreleased]\n\n### Breaking\n- `MyTeam.slug`: removed.\n",
        "## [Unreleased]\n\n```\n### Breaking\n- `Team.slug`: removed.\n```\n",  # fenced
    ],
)
def test_entry_must_name_the_coordinate_under_breaking(
    repo: Repo, capsys: pytest.CaptureFixture[str], entry: str
) -> None:
    repo(BASE_SDL)
    code, out = check(repo(without(BASE_SDL, "  slug: String!\n"), entry), capsys)
    assert code == 1, out


def test_nothing_to_compare_on_a_first_commit(
    repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    path = repo(BASE_SDL)
    assert check(path, capsys) == (0, "schema-check: no commit HEAD~1: nothing to compare\n")


def test_nothing_to_compare_without_sdl_in_base(
    repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    repo(changelog="# GraphQL schema changelog\n")
    code, out = check(repo(BASE_SDL), capsys)
    assert code == 0
    assert out == f"schema-check: {schema_check.SCHEMA} is not in HEAD~1: nothing to compare\n"


def test_unbuildable_sdl_is_an_error(repo: Repo, capsys: pytest.CaptureFixture[str]) -> None:
    repo(BASE_SDL)
    path = repo("type Query { team: Missing }")
    assert schema_check.main(["--repo", str(path)]) == 2
    assert "cannot build a schema" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("  slug: String!\n", "", ["Team.slug"]),
        ("  slug: String!\n", "  slug: Int!\n", ["Team.slug"]),
        ("{ OWNER VIEWER }", "{ OWNER }", ["TeamRole.VIEWER"]),
        ("first: Int = 20, ", "", ["Team.projects(first:)"]),
        ("first: Int = 20", "first: String", ["Team.projects(first:)"]),
        ("after: String)", "after: String, region: String!)", ["Team.projects(region:)"]),
        ("{ name: String! }", "{ name: String! region: String! }", ["CreateTeamInput.region"]),
        ("= Team | Heartbeat", "= Team", ["ViewerEvent"]),
        ("type Team implements Node", "type Team", ["Team"]),
        ("type Heartbeat { at: String! }\n", "", ["Heartbeat", "ViewerEvent"]),
        ("enum TeamRole { OWNER VIEWER }", "scalar TeamRole", ["TeamRole"]),
    ],
)
def test_coordinates(old: str, new: str, expected: list[str]) -> None:
    changed = BASE_SDL.replace(old, new)
    if old == "type Heartbeat { at: String! }\n":
        changed = changed.replace("= Team | Heartbeat", "= Team")
    breaking, _ = schema_check.schema_changes(BASE_SDL, changed)
    assert sorted(c.coordinate for c in breaking) == sorted(expected), breaking
    # graphql-core agrees that each of these is breaking
    assert len(find_breaking_changes(build_schema(BASE_SDL), build_schema(changed))) == len(
        expected
    )
