#!/usr/bin/env python3
"""Fail on breaking GraphQL schema changes that the schema CHANGELOG does not record.

Compares graphql/schema/schema.graphql of a base commit (default HEAD~1) with the working
tree's, using graphql-core's `find_breaking_changes` / `find_dangerous_changes`. Each
breaking change has a schema coordinate (`Team`, `Team.slug`, `TeamRole.VIEWER`,
`Team.projects(first:)`, `@directive`). It counts as recorded when that coordinate is named
in a line under a `### Breaking` heading of graphql/schema/CHANGELOG.md that the base
commit's CHANGELOG.md does not have, i.e. the change and its entry come together.
Dangerous changes (new enum values, changed defaults...) are listed, never fatal.
No base commit (first commit, shallow clone) or no SDL there: nothing to compare.

usage: python .ci/schema_check.py [--base REV] [--repo DIR]
exit status: 0 fine, 1 a breaking change is not recorded, 2 could not check.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from graphql import (
    BreakingChangeType,
    GraphQLSchema,
    build_schema,
    find_breaking_changes,
    find_dangerous_changes,
    is_enum_type,
    is_input_object_type,
    is_interface_type,
    is_object_type,
    is_union_type,
)

SCHEMA = "graphql/schema/schema.graphql"
CHANGELOG = "graphql/schema/CHANGELOG.md"
DEFAULT_BASE = "HEAD~1"

_NAME = r"[_A-Za-z][_0-9A-Za-z]*"
_COORDINATE = re.compile(rf"@?{_NAME}(?:\.{_NAME})?(?:\({_NAME}:\))?")
_PARTS = re.compile(rf"(@)?({_NAME})(?:\.({_NAME}))?(?:\(({_NAME}):\))?")
_HEADING = re.compile(r"^(#{1,3})\s+(.*)$")


class CheckError(Exception):
    """The check could not run (not a git repository, unreadable SDL...)."""


@dataclass(frozen=True)
class Change:
    kind: str
    coordinate: str
    description: str


@dataclass
class Report:
    base: str
    compared: bool
    note: str = ""
    recorded: tuple[Change, ...] = ()
    unrecorded: tuple[Change, ...] = ()
    dangerous: tuple[Change, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.unrecorded


def _resolves(schema: GraphQLSchema, coordinate: str) -> bool:
    match = _PARTS.fullmatch(coordinate)
    if match is None:
        return False
    at, name, member, arg = match.groups()
    if at:
        directive = schema.get_directive(name)
        return directive is not None and member is None and (arg is None or arg in directive.args)
    named = schema.get_type(name)
    if named is None:
        return False
    if member is None:
        return arg is None
    if is_enum_type(named):
        return arg is None and member in named.values
    if is_object_type(named) or is_interface_type(named) or is_input_object_type(named):
        field = named.fields.get(member)
        if field is None:
            return False
        return arg is None or arg in getattr(field, "args", {})
    return False


def _specificity(coordinate: str) -> int:
    return 1 + ("." in coordinate) + ("(" in coordinate)


def coordinate_of(
    kind: BreakingChangeType, description: str, old: GraphQLSchema, new: GraphQLSchema
) -> str:
    """The most specific coordinate named in graphql-core's description of a change.

    Removed things exist in the old schema, added ones in the new: a candidate counts when
    it resolves in either. A member removed from a union is recorded on the union.
    """
    candidates: list[str] = _COORDINATE.findall(description)
    found = [c for c in candidates if _resolves(old, c) or _resolves(new, c)]
    if kind is BreakingChangeType.TYPE_REMOVED_FROM_UNION:
        found = [c for c in found if is_union_type(old.get_type(c))] or found
    if not found:
        return description  # not expected; then the description itself must be quoted
    return max(found, key=_specificity)  # max() keeps the first of equals


def schema_changes(old_sdl: str, new_sdl: str) -> tuple[list[Change], list[Change]]:
    old, new = build_schema(old_sdl), build_schema(new_sdl)
    with warnings.catch_warnings():
        # graphql-core 3.3 documents both as superseded by find_schema_changes.
        warnings.simplefilter("ignore", DeprecationWarning)
        breaking = find_breaking_changes(old, new)
        dangerous = find_dangerous_changes(old, new)
    return (
        [
            Change(c.type.name, coordinate_of(c.type, c.description, old, new), c.description)
            for c in breaking
        ],
        [Change(c.type.name, "", c.description) for c in dangerous],
    )


def breaking_lines(changelog: str) -> list[str]:
    """Lines under `### Breaking` headings (up to the next heading of level 1-3).

    Fenced code blocks (an entry template, say) are skipped.
    """
    lines: list[str] = []
    inside = fenced = False
    for line in changelog.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
            continue
        heading = None if fenced else _HEADING.match(line)
        if heading:
            inside = len(heading.group(1)) == 3 and heading.group(2).lower().startswith("breaking")
            continue
        if inside and not fenced and line.strip():
            lines.append(line)
    return lines


def new_breaking_lines(base_changelog: str, changelog: str) -> list[str]:
    """`### Breaking` lines of the working tree that the base commit's CHANGELOG lacks."""
    fresh = Counter(breaking_lines(changelog))
    fresh.subtract(Counter(changelog_lines(base_changelog)))
    return [line for line, n in fresh.items() if n > 0]


