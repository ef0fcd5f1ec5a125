"""`make bench`: the dashboard's project-list page, Stratus against one raw SQL statement.

Seeds a fresh `stratus_bench` database, starts ONE uvicorn worker of the real app and the raw
baseline (bench/raw_app.py), checks both answer the same data, counts SQL statements per
request at several page sizes, then loads both alternately with wrk and prints req/s,
latency, CPU per request and the ratios. Figures only: nothing here asserts a timing.

    python -m bench.dashboard [--duration 10] [--rounds 3] [--conns 20] [--variables 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import redis

from app.security.tokens import issue_access_token
from bench import query
from bench.load import HERE, Server, metric_total, run_wrk, uvicorn
from bench.seed import Shape, recreate_database, seed

DEFAULT_DATABASE = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
BENCH_DB = "stratus_bench"
BENCH_REDIS_DB = 14
PAGE_SIZES = (5, 10, 20)
# Measured on this kind of machine for a comparable nested page (see docs/performance.md).
REFERENCE = {"strawberry + DataLoaders": 24, "PostGraphile v5": 400, "raw SQL": 950}


def _plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def server_urls() -> tuple[str, str]:
    """DATABASE_URL / REDIS_URL, else the local defaults, else the embedded servers."""
    db, rd = os.environ.get("DATABASE_URL", ""), os.environ.get("REDIS_URL", "")
    state = Path(os.environ.get("STRATUS_STATE_DIR", ".stratus"))
    if not db:
        if _reachable("127.0.0.1", 5432):
            db = DEFAULT_DATABASE
        else:
            from app.embedded import start_postgres

            db = start_postgres(state)
    if not rd:
        if _reachable("127.0.0.1", 6379):
            rd = DEFAULT_REDIS
        else:
            from app.embedded import start_redis

            rd = start_redis(state)
    return _plain(db), _with_redis_db(rd, BENCH_REDIS_DB)


def _with_redis_db(url: str, index: int) -> str:
    base, sep, query = url.partition("?")
    base = base.rstrip("/")
    head, _, tail = base.rpartition("/")
    if tail.isdigit() and "//" in head:
        base = head
    return f"{base}/{index}" + (sep + query if sep else "")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _secrets() -> dict[str, str]:
    key = secrets.token_bytes(32)
    import base64

    return {
        "STRATUS_JWT_SECRET": "bench-" + secrets.token_urlsafe(32),
        "STRATUS_DIGEST_KEY": "bench-" + secrets.token_urlsafe(32),
        "STRATUS_SECRET_KEYS": "bench1:" + base64.b64encode(key).decode(),
    }


def make_servers(db_url: str, redis_url: str, env: dict[str, str], token: str) -> list[Server]:
    stratus_env = {
        **env,
        "DATABASE_URL": db_url,
        "REDIS_URL": redis_url,
        "STRATUS_ENV": "production",
        "STRATUS_LOG_LEVEL": "WARNING",
        # The limiter still runs on every request; it just never refuses one.
        "STRATUS_RATE_LIMIT_CAPACITY": "1000000000",
        "STRATUS_RATE_LIMIT_REFILL_PER_SECOND": "1000000000",
    }
    sport, rport = _free_port(), _free_port()
    stratus = Server(
        "stratus",
        uvicorn("app.main:create_app", sport, factory=True),
        stratus_env,
        sport,
        headers={"authorization": f"Bearer {token}"},
        metrics=True,
    )
    raw = Server("raw-sql", uvicorn("bench.raw_app:app", rport), {"BENCH_DSN": db_url}, rport)
    return [stratus, raw]


def check_same_data(stratus: Server, raw: Server, slug: str, first: int) -> int:
    body = query.body(slug, first)
    ours, floor = stratus.post(body)["data"], raw.post(body)["data"]
    if ours != floor:
        a, b = json.dumps(ours, indent=1).splitlines(), json.dumps(floor, indent=1).splitlines()
        diff = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), 0)
        raise SystemExit(
            f"raw SQL and Stratus disagree near:\n{a[diff - 2 : diff + 3]}\n"
            f"{b[diff - 2 : diff + 3]}"
        )
    return query.count_objects(ours)


def statements_by_page_size(stratus: Server, slug: str, n: int = 10) -> list[dict[str, Any]]:
    """SQL statements per request from the server's own counter, over n sequential requests."""
    rows = []
    for first in PAGE_SIZES:
        body = query.body(slug, first)
        objects = query.count_objects(stratus.post(body)["data"])  # also warms this shape
        before = metric_total(stratus.metrics_url, "stratus_db_statements_total")
        for _ in range(n):
            stratus.post(body)
        after = metric_total(stratus.metrics_url, "stratus_db_statements_total")
        rows.append(
            {
                "page_size": first,
                "objects": objects,
                "sql_statements_per_req": round((after - before) / n, 2),
            }
        )
    return rows


