"""`thread-note-bot` — the console script (also `python -m bot`).

Subcommands (interface contract): serve, sandbox, demo, check; and reencrypt, copy-db, forget-workspace.
`--env-file PATH` (before or after the command) reads settings from that file instead of `./.env`.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import re
import sys
from collections.abc import Coroutine, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from bot import __version__
from bot.config import LOG_LEVELS, ConfigError, Settings

if TYPE_CHECKING:
    from bot.store import Store

T = TypeVar("T")

DEFAULT_ENV_FILE = ".env"


def _port_default(fallback: int) -> int:
    raw = os.environ.get("PORT")
    return int(raw) if raw and raw.isdigit() else fallback


_PROFILE_HELP = (
    "the reading of RingCentral's and Slack's docs the stand-ins play: default, strict (every pessimistic "
    "reading) or one ambiguity (see bot/sandbox/ringcentral/README.md); default: $THREAD_NOTE_SANDBOX_PROFILE"
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="thread-note-bot",
        description="Bring RingCentral thread notes (handoffs) into Slack.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--log-level", default=os.environ.get("LOG_LEVEL", "INFO"), help="default: INFO")
    env_help = "read settings from this file instead of ./.env (the environment still wins)"
    parser.add_argument("--env-file", metavar="PATH", default=DEFAULT_ENV_FILE, help=env_help)
    # the same option after the command (`check --env-file prod.env`); SUPPRESS keeps the global one otherwise
    with_env = argparse.ArgumentParser(add_help=False)
    with_env.add_argument("--env-file", metavar="PATH", default=argparse.SUPPRESS, help=env_help)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = sub.add_parser(
        "serve",
        parents=[with_env],
        help="run the bot (Socket Mode when SLACK_APP_TOKEN is set, else HTTP)",
    )
    serve.add_argument("--host", default="0.0.0.0")
    serve.add_argument("--port", type=int, default=None, help="default: $PORT or 3000")
    serve.add_argument(
        "--metrics-address",
        default=None,
        metavar="HOST:PORT",
        help="a private listener for /metrics and the detailed /healthz, e.g. 127.0.0.1:9100 "
        "(default: $THREAD_NOTE_METRICS_ADDRESS; unset: /metrics only with THREAD_NOTE_METRICS_TOKEN)",
    )

    sandbox = sub.add_parser(
        "sandbox", help="run the local RingCentral emulator (with --slack: the Slack stand-in)"
    )
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=None, help="default: 8089 (8090 with --slack)")
    sandbox.add_argument("--seed", default="demo", help="'demo' (default) or a YAML seed file")
    sandbox.add_argument("--profile", default=None, help=_PROFILE_HELP)
    sandbox.add_argument(
        "--accounts",
        type=_positive,
        default=1,
        metavar="N",
        help="serve at least N RingCentral accounts (the seed's, then copies of its first one; default 1)",
    )
    sandbox.add_argument(
        "--slack",
        action="store_true",
        help="run the Slack stand-in instead, and print its bot token, signing secret and app token",
    )

    demo = sub.add_parser("demo", help="play the whole loop on local stand-ins and print what happened")
    demo.add_argument("--keep", action="store_true", help="leave everything running to explore by hand")
    demo.add_argument("--profile", default=None, help=_PROFILE_HELP)

    check = sub.add_parser(
        "check",
        parents=[with_env],
        help="validate configuration and reach Slack, RingCentral and the database",
    )
    check.add_argument(
        "--before-start",
        action="store_true",
        help="the bot is not running yet: don't ask its public URL for /healthz (for `check && serve`)",
    )
    _add_database_commands(sub, with_env)
    return parser


def _add_database_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], with_env: argparse.ArgumentParser
) -> None:
    """The operators' commands on the database itself: copy-db, reencrypt, forget-workspace."""
    copy_db = sub.add_parser(
        "copy-db",
        help="copy every table to another database (e.g. SQLite to PostgreSQL), verify, refuse a non-empty "
        "target unless --force",
    )
    copy_db.add_argument("--from", dest="source", required=True, metavar="URL", help="e.g. sqlite:///bot.db")
    copy_db.add_argument(
        "--to", dest="target", required=True, metavar="URL", help="e.g. postgresql://bot@db:5432/bot"
    )
    copy_db.add_argument("--force", action="store_true", help="replace whatever the target holds")

    sub.add_parser(
        "reencrypt",
        parents=[with_env],
        help="re-encrypt stored tokens with the first THREAD_NOTE_SECRET_KEY (then the old keys can go)",
    )
    forget = sub.add_parser(
        "forget-workspace",
        parents=[with_env],
        help="delete every row of one Slack workspace (tokens, links, subscriptions, outbox, messages, audit "
        "entries), in one transaction; lists them and asks first",
    )
    forget.add_argument(
        "team_id", metavar="TEAM_ID", help="the workspace's team id (T…) or an Enterprise org id (E…)"
    )
    forget.add_argument("--yes", action="store_true", help="delete without asking (scripts)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    from bot import logs

    failed = 1 if args.command == "check" else 2  # check's own convention: 1 whenever something is wrong
    level = str(args.log_level).strip().upper()
    if level not in LOG_LEVELS:
        if args.command != "check":  # check reports LOG_LEVEL among the other settings
            print(
                f"thread-note-bot: LOG_LEVEL (or --log-level) is {args.log_level!r}, not a log level: "
                "use DEBUG, INFO, WARNING or ERROR.",
                file=sys.stderr,
            )
            return failed
        level = "WARNING"
    logs.configure(level)
    env_file = args.env_file
    if env_file != DEFAULT_ENV_FILE and not os.path.isfile(env_file):
        print(
            f"thread-note-bot: --env-file {env_file}: no such file (give the path of your .env file).",
            file=sys.stderr,
        )
        return failed
    try:
        if args.command == "sandbox" and args.slack:
            from bot.sandbox.slack.cli import run_slack_sandbox

            return run_slack_sandbox(host=args.host, port=args.port or 8090, profile=args.profile)
        if args.command == "sandbox":
            from bot.sandbox.ringcentral.cli import run_sandbox

            port = args.port or 8089
            return run_sandbox(
                host=args.host, port=port, seed=args.seed, profile=args.profile, accounts=args.accounts
            )
        if args.command == "serve":
            from bot.serve import run_serve

            return run_serve(
                host=args.host, port=args.port, env_file=env_file, metrics_address=args.metrics_address
            )
        if args.command == "demo":
            from bot.demo import run_demo

            return run_demo(keep=args.keep, profile=args.profile)
        if args.command == "check":
            from bot.check import run_check

            return run_check(env_file=env_file, before_start=args.before_start)
        if args.command == "reencrypt":
            return _reencrypt(env_file)
        if args.command == "forget-workspace":
            return _forget_workspace(env_file, args.team_id, yes=args.yes)
        if args.command == "copy-db":
            return _copy_db(args.source, args.target, force=args.force)
    except ConfigError as exc:
        print(f"thread-note-bot: {exc}", file=sys.stderr)
        return failed
    except KeyboardInterrupt:
        return 130
    parser.error(f"unknown command {args.command!r}")
    return 2


class _Run(Protocol):
    def __call__(self, coro: Coroutine[Any, Any, T], /) -> T: ...


@contextmanager
def _opened_store(env_file: str) -> Iterator[tuple[Settings, Store, _Run]]:
    """The settings, the store they name (migrated, as `serve` opens it) and a `run` for its coroutines, in
    one event loop, so a command can ask the person something between two store calls. Raises `StoreError`
    when the database cannot be opened, `ConfigError` for a missing or wrong setting."""
    from bot.config import load_settings
    from bot.store import Store

    settings = load_settings(("THREAD_NOTE_SECRET_KEY",), env_file=env_file)
    keys = [k.get_secret_value() for k in settings.secret_keys]
    with asyncio.Runner() as runner:
        store = runner.run(Store.open(settings.database_url, keys))
        try:
            yield settings, store, runner.run
        finally:
            runner.run(store.close())


def _reencrypt(env_file: str) -> int:
    """Key rotation, step 2: `THREAD_NOTE_SECRET_KEY=new,old thread-note-bot reencrypt`, then drop `old`.

    One transaction: when any stored secret fits none of the keys, nothing changes and the one line says
    how many and what to do (a wrong key must not cost the secrets that the right one could still rescue).
    """
    from bot.store import StoreError, UndecryptableSecret

    try:
        with _opened_store(env_file) as (_, store, run):
            try:
                changed, unreadable = run(store.reencrypt_secrets()), 0
            except UndecryptableSecret:
                changed, unreadable = 0, run(store.undecryptable_secrets())[0]
    except StoreError as exc:
        print(f"thread-note-bot reencrypt: {exc}", file=sys.stderr)
        return 1
    if unreadable:
        print(
            f"thread-note-bot reencrypt: {unreadable} stored secret(s) fit no key in THREAD_NOTE_SECRET_KEY, "
            "so nothing was changed: list the old key after the new one (new,old; find it in backups of your "
            ".env or another replica's environment) and run reencrypt again.",
            file=sys.stderr,
        )
        return 1
    print(f"re-encrypted {changed} stored secret(s) with the first key; the other keys can now be removed")
    return 0


_SLACK_TEAM = re.compile(r"[TE][A-Z0-9]{2,31}")


def _forget_workspace(env_file: str, team_id: str, *, yes: bool) -> int:
    """`forget-workspace T…`: list what is stored of the workspace, ask (unless `yes`), then delete all of it
    in one transaction (`bot/store/tenants.py` says what goes, and why the audit log keeps one entry saying
    so). 0 when deleted; 1 when nothing was (nothing stored, not confirmed, the database failed); 2 for a
    malformed id or a setting."""
    from bot.store import AuditAction, StoreError

    name = "thread-note-bot forget-workspace"
    if not _SLACK_TEAM.fullmatch(team_id):
        print(
            f"{name}: {team_id!r} is not a Slack team id (T…) or Enterprise org id (E…): copy it from the "
            "workspace's settings (or SLACK_ALLOWED_TEAMS), capital letters and digits.",
            file=sys.stderr,
        )
        return 2
    try:
        with _opened_store(env_file) as (settings, store, run):
            stored = run(store.workspace_rows(team_id))
            if not stored:
                earlier = run(
                    store.audit_entries(team_id=team_id, action=AuditAction.FORGET_WORKSPACE, limit=1)
                )
                when = (
                    f" (forgotten {earlier[0].at:%Y-%m-%d %H:%M} UTC by {earlier[0].user_id})"
                    if earlier
                    else ""
                )
                print(f"{name}: nothing is stored for {team_id}{when}; nothing was deleted.", file=sys.stderr)
                return 1
            _print_rows(f"Stored for {team_id}:", stored)
            if not yes and not _confirmed(team_id):
                print("Nothing was deleted.")
                return 1
            forgotten = run(store.forget_workspace(team_id, by=_operator()))
    except StoreError as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return 1
    _print_rows(f"Deleted {forgotten.total} rows of {team_id}:", forgotten.rows)
    print("The audit log keeps one entry saying when and by whom (no one's data).")
    if team_id in settings.allowed_teams:
        print(
            f"{team_id} is still in SLACK_ALLOWED_TEAMS: take it out on every replica, or the workspace can "
            "install the app again and its people connect again."
        )
    return 0


def _print_rows(title: str, rows: dict[str, int]) -> None:
    print(title)
    for table, count in rows.items():
        print(f"  {table}: {count}")


def _confirmed(team_id: str) -> bool:
    """The person types the id again (a y/N is too easy to give to the wrong prompt); no input: no."""
    try:
        answer = input(f"Type {team_id} to delete these rows for good (--yes skips this): ")
    except EOFError:
        print()
        return False
    return answer.strip() == team_id


def _operator() -> str:
    """Who ran the command, for the audit entry: `cli:<login name>` (`cli` where the system has none)."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # a container user without a passwd entry
        return "cli"


def _positive(raw: str) -> int:
    if not raw.isdigit() or int(raw) < 1:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a whole number of at least 1")
    return int(raw)


def _copy_db(source: str, target: str, *, force: bool) -> int:
    """Moving databases (SQLite → PostgreSQL to scale out): see bot/store/copy.py."""
    import asyncio

    from bot.store import StoreError
    from bot.store.copy import copy_database

    def progress(line: str) -> None:
        print(f"  {line}", flush=True)

    print("thread-note-bot copy-db: stop every running bot first; rows written meanwhile are not copied.")
    try:
        copied = asyncio.run(copy_database(source, target, force=force, progress=progress))
    except StoreError as exc:
        print(f"thread-note-bot copy-db: {exc}", file=sys.stderr)
        return 1
    print(
        f"Copied {copied.total} rows in {len(copied.rows)} tables. Now point THREAD_NOTE_DATABASE_URL at the "
        "new database (keep THREAD_NOTE_SECRET_KEY as it is) and start the bot."
    )
    return 0
