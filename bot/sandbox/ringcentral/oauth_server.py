"""OAuth: JWT-bearer, authorization code (+PKCE S256/plain) and refresh grants, revoke, bearer checks.

Rules (NOTES.md §4): confidential client auth with HTTP Basic at /token and /revoke; authorization codes are
single-use, live `authCodeTtl` (60 s) and are bound to the client, the redirect URI and the PKCE challenge;
access tokens expire after `accessTokenTtl`; refresh tokens are single-use (a reuse is always refused, so a
client that refreshes twice concurrently is caught), and a refresh kills the session's previous access token
at once; revoke kills the whole session; at most `maxSessionsPerUser` sessions per user (the oldest one is
dropped).

Codes chosen (RingCentral documents the `error` values, not every `OAU-` code):
401 `invalid_client` `OAU-123` (no client credentials) / `OAU-146` (wrong ones); 400 `invalid_request`
`OAU-101` (parameter missing); 400 `unsupported_grant_type` `OAU-113`; 400 `invalid_grant` `OAU-140` (JWT),
`OAU-109` (code: unknown, used, expired, or another client/redirect URI/PKCE verifier), `OAU-141` (refresh
token: unknown, used, expired or revoked). Bearer checks on API calls: 401 `AGW-401` (no bearer token),
`OAU-128` (expired), `OAU-129` (unknown or revoked).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import jwt

from bot.sandbox.ringcentral.clock import SandboxClock
from bot.sandbox.ringcentral.error_bodies import ApiError, OAuthError
from bot.sandbox.ringcentral.settings import SandboxSettings

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
JWT_ISSUER = "thread-note-bot-sandbox"
SCOPE = "ReadAccounts SMS SubscriptionWebhook"


@dataclass
class Session:
    id: str
    user_id: str
    client_id: str
    created: float
    revoked: bool = False
    access: dict[str, float] = field(default_factory=dict)  # token -> expires_at
    refresh: str | None = None
    refresh_expires: float = 0.0


@dataclass
class AuthCode:
    code: str
    user_id: str
    client_id: str
    redirect_uri: str | None
    challenge: str | None
    method: str
    expires: float
    used: bool = False
    session_id: str | None = None


class Auth:
    def __init__(
        self,
        client_id: str,
        client_secret: str,
        jwt_secret: str,
        clock: SandboxClock,
        settings: SandboxSettings,
        user_ids: set[str],
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.jwt_secret = hashlib.sha256(jwt_secret.encode()).hexdigest()  # any seed secret → a 256-bit key
        self.clock = clock
        self.settings = settings
        self.user_ids = user_ids
        self.sessions: dict[str, Session] = {}
        self._by_access: dict[str, Session] = {}
        self._by_refresh: dict[str, Session] = {}
        self._used_refresh: set[str] = set()
        self.codes: dict[str, AuthCode] = {}

    # ---- credentials ------------------------------------------------------------------------------------

    def user_jwt(self, user_id: str) -> str:
        return jwt.encode(
            {"iss": JWT_ISSUER, "sub": user_id, "aud": "RingCentral sandbox", "iat": 1767225600},
            self.jwt_secret,
            algorithm="HS256",
        )

    def check_client(self, authorization: str | None) -> None:
        if not authorization or not authorization.lower().startswith("basic "):
            raise OAuthError(
                401,
                "invalid_client",
                "Client authentication is required: send HTTP Basic "
                "base64(clientId:clientSecret) in the Authorization header",
                "OAU-123",
                headers={"WWW-Authenticate": 'Basic realm="RingCentral"'},
            )
        try:
            client_id, _, secret = base64.b64decode(authorization[6:].strip()).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            client_id, secret = "", ""
        if not (
            hmac.compare_digest(client_id, self.client_id) and hmac.compare_digest(secret, self.client_secret)
        ):
            raise OAuthError(
                401,
                "invalid_client",
                "Invalid client credentials: check the client id and secret",
                "OAU-146",
                headers={"WWW-Authenticate": 'Basic realm="RingCentral"'},
            )

    def peek_subject(self, form: dict[str, str]) -> str:
        """Who a token request is about (for the per-user Auth rate limit), without validating anything."""
        grant = form.get("grant_type")
        if grant == JWT_BEARER:
            try:
                return str(
                    jwt.decode(form.get("assertion", ""), options={"verify_signature": False}).get("sub")
                )
            except jwt.PyJWTError:
                return "anonymous"
        if grant == "authorization_code":
            code = self.codes.get(form.get("code", ""))
            return code.user_id if code else "anonymous"
        if grant == "refresh_token":
            session = self._by_refresh.get(form.get("refresh_token", ""))
            return session.user_id if session else "anonymous"
        return "anonymous"

    # ---- grants -----------------------------------------------------------------------------------------

    def token(self, form: dict[str, str]) -> dict[str, Any]:
        grant = form.get("grant_type")
        if not grant:
            raise _missing("grant_type")
        if grant == JWT_BEARER:
            return self._issue(self._new_session(self._jwt_user(form)), form)
        if grant == "authorization_code":
            return self._code_grant(form)
        if grant == "refresh_token":
            return self._refresh_grant(form)
        raise OAuthError(
            400,
            "unsupported_grant_type",
            f"Unsupported grant type [{grant}]",
            "OAU-113",
            parameter="grant_type",
        )

    def _jwt_user(self, form: dict[str, str]) -> str:
        assertion = form.get("assertion")
        if not assertion:
            raise _missing("assertion")
        try:
            claims = jwt.decode(
                assertion,
                self.jwt_secret,
                algorithms=["HS256"],
                issuer=JWT_ISSUER,
                audience="RingCentral sandbox",
            )
        except jwt.PyJWTError as exc:
            raise OAuthError(
                400,
                "invalid_grant",
                f"Invalid JWT credential ({exc}); use a JWT from GET /sandbox/credentials",
                "OAU-140",
                parameter="assertion",
            ) from exc
        user_id = str(claims.get("sub"))
        if user_id not in self.user_ids:
            raise OAuthError(
                400,
                "invalid_grant",
                f"JWT subject [{user_id}] is not a user of this account",
                "OAU-140",
                parameter="assertion",
            )
        return user_id

    def _code_grant(self, form: dict[str, str]) -> dict[str, Any]:
        raw = form.get("code")
        if not raw:
            raise _missing("code")
        code = self.codes.get(raw)

        def bad(why: str) -> OAuthError:
            return OAuthError(
                400, "invalid_grant", f"Invalid authorization code: {why}", "OAU-109", parameter="code"
            )

        if code is None:
            raise bad("unknown code")
        if code.used:
            if code.session_id:  # a replayed code kills what it issued (RFC 6749 §4.1.2)
                self.revoke_session(code.session_id)
            raise bad("the code was already used; codes are single-use")
        code.used = True
        if self.clock.now() > code.expires:
            raise bad("the code has expired (codes live 60 s); start the authorization again")
        if code.client_id != self.client_id:
            raise bad("the code was issued to another client")
        if code.redirect_uri is not None and form.get("redirect_uri") != code.redirect_uri:
            raise bad("redirect_uri does not match the one given to /authorize")
        verifier = form.get("code_verifier")
        if code.challenge is not None:
            if not verifier:
                raise bad("code_verifier is required: /authorize was given a code_challenge")
            computed = (
                verifier
                if code.method == "plain"
                else (
                    base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
                )
            )
            if not hmac.compare_digest(computed, code.challenge):
                raise bad(f"code_verifier does not match the code_challenge ({code.method})")
        elif verifier:
            raise bad("a code_verifier was sent but /authorize had no code_challenge")
        session = self._new_session(code.user_id)
        code.session_id = session.id
        return self._issue(session, form)

    def _refresh_grant(self, form: dict[str, str]) -> dict[str, Any]:
        token = form.get("refresh_token")
        if not token:
            raise _missing("refresh_token")

        def bad(why: str) -> OAuthError:
            return OAuthError(
                400, "invalid_grant", f"Invalid refresh token: {why}", "OAU-141", parameter="refresh_token"
            )

        if token in self._used_refresh:
            raise bad("it was already used; refresh tokens are single-use (refresh once, share the result)")
        session = self._by_refresh.get(token)
        if session is None:
            raise bad("unknown token")
        if session.revoked:
            raise bad("the session was revoked; sign in again")
        if self.clock.now() > session.refresh_expires:
            raise bad("the refresh token has expired; sign in again")
        self._used_refresh.add(token)
        del self._by_refresh[token]
        for access in session.access:  # the old access token dies at once
            self._by_access.pop(access, None)
        session.access.clear()
        return self._issue(session, form)

    # ---- sessions ---------------------------------------------------------------------------------------

    def _new_session(self, user_id: str) -> Session:
        live = sorted(
            (s for s in self.sessions.values() if s.user_id == user_id and not s.revoked),
            key=lambda s: s.created,
        )
        while len(live) >= self.settings.max_sessions_per_user:
            self.revoke_session(live.pop(0).id)
        session = Session("sbx-session-" + secrets.token_hex(8), user_id, self.client_id, self.clock.now())
        self.sessions[session.id] = session
        return session

    def _issue(self, session: Session, form: dict[str, str]) -> dict[str, Any]:
        now = self.clock.now()
        ttl = float(self.settings.access_token_ttl)
        if form.get("access_token_ttl", "").isdigit():
            ttl = min(ttl, float(form["access_token_ttl"]))
        refresh_ttl = float(self.settings.refresh_token_ttl)
        if form.get("refresh_token_ttl", "").isdigit():
            refresh_ttl = min(refresh_ttl, float(form["refresh_token_ttl"]))
        access = "sbx-at-" + secrets.token_urlsafe(24)
        refresh = "sbx-rt-" + secrets.token_urlsafe(24)
        session.access[access] = now + ttl
        session.refresh, session.refresh_expires = refresh, now + refresh_ttl
        self._by_access[access] = session
        self._by_refresh[refresh] = session
        return {
            "access_token": access,
            "token_type": "bearer",
            "expires_in": int(ttl),
            "refresh_token": refresh,
            "refresh_token_expires_in": int(refresh_ttl),
            "scope": SCOPE,
            "owner_id": session.user_id,
            "endpoint_id": form.get("endpoint_id") or "sbx-endpoint-" + session.id[-8:],
            "session_id": session.id,
        }

    def revoke_session(self, session_id: str) -> None:
        session = self.sessions.get(session_id)
        if session is None:
            return
        session.revoked = True
        for access in session.access:
            self._by_access.pop(access, None)
        session.access.clear()
        if session.refresh:
            self._by_refresh.pop(session.refresh, None)

    def revoke_token(self, token: str) -> None:
        session = self._by_access.get(token) or self._by_refresh.get(token)
        if session is not None:
            self.revoke_session(session.id)

    def revoke_user(self, user_id: str) -> int:
        sessions = [s for s in self.sessions.values() if s.user_id == user_id and not s.revoked]
        for session in sessions:
            self.revoke_session(session.id)
        return len(sessions)

    def expire_access(self, user_ids: Collection[str] | None) -> int:
        """Expire the current access tokens of these users (None: of everyone)."""
        count = 0
        for session in self.sessions.values():
            if user_ids is None or session.user_id in user_ids:
                for token in session.access:
                    session.access[token] = -1.0
                    count += 1
        return count

    # ---- API calls --------------------------------------------------------------------------------------

    def holder(self, authorization: str | None) -> str | None:
        """Whose bearer token this claims to be, checking nothing (faults scoped to an account use it
        before the real check)."""
        token = (authorization or "")[7:].strip()
        session = self._by_access.get(token) if token else None
        return session.user_id if session is not None else None

    def bearer(self, authorization: str | None) -> str:
        """The extension id behind `Authorization: Bearer …`, or a 401 `ApiError`."""
        if (
            not authorization
            or not authorization.lower().startswith("bearer ")
            or not authorization[7:].strip()
        ):
            raise ApiError(
                401,
                "AGW-401",
                "Authorization header is not specified: send 'Authorization: Bearer <access token>'",
                headers={"WWW-Authenticate": 'Bearer realm="RingCentral"'},
            )
        token = authorization[7:].strip()
        session = self._by_access.get(token)
        if session is None or session.revoked:
            raise ApiError(
                401,
                "OAU-129",
                "Access token corrupted or revoked: sign in again",
                headers={"WWW-Authenticate": 'Bearer realm="RingCentral", error="invalid_token"'},
            )
        if self.clock.now() >= session.access.get(token, -1.0):
            raise ApiError(
                401,
                "OAU-128",
                "Access token expired: refresh it",
                headers={"WWW-Authenticate": 'Bearer realm="RingCentral", error="invalid_token"'},
            )
        return session.user_id

    def new_code(self, user_id: str, redirect_uri: str | None, challenge: str | None, method: str) -> str:
        code = AuthCode(
            "sbx-code-" + secrets.token_urlsafe(18),
            user_id,
            self.client_id,
            redirect_uri,
            challenge,
            method,
            self.clock.now() + self.settings.auth_code_ttl,
        )
        self.codes[code.code] = code
        return code.code


def _missing(parameter: str) -> OAuthError:
    return OAuthError(
        400, "invalid_request", f"Parameter [{parameter}] is missing", "OAU-101", parameter=parameter
    )
