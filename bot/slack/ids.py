"""Every Slack identifier the app and `manifest.yml` share: command, callback ids, action ids."""

COMMAND = "/thread-note"
SAVE_SHORTCUT = "save_as_thread_note"
