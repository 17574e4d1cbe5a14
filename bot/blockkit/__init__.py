"""Block Kit's leaf: what every message and view is built from, on both sides of the bot.

- `limits`: Slack's Block Kit limits;
- `text`: `escape`/`unescape` for mrkdwn, and `clip`/`fit` to cut text inside a limit;
- `primitives`: sections, context, headers, buttons and modal metadata, each within its limit;
- `ids`: every action, callback and block id, the slash command and the shortcut;
- `threads`: how a RingCentral conversation reads ("+1 650-555-0101 · Sales Queue · Open, …").

The listeners' views (bot/slack/views) and the channel notifications (bot/notify) both build on it, and it
imports neither of them, nor a listener, a use case, the RingCentral client or the store: only the standard
library, slack_sdk and phonenumbers (tests/test_layers.py checks it). So a change to a modal cannot break
notifications, and the notifications and the listeners that answer their buttons agree on the ids by
importing the same names.
"""
