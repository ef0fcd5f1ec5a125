"""Websocket protocol handlers (graphql-transport-ws and legacy graphql-ws).

Subclasses of strawberry's handlers; protocol fixes found by the conformance
checks (`../shared/tools/graphql-conformance/ws-protocol.mjs`) live here.
"""

from __future__ import annotations

from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler


class StratusTransportWSHandler(BaseGraphQLTransportWSHandler):  # type: ignore[type-arg]
    pass


class StratusWSHandler(BaseGraphQLWSHandler):  # type: ignore[type-arg]
    pass
