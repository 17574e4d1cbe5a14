"""`thread-note-bot` — the console script (also `python -m bot`).

Subcommands (interface contract): serve, sandbox, demo, check.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from bot import __version__
from bot.config import ConfigError


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
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the bot (Socket Mode when SLACK_APP_TOKEN is set, else HTTP)")
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
        "--slack",
        action="store_true",
        help="run the Slack stand-in instead, and print its bot token, signing secret and app token",
    )

    demo = sub.add_parser("demo", help="play the whole loop on local stand-ins and print what happened")
    demo.add_argument("--keep", action="store_true", help="leave everything running to explore by hand")
    demo.add_argument("--profile", default=None, help=_PROFILE_HELP)

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

    sub.add_parser("check", help="validate configuration and reach Slack, RingCentral and the database")
    sub.add_parser(
        "reencrypt",
        help="re-encrypt stored tokens with the first THREAD_NOTE_SECRET_KEY (then the old keys can go)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    from bot import logs

    logs.configure(args.log_level)
    try:
        if args.command == "sandbox" and args.slack:
            from bot.sandbox.slack.cli import run_slack_sandbox

            return run_slack_sandbox(host=args.host, port=args.port or 8090, profile=args.profile)
        if args.command == "sandbox":
            from bot.sandbox.ringcentral.cli import run_sandbox

            port = args.port or 8089
            return run_sandbox(host=args.host, port=port, seed=args.seed, profile=args.profile)
        if args.command == "serve":
            from bot.app import run_serve

            return run_serve(host=args.host, port=args.port, metrics_address=args.metrics_address)
        if args.command == "demo":
            from bot.demo import run_demo

            return run_demo(keep=args.keep, profile=args.profile)
        if args.command == "check":
            from bot.check import run_check

            return run_check()
        if args.command == "reencrypt":
            return _reencrypt()
        if args.command == "copy-db":
            return _copy_db(args.source, args.target, force=args.force)
    except ConfigError as exc:
        print(f"thread-note-bot: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    parser.error(f"unknown command {args.command!r}")
    return 2


def _reencrypt() -> int:
    """Key rotation, step 2: `THREAD_NOTE_SECRET_KEY=new,old thread-note-bot reencrypt`, then drop `old`."""
    import asyncio

    from bot.config import load_settings
    from bot.store import Store

    settings = load_settings(("THREAD_NOTE_SECRET_KEY",))

    async def run() -> int:
        keys = [k.get_secret_value() for k in settings.secret_keys]
        store = await Store.open(settings.database_url, keys)
        try:
            return await store.reencrypt_secrets()
        finally:
            await store.close()

    changed = asyncio.run(run())
    print(f"re-encrypted {changed} stored secret(s) with the first key; the other keys can now be removed")
    return 0


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
