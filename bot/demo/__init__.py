"""`thread-note-bot demo [--keep]`: the whole loop on this machine, with no account anywhere.

Starts the RingCentral emulator (demo seed), the Slack stand-in and the bot itself on free loopback ports
(SQLite in a temporary folder, a generated secret key), then plays the real flows through the real
interfaces, printing each step as it happens:

1. Bob connects his RingCentral account (`/thread-note connect`, the emulator's authorize page with
   `sandbox_user=`, the bot's OAuth callback).
2. `#support` is subscribed to the Support queue (`/thread-note subscribe Support`, the public-channel
   confirmation button).
3. Ana writes a handoff note in RingCentral (the emulator's API, signed in with her JWT); the bot's poll posts
   it into `#support`, opening a Slack thread for the customer's conversation.
4. Carol answers in that Slack thread; Bob saves her message as a note with the "Save as thread note" shortcut
   (the shortcut and the modal submission are signed like Slack's); it shows as a reply in the thread.
5. Bob edits that note (`/thread-note edit`), then 6. deletes it (`/thread-note delete` and its confirm
   button); the thread shows "(edited)", then the note struck through.
7. Bob takes over the customer's conversation with the "Take over" button on the thread's first message.
8. Two-way: Carol connects (as Chen Wei), Bob makes the subscription two-way, and Carol's reply in the Slack
   thread reaches the bot as the `message` event the Slack stand-in sends itself (signed like Slack, to the
   bot's /slack/events): it becomes a note by Chen Wei in RingCentral.

The bot's poll is driven with the notifier's `run_once` (deterministic, no waiting for the interval). Every
step checks its outcome where a person would see it (the Slack stand-in, the emulator's state); a step that
does not happen stops the demo with the reason and exit status 1. Nothing is faked: without channel
notifications in the bot, steps 2 to 8 fail and say so.

`--keep` leaves everything running and prints the addresses (the channel page, a RingCentral sign-in link,
the bot) and credentials until Ctrl-C.

The package, by concern: `cast` (the people, the channel and what they write), `reading` (what a person
sees in a Slack payload or on the bot's pages), `stack` (the three servers), `story` (the steps), `run` (the
command: printing the steps, `--keep`). The ✓/✗ lines come from `bot.console`, shared with `check`.
"""

from __future__ import annotations

from bot.demo.reading import DemoFailed, click_link, find_button, note_id_of, texts
from bot.demo.run import play, run_demo
from bot.demo.stack import Stack
from bot.demo.story import RingCentralPerson, Story

__all__ = [
    "DemoFailed",
    "RingCentralPerson",
    "Stack",
    "Story",
    "click_link",
    "find_button",
    "note_id_of",
    "play",
    "run_demo",
    "texts",
]
