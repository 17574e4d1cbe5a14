"""The few HTML pages the bot serves itself (connecting an account, installing into a workspace): one line of
style, everything from people or RingCentral escaped."""

from __future__ import annotations

import html

# The connect pages: never framed by another site (the Link button must be pressed knowingly), never cached
# (the form token is one-time), no referrer (the callback URL carried a code and state).
PAGE_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'; form-action 'self'",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
}


def page(title: str, detail: str, form_token: str | None = None) -> str:
    form = ""
    if form_token is not None:  # the connect confirmation: a one-time token, posted back to the same path
        form = (
            "<form method='post'>"
            f"<input type='hidden' name='form_token' value='{html.escape(form_token, quote=True)}'>"
            "<button type='submit' name='decision' value='link'>Link</button> "
            "<button type='submit' name='decision' value='cancel'>Cancel</button></form>"
        )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>thread-note-bot</title>"
        "<style>body{font:16px system-ui,sans-serif;max-width:36em;margin:4em auto;color:#1d1c1d}</style>"
        f"</head><body><h1>{html.escape(title)}</h1><p>{html.escape(detail)}</p>{form}</body></html>"
    )
