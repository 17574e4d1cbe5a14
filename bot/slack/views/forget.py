""" "Forget this workspace", for its Slack admins: App Home's admin block, the confirmation modal that names
what goes (rows counted per kind, `TenantStore.workspace_rows`) and asks for the workspace's name, and the
modal's last view saying what was deleted. Pure."""

from __future__ import annotations

import json
from collections.abc import Mapping

from slack_sdk.models.blocks import Block, DividerBlock, InputBlock, PlainTextInputElement, PlainTextObject
from slack_sdk.models.views import View

from bot.blockkit import ids
from bot.blockkit.limits import MODAL_TITLE
from bot.blockkit.primitives import button, checked_metadata, context, header, section
from bot.blockkit.text import clip, escape

TITLE = "Forget this workspace"
NOT_ADMIN = (
    "Only an admin or owner of this Slack workspace can forget it: ask one of them (an operator can also "
    "run `thread-note-bot forget-workspace`)."
)
# What each table keeps, as an admin reads it (bot/store/tenants.py deletes them in this order); a table
# not named here is shown by its own name.
KINDS = {
    "tenant_accounts": "linked RingCentral account",
    "outbox": "notifications queued or sent",
    "digest_runs": "daily digests sent",
    "subscriptions": "channel subscriptions",
    "note_messages": "notes posted in channels",
    "slack_threads": "conversation threads posted in channels",
    "slack_notes": "Slack replies saved as notes",
    "rc_links": "people connected to RingCentral",
    "pending_links": "RingCentral sign-ins waiting for confirmation",
    "oauth_states": "RingCentral sign-ins under way",
    "slack_installations": "app installations",
    "slack_bots": "bot tokens",
    "leases": "working locks",
    "kv_state": "working state entries",
    "audit_log": "audit log entries",
}
_STAYS = (
    "RingCentral keeps every note, and messages already posted in Slack stay. The audit log keeps one entry "
    "saying when and by whom. People who use the bot again start afresh: they connect again."
)
_UNINSTALLED = "The app's installation here goes too: it answers no one until it is added to Slack again."


def what_goes(rows: Mapping[str, int]) -> str:
    """One line per kind: "• 3 channel subscriptions"."""
    return "\n".join(f"• {n:,} {escape(KINDS.get(table, table))}" for table, n in rows.items())


def _modal(blocks: list[Block], *, submit: str | None = None, metadata: str | None = None) -> View:
    return View(
        type="modal",
        callback_id=ids.FORGET_WORKSPACE if submit else None,
        title=PlainTextObject(text=clip(TITLE, MODAL_TITLE)),
        submit=PlainTextObject(text=submit) if submit else None,
        close=PlainTextObject(text="Cancel" if submit else "Close"),
        private_metadata=checked_metadata(metadata) if metadata else None,
        blocks=blocks,
    )


def forget_modal(workspace: str, rows: Mapping[str, int]) -> View:
    """The confirmation: everything stored of `workspace`, counted per kind, and an input for its name
    (`private_metadata` carries the name to compare, `{"name": …}`). Nothing stored: a sentence, no form."""
    shown = escape(workspace)
    if not rows:
        return _modal([section(f"Nothing is stored for *{shown}*: there is nothing to forget.")])
    blocks: list[Block] = [
        section(f"This deletes everything thread-note-bot keeps of *{shown}*, at once and for good:"),
        section(what_goes(rows)),
        context(_STAYS + (f" {_UNINSTALLED}" if rows.get("slack_installations") else "")),
        InputBlock(
            block_id=ids.FORGET_CONFIRM_BLOCK,
            label=PlainTextObject(text=clip(f"Type {workspace} to confirm", 2000)),
            element=PlainTextInputElement(
                action_id=ids.FORGET_CONFIRM_INPUT, placeholder=PlainTextObject(text=clip(workspace, 150))
            ),
        ),
    ]
    return _modal(blocks, submit="Forget for good", metadata=json.dumps({"name": workspace}))


def mistyped(workspace: str) -> str:
    """Beside the input, when the name typed is not the workspace's."""
    return f"Type {workspace} exactly as shown to confirm; nothing was deleted."


def forgotten_modal(workspace: str, rows: Mapping[str, int]) -> View:
    """The last view: what was deleted, per kind."""
    total = sum(rows.values())
    blocks: list[Block] = [
        section(f":white_check_mark: Forgot *{escape(workspace)}*: {total:,} stored rows deleted."),
    ]
    if rows:
        blocks.append(section(what_goes(rows)))
    blocks.append(context(_STAYS + (f" {_UNINSTALLED}" if rows.get("slack_installations") else "")))
    return _modal(blocks)


def notice_modal(text: str) -> View:
    """One sentence (a refusal) in the modal."""
    return _modal([section(escape(text))])


def admin_home_blocks() -> list[Block]:
    """App Home's block for workspace admins (shown to admins only): "Forget this workspace"."""
    return [
        DividerBlock(),
        header("Workspace admin"),
        section(
            "*Forget this workspace*: delete everything the bot keeps of it (connections, subscriptions, "
            "what it posted, its audit entries). Asks first, and shows what goes.",
            accessory=button("Forget this workspace…", ids.FORGET_WORKSPACE_OPEN, style="danger"),
        ),
    ]
