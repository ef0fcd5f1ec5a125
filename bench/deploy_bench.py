"""`make bench-deploy`: from the `deploy` mutation to the first 200 through the router.

For a static site and a small Python app (bench/deploy_apps.py), cold (first deploy, empty
dependency cache) and warm (redeploy of a new commit, same requirements.txt), against the
same steps run by hand in the same run (git clone, venv + pip install, start the server,
poll). Then the router's overhead: wrk against each running release directly and through
the router, alternating. Figures only: nothing here asserts a timing.

    python -m bench.deploy_bench [--rounds 2] [--duration 3] [--conns 16]

Real PostgreSQL (a scratch `stratus_bench_deploy` database), real Redis (db 11, a unique
router key prefix), a real router subprocess (`python -m app.runtime.router`), the real API
in-process (create_app + httpx ASGITransport), and the build and rollout jobs run in-process
(`build_runner.run`, `rollout.run` with a LocalRuntime) with the default deploy settings.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from app.deps import Deps
from app.domain import build_runner, rollout
from app.ids import parse_id
from app.main import create_app
from app.runtime.build.artifacts import FilesystemArtifactStore
from app.runtime.local import LocalRuntime
from app.runtime.router.keys import RouterKeys
from app.runtime.router.table import RouteTable
from app.settings import Settings
from bench.dashboard import _free_port, _git_commit, _machine, _with_redis_db, server_urls
from bench.deploy_apps import Repo, create_repo, git, python_files, static_files
from bench.load import HERE, HZ, _ms, _search, machine_busy_ticks
from bench.seed import recreate_database
from db import models
from db.engine import async_url

BENCH_DB = "stratus_bench_deploy"
BENCH_REDIS_DB = 11
POLL_S = 0.02
TARGET_WARM_S = {"static": 3.0, "python": 10.0}
TARGET_ROUTER_P50_MS = 1.0

SIGN_UP = """mutation($i: SignUpInput!) { signUp(input: $i) {
  accessToken userErrors { code message } } }"""
TEAMS = "{ viewer { teams { id } } }"
CREATE_PROJECT = """mutation($i: CreateProjectInput!) { createProject(input: $i) {
  project { id slug } userErrors { code message field } } }"""
DEPLOY = """mutation($i: DeployInput!) { deploy(input: $i) {
  deployment { id } userErrors { code message field } } }"""


# --- CPU accounting: this process tree against the whole (shared) machine -------------------


def _tree_ticks() -> dict[int, int]:
    """utime+stime of every live descendant of this process (router, releases, servers)."""
    parent: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                parts = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parent[int(d)] = int(parts[1])
        ticks[int(d)] = int(parts[11]) + int(parts[12])
    me, out = os.getpid(), {}
    for pid in ticks:
        p, seen = pid, 0
        while p > 1 and seen < 64:
            p, seen = parent.get(p, 0), seen + 1
            if p == me:
                out[pid] = ticks[pid]
                break
    return out


def _reaped_s() -> float:
    """CPU seconds of this process and of its children already waited for (git, pip, wrk)."""
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


@dataclass
class CpuMeter:
    """Machine busy %, ours (this process tree) % and the other tenants' % over a span."""

    t0: float = field(default_factory=time.monotonic)
    m0: int = field(default_factory=machine_busy_ticks)
    r0: float = field(default_factory=_reaped_s)
    l0: dict[int, int] = field(default_factory=_tree_ticks)

    def read(self) -> dict[str, float]:
        wall = max(time.monotonic() - self.t0, 1e-6)
        live = sum(t - self.l0.get(pid, 0) for pid, t in _tree_ticks().items())
        ours = (_reaped_s() - self.r0) + live / HZ
        machine = (machine_busy_ticks() - self.m0) / HZ
        return {
            "machine_cpu_pct": round(100 * machine / wall, 1),
            "ours_cpu_pct": round(100 * ours / wall, 1),
            "other_cpu_pct": round(max(0.0, 100 * (machine - ours) / wall), 1),
        }


# --- The Stratus side --------------------------------------------------------------------


