"""Connecting RingCentral: the prompt with its one-time link, "you're connected", why connecting failed, a
warning that someone else linked the same RingCentral user, and "disconnected"."""

from __future__ import annotations

from slack_sdk.models.blocks import ActionsBlock, Block

from bot.blockkit import ids
from bot.blockkit.limits import BUTTON_VALUE, SECTION_TEXT
from bot.blockkit.primitives import button, context, section
from bot.blockkit.text import escape, fit, unescape


def connect_prompt(
    authorize_url: str, pending: str | None = None, *, reason: str | None = None
) -> list[Block]:
    """A "Connect RingCentral" URL button (`connect_open`, primary); `pending` says what will be finished;
    `reason` replaces the opening sentence (why connecting again is needed)."""
    blocks: list[Block] = [
        section(
            escape(reason)
            if reason
            else (
                "Connect your RingCentral account first, so the notes you write from Slack are yours and "
                "RingCentral's own rules apply."
            )
        ),
    ]
    if pending:
        blocks.append(section(f"After you connect, I'll finish what you started: {fit(pending, 500)}"))
    blocks.append(
        ActionsBlock(
            elements=[button("Connect RingCentral", ids.CONNECT_OPEN, style="primary", url=authorize_url)]
        )
    )
    blocks.append(
        context("The link works once and for a few minutes; `/thread-note connect` makes a new one.")
    )
    return blocks


def connected(extension_name: str | None, extension_id: str, *, finish: str | None = None) -> list[Block]:
    """You're connected as …; `finish` is the `/thread-note` text the person was trying when asked to connect
    (as Slack sent it): offered as a button (`pending_finish`, value the text) rather than run unasked."""
    who = escape(extension_name) if extension_name else "your extension"
    blocks: list[Block] = [
        section(
            f":white_check_mark: You're connected to RingCentral as *{who}* "
            f"(extension id `{escape(extension_id)}`)."
        ),
    ]
    if finish and len(finish) <= BUTTON_VALUE:
        shown = fit(f"/thread-note {unescape(finish)}".replace("```", "`\u200b`\u200b`"), SECTION_TEXT - 60)
        blocks.append(
            section(
                f"You were about to run:\n```{shown}```",
                button("Finish it", ids.PENDING_FINISH, finish, style="primary"),
            )
        )
    blocks.append(
        context("Notes you add from Slack are written as you. `/thread-note disconnect` undoes this.")
    )
    return blocks


_CONNECT_FAILURES = {
    "missing_state": "The connect link was incomplete",
    "bad_state": "The connect link had expired or was already used",
    "denied": "You declined access in RingCentral",
    "no_code": "RingCentral did not send the sign-in back",
    "exchange_failed": "RingCentral did not accept the sign-in",
    "other_account": (
        "The RingCentral user you signed in as belongs to another RingCentral account than your Slack "
        "workspace's"
    ),
    "external_user": "You are a guest from another organisation in this workspace",
    "email_mismatch": (
        "The RingCentral user who signed in has another email address than yours in Slack (each person "
        "connects their own account, so a forwarded connect link cannot link someone else)"
    ),
}


def connect_failed(reason: str) -> list[Block]:
    """Connecting did not work: why, in one sentence, and how to try again."""
    why = _CONNECT_FAILURES.get(reason, "Connecting did not work")
    return [
        section(f":x: {why}, so your RingCentral account is not connected."),
        context("Run `/thread-note connect` for a fresh link and try again."),
    ]


def link_taken_over(who: str | None, name: str, extension_id: str) -> list[Block]:
    """To a person linked to an extension: another Slack user (`who`, a mention; None: of another workspace)
    has just linked it too."""
    by = who or "A Slack user of another workspace"
    return [
        section(
            f":warning: {by} just linked the RingCentral user *{escape(name)}* (extension id "
            f"{escape(extension_id)}), which you are linked to as well, and can now write notes as that user."
        ),
        context(
            "Not you, or not agreed with you? Tell a workspace admin; `/thread-note disconnect` unlinks you."
        ),
    ]


def disconnected(was_connected: bool = True) -> list[Block]:
    if not was_connected:
        return [section("You weren't connected to RingCentral, so there was nothing to disconnect.")]
    return [
        section("Disconnected: your RingCentral account is no longer linked and its tokens are revoked."),
        context("`/thread-note connect` links it again."),
    ]
