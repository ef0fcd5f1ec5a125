"""The floor: the dashboard's JSON built by PostgreSQL in ONE statement, behind a bare route.

No GraphQL, no authentication, no ORM: asyncpg runs one prepared statement (json_agg over
correlated subqueries) and the text goes out untouched. The bench checks that its `data` is
equal to Stratus's, ids, cursors and timestamps included.

Run: BENCH_DSN=postgresql://... uvicorn bench.raw_app:app --port 18090
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator

import asyncpg
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


def gid(type_name: str, column: str) -> str:
    """resolvers.ids.to_global_id in SQL: base64url('Type:uuid'), unpadded."""
    raw = f"convert_to('{type_name}:' || {column}::text, 'UTF8')"
    return f"rtrim(translate(encode({raw}, 'base64'), E'+/\\n', '-_'), '=')"


def iso(column: str) -> str:
    """datetime.isoformat() of a UTC timestamp (the seed never has zero microseconds)."""
    return f"""to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')"""


def cursor(created_at: str, row_id: str) -> str:
    """app.domain.pagination.encode_cursor in SQL."""
    raw = f"convert_to({iso(created_at)} || '|' || {row_id}::text, 'UTF8')"
    return f"rtrim(translate(encode({raw}, 'base64'), E'+/\\n', '-_'), '=')"


VARIABLES = f"""coalesce((
  SELECT json_agg(json_build_object(
    'id', {gid("EnvironmentVariable", "v.id")}, 'key', v.key,
    'valueDigest', v.digest, 'updatedAt', {iso("v.updated_at")}) ORDER BY v.key)
  FROM environment_variables v WHERE v.environment_id = e.id), '[]'::json)"""

ENVIRONMENTS = f"""coalesce((
  SELECT json_agg(json_build_object(
    'id', {gid("Environment", "e.id")}, 'name', e.name, 'kind', upper(e.kind::text),
    'variables', {VARIABLES}) ORDER BY e.created_at, e.name)
  FROM environments e WHERE e.project_id = p.id), '[]'::json)"""

MEMBERS = f"""coalesce((
  SELECT json_agg(json_build_object(
    'id', {gid("TeamMember", "m.id")}, 'role', upper(m.role::text),
    'joinedAt', {iso("m.created_at")},
    'user', json_build_object('id', {gid("User", "u.id")}, 'name', u.name, 'email', u.email))
    ORDER BY m.created_at, m.id)
  FROM team_members m JOIN users u ON u.id = m.user_id WHERE m.team_id = t.id), '[]'::json)"""

PROJECTS = f"""json_build_object(
  'pageInfo', json_build_object(
    'hasNextPage', (SELECT count(*) FROM fetched) > $2,
    'endCursor', (SELECT {cursor("l.created_at", "l.id")} FROM page l
                  ORDER BY l.created_at DESC, l.id DESC LIMIT 1)),
  'nodes', coalesce((
    SELECT json_agg(json_build_object(
      'id', {gid("Project", "p.id")}, 'name', p.name, 'slug', p.slug,
      'framework', upper(p.framework::text), 'productionBranch', p.production_branch,
      'updatedAt', {iso("p.updated_at")}, 'environments', {ENVIRONMENTS})
      ORDER BY p.created_at, p.id)
    FROM page p), '[]'::json))"""

SQL = f"""
WITH t AS (SELECT id, name, slug FROM teams WHERE slug = $1),
fetched AS (
  SELECT p.* FROM projects p JOIN t ON p.team_id = t.id
  ORDER BY p.created_at, p.id LIMIT $2 + 1),
page AS (SELECT * FROM fetched ORDER BY created_at, id LIMIT $2)
SELECT json_build_object('data', json_build_object('teamBySlug', (
  SELECT json_build_object(
    'id', {gid("Team", "t.id")}, 'name', t.name, 'slug', t.slug,
    'members', {MEMBERS}, 'projects', {PROJECTS})
  FROM t)))::text
"""

pool: asyncpg.Pool | None = None


async def graphql(request: Request) -> Response:
    variables = orjson.loads(await request.body())["variables"]
    assert pool is not None
    async with pool.acquire() as conn:
        text = await conn.fetchval(SQL, variables["slug"], int(variables["first"]))
    return Response(text, media_type="application/json")


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    global pool
    pool = await asyncpg.create_pool(os.environ["BENCH_DSN"], min_size=20, max_size=20)
    yield
    await pool.close()


app = Starlette(routes=[Route("/graphql", graphql, methods=["POST"])], lifespan=lifespan)