@dataclass
class Stage:
    client: httpx.AsyncClient
    deps: Deps
    runtime: LocalRuntime
    router_port: int
    keys: RouterKeys
    token: str = ""
    team_id: str = ""
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    async def ok(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        headers = {"authorization": f"Bearer {self.token}"} if self.token else {}
        r = await self.client.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        )
        body = r.json()
        if body.get("errors"):
            raise RuntimeError(body["errors"])
        data: dict[str, Any] = body["data"]
        for value in data.values():
            if isinstance(value, dict) and value.get("userErrors"):
                raise RuntimeError(value["userErrors"])
        return data

    async def sign_up(self) -> None:
        email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
        i = {"email": email, "password": "correct horse battery", "name": "bench"}
        self.token = (await self.ok(SIGN_UP, {"i": i}))["signUp"]["accessToken"]
        self.team_id = (await self.ok(TEAMS, {}))["viewer"]["teams"][0]["id"]

    async def create_project(self, name: str, repo: Repo) -> tuple[str, str]:
        i = {"teamId": self.team_id, "name": name, "gitUrl": repo.url, "healthCheckPath": "/"}
        p = (await self.ok(CREATE_PROJECT, {"i": i}))["createProject"]["project"]
        return p["id"], f"{p['slug']}-production.localhost"

    async def deploy(self, project_gid: str, host: str, marker: str) -> dict[str, Any]:
        """deploy(gitRef: main, IMMEDIATE), run its build and rollout jobs, poll the router."""
        meter, t0 = CpuMeter(), time.monotonic()
        marks: dict[str, float] = {}
        i = {"projectId": project_gid, "gitRef": "main", "strategy": "IMMEDIATE"}
        data = await self.ok(DEPLOY, {"i": i})
        dep_id = parse_id(data["deploy"]["deployment"]["id"], "Deployment")
        marks["mutation_s"] = time.monotonic() - t0
        ro = asyncio.create_task(
            rollout.run(self.deps, self.runtime, dep_id, worker_id="bench-worker")
        )
        self.tasks.append(ro)
        ro.add_done_callback(_mark(marks, "rollout_done_s", t0))
        async with self.deps.sessionmaker() as s:
            row = await s.get(models.Deployment, dep_id)
            assert row is not None and row.build_id is not None
            build_id = row.build_id
        build = asyncio.create_task(
            build_runner.run(self.deps, build_id, worker_id="bench-builder")
        )
        self.tasks.append(build)
        build.add_done_callback(_mark(marks, "build_done_s", t0))
        url = f"http://127.0.0.1:{self.router_port}/"
        served = await poll(url, marker, host=host, timeout=180, t0=t0, give_up=ro)
        status = await asyncio.wait_for(ro, 30)
        build_status = await build
        if served is None:
            raise RuntimeError(f"{host}: not served (build {build_status}, rollout {status})")
        async with self.deps.sessionmaker() as s:
            b = await s.get(models.Build, build_id)
            steps = {st["name"]: round(st["durationMs"] / 1000, 2) for st in (b.steps if b else [])}
        return {
            "seconds": round(served, 3),
            **{k: round(v, 3) for k, v in marks.items()},
            "build_status": str(getattr(build_status, "value", build_status)),
            "rollout_status": str(getattr(status, "value", status)),
            "build_steps_s": steps,
            **meter.read(),
        }


def _mark(marks: dict[str, float], key: str, t0: float) -> Callable[[Any], None]:
    return lambda _task: marks.__setitem__(key, time.monotonic() - t0)


async def poll(
    url: str,
    marker: str,
    *,
    host: str | None = None,
    timeout: float,
    t0: float,
    give_up: asyncio.Task[Any] | None = None,
) -> float | None:
    """Seconds from t0 to the first 200 whose body holds `marker` (fresh connection each)."""
    headers = {"host": host} if host else {}
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            async with httpx.AsyncClient(timeout=2) as c:
                r = await c.get(url, headers=headers)
            if r.status_code == 200 and marker in r.text:
                return time.monotonic() - t0
        except httpx.HTTPError:
            pass
        if give_up is not None and give_up.done():
            if _failed(give_up):
                return None
            end = min(end, time.monotonic() + 15)  # active: the router has 15 s to follow
        await asyncio.sleep(POLL_S)
    return None


def _failed(task: asyncio.Task[Any]) -> bool:
    if task.cancelled() or task.exception() is not None:
        return True
    status = task.result()
    return status is None or str(getattr(status, "value", status)) != "active"


# --- The baseline: the same steps by hand, no Stratus -----------------------------------


