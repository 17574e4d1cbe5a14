"""`thread-note-bot check`: is this configuration ready to `serve`? One line per check, each red one with what
to do; exit status 1 when any check fails.

1. Settings: every setting is read the way `serve` reads it (`load_settings`, environment and `.env`); every
   malformed or missing one is named, not only the first. The Slack signing secret cannot be verified by
   asking Slack (Slack never says whether a secret matches); only its format is checked, and the line says so.
2. Database: connects (libpq's `sslmode` and friends understood), and compares the Alembic revision with the
   bot's (`serve` applies pending migrations when it starts; a database migrated by a newer bot is an error).
   Secret key: every stored secret decrypts with `THREAD_NOTE_SECRET_KEY` (a wrong key is found here, not
   by people getting errors).
3. Slack: `auth.test` with the bot token; when Slack reports the token's scopes (`x-oauth-scopes`), the scopes
   `manifest.yml` asks for are compared with them; in Socket Mode, the app-level token opens a connection URL.
4. RingCentral: the service identity signs in once with `RINGCENTRAL_JWT` (a handful of requests, then it
   signs out, so a running bot keeps its session and rate budget); it is a handler of at least one common
   resource (an SMS recipient of a queue or site, or it sees message threads); the app has the SMS
   permission (listing message threads does not answer 403 `CMN-401`).
5. Public URL (needed in both modes: RingCentral returns sign-ins to it): https (plain http only on this
   machine), and `GET /healthz` of the running bot answers (not asked with `--before-start`).
6. Real time (in the same RingCentral session): RingCentral's list of the webhook subscriptions delivered
   to our address; red when it reports `disabledFilters` (naming the webhooks' permission, SMS) or a
   blacklisting.
7. Change feed (`check_feed`): what the bot last recorded of RingCentral's change feed in the database; red
   while it fails poll after poll.

Dependent checks are skipped (shown with `·`) while what they need is broken. Whatever a check did not
foresee is still one red line (`_never_crash`), never a traceback.

The package, by concern: `settings`, `database` (with the secret key and the change feed), `slack`,
`ringcentral` (with real time), `public_url`, and `run` (collecting the lines in order, the skips and the
last line of defence, printing them with `bot.console`, shared with `demo`); `results` holds the line type.
"""

from __future__ import annotations

from bot.check.database import check_database, check_feed, check_secret_key
from bot.check.public_url import check_public_url
from bot.check.results import Result
from bot.check.ringcentral import check_realtime, check_ringcentral
from bot.check.run import collect, run_check
from bot.check.settings import read_settings, signing_secret_problem
from bot.check.slack import MANIFEST_BOT_SCOPES, check_slack

__all__ = [
    "MANIFEST_BOT_SCOPES",
    "Result",
    "check_database",
    "check_feed",
    "check_public_url",
    "check_realtime",
    "check_ringcentral",
    "check_secret_key",
    "check_slack",
    "collect",
    "read_settings",
    "run_check",
    "signing_secret_problem",
]
