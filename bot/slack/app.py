"""The Bolt app: one place where every listener is registered (each feature module has `register`)."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.slack import actions, commands, errors, home, modals, notifications, subscriptions
from bot.slack.deps import Deps


def create_bolt_app(settings: Settings, deps: Deps) -> AsyncApp:
    assert settings.slack_bot_token is not None
    client = AsyncWebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=settings.slack_api_url,
        timeout=10,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=2)],
    )
    signing = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None
    app = AsyncApp(
        client=client,
        signing_secret=signing,
        process_before_response=False,
        raise_error_for_unhandled_request=False,
    )
    for feature in (commands, modals, actions, home, subscriptions, notifications, errors):
        feature.register(app, deps)
    return app
