"""A read-only web page of the stand-in's channels: `GET /sandbox/slack/`.

Each channel's messages and threaded replies, rendered from their Block Kit the way Slack shows them
(sections and fields with mrkdwn, context lines, buttons, dividers, headers, images as their alt text; struck
`~text~`, "(edited)"), for people who would rather look than read `GET /sandbox/slack/messages` JSON.

- Everything is escaped: message text is untrusted (it comes from people and from RingCentral). Slack's own
  entities (`&amp;`, `&lt;`, `&gt;`) are decoded first, then the text is HTML-escaped, then mrkdwn markup is
  applied to the escaped text; `<…>` links, mentions and channels are rendered from their parts, each escaped.
  Only http(s) and mailto links become anchors.
- Self-contained: inline CSS and a few lines of inline JavaScript, no fonts or images from anywhere.
- It refreshes itself: the script fetches `?part=main` every second and swaps the content when it changed
  (without JavaScript, a `<meta refresh>` in `<noscript>` reloads every five seconds).
- Query: `?channel=<name or id>` shows one channel; `?team_id=` picks a workspace (default the first).
- Read-only: buttons are drawn, never wired; the page changes nothing.
"""

from __future__ import annotations

import html
import re
import secrets
import urllib.parse
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from bot.sandbox.slack.workspace_data import JSON, Channel, SlackState, Workspace

REFRESH_MS = 1000

# A few emoji names the bot and people use, as characters; any other `:name:` stays as written.
EMOJI = {
    "speech_balloon": "💬",
    "white_check_mark": "✅",
    "heavy_check_mark": "✔️",
    "warning": "⚠️",
    "x": "❌",
    "large_green_circle": "🟢",
    "red_circle": "🔴",
    "double_vertical_bar": "⏸️",
    "pause_button": "⏸️",
    "wave": "👋",
    "memo": "📝",
    "pencil": "📝",
    "pencil2": "✏️",
    "wastebasket": "🗑️",
    "hourglass_flowing_sand": "⏳",
    "link": "🔗",
    "lock": "🔒",
    "bust_in_silhouette": "👤",
    "telephone_receiver": "📞",
    "phone": "☎️",
    "inbox_tray": "📥",
    "information_source": "\u2139\ufe0f",
    "thumbsup": "👍",
    "+1": "👍",
    "tada": "🎉",
    "eyes": "👀",
    "raised_hand": "✋",
    "handshake": "🤝",
    "envelope": "✉️",
    "clock3": "🕒",
}

_ANGLE = re.compile(r"<([^<>\n]{1,2000})>")
_CODE_BLOCK = re.compile(r"```(.+?)```", re.S)
_CODE = re.compile(r"`([^`\n]+)`")
_BOLD = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")
_ITALIC = re.compile(r"(?<![\w_])_(?=\S)([^_\n]+?)(?<=\S)_(?![\w_])")
_STRIKE = re.compile(r"(?<![\w~])~(?=\S)([^~\n]+?)(?<=\S)~(?![\w~])")
_EMOJI = re.compile(r":([a-z0-9_+-]{1,40}):")
_SAFE_URL = re.compile(r"^(https?://|mailto:)", re.I)
_HOLD = "\x00{}\x00"
_HELD = re.compile("\x00(\\d+)\x00")


def emoji(text: str) -> str:
    """`:name:` → the character, for the names in `EMOJI` (input and output are HTML-escaped text)."""
    return _EMOJI.sub(lambda m: EMOJI.get(m.group(1), m.group(0)), text)


