"""Child process entry for the benchmarks: `python -m bench._standin rc SEED [ACCOUNTS] | slack | bot PORT`.

Prints the URL it serves on as its first stdout line, then serves until SIGTERM. `bot` is
`thread-note-bot serve` itself (settings from the environment), on 127.0.0.1:PORT.
"""

from __future__ import annotations

import signal
import sys
import threading

from bot import logs


def main(argv: list[str]) -> int:
    logs.configure("WARNING")
    kind = argv[0]
    if kind == "bot":
        from bot.serve import run_serve

        print(f"http://127.0.0.1:{argv[1]}", flush=True)
        return run_serve(host="127.0.0.1", port=int(argv[1]))

    from bot.servers import BackgroundServer

    if kind == "rc":
        from bot.sandbox.ringcentral.app import create_app
        from bot.sandbox.ringcentral.settings import SandboxSettings

        accounts = int(argv[2]) if len(argv) > 2 else 1  # copies of the seed's account (issue 16)
        app = create_app(argv[1], settings=SandboxSettings(redirect_uris=["*"]), accounts=accounts)
    elif kind == "slack":
        from bot.sandbox.slack import create_slack_app

        app = create_slack_app()
    else:
        print(f"unknown stand-in {kind!r}", file=sys.stderr)
        return 2
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with BackgroundServer(app) as server:
        print(server.url, flush=True)
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
