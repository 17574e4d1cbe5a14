"""The demo's cast (the emulator's demo seed, the stand-in's default workspace) and what they write."""

from __future__ import annotations

CALLBACK_PATH = "/ringcentral/oauth/callback"
MT = "/restapi/v1.0/account/~/message-threads"
POLL_INTERVAL = 5  # seconds, for the bot's own scheduler while --keep runs; the steps drive polls themselves
STEP_TIMEOUT = 15.0

# The cast (demo seed of the emulator, default workspace of the stand-in)
HANDLER_SLACK, HANDLER_RC = "bob", "Ben Okafor"
TEAMMATE_RC = "Ana Alvarez"
WRITER_SLACK = "carol"
REPLIER_RC = "Chen Wei"  # Carol's RingCentral user, a handler of Support
TWO_WAY_REPLY = "Customer called back: the Friday delivery works, no need to call again."
CHANNEL = "support"
QUEUE = "Support"
THREAD_ID = "3f0c6a52-9a51-4c8e-9a3b-1d2f0b6a7c01"  # Support, customer +1 415-555-0142, assigned to Ana
HANDOFF = (
    "Handoff: the customer is waiting for the shipping date of the replacement pole (order A-20931). "
    "I'm out from tomorrow, please take this thread."
)
ANSWER = "Logistics confirmed: the replacement pole ships Friday, tracking follows by email."
EDITED = "Logistics confirmed: the replacement pole ships Friday by express; tracking follows by email."
