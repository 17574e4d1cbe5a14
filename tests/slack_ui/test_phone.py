"""Customer phone numbers in any usual format normalise to one E.164 form; anything else is None."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from bot.blockkit.threads import pretty
from bot.slack.phone import normalise

AREA_CODES = ["650", "212", "415", "312", "617", "206", "303", "512"]


@st.composite
def us_numbers(draw: st.DrawFn) -> str:
    area = draw(st.sampled_from(AREA_CODES))
    exchange = draw(st.integers(200, 999))
    line = draw(st.integers(0, 9999))
    e164 = f"+1{area}{exchange}{line:04d}"
    assume(phonenumbers.is_valid_number(phonenumbers.parse(e164)))
    return e164


def _formats(e164: str) -> list[str]:
    national = e164[2:]
    a, b, c = national[:3], national[3:6], national[6:]
    return [
        e164,
        f"+1 ({a}) {b}-{c}",
        f"{a}.{b}.{c}",
        f"1{national}",
        national,
        f"({a}) {b}-{c}",
        f"tel:+1-{a}-{b}-{c}",
        f"TEL:+1{national}",
        f"+1 {a} {b} {c}",
        f"  {a}-{b}-{c} ",
        f"1 {a} {b} {c}",
        f"+1/{a}/{b}/{c}",
    ]


@given(us_numbers())
def test_every_usual_formatting_of_a_us_number_normalises_to_the_same_e164(e164: str) -> None:
    assert {normalise(text) for text in _formats(e164)} == {e164}


@pytest.mark.parametrize("region", ["GB", "DE", "FR", "IN", "JP", "AU", "BR", "CA"])
def test_international_numbers_normalise_in_international_and_national_formats(region: str) -> None:
    example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    assert example is not None
    e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
    international = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    national = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.NATIONAL)
    assert normalise(e164) == e164
    assert normalise(international) == e164
    assert normalise(national, default_region=region) == e164


@given(st.text(alphabet=st.characters(categories=["L", "P", "S", "Z"], exclude_characters="+"), max_size=40))
def test_text_without_digits_is_never_a_phone_number(text: str) -> None:
    assert normalise(text) is None


@given(st.text(max_size=80))
def test_normalise_never_raises_and_returns_e164_or_none(text: str) -> None:
    result = normalise(text)
    assert result is None or (result.startswith("+") and result[1:].isdigit())


@pytest.mark.parametrize(
    "garbage",
    ["", "12345", "555-0101", "1-800-FLOWERS", "(650)", "+1 650 555 0101 5", "hello", "+", "tel:", "0" * 30],
)
def test_invalid_or_incomplete_numbers_are_none(garbage: str) -> None:
    assert normalise(garbage) is None


def test_pretty_formats_e164_for_people_and_leaves_other_text_alone() -> None:
    assert pretty("+16505550101") == "+1 650-555-0101"
    assert pretty("+442079460958") == "+44 20 7946 0958"
    assert pretty("not a number") == "not a number"
    assert pretty(None) == "unknown number"