class _Renderer:
    """mrkdwn → HTML for one workspace (mentions and channels show names)."""

    def __init__(self, ws: Workspace | None) -> None:
        self.ws = ws

    def user_name(self, uid: str) -> str:
        user = self.ws.users.get(uid) if self.ws else None
        return user.real_name or user.name if user else uid

    def channel_name(self, cid: str) -> str:
        channel = self.ws.channels.get(cid) if self.ws else None
        return channel.name if channel else cid

    def angle(self, inner: str) -> str:
        """One `<…>` token: a link, a user or channel mention, a special mention or a date (escaped)."""
        target, _, label = inner.partition("|")
        if target.startswith("@"):
            name = label or self.user_name(target[1:])
            return f'<span class="mention">@{html.escape(html.unescape(name))}</span>'
        if target.startswith("#"):
            name = label or self.channel_name(target[1:])
            return f'<span class="mention">#{html.escape(html.unescape(name))}</span>'
        if target.startswith("!"):
            word = label or target[1:].split("^")[0]
            if target.startswith("!date^"):
                parts = target.split("^")
                return html.escape(html.unescape(label or (parts[1] if len(parts) > 1 else word)))
            return f'<span class="mention">@{html.escape(html.unescape(word))}</span>'
        url = html.unescape(target)
        shown = html.escape(html.unescape(label or target))
        if not _SAFE_URL.match(url):
            return shown
        return f'<a href="{html.escape(url, quote=True)}" rel="noopener noreferrer">{shown}</a>'

    def mrkdwn(self, text: str) -> str:
        """Slack mrkdwn (entities escaped, as Slack sends it) → safe HTML."""
        held: list[str] = []

        def hold(fragment: str) -> str:
            held.append(fragment)
            return _HOLD.format(len(held) - 1)

        text = text.replace("\x00", "")
        text = _ANGLE.sub(lambda m: hold(self.angle(m.group(1))), text)
        # Decode Slack's entities, then escape for HTML: from here on the text is safe and only gains tags.
        text = html.escape(html.unescape(text), quote=False)
        text = _CODE_BLOCK.sub(lambda m: hold(f"<pre>{m.group(1).strip(chr(10))}</pre>"), text)
        text = _CODE.sub(lambda m: hold(f"<code>{m.group(1)}</code>"), text)
        text = _BOLD.sub(r"<b>\1</b>", text)
        text = _ITALIC.sub(r"<i>\1</i>", text)
        text = _STRIKE.sub(r"<s>\1</s>", text)
        text = emoji(text)
        lines = []
        for line in text.split("\n"):
            if line.startswith("&gt; ") or line == "&gt;":
                lines.append(f'<span class="quote">{line[5:]}</span>')
            else:
                lines.append(line)
        out = "<br>".join(lines)
        for _ in range(3):  # held fragments may hold others (code inside a link label does not, but be safe)
            out = _HELD.sub(lambda m: held[int(m.group(1))], out)
        return out

    def text_object(self, obj: Any) -> str:
        if not isinstance(obj, dict):
            return ""
        text = str(obj.get("text") or "")
        if obj.get("type") == "mrkdwn":
            return self.mrkdwn(text)
        escaped = html.escape(text, quote=False)
        return emoji(escaped) if obj.get("emoji", True) else escaped

    # -- blocks ---------------------------------------------------------------------------------------------

    def button(self, element: JSON) -> str:
        style = element.get("style")
        css = "btn" + (f" btn-{style}" if style in ("primary", "danger") else "")
        label = self.text_object(element.get("text"))
        return f'<span class="{css}" title="{html.escape(str(element.get("action_id", "")))}">{label}</span>'

    def element(self, element: Any) -> str:
        """An interactive element, drawn but inert."""
        if not isinstance(element, dict):
            return ""
        kind = element.get("type")
        if kind == "button":
            return self.button(element)
        if kind == "image":
            return f'<span class="img">{html.escape(str(element.get("alt_text") or "image"))}</span>'
        if kind == "overflow":
            return '<span class="btn">⋯</span>'
        if kind in ("static_select", "external_select", "users_select", "conversations_select",
                    "channels_select", "multi_static_select"):  # fmt: skip
            placeholder = self.text_object(element.get("placeholder")) or "Select"
            return f'<span class="btn select">{placeholder} ▾</span>'
        return f'<span class="btn">{html.escape(str(kind))}</span>'

    def block(self, block: Any) -> str:
        if not isinstance(block, dict):
            return ""
        kind = block.get("type")
        if kind == "section":
            parts = []
            if block.get("text"):
                parts.append(f'<div class="text">{self.text_object(block["text"])}</div>')
            if block.get("fields"):
                cells = "".join(f"<div>{self.text_object(f)}</div>" for f in block["fields"])
                parts.append(f'<div class="fields">{cells}</div>')
            accessory = block.get("accessory")
            side = f'<div class="accessory">{self.element(accessory)}</div>' if accessory else ""
            return f'<div class="block section"><div class="main">{"".join(parts)}</div>{side}</div>'
        if kind == "context":
            items = []
            for el in block.get("elements") or []:
                if isinstance(el, dict) and el.get("type") == "image":
                    items.append(self.element(el))
                else:
                    items.append(f"<span>{self.text_object(el)}</span>")
            return f'<div class="block context">{"".join(items)}</div>'
        if kind == "actions":
            buttons = "".join(self.element(el) for el in block.get("elements") or [])
            return f'<div class="block actions">{buttons}</div>'
        if kind == "divider":
            return '<hr class="block divider">'
        if kind == "header":
            return f'<div class="block header">{self.text_object(block.get("text"))}</div>'
        if kind == "image":
            alt = html.escape(str(block.get("alt_text") or "image"))
            return f'<div class="block image"><span class="img">🖼 {alt}</span></div>'
        if kind == "rich_text":
            return f'<div class="block text">{self.rich_text(block)}</div>'
        return f'<div class="block unknown">[{html.escape(str(kind))} block]</div>'

    def rich_text(self, block: JSON) -> str:
        out: list[str] = []
        for section in block.get("elements") or []:
            if not isinstance(section, dict):
                continue
            inner = "".join(self.rich_element(e) for e in section.get("elements") or [])
            kind = section.get("type")
            if kind == "rich_text_quote":
                out.append(f'<span class="quote">{inner}</span>')
            elif kind == "rich_text_preformatted":
                out.append(f"<pre>{inner}</pre>")
            elif kind == "rich_text_list":
                items = "".join(
                    f"<li>{''.join(self.rich_element(e) for e in (item.get('elements') or []))}</li>"
                    for item in section.get("elements") or []
                    if isinstance(item, dict)
                )
                out.append(f"<ul>{items}</ul>")
            else:
                out.append(inner)
        return "".join(out)

    def rich_element(self, el: Any) -> str:
        if not isinstance(el, dict):
            return ""
        kind = el.get("type")
        if kind == "text":
            text = html.escape(str(el.get("text") or ""), quote=False).replace("\n", "<br>")
            style = el.get("style") or {}
            for flag, tag in (("bold", "b"), ("italic", "i"), ("strike", "s"), ("code", "code")):
                if style.get(flag):
                    text = f"<{tag}>{text}</{tag}>"
            return text
        if kind == "user":
            return f'<span class="mention">@{html.escape(self.user_name(str(el.get("user_id"))))}</span>'
        if kind == "channel":
            name = self.channel_name(str(el.get("channel_id")))
            return f'<span class="mention">#{html.escape(name)}</span>'
        if kind == "link":
            url = str(el.get("url") or "")
            shown = html.escape(str(el.get("text") or url))
            if _SAFE_URL.match(url):
                return f'<a href="{html.escape(url, quote=True)}" rel="noopener noreferrer">{shown}</a>'
            return shown
        if kind == "emoji":
            name = str(el.get("name") or "")
            return EMOJI.get(name, html.escape(f":{name}:"))
        if kind == "broadcast":
            return f'<span class="mention">@{html.escape(str(el.get("range") or ""))}</span>'
        return ""

    # -- messages -------------------------------------------------------------------------------------------

    def message(self, m: JSON, *, reply: bool = False) -> str:
        """One message as the stand-in lists it (`Message.to_sandbox()`), replies nested."""
        uid = str(m.get("user") or "")
        user = self.ws.users.get(uid) if self.ws else None
        name = (user.real_name or user.name) if user else (uid or "unknown")
        is_bot = bool(m.get("bot_id")) or bool(user and user.is_bot)
        tombstone = m.get("subtype") == "tombstone"
        initial = html.escape((name[:1] or "?").upper())
        hue = sum(map(ord, uid or name)) % 360
        when = _time(str(m.get("ts") or "0"))
        badge = '<span class="badge">APP</span>' if is_bot else ""
        edited = '<span class="edited">(edited)</span>' if m.get("edited") else ""
        if tombstone:
            body = '<div class="block tombstone">This message was deleted.</div>'
        elif m.get("blocks"):
            body = "".join(self.block(b) for b in m["blocks"])
        else:
            body = f'<div class="block text">{self.mrkdwn(str(m.get("text") or ""))}</div>'
        replies = [r for r in m.get("replies") or [] if isinstance(r, dict)]
        thread = ""
        if replies and not reply:
            count = f"{len(replies)} repl{'y' if len(replies) == 1 else 'ies'}"
            inner = "".join(self.message(r, reply=True) for r in replies)
            thread = f'<div class="thread"><div class="thread-count">{count}</div>{inner}</div>'
        css = "msg reply" if reply else "msg"
        return (
            f'<article class="{css}" data-ts="{html.escape(str(m.get("ts") or ""))}">'
            f'<div class="avatar" style="background:hsl({hue} 45% 42%)">{initial}</div>'
            f'<div class="content"><div class="meta"><span class="who">{html.escape(name)}</span>{badge}'
            f'<span class="when">{when}</span>{edited}</div>{body}{thread}</div></article>'
        )


