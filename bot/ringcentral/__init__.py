"""Async client of RingCentral's SMS Thread Messaging API (notes, threads, sync) — see `client.py`."""

from bot.ringcentral.auth import JwtAuth, OAuthApp, UserTokenAuth, new_pkce_pair
from bot.ringcentral.client import RingCentralClient
from bot.ringcentral.errors import (
    AuthError,
    AuthRevoked,
    Forbidden,
    InvalidInput,
    NotFound,
    RateLimited,
    RingCentralError,
    SyncTokenExpired,
    ThreadResolved,
    Unavailable,
)
from bot.ringcentral.models import (
    CallQueue,
    CallQueueMember,
    EntriesSync,
    Extension,
    Note,
    NotePage,
    PhoneNumber,
    Site,
    SmsRecipient,
    Subscription,
    Thread,
    ThreadPage,
    TokenSet,
)
from bot.ringcentral.ratelimit import RateLimiter

__all__ = [
    "AuthError",
    "AuthRevoked",
    "CallQueue",
    "CallQueueMember",
    "EntriesSync",
    "Extension",
    "Forbidden",
    "InvalidInput",
    "JwtAuth",
    "NotFound",
    "Note",
    "NotePage",
    "OAuthApp",
    "PhoneNumber",
    "RateLimited",
    "RateLimiter",
    "RingCentralClient",
    "RingCentralError",
    "Site",
    "SmsRecipient",
    "Subscription",
    "SyncTokenExpired",
    "Thread",
    "ThreadPage",
    "ThreadResolved",
    "TokenSet",
    "Unavailable",
    "UserTokenAuth",
    "new_pkce_pair",
]
