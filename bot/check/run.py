"""Running every check in order: a check whose settings are broken is skipped (shown with `·`), whatever a
check did not foresee is one red line (`_never_crash`), and the report is printed with `bot.console`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from bot.check.database import check_database, check_feed, check_secret_key
from bot.check.public_url import check_public_url
from bot.check.results import Result, bad, ok, reason, skip
from bot.check.ringcentral import check_ringcentral
from bot.check.settings import read_settings
from bot.check.slack import check_slack


def collect(env_file: str | None = ".env", before_start: bool = False) -> list[Result]:
    settings, problems = read_settings(env_file)
    results: list[Result] = []
    if problems:
        results.extend(bad(f"Settings: {p}") for p in problems)
    elif settings is not None:
        mode = "Socket Mode" if settings.socket_mode else "HTTP mode"
        results.append(ok(f"Settings: every setting is valid ({mode})"))
    if settings is None:
        return results
    broken = {p.split(" ", 1)[0] for p in problems}

    def run(label: str, names: tuple[str, ...], check: Callable[[], list[Result]]) -> list[Result]:
        blocked = [n for n in names if n in broken]
        if blocked:
            lines = [skip(f"{label}: not checked until {', '.join(blocked)} is fixed")]
        else:
            lines = _never_crash(label, check)
        results.extend(lines)
        return lines

    database = run(
        "Database",
        ("THREAD_NOTE_DATABASE_URL",),
        lambda: [asyncio.run(check_database(settings.database_url))],
    )
    if all(r.ok for r in database):
        run("Secret key", ("THREAD_NOTE_SECRET_KEY",), lambda: [asyncio.run(check_secret_key(settings))])
        run(
            "Change feed",
            ("THREAD_NOTE_DATABASE_URL",),
            lambda: [asyncio.run(check_feed(settings.database_url))],
        )
    else:
        results.append(skip("Secret key: not checked until the database can be read"))
    if settings.slack_bot_token is not None or "SLACK_BOT_TOKEN" in broken:
        run("Slack", ("SLACK_API_URL", "SLACK_BOT_TOKEN"), lambda: check_slack(settings, broken))
    elif settings.oauth:
        results.append(
            ok(
                "Slack: many workspaces (SLACK_CLIENT_ID): each workspace's token comes with its "
                "installation (/slack/install), nothing to check here"
            )
        )
    run(
        "RingCentral",
        ("RINGCENTRAL_SERVER_URL", "RINGCENTRAL_CLIENT_ID", "RINGCENTRAL_CLIENT_SECRET", "RINGCENTRAL_JWT"),
        lambda: asyncio.run(check_ringcentral(settings)),
    )
    run(
        "Public URL",
        ("THREAD_NOTE_PUBLIC_URL", "PORT"),
        lambda: [check_public_url(settings, before_start)],
    )
    return results


def _never_crash(label: str, check: Callable[[], list[Result]]) -> list[Result]:
    """The last line of defence: whatever a check did not foresee is one red line, not a traceback."""
    try:
        return check()
    except Exception as exc:  # check must report, never crash
        return [
            bad(
                f"{label}: the check failed unexpectedly ({reason(exc)[:300]}): please report this line "
                "(it holds no secret) and check the settings of this part."
            )
        ]


def run_check(env_file: str | None = ".env", out: Any = None, before_start: bool = False) -> int:
    from bot import logs
    from bot.console import Printer  # the ✓/✗ lines, colours and fallbacks shared with the demo

    logs.configure("WARNING")  # the report is the output; request logs would drown it
    p = Printer(out)
    p.line("thread-note-bot check" + (" (before the first start)" if before_start else ""))
    results = collect(env_file, before_start)
    for r in results:
        if r.ok is True:
            p.passed(r.text)
        elif r.ok is False:
            p.failed(r.text)
        else:
            p.skipped(r.text)
    failed = sum(1 for r in results if r.ok is False)
    skipped = sum(1 for r in results if r.ok is None)
    p.line()
    if failed:
        extra = f", {skipped} not checked" if skipped else ""
        p.line(f"{failed} of {len(results)} checks failed{extra}: fix the red lines, then run check again.")
        return 1
    p.line(f"All {len(results)} checks passed: ready to `thread-note-bot serve`.")
    return 0
