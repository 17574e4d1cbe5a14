"""Channel notifications: the change feed (`feed.py`), the durable outbox and its sender (`sender.py`, with
`posting.py`, `deliveries.py`, `summaries.py`), the scheduler and lease (`notifier.py`), subscriptions as a
use case (`service.py`), filters and Block Kit (`filters.py`, `messages.py`). Storage is in `bot/store/`
(`subscriptions.py`, `outbox.py`, `slack_messages.py`, `feed_state.py`, …), typed by `bot/store/protocols.py`.
"""

from bot.notify.notifier import Notifier, SubscriptionStatus
from bot.notify.service import SubscriptionRefused, Subscriptions

__all__ = ["Notifier", "SubscriptionRefused", "SubscriptionStatus", "Subscriptions"]
