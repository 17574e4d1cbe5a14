"""`thread-note-bot sandbox`: run the emulator in the foreground under uvicorn."""

from __future__ import annotations

import sys

import uvicorn

from bot.sandbox.profiles import UnknownProfile, get_profile
from bot.sandbox.ringcentral.app import create_app
from bot.sandbox.ringcentral.seeds import SeedError
from bot.sandbox.ringcentral.settings import SandboxSettings


def run_sandbox(host: str, port: int, seed: str, profile: str | None = None, accounts: int = 1) -> int:
    """`accounts`: how many accounts to serve at least (copies of the seed's first one fill up)."""
    try:
        chosen = get_profile(profile)
        app = create_app(seed, settings=SandboxSettings(profile=chosen), accounts=accounts)
    except (SeedError, UnknownProfile) as exc:
        print(f"thread-note-bot sandbox: {exc}", file=sys.stderr)
        return 2
    url = f"http://{host}:{port}"
    print(
        f"RingCentral sandbox (seed: {seed}, profile: {chosen.name}) on {url}\n"
        f"  credentials (client id/secret, users' JWTs): {url}/sandbox/credentials\n"
        f"  use RINGCENTRAL_SERVER_URL={url}; stop with Ctrl-C",
        flush=True,
    )
    uvicorn.run(app, host=host, port=port, log_level="warning")
    return 0
