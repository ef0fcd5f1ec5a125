"""The dependency direction of docs/architecture.md, checked on every module's AST.

| package     | must not import                                                       |
|-------------|-----------------------------------------------------------------------|
| `db`        | `app`, `resolvers`, `jobs`                                            |
| `app`       | `resolvers`, `jobs` (composition root excepted, see below)            |
| `resolvers` | `jobs`; SQL (see below)                                               |
| `jobs`      | `resolvers`                                                           |

Every import counts: module level, inside functions, under `if TYPE_CHECKING:`.

Composition root. `app/main.py` and `app/cli.py` wire everything together and may import
anything. `app/http/view.py` is main.py's GraphQL view in its own file: it may import
`resolvers.context` (it builds the per-request `Context`), and nothing else of `resolvers`.

"No SQL in resolvers", decided as:
- `sqlalchemy`: only `AsyncSession` and `async_sessionmaker` from `sqlalchemy.ext.asyncio`,
  for the session a resolver opens and hands to a domain function. No `select`, no
  `sqlalchemy.orm`, no other sqlalchemy module.
- `db`: only `db.enums` and `db.models`. `db.models` is allowed because the `from_row`
  classmethods and loaders are typed with ORM rows (`models.Project`) and read instance
  attributes; it is only for typing and row reads. Class-level attribute access, e.g.
  `models.User.id` or `User.email` after `from db.models import User`, builds column
  expressions, i.e. SQL, and is forbidden.
- no statement execution: no `.execute()`, `.scalars()`, `.scalar()`, `.stream()`,
  `.stream_scalars()` calls (on anything but `strawberry`).
Queries belong in `app.domain`; a loader calls a domain function with the batch's keys.

KNOWN_DEBT lists violations that exist today, by file and what they do (no line numbers);
the test fails when an entry stops matching, so fixed debt leaves the list.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("app", "db", "resolvers", "jobs")

FORBIDDEN = {
    "db": ("app", "resolvers", "jobs"),
    "app": ("resolvers", "jobs"),
    "resolvers": ("jobs",),
    "jobs": ("resolvers",),
}
COMPOSITION_ROOT = {
    "app/main.py": ("resolvers", "jobs"),
    "app/cli.py": ("resolvers", "jobs"),
    "app/http/view.py": ("resolvers.context",),
}
RESOLVER_SQLALCHEMY = {"sqlalchemy.ext.asyncio": {"AsyncSession", "async_sessionmaker"}}
RESOLVER_DB = ("db.enums", "db.models")
SQL_CALLS = {"execute", "scalars", "scalar", "stream", "stream_scalars"}

# (file, what): the users loader still runs its own SELECT. Fix: a domain function
# (e.g. `accounts.users_by_ids(session, ids)`) called from the loader, then delete these.
KNOWN_DEBT: set[tuple[str, str]] = set()


@dataclass(frozen=True)
class Violation:
    path: str
    line: int
    what: str
    rule: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what} ({self.rule})"


def _modules(package: str) -> Iterator[tuple[str, ast.Module]]:
    for path in sorted((ROOT / package).rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        yield rel, ast.parse(path.read_text(), filename=rel)


def _absolute(rel: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    parts = rel.removesuffix(".py").split("/")
    base = parts[: len(parts) - node.level]  # the module's package, then its parents
    return ".".join([*base, *([node.module] if node.module else [])])


def _imports(rel: str, tree: ast.Module) -> Iterator[tuple[int, str, tuple[str, ...]]]:
    """(line, module, names): `import a.b` -> ("a.b", ()); `from a import b` -> ("a", ("b",))."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, ()
        elif isinstance(node, ast.ImportFrom):
            yield node.lineno, _absolute(rel, node), tuple(a.name for a in node.names)


def _within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def _targets(module: str, names: tuple[str, ...]) -> list[str]:
    # `from db import models` imports db.models; `from db.models import User` imports db.models.
    return [f"{module}.{n}" for n in names] if names else [module]


def _hit(module: str, names: tuple[str, ...], banned: str, allowed: tuple[str, ...]) -> str:
    """What of this import statement falls under `banned` and not under `allowed` ("": none)."""
    hits = [
        t
        for t in _targets(module, names)
        if _within(t, banned) and not any(_within(t, a) for a in allowed)
    ]
    if hits and module != banned and _within(module, banned):
        return module
    return ", ".join(hits)


def _direction(package: str, rel: str, tree: ast.Module) -> Iterator[Violation]:
    allowed = COMPOSITION_ROOT.get(rel, ())
    for line, module, names in _imports(rel, tree):
        for banned in FORBIDDEN[package]:
            if what := _hit(module, names, banned, allowed):
                yield Violation(rel, line, f"imports {what}", f"{package} -> {banned}")


