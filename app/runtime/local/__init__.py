"""The local runtime: each release as supervised processes on this machine (`make up`)."""

from app.runtime.local.replica import Backoff
from app.runtime.local.runtime import LocalRuntime

__all__ = ["Backoff", "LocalRuntime"]
