"""Per-request facts (request id, client address) carried in context variables.

Context variables rather than arguments because the JSON log formatter and the
audit writer both need them, from very different depths of the call stack.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RequestMeta:
    request_id: str = ""
    ip: str = ""
    user_agent: str = ""


current_request: contextvars.ContextVar[RequestMeta] = contextvars.ContextVar(
    "current_request", default=RequestMeta()
)
