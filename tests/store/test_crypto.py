from __future__ import annotations

import pytest
from pydantic import SecretStr

from bot.store import TokenCipher, UndecryptableSecret


def test_first_key_encrypts_and_every_key_decrypts() -> None:
    old, new = TokenCipher.generate_key(), TokenCipher.generate_key()
    under_old = TokenCipher([old]).encrypt("access-1")
    both = TokenCipher([new, old])
    assert both.decrypt(under_old) == "access-1"
    assert TokenCipher([new]).decrypt(both.encrypt("access-2")) == "access-2"


def test_rotate_moves_a_ciphertext_to_the_newest_key() -> None:
    old, new = TokenCipher.generate_key(), TokenCipher.generate_key()
    both = TokenCipher([new, old])
    under_old = TokenCipher([old]).encrypt("refresh-1")
    assert not both.is_current(under_old)
    rotated = both.rotate(under_old)
    assert both.is_current(rotated)
    assert TokenCipher([new]).decrypt(rotated) == "refresh-1"


def test_a_ciphertext_under_a_dropped_key_is_undecryptable_with_a_hint() -> None:
    ciphertext = TokenCipher([TokenCipher.generate_key()]).encrypt("x")
    with pytest.raises(UndecryptableSecret, match="THREAD_NOTE_SECRET_KEY"):
        TokenCipher([TokenCipher.generate_key()]).decrypt(ciphertext)


def test_keys_may_come_as_settings_secrets() -> None:
    key = TokenCipher.generate_key()
    assert TokenCipher([SecretStr(key)]).decrypt(TokenCipher([key.encode()]).encrypt("t")) == "t"


@pytest.mark.parametrize("keys", [[], ["not-a-fernet-key"]])
def test_missing_or_bad_keys_name_the_setting(keys: list[str]) -> None:
    with pytest.raises(ValueError, match="THREAD_NOTE_SECRET_KEY"):
        TokenCipher(keys)


def test_repr_shows_no_key() -> None:
    key = TokenCipher.generate_key()
    assert key not in repr(TokenCipher([key]))
