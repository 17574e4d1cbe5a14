"""Encryption of tokens at rest: MultiFernet over the keys of THREAD_NOTE_SECRET_KEY.

The first key encrypts; every key decrypts. Rotating keys: put the new key first and keep the old one after
it (`new,old`), run `Store.reencrypt_secrets()`, then drop the old key. Links keep working throughout.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from bot.store.errors import UndecryptableSecret


class _Secret(Protocol):
    def get_secret_value(self) -> str: ...


Key = str | bytes | _Secret


class TokenCipher:
    """Encrypts and decrypts short secrets (tokens, PKCE verifiers) as Fernet tokens (ASCII text)."""

    def __init__(self, keys: Iterable[Key]) -> None:
        raw = [_key_bytes(k) for k in keys]
        if not raw:
            raise ValueError("THREAD_NOTE_SECRET_KEY is not set: the store needs a key to encrypt tokens")
        try:
            self._fernets = [Fernet(k) for k in raw]
        except (ValueError, TypeError):
            raise ValueError("THREAD_NOTE_SECRET_KEY holds a value that is not a Fernet key") from None
        self._multi = MultiFernet(self._fernets)

    @staticmethod
    def generate_key() -> str:
        return Fernet.generate_key().decode()

    def encrypt(self, plaintext: str) -> str:
        return self._multi.encrypt(plaintext.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._multi.decrypt(ciphertext.encode()).decode()
        except InvalidToken:
            raise UndecryptableSecret() from None

    def rotate(self, ciphertext: str) -> str:
        """The same plaintext encrypted with the newest key (raises `UndecryptableSecret` if no key fits)."""
        try:
            return self._multi.rotate(ciphertext.encode()).decode()
        except InvalidToken:
            raise UndecryptableSecret() from None

    def is_current(self, ciphertext: str) -> bool:
        """True when the newest key decrypts it (nothing to rotate)."""
        try:
            self._fernets[0].decrypt(ciphertext.encode())
        except InvalidToken:
            return False
        return True

    def __repr__(self) -> str:
        return f"TokenCipher(keys={len(self._fernets)})"


def _key_bytes(key: Key) -> bytes:
    if isinstance(key, bytes):
        return key
    if isinstance(key, str):
        return key.strip().encode()
    return key.get_secret_value().strip().encode()
