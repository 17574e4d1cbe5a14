"""Slack's Block Kit limits (../shared/slack/NOTES.md §4.2), defined once for every builder.

Builders stay inside them by truncating with "…" and saying how much was left out; a button value or modal
`private_metadata` that carries data back is refused (ValueError) rather than cut. The note's own length limit
is not Slack's: it is RingCentral's, in bot/note_text.py.
"""

from __future__ import annotations

MESSAGE_BLOCKS = 50
VIEW_BLOCKS = 100  # a modal or the Home tab
SECTION_TEXT = 3000
CONTEXT_TEXT = 3000
HEADER_TEXT = 150
BUTTON_TEXT = 75
BUTTON_VALUE = 2000
OPTION_TEXT = 75
PRIVATE_METADATA = 3000
INPUT_INITIAL = 3000
MODAL_TITLE = 24
BLOCK_ID = 255
# Slack also refuses messages whose blocks are too large in total (`msg_blocks_too_long`, undocumented, seen
# around 13k characters): lists stop adding notes beyond this many characters of text.
MESSAGE_TEXT_BUDGET = 12_000