def _resolver_sql(rel: str, tree: ast.Module) -> Iterator[Violation]:
    rule = "no SQL in resolvers"
    module_names: set[str] = set()  # names bound to the db.models module
    class_names: set[str] = set()  # names bound to ORM classes
    for line, module, names in _imports(rel, tree):
        if _within(module, "sqlalchemy"):
            allowed = RESOLVER_SQLALCHEMY.get(module)
            if allowed is None or not names or not set(names) <= allowed:
                what = f"from {module} import {', '.join(names)}" if names else f"import {module}"
                yield Violation(rel, line, what, rule)
        if what := _hit(module, names, "db", RESOLVER_DB):
            yield Violation(rel, line, f"imports {what}", rule)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "db":
            module_names |= {a.asname or a.name for a in node.names if a.name == "models"}
        elif isinstance(node, ast.ImportFrom) and node.module == "db.models":
            class_names |= {a.asname or a.name for a in node.names}
        elif isinstance(node, ast.Import):
            module_names |= {a.asname for a in node.names if a.name == "db.models" and a.asname}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        inner = node.value
        if (
            isinstance(inner, ast.Attribute)
            and isinstance(inner.value, ast.Name)
            and inner.value.id in module_names
        ):
            yield Violation(rel, node.lineno, f"{inner.value.id}.{inner.attr}.{node.attr}", rule)
        elif isinstance(inner, ast.Name) and inner.id in class_names:
            yield Violation(rel, node.lineno, f"{inner.id}.{node.attr}", rule)
    # Only calls count: `line.stream` (an attribute named like a method) is not SQL.
    for call in ast.walk(tree):
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)):
            continue
        func = call.func
        if func.attr in SQL_CALLS and not (
            isinstance(func.value, ast.Name) and func.value.id == "strawberry"
        ):
            yield Violation(rel, func.lineno, f".{func.attr}() call", rule)


@functools.cache
def _violations() -> tuple[Violation, ...]:
    found: list[Violation] = []
    for package in PACKAGES:
        for rel, tree in _modules(package):
            found += _direction(package, rel, tree)
            if package == "resolvers":
                found += _resolver_sql(rel, tree)
    return tuple(found)


def test_dependency_direction() -> None:
    found = _violations()
    new = [v for v in found if (v.path, v.what) not in KNOWN_DEBT]
    assert not new, "imports against docs/architecture.md:\n" + "\n".join(map(str, new))


def test_known_debt_still_exists() -> None:
    current = {(v.path, v.what) for v in _violations()}
    fixed = sorted(KNOWN_DEBT - current)
    assert not fixed, f"fixed, so delete from KNOWN_DEBT in {Path(__file__).name}: {fixed}"


def _check_source(rel: str, source: str) -> list[str]:
    package = rel.split("/")[0]
    tree = ast.parse(source)
    found = list(_direction(package, rel, tree))
    if package == "resolvers":
        found += _resolver_sql(rel, tree)
    return [str(v) for v in found]


def test_the_checker_catches_what_it_should() -> None:
    # The rules themselves, on small sources (so a silent checker cannot pass).
    assert _check_source("db/models/x.py", "from app.settings import Settings\n") == [
        "db/models/x.py:1: imports app.settings (db -> app)"
    ]
    assert _check_source("app/domain/x.py", "def f():\n    from jobs import worker\n") == [
        "app/domain/x.py:2: imports jobs.worker (app -> jobs)"
    ]
    assert _check_source("app/main.py", "from resolvers.schema import build_schema\n") == []
    assert _check_source("app/http/view.py", "from resolvers.schema import x\n") != []
    assert _check_source("jobs/x.py", "from ..resolvers import schema\n") == [
        "jobs/x.py:1: imports resolvers.schema (jobs -> resolvers)"
    ]
    ok = (
        "from sqlalchemy.ext.asyncio import AsyncSession\n"
        "from db import models\nfrom db.enums import TeamRole\n"
        "def f(row: models.User) -> str:\n    return row.email\n"
    )
    assert _check_source("resolvers/x.py", ok) == []
    bad = (
        "import sqlalchemy as sa\nfrom sqlalchemy.orm import selectinload\n"
        "from db.engine import make\nfrom db.models import User\n"
        "async def f(s):\n    return await s.execute(User.email == 'x')\n"
    )
    assert sorted(_check_source("resolvers/x.py", bad)) == [
        "resolvers/x.py:1: import sqlalchemy (no SQL in resolvers)",
        "resolvers/x.py:2: from sqlalchemy.orm import selectinload (no SQL in resolvers)",
        "resolvers/x.py:3: imports db.engine (no SQL in resolvers)",
        "resolvers/x.py:6: .execute() call (no SQL in resolvers)",
        "resolvers/x.py:6: User.email (no SQL in resolvers)",
    ]
    assert _check_source("resolvers/x.py", "import strawberry\nS = strawberry.scalar(str)\n") == []
    # An attribute that merely shares a name with a session method is not a call.
    assert _check_source("resolvers/x.py", "def f(line):\n    return line.stream\n") == []
