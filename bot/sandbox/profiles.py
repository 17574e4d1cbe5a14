"""Profiles: which reading of RingCentral's and Slack's docs the stand-ins play.

Where the docs leave room, the real services may have picked either reading; the bot must hold under each.
A `Profile` names one choice per ambiguity. `default` plays the readings the stand-ins always played (the
convenient ones), `strict` plays every pessimistic reading at once, and each other profile flips exactly one
ambiguity, so a failure points at its cause. The emulator's and the stand-in's READMEs have the table of
readings and how the bot holds under each.

Choose one with `THREAD_NOTE_SANDBOX_PROFILE`, `thread-note-bot sandbox --profile NAME` or
`demo --profile NAME`; in-process, pass `profile=` to `bot.sandbox.ringcentral.create_app` (through
`SandboxSettings.profile`) and to `bot.sandbox.slack.create_slack_app`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from typing import Literal

ENV = "THREAD_NOTE_SANDBOX_PROFILE"

WebhookSecretHeader = Literal["Verification-Token", "Validation-Token"]


@dataclass(frozen=True)
class Profile:
    """One reading per ambiguity; the defaults are the `default` profile's."""

    name: str = "default"

    # -- RingCentral ---------------------------------------------------------------------------------------
    # entries/sync mixes in records of a recordType the spec does not list, "system entries" (with `action`)
    # and fields the schema does not name.
    sync_unknown_records: bool = False
    # entries/sync returns at most this many records (honouring a smaller `recordCount`); the rest come on
    # the next ISync with the token it hands back. None: everything at once.
    sync_record_cap: int | None = None
    # A sync token answers once; the same token sent again is refused (400), as if it had expired.
    sync_token_single_use: bool = False
    # `availability=Deleted` in a notes list is refused (400 CMN-101): deletions are seen only through sync.
    deleted_notes_listing_refused: bool = False
    # getSmsRecipients (availability Limited) is refused for this app (403): the bot must decide "handler"
    # by another rule RingCentral enforces.
    sms_recipients_refused: bool = False
    # The header that carries the webhook's secret on every delivery: the spec's `verificationToken`
    # (`Verification-Token`), or the 2024 guide's `validationToken` (`Validation-Token`, the handshake's own
    # header).
    webhook_secret_header: WebhookSecretHeader = "Verification-Token"
    # Note text is limited to 1,000 UTF-16 code units (an emoji outside the BMP counts 2), not code points.
    text_length_utf16: bool = False

    # -- Slack ---------------------------------------------------------------------------------------------
    # conversations.history/replies as for apps distributed outside the Marketplace since 2025-05-29: one
    # request a minute per method and workspace, at most 15 messages a page.
    slack_history_tier1: bool = False
    # chat.postMessage also limited across the whole workspace (messages a minute); None: per channel only.
    slack_workspace_post_limit: int | None = None
    # An event retry (X-Slack-Retry-Num) carries the first attempt's timestamp and signature, not fresh ones.
    slack_retry_same_signature: bool = False

    def describe(self) -> str:
        """The readings that differ from `default`, for a start-up line."""
        base = Profile()
        changed = [
            f"{f.name}={getattr(self, f.name)!r}"
            for f in fields(self)
            if f.name != "name" and getattr(self, f.name) != getattr(base, f.name)
        ]
        return ", ".join(changed) or "the default readings"


DEFAULT = Profile()

# One profile per ambiguity: each flips exactly one reading.
_SINGLE: dict[str, Profile] = {
    "unknown-sync-records": replace(DEFAULT, name="unknown-sync-records", sync_unknown_records=True),
    "capped-sync": replace(DEFAULT, name="capped-sync", sync_record_cap=250),
    "single-use-sync-token": replace(DEFAULT, name="single-use-sync-token", sync_token_single_use=True),
    "no-deleted-listing": replace(DEFAULT, name="no-deleted-listing", deleted_notes_listing_refused=True),
    "no-sms-recipients": replace(DEFAULT, name="no-sms-recipients", sms_recipients_refused=True),
    "validation-token-header": replace(
        DEFAULT, name="validation-token-header", webhook_secret_header="Validation-Token"
    ),
    "utf16-length": replace(DEFAULT, name="utf16-length", text_length_utf16=True),
    "slack-tier1-history": replace(DEFAULT, name="slack-tier1-history", slack_history_tier1=True),
    "slack-workspace-post-limit": replace(
        DEFAULT, name="slack-workspace-post-limit", slack_workspace_post_limit=100
    ),
    "slack-retry-same-signature": replace(
        DEFAULT, name="slack-retry-same-signature", slack_retry_same_signature=True
    ),
}

STRICT = Profile(
    name="strict",
    sync_unknown_records=True,
    sync_record_cap=250,
    sync_token_single_use=True,
    deleted_notes_listing_refused=True,
    sms_recipients_refused=True,
    webhook_secret_header="Validation-Token",
    text_length_utf16=True,
    slack_history_tier1=True,
    slack_workspace_post_limit=100,
    slack_retry_same_signature=True,
)

PROFILES: dict[str, Profile] = {"default": DEFAULT, "strict": STRICT, **_SINGLE}


class UnknownProfile(ValueError):
    pass


def get_profile(name: str | Profile | None = None) -> Profile:
    """A profile by name; None reads `THREAD_NOTE_SANDBOX_PROFILE` (unset: `default`)."""
    if isinstance(name, Profile):
        return name
    key = (name if name is not None else os.environ.get(ENV, "")).strip() or "default"
    try:
        return PROFILES[key]
    except KeyError:
        raise UnknownProfile(f"unknown sandbox profile {key!r}; known: {', '.join(PROFILES)}") from None
