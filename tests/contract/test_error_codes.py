"""`ErrorCode` (app/errors.py) has no dead members, and the schema's `UserErrorCode` is it.

A member is used when app/ (outside its definition) names it: `ErrorCode.X`, or the
string "X" as the code of `UserInputError.one(...)`, `FieldError(...)` or `ErrorCode(...)`.
"""

from __future__ import annotations

import ast
from pathlib import Path

from graphql import GraphQLEnumType, build_schema

from app.errors import ErrorCode

ROOT = Path(__file__).resolve().parents[2]
CODE_TAKERS = {"one", "FieldError", "ErrorCode"}


def _used_codes() -> set[str]:
    used: set[str] = set()
    for path in (ROOT / "app").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "ErrorCode"
            ):
                used.add(node.attr)
            elif isinstance(node, ast.Call) and node.args:
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                first = node.args[0]
                if name in CODE_TAKERS and isinstance(first, ast.Constant):
                    used.add(str(first.value))
    return used


def test_every_error_code_is_used_in_app() -> None:
    dead = sorted(set(ErrorCode.__members__) - _used_codes())
    assert not dead, f"ErrorCode members no code in app/ raises; remove them or use them: {dead}"


def test_names_are_values() -> None:
    assert all(member.name == member.value for member in ErrorCode)


def test_schema_user_error_code_is_error_code() -> None:
    sdl = (ROOT / "graphql" / "schema" / "schema.graphql").read_text()
    enum = build_schema(sdl).get_type("UserErrorCode")
    assert isinstance(enum, GraphQLEnumType), "the SDL has no enum UserErrorCode"
    in_schema, in_code = set(enum.values), set(ErrorCode.__members__)
    assert in_schema == in_code, (
        f"only in the SDL: {sorted(in_schema - in_code)}; "
        f"only in ErrorCode: {sorted(in_code - in_schema)} (run `make schema`)"
    )
