"""The RingCentral Thread Messaging emulator: `create_app(seed)` and `thread-note-bot sandbox` (see README.md)."""
