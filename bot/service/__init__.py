"""Use cases: what a person can do from Slack, with RingCentral's rules applied to the real person.

Listeners call these; these call the RingCentral client and the store. Nothing here imports Slack code.
"""

from bot.service.errors import AmbiguousThread, NotConnected, ServiceError, ThreadNotFound
from bot.service.types import Actor

__all__ = ["Actor", "AmbiguousThread", "NotConnected", "ServiceError", "ThreadNotFound"]