def _median(rows: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(r[key] for r in rows))


def summarise(results: list[dict[str, Any]]) -> dict[str, Any]:
    by = {name: [r for r in results if r["server"] == name] for name in ("stratus", "raw-sql")}
    summary: dict[str, Any] = {}
    for name, rows in by.items():
        summary[name] = {
            k: _median(rows, k)
            for k in (
                "rps",
                "p50_ms",
                "p99_ms",
                "server_cpu_ms_per_req",
                "postgres_cpu_ms_per_req",
                "sql_statements_per_req",
                "server_cpu_pct",
                "other_cpu_pct",
            )
        }
        summary[name]["rps_each_round"] = [r["rps"] for r in rows]
    pairs = list(zip(by["stratus"], by["raw-sql"], strict=True))
    summary["ratio_rps_raw_over_stratus"] = statistics.median(b["rps"] / a["rps"] for a, b in pairs)
    summary["ratio_cpu_stratus_over_raw"] = statistics.median(
        a["server_cpu_ms_per_req"] / b["server_cpu_ms_per_req"] for a, b in pairs
    )
    return summary


def print_table(summary: dict[str, Any], statements: list[dict[str, Any]], objects: int) -> None:
    print(f"\nDashboard page: {objects} objects, one uvicorn worker each, medians of the rounds\n")
    print(
        "| server | req/s (each round) | p50 ms | p99 ms | server CPU ms/req "
        "| PostgreSQL CPU ms/req | SQL statements/req | other tenants CPU % |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name in ("stratus", "raw-sql"):
        s = summary[name]
        each = ", ".join(f"{x:.0f}" for x in s["rps_each_round"])
        print(
            f"| {name} | **{s['rps']:.1f}** ({each}) | {s['p50_ms']:.1f} | {s['p99_ms']:.1f} | "
            f"{s['server_cpu_ms_per_req']:.2f} | {s['postgres_cpu_ms_per_req']:.2f} | "
            f"{s['sql_statements_per_req']:.2f} | {s['other_cpu_pct']:.0f} |"
        )
    print(
        f"\nraw/stratus req/s: {summary['ratio_rps_raw_over_stratus']:.2f}x; "
        f"stratus/raw server CPU per request: {summary['ratio_cpu_stratus_over_raw']:.2f}x "
        "(per-round paired medians)"
    )
    print("\n| page size (projects) | objects | SQL statements/req |\n|---|---|---|")
    for row in statements:
        print(f"| {row['page_size']} | {row['objects']} | {row['sql_statements_per_req']:.2f} |")
    ref = ", ".join(f"{k} ~{v} req/s" for k, v in REFERENCE.items())
    print(f"\nReference (comparable 221-object page, same kind of machine): {ref}")


def _git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=HERE.parent,
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain"],
            capture_output=True,
            text=True,
            check=True,
            cwd=HERE.parent,
        ).stdout.strip()
        return out.stdout.strip() + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--duration", type=float, default=10, help="seconds per wrk run")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds (stratus, raw)")
    ap.add_argument("--warmup", type=float, default=3, help="seconds of warm-up per server")
    ap.add_argument("--conns", type=int, default=20, help="wrk connections")
    ap.add_argument("--teams", type=int, default=Shape.teams)
    ap.add_argument("--projects", type=int, default=Shape.projects, help="per team (page size)")
    ap.add_argument("--variables", type=int, default=Shape.variables, help="per environment")
    ap.add_argument("--members", type=int, default=Shape.members, help="per team")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "dashboard.jsonl")
    ap.add_argument("--label", default="", help="free text stored with the results")
    ap.add_argument("--seed-only", action="store_true", help="seed the database, then stop")
    return ap.parse_args()


