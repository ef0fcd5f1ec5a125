"""frontend-contract/operations: the dashboard's and CLI's real documents are valid against
the committed SDL and fit the server's default limits.

All files form one document set (as for graphql-codegen): fragments are shared across
files, and operation and fragment names are unique across files.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import (
    DefinitionNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSyntaxError,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    Source,
    build_schema,
    get_location,
    parse,
    validate,
)

from app.settings import Settings
from resolvers.extensions import _cost  # the server's own cost function

ROOT = Path(__file__).resolve().parents[2]
SDL = ROOT / "graphql" / "schema" / "schema.graphql"
OPERATIONS = ROOT / "frontend-contract" / "operations"

# The slice the dashboard and CLI ship with; removing one is a contract change.
EXPECTED = {
    "LogIn", "SignUp", "RefreshSession", "LogOut", "Viewer",
    "TeamList", "TeamDetail", "ProjectList", "ProjectDetail",
    "CreateProject", "UpdateProject", "DeleteProject",
    "UpsertEnvironmentVariables", "DeleteEnvironmentVariables",
    "ApiKeys", "CreateApiKey", "RevokeApiKey", "AuditLog",
    "InviteTeamMember", "AcceptTeamInvitation", "UpdateTeamMemberRole", "RemoveTeamMember",
    "ViewerEvents",
}  # fmt: skip


def _where(error: GraphQLError) -> str:
    spots = []
    for node in error.nodes or ():
        if node.loc is not None:
            loc = get_location(node.loc.source, node.loc.start)
            spots.append(f"{node.loc.source.name}:{loc.line}:{loc.column}")
    if not spots and error.source is not None and error.locations:
        spots = [f"{error.source.name}:{loc.line}:{loc.column}" for loc in error.locations]
    return ", ".join(spots) or "?"


def _documents() -> tuple[DocumentNode, list[str]]:
    files = sorted(OPERATIONS.glob("*.graphql"))
    assert files, f"no operations in {OPERATIONS.relative_to(ROOT)}"
    definitions: list[DefinitionNode] = []
    problems: list[str] = []
    for path in files:
        name = path.relative_to(ROOT).as_posix()
        try:
            doc = parse(Source(path.read_text(), name))
        except GraphQLSyntaxError as exc:
            problems.append(f"{_where(exc)}: {exc.message}")
            continue
        if not doc.definitions:
            problems.append(f"{name}: no definitions")
        definitions.extend(doc.definitions)
    return DocumentNode(definitions=tuple(definitions)), problems


def _operations(doc: DocumentNode) -> list[OperationDefinitionNode]:
    return [d for d in doc.definitions if isinstance(d, OperationDefinitionNode)]


def _fragments(doc: DocumentNode) -> dict[str, FragmentDefinitionNode]:
    return {d.name.value: d for d in doc.definitions if isinstance(d, FragmentDefinitionNode)}


def test_operations_are_valid_against_the_committed_sdl() -> None:
    schema = build_schema(SDL.read_text())
    doc, problems = _documents()
    problems += [f"{_where(e)}: {e.message}" for e in validate(schema, doc)]
    for op in _operations(doc):
        if op.name is None and op.loc is not None:
            problems.append(f"{op.loc.source.name}: every operation needs a name")
    if problems:
        pytest.fail("invalid operation documents:\n" + "\n".join(problems), pytrace=False)


def test_the_slice_is_covered() -> None:
    doc, _ = _documents()
    names = {op.name.value for op in _operations(doc) if op.name}
    assert EXPECTED <= names, f"missing operations: {sorted(EXPECTED - names)}"


def _defaults(op: OperationDefinitionNode) -> dict[str, int]:
    return {
        v.variable.name.value: int(v.default_value.value)
        for v in op.variable_definitions or ()
        if isinstance(v.default_value, IntValueNode)
    }


def _depth(sel: SelectionSetNode | None, fragments: dict[str, FragmentDefinitionNode]) -> int:
    # strawberry's QueryDepthLimiter counts top-level fields as depth 0.
    deepest = -1
    for node in sel.selections if sel else ():
        if isinstance(node, FieldNode):
            deepest = max(deepest, 1 + _depth(node.selection_set, fragments))
        elif isinstance(node, InlineFragmentNode):
            deepest = max(deepest, _depth(node.selection_set, fragments))
        elif isinstance(node, FragmentSpreadNode) and node.name.value in fragments:
            deepest = max(deepest, _depth(fragments[node.name.value].selection_set, fragments))
    return deepest


@pytest.mark.parametrize("limit", ["max_query_depth", "max_query_cost"])
def test_operations_fit_the_server_limits(limit: str) -> None:
    maximum = Settings.model_fields[limit].default
    doc, _ = _documents()
    fragments = _fragments(doc)
    over = []
    for op in _operations(doc):
        if limit == "max_query_depth":
            used = _depth(op.selection_set, fragments)
        else:
            used = _cost(op.selection_set, fragments, _defaults(op), 1, 0)
        if used > maximum:
            over.append(f"{op.name.value if op.name else '?'}: {used} > {maximum}")
    assert not over, f"operations over the server's default {limit}: {over}"