def changelog_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def mentions(lines: Sequence[str], coordinate: str) -> bool:
    # `Team.slug` must not count for `Team.slugs`, `MyTeam.slug` or (type) `Team`.
    pattern = re.compile(rf"(?<![\w.@]){re.escape(coordinate)}(?!\w|\.\w|\(\w)")
    return any(pattern.search(line) for line in lines)


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=False
    )


def has_commit(repo: Path, rev: str) -> bool:
    if _git(repo, "rev-parse", "--is-inside-work-tree").returncode != 0:
        raise CheckError(f"{repo} is not a git work tree")
    return _git(repo, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}").returncode == 0


def file_at(repo: Path, rev: str, path: str) -> str | None:
    """The file's text in commit `rev` (which exists); None when the file is not there."""
    shown = _git(repo, "show", f"{rev}:{path}")
    return shown.stdout if shown.returncode == 0 else None


def check(repo: Path, base: str = DEFAULT_BASE) -> Report:
    if not has_commit(repo, base):
        return Report(base, compared=False, note=f"no commit {base}: nothing to compare")
    old_sdl = file_at(repo, base, SCHEMA)
    if old_sdl is None:
        return Report(base, False, note=f"{SCHEMA} is not in {base}: nothing to compare")
    try:
        new_sdl = (repo / SCHEMA).read_text(encoding="utf-8")
    except OSError as exc:
        raise CheckError(f"cannot read {SCHEMA}: {exc}") from exc
    try:
        breaking, dangerous = schema_changes(old_sdl, new_sdl)
    except Exception as exc:  # GraphQLError, TypeError: an SDL that does not build
        raise CheckError(f"cannot build a schema: {exc}") from exc
    changelog_path = repo / CHANGELOG
    changelog = changelog_path.read_text(encoding="utf-8") if changelog_path.exists() else ""
    fresh = new_breaking_lines(file_at(repo, base, CHANGELOG) or "", changelog)
    recorded = tuple(c for c in breaking if mentions(fresh, c.coordinate))
    unrecorded = tuple(c for c in breaking if c not in recorded)
    return Report(base, True, "", recorded, unrecorded, tuple(dangerous))


def render(report: Report) -> str:
    if not report.compared:
        return f"schema-check: {report.note}"
    out = [f"BREAKING  {c.coordinate}  {c.description}  [recorded]" for c in report.recorded]
    out += [f"BREAKING  {c.coordinate}  {c.description}  [NOT RECORDED]" for c in report.unrecorded]
    out += [f"DANGEROUS {c.description}" for c in report.dangerous]
    if report.unrecorded:
        out.append(
            f"\nBreaking changes against {report.base} must be recorded in {CHANGELOG}: "
            "name each coordinate under a `### Breaking` heading of the entry for this "
            "change (the rule is at the top of that file), e.g."
        )
        out += [
            f"  - `{c.coordinate}`: <why, and what clients do instead>" for c in report.unrecorded
        ]
    total = len(report.recorded) + len(report.unrecorded)
    out.append(
        f"schema-check: {total} breaking ({len(report.unrecorded)} not recorded), "
        f"{len(report.dangerous)} dangerous, against {report.base}"
    )
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="schema_check", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--base", default=DEFAULT_BASE, help="commit to compare with (HEAD~1)")
    parser.add_argument(
        "--repo", type=Path, default=Path(__file__).resolve().parents[1], help="repository root"
    )
    args = parser.parse_args(argv)
    try:
        report = check(args.repo, args.base)
    except CheckError as exc:
        print(f"schema-check: {exc}", file=sys.stderr)
        return 2
    print(render(report))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
