"""The `stratus` command: serve, worker, up, down, migrate, export-schema, create-user."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from app.settings import Settings, SettingsError, load_settings

SCHEMA_PATH = Path("graphql/schema/schema.graphql")


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        print(f"stratus: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _with_services(settings: Settings) -> Settings:
    """Fill in embedded PostgreSQL/Redis when DATABASE_URL/REDIS_URL are not set."""
    if settings.database_url and settings.redis_url:
        return settings
    from app.embedded import ensure_services

    return ensure_services(settings)


def cmd_migrate(args: argparse.Namespace) -> None:
    from db.migrate import upgrade

    settings = _with_services(_settings())
    upgrade(settings.database_url)
    print("migrations applied")


def cmd_serve(args: argparse.Namespace) -> None:
    import uvicorn

    from app.main import create_app
    from app.observability import configure_logging

    settings = _with_services(_settings())
    configure_logging(settings.log_level)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=args.port or settings.port,
        log_config=None,
        ws="websockets",
        lifespan="on",
    )


def cmd_worker(args: argparse.Namespace) -> None:
    from app.observability import configure_logging
    from jobs.worker import run_worker

    settings = _with_services(_settings())
    configure_logging(settings.log_level)
    run_worker(settings)


def cmd_export_schema(args: argparse.Namespace) -> None:
    from resolvers.schema import build_schema

    sdl = str(build_schema()) + "\n"
    if args.output == "-":
        sys.stdout.write(sdl)
    else:
        Path(args.output).write_text(sdl)
        print(f"wrote {args.output}")


def cmd_create_user(args: argparse.Namespace) -> None:
    from app.deps import Deps
    from app.domain import accounts
    from app.uow import transaction

    settings = _with_services(_settings())
    password = args.password or os.environ.get("STRATUS_ADMIN_PASSWORD") or getpass.getpass()

    async def create() -> None:
        deps = await Deps.open(settings, with_queue=False)
        try:
            async with transaction(deps, None) as uow:
                user = await accounts.create_user(
                    uow, email=args.email, password=password, name=args.name or "", is_admin=True
                )
            print(f"created {user.email}")
        finally:
            await deps.close()

    from app.errors import UserInputError

    try:
        asyncio.run(create())
    except UserInputError as exc:
        print(f"stratus: {exc}", file=sys.stderr)
        raise SystemExit(1) from None


def cmd_up(args: argparse.Namespace) -> None:
    """Everything for a laptop: services, migrations, API and worker, until Ctrl-C."""
    settings = _with_services(_settings())
    from db.migrate import upgrade

    upgrade(settings.database_url)
    env = {**os.environ, "DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url}
    exe = [sys.executable, "-m", "app.cli"]
    router = [
        sys.executable,
        "-m",
        "app.runtime.router",
        "--port",
        str(settings.router_port),
        "--admin-port",
        "0",
        "--redis-url",
        settings.redis_url,
        "--key-prefix",
        settings.router_key_prefix,
    ]
    procs = [
        subprocess.Popen([*exe, "serve"], env=env),
        subprocess.Popen([*exe, "worker"], env=env),
        subprocess.Popen(router, env=env),
    ]
    url = f"http://{settings.host}:{settings.port}"
    print(
        f"""
Stratus is up.
  GraphQL API     {url}/graphql   (GraphiQL in a browser)
  Subscriptions   ws://{settings.host}:{settings.port}/graphql
  Health          {url}/readyz    Metrics {url}/metrics
  Deployed apps   http://<project>-<environment>.localhost:{settings.router_port}  (router)
Sign in: create an account with the signUp mutation, or
  .venv/bin/stratus create-user --email you@example.com
Ctrl-C stops the API, worker and router (the embedded databases keep running; `stratus down`).
""",
        flush=True,
    )
    stop = False

    def on_signal(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    while not stop and all(p.poll() is None for p in procs):
        time.sleep(0.5)
    for p in procs:
        p.terminate()
    for p in procs:
        p.wait(timeout=15)


def cmd_down(args: argparse.Namespace) -> None:
    from app.embedded import stop_services

    stop_services(_settings().state_dir)
    print("embedded services stopped")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="stratus", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the GraphQL API")
    serve.add_argument("--port", type=int, default=0)
    serve.set_defaults(func=cmd_serve)
    sub.add_parser("worker", help="run the job worker").set_defaults(func=cmd_worker)
    sub.add_parser("up", help="services + migrations + API + worker + router").set_defaults(
        func=cmd_up
    )
    sub.add_parser("down", help="stop embedded services").set_defaults(func=cmd_down)
    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=cmd_migrate)
    export = sub.add_parser("export-schema", help="print or write the GraphQL SDL")
    export.add_argument("--output", "-o", default=str(SCHEMA_PATH))
    export.set_defaults(func=cmd_export_schema)
    cu = sub.add_parser("create-user", help="create a user (admin) and a personal team")
    cu.add_argument("--email", required=True)
    cu.add_argument("--name", default="")
    cu.add_argument("--password", default="")
    cu.set_defaults(func=cmd_create_user)
    args = parser.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
