"""The ``nexus`` command: serve, migrate, manage users."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Sequence

from nexus.auth.keys import ConfigurationError
from nexus.config import Settings, get_settings
from nexus.errors import NexusError
from nexus.runtime import Runtime, build_runtime
from nexus.users.models import Role


def _runtime(settings: Settings) -> Runtime:
    try:
        return build_runtime(settings)
    except ConfigurationError as error:
        print(f"nexus: configuration error: {error}", file=sys.stderr)
        raise SystemExit(2) from error


def _sign_in_banner(settings: Settings, host: str, port: int, first_admin: object) -> str:
    from nexus.bootstrap import FirstAdmin

    url = f"http://{host}:{port}"
    lines = [f"Nexus is serving at {url}  (API docs: {url}/docs)"]
    if isinstance(first_admin, FirstAdmin) and first_admin.generated_password:
        lines += [
            f"First start: created the admin user '{first_admin.username}' with the password",
            f"    {first_admin.generated_password}",
            "It is shown only this once. Change it with POST /api/v1/users/me/password.",
        ]
    elif isinstance(first_admin, FirstAdmin):
        lines.append(
            f"First start: created the admin user '{first_admin.username}' from NEXUS_ADMIN_PASSWORD."
        )
    lines += [
        "Sign in:",
        f"    curl -s -X POST {url}/api/v1/auth/token -d username=USER -d password=PASSWORD",
        "More users: nexus users create --username NAME --role analyst --password-stdin",
    ]
    return "\n".join(lines)


def serve(args: argparse.Namespace) -> int:
    """Migrate (in development), create the first admin, and serve the API."""
    import uvicorn

    from nexus.bootstrap import ensure_first_admin
    from nexus.main import create_app
    from nexus.migrate import is_current, upgrade
    from nexus.observability.logging import configure_logging

    settings = get_settings()
    configure_logging(settings.observability.log_level, json=settings.observability.log_json)
    runtime = _runtime(settings)
    if settings.auto_migrate:
        upgrade(runtime.engine)
    elif not is_current(runtime.engine):
        print(
            "nexus: the database is not at the current migration; run `nexus migrate` first.", file=sys.stderr
        )
        return 2
    from nexus.datasets.service import sweep_interrupted
    from nexus.datasets.storage import DatasetStore

    sweep_interrupted(runtime.sessions, DatasetStore(settings.storage.data_dir))
    from nexus.documents.service import sweep_interrupted as sweep_documents

    sweep_documents(runtime.sessions, runtime.rag)
    first_admin = ensure_first_admin(runtime)
    if first_admin is None and settings.is_production:
        print("nexus: no users yet? create one with `nexus users create`.", file=sys.stderr)
    host = args.host or settings.server.host
    port = args.port or settings.server.port
    print(_sign_in_banner(settings, host, port, first_admin), flush=True)
    uvicorn.run(
        create_app(settings, runtime=runtime),
        host=host,
        port=port,
        proxy_headers=True,
        forwarded_allow_ips=settings.server.forwarded_allow_ips,
        access_log=False,
        log_config=None,
        server_header=False,
        # chromadb brings uvicorn[standard]; keep the event loop and HTTP parser the suite is run with.
        loop="asyncio",
        http="h11",
    )
    return 0


def migrate(_args: argparse.Namespace) -> int:
    """Apply all migrations."""
    from nexus.migrate import current_revisions, upgrade

    runtime = _runtime(get_settings())
    upgrade(runtime.engine)
    print(f"nexus: database at revision {', '.join(sorted(current_revisions(runtime.engine)))}")
    runtime.close()
    return 0


def create_user(args: argparse.Namespace) -> int:
    """Create a user, reading the password from stdin or a prompt."""
    from nexus.migrate import is_current
    from nexus.users.service import UserService

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            print("nexus: the passwords differ.", file=sys.stderr)
            return 1
    runtime = _runtime(get_settings())
    if not is_current(runtime.engine):
        print(
            "nexus: the database is not at the current migration; run `nexus migrate` first.", file=sys.stderr
        )
        return 2
    with runtime.sessions() as session:
        service = UserService(session, runtime.passwords, runtime.settings.auth.password_min_length)
        try:
            user = service.create(args.username, password, Role(args.role))
        except NexusError as error:
            print(f"nexus: {error.detail}", file=sys.stderr)
            return 1
    print(f"nexus: created {user.role.value} '{user.username}' ({user.id})")
    runtime.close()
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``nexus`` command."""
    parser = argparse.ArgumentParser(prog="nexus", description="Nexus: ask questions of your own data.")
    commands = parser.add_subparsers(dest="command", required=True)

    serve_parser = commands.add_parser("serve", help="serve the API (settings from NEXUS_* variables)")
    serve_parser.add_argument("--host", help="address to listen on (default NEXUS_HOST or 127.0.0.1)")
    serve_parser.add_argument("--port", type=int, help="port to listen on (default NEXUS_PORT or 8000)")
    serve_parser.set_defaults(handler=serve)

    migrate_parser = commands.add_parser("migrate", help="apply database migrations")
    migrate_parser.set_defaults(handler=migrate)

    users = commands.add_parser("users", help="manage users").add_subparsers(
        dest="users_command", required=True
    )
    create = users.add_parser("create", help="create a user")
    create.add_argument("--username", required=True)
    create.add_argument("--role", choices=[role.value for role in Role], default=Role.ANALYST.value)
    create.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    create.set_defaults(handler=create_user)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``nexus`` command."""
    args = build_parser().parse_args(argv)
    result: int = args.handler(args)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
