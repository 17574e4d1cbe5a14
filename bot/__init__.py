"""thread-note-bot: RingCentral Thread Messaging notes in Slack."""

__version__ = "0.1.0"
