"""Global ids for resolvers (the codec lives in `app.ids`)."""

from app.ids import from_global_id, parse_id, to_global_id

__all__ = ["from_global_id", "parse_id", "to_global_id"]
