"""Structured logging (structlog, one JSON object per line on stderr) that never prints a secret.

Two guards: values under secret-sounding keys are replaced, and anything that looks like a token inside any
string (Slack tokens, bearer headers, JWTs, Fernet ciphertexts, secret query parameters such as the OAuth
callback's `code` and `state` in access logs) is masked wherever it appears.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

REDACTED = "[redacted]"
_SECRET_KEYS = re.compile(
    r"(token|secret|password|jwt|assertion|authorization|code_verifier|verifier|cookie|api_key|refresh|access)",
    re.IGNORECASE,
)
_SECRET_VALUES = re.compile(
    r"(xox[abposr]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+"
    r"|(?i:bearer|basic)\s+[A-Za-z0-9._~+/=-]+"
    r"|eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"
    r"|gAAAAA[A-Za-z0-9_=-]{20,})"
)


# Secrets in URL query strings, e.g. the OAuth callback's one-time `code` and `state` in uvicorn's access log.
_QUERY_SECRETS = re.compile(
    r"([?&](?:code|state|[A-Za-z_]*token|client_secret|assertion|code_verifier|validation_token)=)[^&\s\"']+",
    re.IGNORECASE,
)


# Keys whose values are secret or are what people wrote (note text, message blocks, modal input), in
# structured data: a dict logged as a value, or a dict's repr / JSON inside a message. The Slack SDK logs
# every request's form or JSON body this way at DEBUG (`'client_secret': '…', 'code': '…'` in
# oauth.v2.access, `'text': …, 'blocks': […]` in chat.postMessage) and every response body as JSON.
_CONTENT_KEYS = frozenset(
    {"code", "state", "text", "blocks", "initial_value", "value", "values", "private_metadata", "email"}
)
_QUOTED = r"(?:'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")"
_STRUCTURED = re.compile(
    r"""(['"])(?P<key>[A-Za-z_]*(?:token|secret|password|jwt|assertion|verifier)[A-Za-z_]*"""
    r"""|code|state|text|blocks|initial_value|value|private_metadata|email)\1(\s*[:=]\s*)"""
    rf"(?P<value>{_QUOTED}|[\[{{]|[^\s,}}\]]+)",
    re.IGNORECASE,
)


def _structured(text: str) -> str:
    """Mask the values of secret and content keys in a dict's repr or JSON inside a string. A value that is
    a list or dict (`'blocks': [...]`) is masked up to its matching bracket."""
    out: list[str] = []
    pos = 0
    for match in _STRUCTURED.finditer(text):
        if match.start() < pos:
            continue  # inside a value already masked
        out.append(text[pos : match.start("value")])
        end = match.end("value")
        if match.group("value") in ("[", "{"):
            end = _closing(text, match.start("value"))
        out.append(f"'{REDACTED}'")
        pos = end
    out.append(text[pos:])
    return "".join(out)


def _closing(text: str, start: int) -> int:
    """The index after the bracket that closes the one at `start`, skipping quoted strings (or the end)."""
    depth = 0
    i = start
    quote: str | None = None
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return len(text)


def scrub(value: Any) -> Any:
    """Mask token-looking substrings and the values of secret or content keys (recursively)."""
    if isinstance(value, str):
        masked = _QUERY_SECRETS.sub(rf"\1{REDACTED}", _SECRET_VALUES.sub(REDACTED, value))
        return _structured(masked) if ":" in masked or "=" in masked else masked
    if isinstance(value, dict):
        return {
            k: (REDACTED if _SECRET_KEYS.search(str(k)) or str(k).lower() in _CONTENT_KEYS else scrub(v))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(scrub(v) for v in value)
    return value


def _redact(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in list(event_dict.items()):
        if key != "event" and _SECRET_KEYS.search(key) and not key.endswith(("_id", "_count", "_at")):
            event_dict[key] = REDACTED
        else:
            event_dict[key] = scrub(value)
    return event_dict


def configure(level: str = "INFO", *, json: bool = True) -> None:
    """Route stdlib and structlog records through one redacting JSON renderer on stderr."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        _redact,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        # Not cached: a cached logger keeps the configuration it first saw, so a process that configures
        # logging twice (a test run, `demo` inside another command) would log through a stale one, and
        # structlog's capture_logs could not see it. Building the bound logger per call costs microseconds.
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(foreign_pre_chain=shared, processor=renderer))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("httpx", "httpcore", "aiosqlite", "asyncio", "alembic"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    # Jobs run with max_instances=1 and coalesce=True, so a run skipped while the previous one is still going
    # is the design; APScheduler reports it as a warning. Job failures still come through (ERROR).
    logging.getLogger("apscheduler.scheduler").setLevel(max(logging.ERROR, root.level))


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