def _time(ts: str) -> str:
    try:
        moment = datetime.fromtimestamp(float(ts), UTC)
    except (ValueError, OverflowError, OSError):
        return ""
    return moment.strftime("%H:%M:%S UTC")


def _channels(ws: Workspace, only: str | None) -> list[Channel]:
    channels = [c for c in ws.channels.values() if not c.is_im]
    if only:
        wanted = only.lstrip("#")
        channels = [c for c in channels if wanted in (c.id, c.name)]
    return sorted(channels, key=lambda c: (not c.is_general, c.name))


def render_main(state: SlackState, *, team_id: str | None = None, channel: str | None = None) -> str:
    """The part that refreshes: the sidebar (every channel) and the shown channels with their messages."""
    ws = state.workspace(team_id or None)
    r = _Renderer(ws)
    shown = {c.id for c in _channels(ws, channel)}
    team = f"&team_id={urllib.parse.quote(team_id)}" if team_id else ""
    nav = [f'<a href="?{team[1:]}" class="all{" on" if not channel else ""}">All channels</a>']
    sections = []
    for ch in _channels(ws, None):
        top = [m.to_sandbox() for m in ch.top_level()]
        count = len(top) + sum(len(m.get("replies") or []) for m in top)
        lock = "🔒" if ch.is_private else "#"
        label = f"{lock} {html.escape(ch.name)}"
        css = " ".join(c for c in ("has" if count else "", "on" if channel and ch.id in shown else "") if c)
        href = f"?channel={urllib.parse.quote(ch.name)}{team}"
        nav.append(
            f'<a href="{html.escape(href)}" class="{css}">{label}<span class="count">{count or ""}</span></a>'
        )
        if ch.id not in shown:
            continue
        extra = (
            ' <span class="note">(the bot is not in this channel)</span>'
            if ws.bot_user_id not in ch.members
            else ""
        )
        body = "".join(r.message(m) for m in top) if top else '<p class="empty">No messages yet.</p>'
        sections.append(
            f'<section class="channel" id="{html.escape(ch.id)}" data-name="{html.escape(ch.name)}">'
            f"<h2>{label}{extra}</h2>{body}</section>"
        )
    if not shown:
        sections.append(f'<p class="empty">No channel {html.escape(channel or "")} here.</p>')
    workspace = html.escape(ws.name)
    return (
        f'<nav><div class="team">{workspace}</div><div class="sub">Slack stand-in · read-only</div>'
        f"{''.join(nav)}</nav><main>{''.join(sections)}</main>"
    )


