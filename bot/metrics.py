"""Prometheus metrics, one registry per running bot (so several bots in one test process don't collide)."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE_LATEST", "Metrics"]


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.slack_requests = Counter(
            "thread_note_slack_requests", "Requests from Slack by kind", ["kind"], registry=r
        )
        self.note_writes = Counter(
            "thread_note_note_writes",
            "Note writes from Slack by action and outcome",
            ["action", "outcome"],
            registry=r,
        )
        self.connects = Counter(
            "thread_note_connects", "Account connections by outcome", ["outcome"], registry=r
        )
        self.polls = Counter("thread_note_polls", "Change-feed polls by outcome", ["outcome"], registry=r)
        self.poll_duration = Histogram(
            "thread_note_poll_seconds", "Duration of one change-feed poll", registry=r
        )
        self.last_poll = Gauge(
            "thread_note_last_successful_poll_timestamp", "Unix time of the last successful poll", registry=r
        )
        self.outbox_depth = Gauge(
            "thread_note_outbox_depth", "Notifications waiting to be posted", registry=r
        )
        self.deliveries = Counter(
            "thread_note_deliveries", "Slack deliveries by kind and outcome", ["kind", "outcome"], registry=r
        )
        self.slack_rate_limited = Counter(
            "thread_note_slack_429", "Slack 429 answers", ["method"], registry=r
        )
        self.slack_bad_signatures = Counter(
            "thread_note_slack_bad_signatures",
            "Requests to /slack/events refused: signature missing, stale or wrong",
            ["reason"],
            registry=r,
        )
        self.sync_records_skipped = Counter(
            "thread_note_sync_records_skipped",
            "entries/sync records skipped: unknown recordType, system entry, malformed",
            ["reason"],
            registry=r,
        )
        self.feed_failing = Gauge(
            "thread_note_feed_failing",
            "1 while the change feed fails poll after poll (see /healthz 'feed' for since when)",
            registry=r,
        )
        self.feed_failures = Gauge(
            "thread_note_feed_consecutive_failures", "Change-feed polls in a row that failed", registry=r
        )
        self.feed_failing_since = Gauge(
            "thread_note_feed_failing_since_timestamp",
            "Unix time of the first failure of the current run of failed polls (0: none)",
            registry=r,
        )
        self.retention_pruned = Counter(
            "thread_note_retention_pruned",
            "Rows deleted by the retention job (THREAD_NOTE_RETENTION_DAYS), by table",
            ["table"],
            registry=r,
        )
        self.subscriptions_paused = Gauge(
            "thread_note_subscriptions_paused",
            "Subscriptions paused because of a channel problem",
            registry=r,
        )

        # A wrong THREAD_NOTE_SECRET_KEY (a restore, replicas on different keys): stored secrets that fit
        # no key (counted at scrape time), and reads that failed because of one (a person asked to reconnect).
        self.undecryptable_secrets = Gauge(
            "thread_note_undecryptable_secrets",
            "Stored secrets that no key in THREAD_NOTE_SECRET_KEY decrypts",
            registry=r,
        )
        self.undecryptable_reads = Counter(
            "thread_note_undecryptable_reads", "Reads of a stored secret that no key decrypts", registry=r
        )

        per_sub = ["subscription", "team", "channel", "resource"]
        self.subscription_outbox = Gauge(
            "thread_note_subscription_outbox_depth",
            "Notifications waiting, per subscription",
            per_sub,
            registry=r,
        )
        self.subscription_lag = Gauge(
            "thread_note_subscription_lag_seconds",
            "Age of the oldest waiting notification",
            per_sub,
            registry=r,
        )
        self.subscription_last_poll = Gauge(
            "thread_note_subscription_last_poll_timestamp",
            "Unix time of the last successful poll of the subscription's resource",
            per_sub,
            registry=r,
        )
        self.subscription_paused = Gauge(
            "thread_note_subscription_paused", "1 when the subscription is paused", per_sub, registry=r
        )
        self.realtime = Gauge(
            "thread_note_realtime",
            "1 when RingCentral's webhook pushes changes, 0 when off or failing",
            registry=r,
        )
        self.webhook_disabled_filters = Gauge(
            "thread_note_webhook_disabled_filters",
            "Event filters RingCentral reports as disabled (disabledFilters): real time is off",
            registry=r,
        )
        self.subscription_error = Gauge(
            "thread_note_subscription_has_error",
            "1 when the subscription's last attempt failed",
            per_sub,
            registry=r,
        )

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

    def set_feed(self, health: Any) -> None:
        """The change feed's health (a `bot.notify.health.FeedHealth`), as the store has it."""
        self.feed_failing.set(1 if health.failing else 0)
        self.feed_failures.set(health.failures)
        since = health.failing_since
        self.feed_failing_since.set(since.timestamp() if since else 0)

    def render(self) -> bytes:
        return generate_latest(self.registry)
