"""Websocket protocol handlers (graphql-transport-ws and legacy graphql-ws).

Subclasses of strawberry's handlers; protocol fixes found by the conformance
checks (`../shared/tools/graphql-conformance/ws-protocol.mjs`) live here:

- every message is checked against PROTOCOL.md's shapes before strawberry reads it
  (strawberry indexes into it and crashed on `[1]`, `null`, `"x"`; it accepted ids
  that are numbers or empty, and queries that are not strings): 4400 instead;
- messages go out as text frames (PROTOCOL.md: stringified JSON). strawberry sends a
  binary frame when `encode_json` returns bytes (ours: orjson), which the reference
  client `graphql-ws` and browsers reject ("Message is missing the 'type' property");
- a document with a syntax error (or over the token limit) gets an `error` message
  and the socket stays open; so does a query or mutation sent over the legacy
  protocol, which strawberry runs for subscriptions only. With the `ParserCache` extension the syntax error
  escaped strawberry's stream as an exception: the client saw a bare `complete`
  (graphql-transport-ws) or nothing at all (graphql-ws).

Each operation's task also gets the shared live tail of build logs (app/http/fanout.py):
it frames the payloads it is handed exactly as strawberry frames `next` / `data`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Hashable, Mapping
from typing import Any, cast

import orjson
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLFormattedError,
    Node,
    OperationType,
    get_operation_ast,
    parse,
    print_ast,
)
from starlette.websockets import WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ErrorMessage as TransportErrorMessage,
)
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.subscriptions.protocols.graphql_ws.types import (
    ConnectionErrorMessage,
    OperationMessage,
)
from strawberry.subscriptions.protocols.graphql_ws.types import ErrorMessage as LegacyErrorMessage

from app.domain import build_logs
from app.http.fanout import LogFanout, OperationSlot, OperationTail

# Message types whose payload, when present and not null, must be an object.
_OPTIONAL_OBJECT_PAYLOAD = ("connection_init", "ping", "pong")


def _is_id(value: object) -> bool:
    return isinstance(value, str) and value != ""


def operation_problem(payload: object) -> str | None:
    """Why a subscribe/start payload is malformed (PROTOCOL.md's SubscribePayload)."""
    if not isinstance(payload, dict):
        return "payload must be an object"
    if not isinstance(payload.get("query"), str):
        return "payload.query must be a string"
    if not isinstance(payload.get("variables"), dict | None):
        return "payload.variables must be an object or null"
    if not isinstance(payload.get("operationName"), str | None):
        return "payload.operationName must be a string or null"
    if not isinstance(payload.get("extensions"), dict | None):
        return "payload.extensions must be an object or null"
    return None


def transport_message_problem(message: object) -> str | None:
    """Why a graphql-transport-ws message is invalid (close 4400), or None."""
    if not isinstance(message, dict):
        return "message must be a JSON object"
    kind = message.get("type")
    if not isinstance(kind, str):
        return "message type must be a string"
    if kind in _OPTIONAL_OBJECT_PAYLOAD and not isinstance(message.get("payload"), dict | None):
        return f"{kind} payload must be an object"
    if kind in ("subscribe", "complete") and not _is_id(message.get("id")):
        return f"{kind} id must be a non-empty string"
    if kind == "subscribe":
        return operation_problem(message.get("payload"))
    return None  # unknown types: strawberry closes 4400 itself


class TextWebSocketAdapter(ASGIWebSocketAdapter):
    async def send_json(self, message: Mapping[str, object]) -> None:
        await self.send_text(self.view.encode_json_string(message))

    async def send_text(self, text: str) -> None:
        try:
            await self.ws.send_text(text)
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc

    async def send_frame(self, text: str) -> bool:
        """Send a ready-made message; False once the client is gone."""
        try:
            await self.send_text(text)
        except WebSocketDisconnected:
            return False
        return True


_VARIABLE = re.compile(r"\$([_A-Za-z][_0-9A-Za-z]*)")


@functools.lru_cache(maxsize=512)
def _shape(query: str, operation_name: str | None) -> tuple[str, tuple[str, ...]] | None:
    """The root field's name, alias, directives and selections with the fragments, and
    the variables they use. Its arguments are left out: for a live build log they pick
    the feed (`buildId`) or only the replay (`after`), never the shape of a payload."""
    try:
        document = parse(query)
    except GraphQLError:
        return None
    operation = get_operation_ast(document, operation_name)
    if operation is None or len(operation.selection_set.selections) != 1:
        return None
    root = operation.selection_set.selections[0]
    if not isinstance(root, FieldNode):
        return None  # a root fragment: fall back to the whole document
    nodes: list[Node] = [*(root.directives or ())]
    nodes += [root.selection_set] if root.selection_set else []
    nodes += [d for d in document.definitions if isinstance(d, FragmentDefinitionNode)]
    parts = [root.name.value, root.alias.value if root.alias else "", *map(print_ast, nodes)]
    # A `$` inside a string literal adds a variable that is not one: sharing less, safely.
    names = sorted(set(_VARIABLE.findall("\n".join(parts))))
    definitions = operation.variable_definitions or ()
    parts += [print_ast(d) for d in definitions if d.variable.name.value in names]
    return "\n".join(parts), tuple(names)


def selection_key(
    query: str, operation_name: str | None, variables: dict[str, Any] | None
) -> Hashable:
    """Operations with the same key get the same payload for the same live batch."""
    given = variables or {}
    shape = _shape(query, operation_name)
    if shape is None:
        return (query, operation_name, orjson.dumps(given, option=orjson.OPT_SORT_KEYS))
    text, names = shape
    # Absent and null differ: an absent variable takes its default.
    used = [(n, n in given, orjson.dumps(given.get(n), option=orjson.OPT_SORT_KEYS)) for n in names]
    return text, tuple(used)


def install_shared_tail(
    handler: Any, op_id: str, message_type: str, payload: Mapping[str, Any]
) -> None:
    """Give this operation's task (the caller) the process's shared live tail."""
    app = handler.websocket.ws.app
    if app.state.deps.settings.log_fanout != "shared":
        return
    fanout = getattr(app.state, "log_fanout", None)
    if fanout is None:
        fanout = LogFanout(app.state.deps, handler.schema, handler.view.encode_json_string)
        app.state.log_fanout = fanout
    id_json = handler.view.encode_json_string(op_id)
    # Key order as strawberry's NextMessage / DataMessage, so frames match byte for byte.
    if message_type == "next":
        prefix = f'{{"id":{id_json},"type":"next","payload":'
    else:
        prefix = f'{{"type":"data","id":{id_json},"payload":'
    query, variables, name = payload["query"], payload["variables"], payload["operationName"]
    key = selection_key(query, name, variables)
    slot = OperationSlot(
        op_id, prefix, query, variables, name, key, handler.context, handler.websocket.send_frame
    )
    build_logs.shared_tail.set(OperationTail(fanout, slot))


class _DocumentCheck:
    """Parse before strawberry does, so that a bad document is answered as a GraphQL error."""

    view: Any

    def document_errors(
        self, payload: dict[str, Any], *, subscriptions_only: bool = False
    ) -> list[GraphQLFormattedError]:
        settings = getattr(self.view, "settings", None)
        try:
            document = parse(payload["query"], max_tokens=getattr(settings, "max_tokens", None))
        except GraphQLError as error:
            return [error.formatted]
        if not subscriptions_only:
            return []
        # strawberry's legacy handler runs subscriptions only; anything else failed
        # inside it and was masked as an internal error (and logged as a bug).
        name = payload.get("operationName")
        operation = get_operation_ast(document, name)
        if operation is None:
            message = (
                f"Unknown operation named '{name}'."
                if name
                else "Must provide operation name if query contains multiple operations."
            )
            return [{"message": message}]
        if operation.operation != OperationType.SUBSCRIPTION:
            return [
                {
                    "message": "graphql-ws (legacy) runs subscriptions only: "
                    "use graphql-transport-ws for queries and mutations"
                }
            ]
        return []


class StratusTransportWSHandler(_DocumentCheck, BaseGraphQLTransportWSHandler[Any, None]):
    async def handle_message(self, message: Any) -> None:
        problem = transport_message_problem(message)
        if problem is not None:
            await self.handle_invalid_message(problem)
            return
        if "payload" in message and message["payload"] is None:
            # `payload: null` is allowed by PROTOCOL.md; strawberry closes 4400 on it.
            message = {k: v for k, v in message.items() if k != "payload"}
        if (
            message["type"] == "subscribe"
            and self.connection_acknowledged
            and message["id"] not in self.operations
        ):
            errors = self.document_errors(message["payload"])
            if errors:
                await self.send_message(
                    TransportErrorMessage(id=message["id"], type="error", payload=errors)
                )
                return
        await super().handle_message(message)

    async def run_operation(self, operation: Operation[Any, None]) -> None:
        install_shared_tail(
            self,
            operation.id,
            "next",
            {
                "query": operation.query,
                "variables": operation.variables,
                "operationName": operation.operation_name,
            },
        )
        await super().run_operation(operation)

    async def handle_task_exception(self, error: Exception) -> None:
        # A client that went away mid-stream is how subscriptions end, not a server error.
        if not isinstance(error, WebSocketDisconnected):
            await super().handle_task_exception(error)


class StratusWSHandler(_DocumentCheck, BaseGraphQLWSHandler[Any, None]):
    """Legacy `graphql-ws` (subscriptions-transport-ws): errors are reported as messages
    (as its reference server does) rather than by closing the socket."""

    async def handle_message(self, message: Any) -> None:
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            await self.send_message(
                ConnectionErrorMessage(
                    type="connection_error", payload={"message": "invalid message"}
                )
            )
            return
        if message["type"] in ("start", "stop") and not _is_id(message.get("id")):
            await self.send_message(
                ConnectionErrorMessage(
                    type="connection_error", payload={"message": "id must be a non-empty string"}
                )
            )
            return
        if message["type"] == "start" and self.connection_acknowledged:
            problem = operation_problem(message.get("payload"))
            errors: list[GraphQLFormattedError] = (
                [{"message": problem}]
                if problem
                else self.document_errors(message["payload"], subscriptions_only=True)
            )
            if errors:
                await self.send_message(
                    LegacyErrorMessage(type="error", id=message["id"], payload=errors[0])
                )
                return
        await super().handle_message(cast("OperationMessage", message))

    async def handle_async_results(
        self,
        operation_id: str,
        query: str,
        operation_name: str | None,
        variables: dict[str, object] | None,
    ) -> None:
        install_shared_tail(
            self,
            operation_id,
            "data",
            {"query": query, "variables": variables, "operationName": operation_name},
        )
        await super().handle_async_results(operation_id, query, operation_name, variables)
