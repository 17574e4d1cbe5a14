"""Prometheus metrics, one registry per running bot (so several bots in one test process don't collide)."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE_LATEST", "Metrics"]


class Metrics:
    """Every figure the bot exports; `render` is the Prometheus text of /metrics."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        counter, gauge = self._counter, self._gauge
        self.slack_requests = counter("thread_note_slack_requests", "Requests from Slack by kind", "kind")
        self.note_writes = counter(
            "thread_note_note_writes", "Note writes from Slack by action and outcome", "action", "outcome"
        )
        self.connects = counter("thread_note_connects", "Account connections by outcome", "outcome")
        self.polls = counter("thread_note_polls", "Change-feed polls by outcome", "outcome")
        self.poll_duration = Histogram(
            "thread_note_poll_seconds", "Duration of one change-feed poll", registry=self.registry
        )
        self.last_poll = gauge(
            "thread_note_last_successful_poll_timestamp", "Unix time of the last successful poll"
        )
        self.outbox_depth = gauge("thread_note_outbox_depth", "Notifications waiting to be posted")
        self.deliveries = counter(
            "thread_note_deliveries", "Slack deliveries by kind and outcome", "kind", "outcome"
        )
        self.slack_rate_limited = counter("thread_note_slack_429", "Slack 429 answers", "method")
        self.slack_bad_signatures = counter(
            "thread_note_slack_bad_signatures",
            "Requests to /slack/events refused: signature missing, stale or wrong",
            "reason",
        )
        self.sync_records_skipped = counter(
            "thread_note_sync_records_skipped",
            "entries/sync records skipped: unknown recordType, system entry, malformed",
            "reason",
        )
        # Per RingCentral account: account="deployment" (RINGCENTRAL_JWT), or a workspace's own account's id.
        self.feed_failing = gauge(
            "thread_note_feed_failing",
            "1 while the account's change feed fails poll after poll (see /healthz 'feed' for since when)",
            "account",
        )
        self.feed_failures = gauge(
            "thread_note_feed_consecutive_failures", "Change-feed polls in a row that failed", "account"
        )
        self.feed_failing_since = gauge(
            "thread_note_feed_failing_since_timestamp",
            "Unix time of the first failure of the current run of failed polls (0: none)",
            "account",
        )
        self.account_paused = gauge(
            "thread_note_account_paused",
            "1 while a workspace's own RingCentral account is paused (its credential refused: link it again)",
            "account",
        )
        self.retention_pruned = counter(
            "thread_note_retention_pruned",
            "Rows deleted by the retention job (THREAD_NOTE_RETENTION_DAYS), by table",
            "table",
        )
        self.subscriptions_paused = gauge(
            "thread_note_subscriptions_paused", "Subscriptions paused because of a channel problem"
        )

        # A wrong THREAD_NOTE_SECRET_KEY (a restore, replicas on different keys): stored secrets that fit
        # no key (counted at scrape time), and reads that failed because of one (a person asked to reconnect).
        self.undecryptable_secrets = gauge(
            "thread_note_undecryptable_secrets",
            "Stored secrets that no key in THREAD_NOTE_SECRET_KEY decrypts",
        )
        self.undecryptable_reads = counter(
            "thread_note_undecryptable_reads", "Reads of a stored secret that no key decrypts"
        )
        self._subscription_and_webhook_gauges()

    def _subscription_and_webhook_gauges(self) -> None:
        """Per-subscription figures (`set_subscriptions`) and real time (`set_webhook`), set per scrape."""
        gauge = self._gauge
        per_sub = ("subscription", "team", "channel", "resource")
        self.subscription_outbox = gauge(
            "thread_note_subscription_outbox_depth", "Notifications waiting, per subscription", *per_sub
        )
        self.subscription_lag = gauge(
            "thread_note_subscription_lag_seconds", "Age of the oldest waiting notification", *per_sub
        )
        self.subscription_last_poll = gauge(
            "thread_note_subscription_last_poll_timestamp",
            "Unix time of the last successful poll of the subscription's resource",
            *per_sub,
        )
        self.subscription_paused = gauge(
            "thread_note_subscription_paused", "1 when the subscription is paused", *per_sub
        )
        self.realtime = gauge(
            "thread_note_realtime", "1 when RingCentral's webhook pushes changes, 0 when off or failing"
        )
        self.webhook_disabled_filters = gauge(
            "thread_note_webhook_disabled_filters",
            "Event filters RingCentral reports as disabled (disabledFilters): real time is off",
        )
        self.subscription_error = gauge(
            "thread_note_subscription_has_error", "1 when the subscription's last attempt failed", *per_sub
        )

    def _counter(self, name: str, documentation: str, *labels: str) -> Counter:
        return Counter(name, documentation, labels, registry=self.registry)

    def _gauge(self, name: str, documentation: str, *labels: str) -> Gauge:
        return Gauge(name, documentation, labels, registry=self.registry)

    def set_webhook(self, status: dict[str, Any]) -> None:
        """Real time (bot/notify/webhook.py): 1 when RingCentral pushes changes; 0 when it is off (filters
        disabled) or failing. Polling carries on either way."""
        disabled = status.get("disabled_filters") or []
        self.webhook_disabled_filters.set(len(disabled))
        self.realtime.set(
            1 if status.get("subscription") and not disabled and not status.get("last_error") else 0
        )

    def set_subscriptions(self, statuses: list[Any]) -> None:
        """Per-subscription figures as they stand now (rebuilt at each scrape, so removed ones disappear)."""
        gauges = (
            self.subscription_outbox,
            self.subscription_lag,
            self.subscription_last_poll,
            self.subscription_paused,
            self.subscription_error,
        )
        for gauge in gauges:
            gauge.clear()
        for st in statuses:
            sub = st.subscription
            labels = (str(sub.id), sub.team_id, sub.channel_name or sub.channel_id, sub.resource_name)
            self.subscription_outbox.labels(*labels).set(st.outbox_depth)
            self.subscription_lag.labels(*labels).set(st.lag_seconds or 0.0)
            self.subscription_last_poll.labels(*labels).set(st.last_poll.timestamp() if st.last_poll else 0)
            self.subscription_paused.labels(*labels).set(0 if sub.active else 1)
            self.subscription_error.labels(*labels).set(1 if st.last_error else 0)

    def set_feed(self, health: Any, account: str = "") -> None:
        """`account`'s change feed's health (a `bot.notify.health.FeedHealth`), as the store has it."""
        label = account or "deployment"
        self.feed_failing.labels(label).set(1 if health.failing else 0)
        self.feed_failures.labels(label).set(health.failures)
        since = health.failing_since
        self.feed_failing_since.labels(label).set(since.timestamp() if since else 0)

    def render(self) -> bytes:
        return generate_latest(self.registry)
