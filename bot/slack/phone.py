"""Customer phone numbers as people type them, normalised to E.164 with `phonenumbers`. (How a number reads
back, `+1 650-555-0101`, is `bot.blockkit.threads.pretty`.)"""

from __future__ import annotations

import re

import phonenumbers

__all__ = ["looks_like_phone", "normalise"]

# What a phone number may be written with: digits, a leading +, and the usual separators. Letters are refused
# on purpose ("1-800-FLOWERS" is a number to phonenumbers, but to us a word is a word, not a thread).
_PHONE_CHARS = re.compile(r"^\+?[0-9().\-/ \u00a0]+$")
_MAX_INPUT = 40  # no real number, however formatted, is longer; keeps the parser cheap on junk


def looks_like_phone(text: str) -> bool:
    """True when `text` is written only with the characters of a phone number (it may still be invalid)."""
    body = _strip_tel(text.strip())
    return (
        bool(body)
        and len(body) <= _MAX_INPUT
        and bool(_PHONE_CHARS.match(body))
        and any(c.isdigit() for c in body)
    )


def normalise(text: str, default_region: str = "US") -> str | None:
    """The E.164 form (`+16505550101`) of a valid phone number written in any usual way, else None.

    Accepts `+1 (650) 555-0101`, `650.555.0101`, `16505550101`, `tel:+1-650-555-0101`. Numbers without a
    country code are read in `default_region`. Never raises.
    """
    body = _strip_tel(text.strip())
    if not looks_like_phone(body):
        return None
    try:
        number = phonenumbers.parse(body, default_region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _strip_tel(text: str) -> str:
    return text[4:] if text[:4].lower() == "tel:" else text
