"""The identifiers `manifest.yml` declares. Action, callback and block ids live beside their builders
(bot/slack/blocks.py), which both the listeners and the views use."""

COMMAND = "/thread-note"
SAVE_SHORTCUT = "save_as_thread_note"

