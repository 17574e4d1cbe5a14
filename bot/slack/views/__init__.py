"""What the listeners show, one module per screen: pure functions, data in, blocks out (typed
`slack_sdk.models`), so views are tested without Slack.

- `notes`: a note as saved, a thread's notes, "Delete these?", "which conversation?", progress lines;
- `connect`: connecting RingCentral, and disconnecting;
- `modals`: "Save as thread note", add and edit a note, and the small modals; `read_note_input`;
- `home`: App Home and `/thread-note status`;
- `usage`: the usage card;
- `sentences`: one sentence from the bot, and a warning that hands back what the person typed.

Every builder stays inside Slack's limits (bot/blockkit/limits.py: 50 blocks per message, 100 per modal or
Home tab, section text 3000, header 150, button and option text 75, button value 2000, `private_metadata`
3000) by truncating with "…" and saying how much was left out, and escapes `&`, `<`, `>` in everything that
came from people or from RingCentral. User content goes into `mrkdwn` with `verbatim: true` (so a literal
"@channel" is not auto-parsed either) or into `plain_text`, which Slack never parses for mentions. The ids
the listeners route on are in bot/blockkit/ids.py; the wording of each failure is next to `classify` in
bot/slack/errors.py.
"""