@dataclass
class ByHand:
    base: Path
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def _run(self, *argv: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> None:
        subprocess.run(argv, check=True, capture_output=True, env=env, cwd=cwd)

    def _start(self, argv: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.procs.append(
            subprocess.Popen(
                argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
        )

    def deploy(self, kind: str, repo: Repo, marker: str, release: str) -> dict[str, Any]:
        meter, t0 = CpuMeter(), time.monotonic()
        env = {**os.environ, "PIP_CACHE_DIR": str(self.base / "pip-cache")}
        src, venv = self.base / f"{kind}-{release}", self.base / f"{kind}-venv"
        git("clone", "-q", repo.url, str(src))
        marks = {"clone_s": time.monotonic() - t0}
        port = _free_port()
        if kind == "static":
            argv = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
            self._start([*argv, "--directory", str(src)], src, env)
        else:
            if not venv.exists():  # cold: a new venv; warm: the one from the first deploy
                self._run(sys.executable, "-m", "venv", str(venv))
            pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
            self._run(*pip, "-r", "requirements.txt", env=env, cwd=src)
            marks["install_done_s"] = time.monotonic() - t0
            self._start([str(venv / "bin" / "python"), "app.py"], src, {**env, "PORT": str(port)})
        served = asyncio.run(poll(f"http://127.0.0.1:{port}/", marker, timeout=60, t0=t0))
        if served is None:
            raise RuntimeError(f"by hand: {kind} {release} not served")
        return {
            "seconds": round(served, 3),
            "port": port,
            **{k: round(v, 3) for k, v in marks.items()},
            **meter.read(),
        }

    def stop(self) -> None:
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


# --- Router overhead --------------------------------------------------------------------


def run_wrk(url: str, *, host: str | None, conns: int, duration: float) -> dict[str, Any]:
    meter = CpuMeter()
    argv = ["wrk", "-t1", f"-c{conns}", f"-d{max(1, round(duration))}s", "--timeout", "10s"]
    argv += ["--latency", *(["-H", f"Host: {host}"] if host else []), url]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    non_2xx = int(_search(r"Non-2xx or 3xx responses: (\d+)", out, "0"))
    errors = _search(r"Socket errors: ([^\n]*)", out, "")
    return {
        "rps": float(_search(r"Requests/sec:\s+([\d.]+)", out)),
        "p50_ms": _ms(_search(r"\s50%\s+(\S+)", out)),
        "p99_ms": _ms(_search(r"\s99%\s+(\S+)", out)),
        "requests": int(_search(r"(\d+) requests in", out)),
        "non_2xx": non_2xx,
        "socket_errors": errors,
        **meter.read(),
    }


def router_overhead(
    apps: dict[str, tuple[str, str]], router_port: int, args: argparse.Namespace
) -> list[dict[str, Any]]:
    """apps: name -> (host, upstream). Alternates direct and through-router runs."""
    rows = []
    for name, (host, upstream) in apps.items():
        targets = {
            "direct": (f"http://{upstream}/", None),
            "router": (f"http://127.0.0.1:{router_port}/", host),
        }
        for conns in sorted({1, args.conns}):
            for url, h in targets.values():  # warm-up: connections, router table, caches
                run_wrk(url, host=h, conns=conns, duration=1)
            for r in range(1, args.rounds + 1):
                for path, (url, h) in targets.items():
                    res = {"app": name, "path": path, "conns": conns, "round": r}
                    res.update(run_wrk(url, host=h, conns=conns, duration=args.duration))
                    print(json.dumps(res), file=sys.stderr)
                    rows.append(res)
    return rows


def summarise_overhead(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    import statistics

    out = []
    for app in dict.fromkeys(r["app"] for r in rows):
        for conns in sorted({r["conns"] for r in rows if r["app"] == app}):
            sel = [r for r in rows if r["app"] == app and r["conns"] == conns]
            d = [r for r in sel if r["path"] == "direct"]
            t = [r for r in sel if r["path"] == "router"]

            def med(xs: list[dict[str, Any]], k: str) -> float:
                return float(statistics.median(x[k] for x in xs))

            pairs = list(zip(d, t, strict=True))
            out.append(
                {
                    "app": app,
                    "conns": conns,
                    "direct": {k: med(d, k) for k in ("rps", "p50_ms", "p99_ms", "other_cpu_pct")},
                    "router": {k: med(t, k) for k in ("rps", "p50_ms", "p99_ms", "other_cpu_pct")},
                    "added_p50_ms": round(
                        statistics.median(b["p50_ms"] - a["p50_ms"] for a, b in pairs), 3
                    ),
                    "added_p99_ms": round(
                        statistics.median(b["p99_ms"] - a["p99_ms"] for a, b in pairs), 3
                    ),
                    "rps_router_over_direct": round(
                        statistics.median(b["rps"] / a["rps"] for a, b in pairs), 3
                    ),
                }
            )
    return out


# --- The run ------------------------------------------------------------------------------


async def deploys(
    stage: Stage, hand: ByHand, work: Path
) -> tuple[list[dict[str, Any]], dict[str, tuple[str, str]]]:
    rows: list[dict[str, Any]] = []
    running: dict[str, tuple[str, str]] = {}
    await stage.sign_up()
    for kind, files in (("static", static_files), ("python", python_files)):
        repo = create_repo(work / "repos", kind, files("v1"))
        gid, host = await stage.create_project(f"bench-{kind}", repo)
        for phase, version in (("cold", "v1"), ("warm", "v2")):
            if version != "v1":
                repo.commit(files(version), version)  # same requirements.txt: a cache hit
            marker = f"static site {version}" if kind == "static" else f"python app {version}"
            ours = await stage.deploy(gid, host, marker)
            row = {"app": kind, "phase": phase, "side": "stratus", **ours}
            print(json.dumps(row), file=sys.stderr)
            rows.append(row)
            theirs = await asyncio.to_thread(hand.deploy, kind, repo, marker, version)
            row = {"app": kind, "phase": phase, "side": "by-hand", **theirs}
            print(json.dumps(row), file=sys.stderr)
            rows.append(row)
        backends = await RouteTable(stage.keys).get(stage.deps.redis, host) or []
        live = [b.upstream for b in backends if b.weight > 0]
        assert len(live) == 1, backends
        running[kind] = (host, live[0])
    return rows, running


def start_router(redis_url: str, prefix: str, log_dir: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    argv = [sys.executable, "-m", "app.runtime.router", "--port", str(port), "--admin-port", "0"]
    argv += ["--redis-url", redis_url, "--key-prefix", prefix, "--log-level", "WARNING"]
    log = open(log_dir / "router.log", "wb")
    proc = subprocess.Popen(argv, stdout=log, stderr=log, cwd=HERE.parent)
    deadline = time.monotonic() + 20
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/", headers={"host": "nobody.localhost"}, timeout=1)
            return proc, port
        except httpx.HTTPError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"router did not start, see {log.name}") from None
            time.sleep(0.1)


async def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    server_url, redis_base = server_urls()
    redis_url = _with_redis_db(os.environ.get("REDIS_URL") or redis_base, BENCH_REDIS_DB)
    t0 = time.monotonic()
    db_url = await recreate_database(server_url, BENCH_DB)
    print(f"created and migrated {BENCH_DB} in {time.monotonic() - t0:.1f}s", file=sys.stderr)
    prefix = f"bench:deploy:{uuid.uuid4().hex[:8]}"
    settings = Settings(
        database_url=async_url(db_url),
        redis_url=redis_url,
        env="test",  # development secrets; argon2 cheap (sign-up is not measured)
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        state_dir=work / "state",
        router_key_prefix=prefix,
    )
    router, router_port = start_router(redis_url, prefix, work)
    # No arq pool: the jobs the mutation would enqueue are run here, in-process.
    deps = await Deps.open(settings, with_queue=False)
    app = create_app(settings, deps=deps)
    app.state.deps = deps
    runtime = LocalRuntime(settings.state_dir, FilesystemArtifactStore(settings.artifacts_dir))
    hand = ByHand(work / "by-hand")
    hand.base.mkdir(parents=True)
    keys = RouterKeys(prefix)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=30) as c:
            stage = Stage(c, deps, runtime, router_port, keys)
            try:
                rows, running = await deploys(stage, hand, work)
                overhead = await asyncio.to_thread(router_overhead, running, router_port, args)
            finally:
                for task in stage.tasks:
                    task.cancel()
                await asyncio.gather(*stage.tasks, return_exceptions=True)
    finally:
        hand.stop()
        await runtime.aclose()
        router.terminate()
        router.wait(15)
        async for key in deps.redis.scan_iter(match=f"{prefix}*"):
            await deps.redis.delete(key)
        await deps.close()
    return {"deploys": rows, "overhead": overhead}


def print_tables(
    deploy_rows: list[dict[str, Any]], overhead: list[dict[str, Any]]
) -> dict[str, Any]:
    print("\nTime from the request to the first 200 with the new version (seconds)\n")
    print(
        "| app | phase | Stratus (deploy -> 200 via router) | build done | rollout done "
        "| by hand (clone -> 200) | Stratus / by hand | target | Stratus build steps s "
        "| other tenants CPU % (Stratus / by hand) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    targets: dict[str, Any] = {}
    for app in ("static", "python"):
        for phase in ("cold", "warm"):
            s = next(
                r
                for r in deploy_rows
                if (r["app"], r["phase"], r["side"]) == (app, phase, "stratus")
            )
            h = next(
                r
                for r in deploy_rows
                if (r["app"], r["phase"], r["side"]) == (app, phase, "by-hand")
            )
            ratio = s["seconds"] / h["seconds"]
            target = ""
            if phase == "warm":
                met = s["seconds"] < TARGET_WARM_S[app]
                targets[f"{app}_warm_under_{TARGET_WARM_S[app]:g}s"] = met
                target = f"< {TARGET_WARM_S[app]:g} s: {'met' if met else 'NOT met'}"
            other = f"{s['other_cpu_pct']:.0f} / {h['other_cpu_pct']:.0f}"
            steps = ", ".join(f"{k} {v:.1f}" for k, v in s.get("build_steps_s", {}).items())
            print(
                f"| {app} | {phase} | **{s['seconds']:.2f}** | {s.get('build_done_s', 0):.2f} "
                f"| {s.get('rollout_done_s', 0):.2f} | {h['seconds']:.2f} | {ratio:.1f}x "
                f"| {target} | {steps} | {other} |"
            )
    print("\nRouter overhead: wrk GET / against the release directly and through the router")
    print("(medians of the rounds; added = router minus direct, paired per round)\n")
    print(
        "| app | conns | direct req/s | router req/s | direct p50 ms | router p50 ms | added p50 ms "
        "| direct p99 ms | router p99 ms | added p99 ms | other tenants CPU % |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for o in overhead:
        d, r = o["direct"], o["router"]
        print(
            f"| {o['app']} | {o['conns']} | {d['rps']:.0f} | {r['rps']:.0f} | {d['p50_ms']:.2f} "
            f"| {r['p50_ms']:.2f} | **{o['added_p50_ms']:+.2f}** | {d['p99_ms']:.2f} "
            f"| {r['p99_ms']:.2f} | {o['added_p99_ms']:+.2f} "
            f"| {d['other_cpu_pct']:.0f} / {r['other_cpu_pct']:.0f} |"
        )
    seq = [o for o in overhead if o["conns"] == 1]
    if seq:
        worst = max(o["added_p50_ms"] for o in seq)
        targets["router_added_p50_under_1ms"] = worst <= TARGET_ROUTER_P50_MS
        print(
            f"\nrouter adds {worst:.2f} ms at p50 (worst app, 1 connection): target <= 1 ms "
            f"{'met' if worst <= TARGET_ROUTER_P50_MS else 'NOT met'}"
        )
    return targets


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rounds", type=int, default=2, help="alternating wrk rounds (direct, router)")
    ap.add_argument("--duration", type=float, default=3, help="seconds per wrk run")
    ap.add_argument("--conns", type=int, default=16, help="wrk connections (besides 1)")
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    ap.add_argument("--out", type=Path, default=HERE / "results" / f"deploy-{stamp}.jsonl")
    ap.add_argument("--label", default="", help="free text stored with the results")
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory")
    return ap.parse_args()


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally: stop servers
    args = parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("app.uow").setLevel(logging.ERROR)  # "no job queue": by design here
    work = Path(tempfile.mkdtemp(prefix="stratus-bench-deploy-"))
    started = time.monotonic()
    try:
        m = asyncio.run(run(args, work))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    overhead = summarise_overhead(m["overhead"])
    targets = print_tables(m["deploys"], overhead)
    at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    record = {
        "kind": "summary",
        "at": at,
        "commit": _git_commit(),
        "label": args.label,
        "machine": _machine(),
        "rounds": args.rounds,
        "duration_s": args.duration,
        "conns": args.conns,
        "deploys": m["deploys"],
        "overhead": overhead,
        "targets_met": targets,
        "wall_s": round(time.monotonic() - started, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("a") as f:
        for row in m["deploys"]:
            f.write(json.dumps({"kind": "deploy", "at": at, **row}) + "\n")
        for row in m["overhead"]:
            f.write(json.dumps({"kind": "wrk", "at": at, **row}) + "\n")
        f.write(json.dumps(record) + "\n")
    print(f"\nwhole run {record['wall_s']} s; results appended to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
