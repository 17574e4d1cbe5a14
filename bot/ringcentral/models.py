"""Typed models of RingCentral responses (the official spec's shapes, camelCase on the wire).

Unknown fields are kept out of the way (`extra="ignore"`) so a newer API does not break us.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator
from pydantic.alias_generators import to_camel


class Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True)


class ThreadUser(Model):
    extension_id: str
    name: str | None = None
    extension_type: str | None = None


class OwnerResource(Model):
    """The common resource (call queue or site) that owns a thread."""

    extension_id: str
    name: str | None = None
    extension_type: str | None = None


class PhoneParty(Model):
    phone_number: str | None = None


class Thread(Model):
    id: str
    status: Literal["Open", "Resolved"]
    availability: Literal["Alive", "Deleted"]
    owner: OwnerResource
    creation_time: datetime
    last_modified_time: datetime
    label: str | None = None
    status_reason: str | None = None
    owner_party: PhoneParty | None = None
    guest_party: PhoneParty | None = None
    assignee: ThreadUser | None = None

    @property
    def is_open(self) -> bool:
        return self.status == "Open" and self.availability == "Alive"

    @property
    def guest_number(self) -> str | None:
        return self.guest_party.phone_number if self.guest_party else None


class Note(Model):
    id: str
    thread_id: str
    availability: Literal["Alive", "Deleted"]
    creation_time: datetime
    last_modified_time: datetime
    text: str | None = None
    author: ThreadUser | None = None

    @property
    def version(self) -> str:
        """Identifies this revision of the note: an edit moves `lastModifiedTime` forward."""
        return self.last_modified_time.isoformat()

    @property
    def edited(self) -> bool:
        return self.last_modified_time > self.creation_time

    @property
    def author_name(self) -> str:
        """Who wrote it, as people should read it (plain text: escape before putting it in mrkdwn)."""
        if self.author is None:
            return "Someone"
        return self.author.name or f"Extension {self.author.extension_id}"


class Paging(Model):
    per_page: int
    page: int | None = None
    page_start: int | None = None
    page_end: int | None = None
    total_pages: int | None = None
    total_elements: int | None = None


class NotePage(Model):
    records: list[Note]
    paging: Paging


class ThreadPage(Model):
    records: list[Thread]
    paging: Paging


class SyncInfo(Model):
    sync_type: Literal["FSync", "ISync"]
    sync_token: str
    sync_time: datetime


# --- entries/sync records (discriminated by recordType) -------------------------------------------------


class AliveNoteRecord(Note):
    record_type: Literal["AliveNote"]


class DeletedNoteRecord(Model):
    record_type: Literal["DeletedNote"]
    id: str
    thread_id: str
    availability: Literal["Deleted"] = "Deleted"
    last_modified_time: datetime

    @property
    def version(self) -> str:
        return self.last_modified_time.isoformat()


class AliveMessageRecord(Model):
    record_type: Literal["AliveMessage"]
    id: str
    thread_id: str
    last_modified_time: datetime
    text: str | None = None
    direction: str | None = None


class DeletedMessageRecord(Model):
    record_type: Literal["DeletedMessage"]
    id: str
    thread_id: str
    last_modified_time: datetime


class HintRecord(Model):
    record_type: Literal["ThreadCreatedHint", "ThreadResolvedHint", "ThreadDeletedHint"]
    id: str
    thread_id: str
    last_modified_time: datetime
    initiator: ThreadUser | None = None


class AssignedHintRecord(Model):
    record_type: Literal["ThreadAssignedHint"]
    id: str
    thread_id: str
    last_modified_time: datetime
    initiator: ThreadUser | None = None
    assignee: ThreadUser | None = None
    previous_assignee: ThreadUser | None = None


SyncRecord = Annotated[
    AliveNoteRecord
    | DeletedNoteRecord
    | AliveMessageRecord
    | DeletedMessageRecord
    | HintRecord
    | AssignedHintRecord,
    Field(discriminator="record_type"),
]


class EntriesSync(Model):
    records: list[SyncRecord]
    sync_info: SyncInfo
    # Set by the client, not RingCentral: True when an expired ISync token was replaced by a full sync.
    full_resync: bool = False
    # Set by `parse_entries_sync`: how many records the answer held (skipped ones included), and why each
    # skipped one was skipped ("unknown_type", "system_entry", "malformed").
    received: int = 0
    skipped: dict[str, int] = Field(default_factory=dict)


_SYNC_RECORD: TypeAdapter[Any] = TypeAdapter(SyncRecord)
_KNOWN_RECORD_TYPES = frozenset(
    {
        "AliveNote",
        "DeletedNote",
        "AliveMessage",
        "DeletedMessage",
        "ThreadCreatedHint",
        "ThreadResolvedHint",
        "ThreadDeletedHint",
        "ThreadAssignedHint",
    }
)


def parse_entries_sync(data: Any) -> EntriesSync:
    """An `entries/sync` answer, read tolerantly: each record on its own, so one we cannot read is skipped
    and counted instead of failing the whole answer (and, with it, every later poll on the same token).

    Skipped: a `recordType` the spec does not list ("unknown_type"), a "system entry" (the spec's description
    names entries where `action` describes what happened, which its schema does not model: "system_entry"),
    and a record of a known type that does not have the shape we need ("malformed"). Unknown fields are
    ignored (`extra="ignore"`). Only `syncInfo` is required: without it there is no cursor to move."""
    if not isinstance(data, dict):
        raise ValueError("entries/sync answer is not an object")
    raw = data.get("records")
    raw = raw if isinstance(raw, list) else []
    records: list[Any] = []
    skipped: dict[str, int] = {}
    for item in raw:
        reason = _skip_reason(item)
        if reason is None:
            try:
                records.append(_SYNC_RECORD.validate_python(item))
                continue
            except ValidationError:
                reason = "malformed"
        skipped[reason] = skipped.get(reason, 0) + 1
    return EntriesSync(
        records=records,
        sync_info=SyncInfo.model_validate(data.get("syncInfo")),
        received=len(raw),
        skipped=skipped,
    )


def _skip_reason(item: Any) -> str | None:
    if not isinstance(item, dict):
        return "malformed"
    record_type = item.get("recordType")
    if record_type in _KNOWN_RECORD_TYPES:
        return None
    if "action" in item:
        return "system_entry"
    return "malformed" if record_type is None else "unknown_type"


# --- accounts, resources, subscriptions, tokens ----------------------------------------------------------


class Extension(Model):
    """An extension as `GET …/extension/~` describes it; `email` (`contact.email`) and `account_id`
    (`account.id`) say whose it is, for checking a sign-in against the Slack person and the deployment."""

    id: str
    extension_number: str | None = None
    name: str | None = None
    type: str | None = None
    status: str | None = None
    email: str | None = None
    account_id: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _nested(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        contact, account = data.get("contact"), data.get("account")
        out = dict(data)
        if isinstance(contact, dict) and contact.get("email") and "email" not in data:
            out["email"] = str(contact["email"])
        if isinstance(account, dict) and account.get("id") is not None and "accountId" not in data:
            out["account_id"] = str(account["id"])
        return out


class CallQueue(Model):
    id: str
    name: str | None = None
    extension_number: str | None = None


class Site(Model):
    """A site (listSites): a common resource beside call queues, e.g. the company's main number."""

    id: str
    name: str | None = None
    extension_number: str | None = None