_CSS = """
*{box-sizing:border-box}
body{margin:0;font:15px/1.46 -apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Noto Sans",sans-serif,
"Noto Color Emoji";color:#1d1c1d;background:#fff}
#app{display:flex;min-height:100vh}
nav{width:230px;flex:none;background:#3f0e40;color:#cfc3cf;padding:14px 0;position:sticky;top:0;height:100vh;
overflow:auto}
nav .team{color:#fff;font-weight:800;font-size:17px;padding:0 16px}
nav .sub{font-size:12px;padding:0 16px 12px;border-bottom:1px solid #5d2c5d;margin-bottom:8px}
nav a{display:flex;justify-content:space-between;color:#cfc3cf;text-decoration:none;padding:3px 16px}
nav a.has{color:#fff;font-weight:700}
nav a:hover{background:#350d36}
nav a.on{background:#1164a3;color:#fff}
nav a.all{margin-bottom:6px}
nav .count{background:#cd2553;color:#fff;border-radius:9px;font-size:11px;padding:0 6px;line-height:18px}
nav .count:empty{display:none}
main{flex:1;min-width:0;padding:8px 0 40px}
section.channel{border-bottom:1px solid #e8e8e8;padding:4px 0 10px}
section.channel h2{font-size:18px;font-weight:900;margin:0;padding:10px 20px;position:sticky;top:0;
background:#fff;border-bottom:1px solid #f0f0f0;z-index:1}
section.channel h2 .note{font-weight:400;font-size:13px;color:#868686}
.empty{color:#868686;padding:4px 20px;margin:6px 0}
.msg{display:flex;gap:10px;padding:8px 20px}
.msg:hover{background:#f8f8f8}
.avatar{width:36px;height:36px;border-radius:6px;color:#fff;font-weight:700;display:flex;align-items:center;
justify-content:center;flex:none}
.reply .avatar{width:28px;height:28px;font-size:13px}
.content{flex:1;min-width:0}
.meta{display:flex;align-items:baseline;gap:6px}
.who{font-weight:900}
.badge{font-size:10px;font-weight:700;color:#616061;background:#e8e8e8;border-radius:3px;padding:0 4px}
.when{font-size:12px;color:#616061}
.block{margin:2px 0}
.section{display:flex;gap:12px}
.section .main{flex:1;min-width:0}
.text{white-space:normal;overflow-wrap:anywhere}
.fields{display:grid;grid-template-columns:1fr 1fr;gap:4px 16px;margin-top:4px}
.context{font-size:12.5px;color:#616061;display:flex;gap:8px;flex-wrap:wrap;align-items:center}
.actions{display:flex;gap:8px;flex-wrap:wrap;margin-top:6px}
.btn{display:inline-block;border:1px solid #bbb;border-radius:4px;padding:3px 12px;font-size:13.5px;
font-weight:700;background:#fff;color:#1d1c1d;cursor:default}
.btn-primary{background:#007a5a;border-color:#007a5a;color:#fff}
.btn-danger{background:#fff;border-color:#e01e5a;color:#e01e5a}
.select{font-weight:400}
.divider{border:0;border-top:1px solid #ddd;margin:8px 0}
.header{font-size:17px;font-weight:900}
.img{display:inline-block;border:1px dashed #bbb;border-radius:4px;padding:0 6px;font-size:12px;color:#616061}
.tombstone{color:#868686;font-style:italic}
.edited{font-size:12px;color:#868686}
.mention{background:#e8f5fa;color:#1264a3;border-radius:3px;padding:0 2px}
a{color:#1264a3}
s{color:#616061}
code{font:12px Menlo,Consolas,monospace;background:#f6f6f6;border:1px solid #e0e0e0;border-radius:3px;
padding:0 3px;color:#c01343}
pre{font:12px Menlo,Consolas,monospace;background:#f8f8f8;border:1px solid #e0e0e0;border-radius:4px;
padding:8px;white-space:pre-wrap;margin:4px 0}
.quote{display:block;border-left:4px solid #ddd;padding-left:10px;color:#454245}
.thread{margin-top:6px;border-left:3px solid #d8d8d8;padding-left:2px}
.thread-count{font-size:12.5px;font-weight:700;color:#1264a3;padding:0 12px}
.thread .msg{padding:6px 12px}
ul{margin:2px 0;padding-left:22px}
"""

