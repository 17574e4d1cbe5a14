"""`python -m bot.store.migrations <alembic command> …` with the store's programmatic configuration.

The database is THREAD_NOTE_DATABASE_URL, or (for `revision --autogenerate`) a scratch SQLite file that is
migrated to head first, so new revisions hold exactly the difference between `schema.py` and head.
"""

from __future__ import annotations

import os
import sys
import tempfile

from alembic import command
from alembic.config import CommandLine

from bot.store.migrate import alembic_config


def main(argv: list[str] | None = None) -> None:
    cli = CommandLine(prog="python -m bot.store.migrations")
    options = cli.parser.parse_args(argv if argv is not None else sys.argv[1:])
    if not hasattr(options, "cmd"):
        cli.parser.error("too few arguments")
    url = os.environ.get("THREAD_NOTE_DATABASE_URL")
    with tempfile.TemporaryDirectory() as scratch:
        if url is None:
            url = f"sqlite:///{scratch}/scratch.db"
            command.upgrade(alembic_config(url), "head")
        cli.run_cmd(alembic_config(url), options)


if __name__ == "__main__":
    main()