class SmsRecipient(Model):
    """One handler of a common resource (getSmsRecipients): who sees and writes its threads and notes."""

    id: str
    extension_number: str | None = None
    extension_type: str | None = None
    name: str | None = None
    assignable: bool | None = None


class CallQueueMember(Model):
    id: str
    extension_number: str | None = None
    name: str | None = None


class PhoneNumber(Model):
    id: str
    phone_number: str
    usage_type: str | None = None
    features: list[str] = []


class DisabledFilter(Model):
    """An event filter RingCentral accepted but will not deliver (e.g. the app lacks a permission)."""

    filter: str
    reason: str | None = None
    message: str | None = None


class DeliveryMode(Model):
    transport_type: str | None = None
    address: str | None = None


class Subscription(Model):
    id: str
    status: str | None = None
    event_filters: list[str] = []
    # Filters RingCentral will not deliver: the subscription is created and Active, yet nothing comes.
    disabled_filters: list[DisabledFilter] = []
    expiration_time: datetime | None = None
    expires_in: int | None = None
    creation_time: datetime | None = None
    delivery_mode: DeliveryMode | None = None


class TokenSet(Model):
    """What the token endpoint returns. `owner_id` is the user's extension id."""

    model_config = ConfigDict(alias_generator=None, populate_by_name=True, extra="ignore", frozen=True)

    access_token: str
    token_type: str = "bearer"
    expires_in: int
    scope: str | None = None
    refresh_token: str | None = None
    refresh_token_expires_in: int | None = None
    owner_id: str | None = None
    endpoint_id: str | None = None
    session_id: str | None = None
    # Set by the client, not RingCentral: wall-clock (epoch seconds) when the token endpoint issued this
    # set, so expiry survives a restart. `expires_at` is derived from it.
    issued_at: float | None = None

    @property
    def expires_at(self) -> float | None:
        return None if self.issued_at is None else self.issued_at + self.expires_in

    def __repr__(self) -> str:  # never show tokens in tracebacks or logs
        return f"TokenSet(owner_id={self.owner_id!r}, expires_in={self.expires_in})"

    __str__ = __repr__
