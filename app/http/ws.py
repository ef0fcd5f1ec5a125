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
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from graphql import GraphQLError, GraphQLFormattedError, OperationType, get_operation_ast, parse
from starlette.websockets import WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
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
        try:
            await self.ws.send_text(self.view.encode_json_string(message))
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc


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
