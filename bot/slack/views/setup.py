"""A workspace's own RingCentral account, as its admins see it (`/thread-note setup`, App Home): the account
card with Link / Replace / Remove, the modal where a JWT credential is pasted, and the outcome."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ConfirmObject,
    DividerBlock,
    InputBlock,
    PlainTextInputElement,
    PlainTextObject,
)
from slack_sdk.models.views import View

from bot.blockkit import ids
from bot.blockkit.primitives import button, context, header, section
from bot.blockkit.text import escape
from bot.service.tenant_link import Linked
from bot.store import TenantAccount

NOT_ADMIN = (
    "Only a Slack workspace admin or owner can set up this workspace's RingCentral account: ask one of them."
)
_HOW = {"jwt": "a JWT credential", "oauth": "a sign-in as the service user"}


def _who(account: TenantAccount) -> str:
    name = account.account_name or "the service user"
    return f"*{escape(name)}* (extension id {escape(account.extension_id)})"


def linked_sentence(linked: Linked) -> str:
    """What was linked, in one sentence (the modal, the callback page, the admin's DM)."""
    account = linked.account
    name = account.account_name or f"extension id {account.extension_id}"
    handles = (
        "RingCentral does not let this app list the queues and sites it handles"
        if linked.resources is None
        else "it handles " + ", ".join(linked.resources)
    )
    return (
        f"This Slack workspace now uses RingCentral account {account.account_id}, read as {name}: {handles}."
    )


def account_card(account: TenantAccount | None, feed: str | None = None) -> list[Block]:
    """The workspace's RingCentral account and what an admin can do with it: link one (paste a JWT, or sign
    in as the service user), or replace or remove the one linked; with `feed` ("ok", or since when reading
    its changes fails) how notifications fare."""
    blocks: list[Block] = [DividerBlock(), header("RingCentral account")]
    sign_in = button("Sign in with RingCentral", ids.TENANT_SIGN_IN)
    if account is None:
        blocks.append(
            section(
                "This workspace uses the RingCentral account this app was set up with. To use your company's "
                "own, link it with its service user: a JWT credential, or a sign-in as that user."
            )
        )
        blocks.append(
            ActionsBlock(elements=[button("Paste a JWT", ids.TENANT_JWT_OPEN, style="primary"), sign_in])
        )
        return blocks
    state = "" if account.status == "active" else f" :warning: Paused: {escape(account.paused_reason or '')}."
    if feed and feed != "ok":
        state += (
            f" :warning: Reading its changes is {escape(feed)}: notes reach Slack again once RingCentral "
            "answers (nothing is lost). If it goes on, check the service user in RingCentral."
        )
    blocks.append(
        section(
            f"This workspace uses RingCentral account *{escape(account.account_id)}*, read as "
            f"{_who(account)}, linked with {_HOW.get(account.kind, account.kind)}.{state}"
        )
    )
    remove = button("Remove", ids.TENANT_REMOVE, account.account_id, style="danger")
    remove.confirm = ConfirmObject(
        title="Remove the RingCentral account?",
        text=(
            "This workspace goes back to the RingCentral account this app was set up with, and people "
            "connected to this account must connect again."
        ),
        confirm="Remove",
        deny="Keep it",
        style="danger",
    )
    blocks.append(ActionsBlock(elements=[button("Replace with a JWT", ids.TENANT_JWT_OPEN), sign_in, remove]))
    return blocks


def jwt_modal() -> View:
    """Where an admin pastes the service user's JWT credential; checked when submitted."""
    return View(
        type="modal",
        callback_id=ids.TENANT_JWT,
        title=PlainTextObject(text="RingCentral account"),
        submit=PlainTextObject(text="Link"),
        close=PlainTextObject(text="Cancel"),
        blocks=[
            section(
                "Paste the JWT credential of the RingCentral user this workspace reads conversations as: an "
                "SMS recipient of the call queues and sites whose notes should reach Slack."
            ),
            InputBlock(
                block_id=ids.TENANT_JWT_BLOCK,
                label=PlainTextObject(text="JWT credential"),
                hint=PlainTextObject(
                    text="RingCentral Developer Console → Credentials → JWT. It is stored encrypted."
                ),
                element=PlainTextInputElement(action_id=ids.TENANT_JWT_INPUT, multiline=True),
            ),
        ],
    )


def sign_in_modal(url: str) -> View:
    """The sign-in link (made when asked for: each is one-time and lives 10 minutes)."""
    return View(
        type="modal",
        title=PlainTextObject(text="RingCentral account"),
        close=PlainTextObject(text="Close"),
        blocks=[
            section(
                "Sign in to RingCentral as the service user this workspace should read conversations as (an "
                "SMS recipient of the queues and sites to follow), not as yourself.",
                accessory=button(
                    "Sign in with RingCentral", ids.TENANT_SIGN_IN_LINK, style="primary", url=url
                ),
            ),
            context("The link works once, for 10 minutes. The page you come back to names what was linked."),
        ],
    )


def linked_modal(linked: Linked) -> View:
    return View(
        type="modal",
        title=PlainTextObject(text="RingCentral account"),
        close=PlainTextObject(text="Done"),
        blocks=[section(f":white_check_mark: {escape(linked_sentence(linked))}")],
    )


def linked_message(sentence: str, ok: bool) -> Sequence[Block]:
    """The admin's DM after signing in as the service user (the page said the same)."""
    mark = ":white_check_mark:" if ok else ":x:"
    blocks: list[Block] = [section(f"{mark} {escape(sentence)}")]
    if not ok:
        blocks.append(context("Nothing was linked. `/thread-note setup` to try again."))
    return blocks


def removed(account: TenantAccount | None) -> list[Block]:
    if account is None:
        return [section("No RingCentral account of its own was linked to this workspace.")]
    return [
        section(
            f"Removed: this workspace no longer uses RingCentral account {escape(account.account_id)}; it "
            "uses the account this app was set up with again."
        )
    ]
