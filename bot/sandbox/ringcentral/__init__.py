"""The RingCentral Thread Messaging emulator: `create_app(seed)`, `thread-note-bot sandbox`; see README.md."""