_SCRIPT = """
(function(){
  var main = document.getElementById('app');
  var url = new URL(window.location.href); url.searchParams.set('part', 'main');
  var last = main.innerHTML;
  function tick(){
    fetch(url.toString(), {cache: 'no-store'}).then(function(r){ return r.ok ? r.text() : null; })
      .then(function(html){
        if (html !== null && html !== last) { var y = window.scrollY; main.innerHTML = html; last = html;
          window.scrollTo(0, y); }
      }).catch(function(){}).then(function(){ setTimeout(tick, %d); });
  }
  setTimeout(tick, %d);
})();
""" % (REFRESH_MS, REFRESH_MS)  # noqa: UP031 - the braces of the script make str.format awkward


def render_page(
    state: SlackState, *, team_id: str | None = None, channel: str | None = None, nonce: str = ""
) -> str:
    main = render_main(state, team_id=team_id, channel=channel)
    title = html.escape(f"#{channel.lstrip('#')} · Slack stand-in" if channel else "Slack stand-in")
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{title}</title><style>{_CSS}</style>"
        "<noscript><meta http-equiv='refresh' content='5'></noscript></head>"
        f"<body><div id='app'>{main}</div>"
        f"<script nonce='{html.escape(nonce)}'>{_SCRIPT}</script></body></html>"
    )


def endpoint(state: SlackState) -> Callable[[Request], Awaitable[Response]]:
    """`GET /sandbox/slack/` (`?channel=`, `?team_id=`, `?part=main` for the refreshing part)."""

    async def page(request: Request) -> Response:
        q = request.query_params
        try:
            state.workspace(q.get("team_id") or None)
        except KeyError:
            return HTMLResponse("<!doctype html><p>No such workspace.</p>", status_code=404)
        nonce = secrets.token_urlsafe(16)
        headers = {
            "Cache-Control": "no-store",
            # Nothing from elsewhere; of scripts only our own (even if some text escaped the escaping).
            "Content-Security-Policy": f"default-src 'none'; style-src 'unsafe-inline'; "
            f"script-src 'nonce-{nonce}'; connect-src 'self'",
            "X-Content-Type-Options": "nosniff",
        }
        if q.get("part") == "main":
            text = render_main(state, team_id=q.get("team_id"), channel=q.get("channel"))
        else:
            text = render_page(state, team_id=q.get("team_id"), channel=q.get("channel"), nonce=nonce)
        return HTMLResponse(text, headers=headers)

    return page