def prepare(args: argparse.Namespace, env: dict[str, str]) -> tuple[str, str, Any, Shape]:
    server_url, redis_url = server_urls()
    shape = Shape(args.teams, args.projects, args.variables, args.members)
    t0 = time.monotonic()
    db_url = asyncio.run(recreate_database(server_url, BENCH_DB))
    seeded = asyncio.run(
        seed(
            db_url,
            shape,
            secret_keys=env["STRATUS_SECRET_KEYS"],
            digest_key=env["STRATUS_DIGEST_KEY"],
        )
    )
    print(f"seeded {BENCH_DB} in {time.monotonic() - t0:.1f}s: {seeded.rows}", file=sys.stderr)
    return db_url, redis_url, seeded, shape


def measure(args: argparse.Namespace, servers: list[Server], slug: str) -> dict[str, Any]:
    stratus, raw = servers
    objects = check_same_data(stratus, raw, slug, args.projects)
    check_same_data(stratus, raw, slug, 5)
    statements = statements_by_page_size(stratus, slug)
    with tempfile.NamedTemporaryFile("wb", suffix=".json", delete=False) as f:
        f.write(query.body(slug, args.projects))
    body_file = Path(f.name)
    try:
        for s in servers:  # warm-up: pools, prepared statements, caches
            run_wrk(s, body_file, duration=args.warmup, conns=args.conns)
        results = []
        for r in range(1, args.rounds + 1):
            for s in servers:
                res = {
                    "server": s.name,
                    "round": r,
                    **run_wrk(s, body_file, duration=args.duration, conns=args.conns),
                }
                print(json.dumps(res), file=sys.stderr)
                results.append(res)
    finally:
        body_file.unlink()
    return {"objects": objects, "statements": statements, "results": results}


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally: stop servers
    args = parse_args()
    if not args.seed_only and shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    env = _secrets()
    db_url, redis_url, seeded, shape = prepare(args, env)
    if args.seed_only:
        return
    token, _ = issue_access_token(
        seeded.member_user_id, uuid.uuid4(), secret=env["STRATUS_JWT_SECRET"], ttl_seconds=3600
    )
    servers = make_servers(db_url, redis_url, env, token)
    probe = query.body(seeded.team_slug, 1)
    try:
        for s in servers:
            s.start(probe, Path(tempfile.gettempdir()))
        m = measure(args, servers, seeded.team_slug)
    finally:
        for s in servers:
            s.stop()
    summary = summarise(m["results"])
    print_table(summary, m["statements"], m["objects"])
    record = {
        "kind": "summary",
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "commit": _git_commit(),
        "label": args.label,
        "machine": _machine(),
        "shape": shape.__dict__,
        "objects": m["objects"],
        "conns": args.conns,
        "duration_s": args.duration,
        "rounds": args.rounds,
        "statements_by_page_size": m["statements"],
        **summary,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("a") as f:
        for res in m["results"]:
            f.write(json.dumps({"kind": "run", "at": record["at"], **res}) + "\n")
        f.write(json.dumps(record) + "\n")
    print(f"\nresults appended to {args.out}", file=sys.stderr)


def _machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in open("/proc/cpuinfo")
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "asyncpg": asyncpg.__version__,
        "redis_py": redis.__version__,
    }


if __name__ == "__main__":
    main()
