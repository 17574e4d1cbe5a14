"""Prometheus metrics, one registry per running bot (so several bots in one test process don't collide)."""

from __future__ import annotations

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
        self.subscriptions_paused = Gauge(
            "thread_note_subscriptions_paused",
            "Subscriptions paused because of a channel problem",
            registry=r,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
