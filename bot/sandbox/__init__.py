"""Local stand-ins for the outside world (RingCentral, Slack), for the tests and `thread-note-bot demo`.

Nothing here imports the bot's own client, store or Slack code: these packages play the other side of the
wire.
"""
