"""Error policy (codes, masking) and the query-cost extension.

Error policy (applied by `StratusSchema.process_errors` to every error of every
transport): an `AppError` keeps its message and gets `extensions.code`; a
`UserInputError` raised by a query (e.g. `first: 500`) becomes BAD_USER_INPUT;
anything else is a bug: the client sees "Internal server error" with an error id
that is logged together with the traceback.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
)
from strawberry.extensions import SchemaExtension

from app.errors import AppError, QueryRejected, UserInputError

log = logging.getLogger("stratus.graphql")

# Default page size assumed for a list field whose `first` is not given.
DEFAULT_FIRST = 20


def convert_error(error: GraphQLError) -> GraphQLError:
    original = error.original_error
    if original is None:
        return error  # syntax or validation error: already precise
    if error.path is None and isinstance(original, GraphQLError):
        # Variable coercion (`$first` given "abc"), before execution: a client
        # mistake that graphql-core already describes precisely.
        return error
    if isinstance(original, AppError):
        ext = {"code": original.code, **original.extensions}
        return GraphQLError(
            original.message, error.nodes, error.source, error.positions, error.path, None, ext
        )
    if isinstance(original, UserInputError):
        first = original.errors[0]
        ext = {"code": "BAD_USER_INPUT", "reason": str(first.code), "field": first.field}
        return GraphQLError(
            str(original), error.nodes, error.source, error.positions, error.path, None, ext
        )
    error_id = uuid.uuid4().hex[:16]
    log.error("unexpected error %s in %s", error_id, error.path, exc_info=original)
    return GraphQLError(
        f"Internal server error (error id {error_id})",
        error.nodes,
        error.source,
        error.positions,
        error.path,
        None,
        {"code": "INTERNAL_SERVER_ERROR", "errorId": error_id},
    )


class QueryCost(SchemaExtension):
    """Cost = fields selected, each multiplied by the `first` of every enclosing list.

    Computed before execution with the real variable values; an operation over the
    maximum is refused with QUERY_TOO_COSTLY. The cost is reported in `extensions.cost`.
    """

    def __init__(self, *, maximum: int) -> None:
        self.maximum = maximum
        self.cost = 0

    def on_execute(self) -> Iterator[None]:
        ctx = self.execution_context
        doc = ctx.graphql_document
        if doc is not None:
            fragments = {
                d.name.value: d for d in doc.definitions if isinstance(d, FragmentDefinitionNode)
            }
            ops = [d for d in doc.definitions if isinstance(d, OperationDefinitionNode)]
            op = next(
                (o for o in ops if o.name and o.name.value == ctx.operation_name),
                ops[0] if len(ops) == 1 else None,
            )
            if op is not None:
                schema = ctx.schema._schema
                self.cost = _cost(
                    op.selection_set,
                    fragments,
                    ctx.variables or {},
                    1,
                    0,
                    parent=schema.get_root_type(op.operation),
                    schema=schema,
                )
                if self.cost > self.maximum:
                    raise QueryRejected(
                        "QUERY_TOO_COSTLY",
                        f"query cost {self.cost} exceeds the maximum of {self.maximum}",
                        cost=self.cost,
                        maximum=self.maximum,
                    )
        yield

    def get_results(self) -> dict[str, Any]:
        return {"cost": {"requested": self.cost, "maximum": self.maximum}}


def _first(
    field: FieldNode, variables: dict[str, Any], definition: GraphQLField | None = None
) -> int | None:
    for arg in field.arguments or ():
        if arg.name.value in ("first", "last"):
            if isinstance(arg.value, IntValueNode):
                return int(arg.value.value)
            if isinstance(arg.value, VariableNode):
                value = variables.get(arg.value.name.value)
                return int(value) if isinstance(value, int) else DEFAULT_FIRST
    # Omitted: the argument's default is the page size the server really uses.
    default = (
        definition.args["first"].default_value
        if definition and "first" in definition.args
        else None
    )
    return default if isinstance(default, int) else None


def _cost(
    sel: SelectionSetNode | None,
    fragments: dict[str, FragmentDefinitionNode],
    variables: dict[str, Any],
    multiplier: int,
    depth: int,
    *,
    parent: GraphQLNamedType | None = None,
    schema: GraphQLSchema | None = None,
) -> int:
    """Given the `schema` and the `parent` type, omitted `first` arguments count too."""
    if sel is None or depth > 50:
        return 0
    total = 0
    for node in sel.selections:
        if isinstance(node, FieldNode):
            if node.name.value.startswith("__"):
                continue
            definition = _field(parent, node.name.value)
            first = _first(node, variables, definition)
            inner = multiplier * max(first, 1) if first is not None else multiplier
            child = get_named_type(definition.type) if definition else None
            total += multiplier + _cost(
                node.selection_set,
                fragments,
                variables,
                inner,
                depth + 1,
                parent=child,
                schema=schema,
            )
        else:
            selection, condition = _fragment(node, fragments)
            child = schema.get_type(condition) if condition and schema else parent
            total += _cost(
                selection,
                fragments,
                variables,
                multiplier,
                depth + 1,
                parent=child,
                schema=schema,
            )
    return total


def _field(parent: GraphQLNamedType | None, name: str) -> GraphQLField | None:
    if isinstance(parent, (GraphQLObjectType, GraphQLInterfaceType)):
        found: GraphQLField | None = parent.fields.get(name)
        return found
    return None


def _fragment(
    node: SelectionNode, fragments: dict[str, FragmentDefinitionNode]
) -> tuple[SelectionSetNode | None, str | None]:
    """(selections, type condition) of an inline fragment or a fragment spread."""
    if isinstance(node, InlineFragmentNode):
        return node.selection_set, node.type_condition.name.value if node.type_condition else None
    if isinstance(node, FragmentSpreadNode) and node.name.value in fragments:
        frag = fragments[node.name.value]
        return frag.selection_set, frag.type_condition.name.value
    return None, None
