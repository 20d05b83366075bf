"""comparable, fingerprint, cosmetic_key: what counts as the same text."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.normalise import comparable, cosmetic_key, display_paragraphs, fingerprint


@pytest.mark.parametrize(("raw", "expected"), [
    ("Korea\u2019s \u2018spy\u2019 agency", "Korea's 'spy' agency"),
    ("\u201cquoted\u201d and \u201elow\u201f", '"quoted" and "low"'),
    ("5\u2032 11\u2033", "5' 11\""),                                  # primes
    ("a\u2010b a\u2011b a\u2012b a\u2013b a\u2014b a\u2015b", "a-b a-b a-b a-b a-b a-b"),
    ("\u22125 degrees", "-5 degrees"),                                 # minus sign
    ("at\u00a0least\u202f1,000\u2009people", "at least 1,000 people"),  # NBSP, narrow NBSP, thin space
    ("in\u200bvis\u200cible\u200d\u2060\ufeff soft\u00adhyphen", "invisible softhyphen"),
    ("tabs\t\tand   spaces", "tabs and spaces"),
    ("line\nwrap", "line wrap"),
    ("para one\n\npara two", "para one\n\npara two"),
    ("para one\n \n\n\t\npara two", "para one\n\npara two"),
    ("windows\r\nline\r\n\r\nbreaks", "windows line\n\nbreaks"),
    ("  \n padded \n  ", "padded"),
    ("\uff11\uff10\uff10 \ufb01ne", "100 fine"),                       # NFKC: fullwidth digits, ligature
    ("wait\u2026", "wait..."),
    ("", ""),
])
def test_comparable(raw: str, expected: str) -> None:
    assert comparable(raw) == expected


@given(st.text())
def test_comparable_is_idempotent(text: str) -> None:
    once = comparable(text)
    assert comparable(once) == once


@given(st.text(alphabet=st.sampled_from(list(" \n\t\u00a0\u200b\u2019\u2033\u00b4\u0301e\uff0d\u2029\r"))))
def test_comparable_is_idempotent_on_tricky_characters(text: str) -> None:
    once = comparable(text)
    assert comparable(once) == once
    assert "\n\n\n" not in once and once == once.strip()


def test_display_paragraphs_keep_typography() -> None:
    assert display_paragraphs("Korea\u2019s\u00a0agency \u2013 said\n\n\u200bNext") == [
        "Korea\u2019s agency \u2013 said", "Next"]


def test_fingerprint() -> None:
    a = fingerprint("North Korea\u2019s troops", "At\u00a0least 1,000.\n\nSecond.")
    b = fingerprint("North Korea's troops", "At least 1,000.\n\n\nSecond.  ")
    assert a == b
    assert a == hashlib.sha256(b"North Korea's troops\n\nAt least 1,000.\n\nSecond.").hexdigest()
    assert fingerprint("Title", "At least 1,500.") != fingerprint("Title", "At least 1,000.")
    assert fingerprint("Title", "Text") != fingerprint("Title Text", "")


@pytest.mark.parametrize(("a", "b"), [
    ("at least 1,500 troops", "at least 1500 troops"),
    ("30.000 people", "30,000 people"),
    ("4.5 per cent", "4.5%"),
    ("4.5 percent", "4.5%"),
    ("$1.2bn", "$1,200m"),
    ("$1.2bn", "$1.2 billion"),
    ("1.5 million people", "1,500,000 people"),
    ("four months ago", "4 months ago"),
    ("10 a.m.", "10am"),
    ("February 24, 2022", "24 February 2022"),
    ("South Korea\u2019s agency \u2013 1,000", "South Korea's agency - 1000"),
    ("One paragraph.\n\nSplit in two.", "One paragraph. Split in two."),
    # pre-split (tokenised) text: white space before punctuation and after an opening bracket
    ("Serbia today , the minister ( who spoke ) said ; no .", "Serbia today, the minister (who spoke) said; no."),
    ("$ 30.000 USD", "$30,000 USD"),
    ("70 , 725 photos", "70,725 photos"),
    ("at 0600 local time ( 0900 )", "at 06:00 local time (09:00)"),
    # hyphens between words are typography
    ("a 23 year old man", "a 23-year-old man"),
    ("a 19-year old woman", "a 19-year-old woman"),
    ("the 11th case", "the eleventh case"),
    ("the twenty-first century", "the 21st century"),
])
def test_cosmetic_key_equal(a: str, b: str) -> None:
    assert cosmetic_key(a) == cosmetic_key(b)


@pytest.mark.parametrize(("a", "b"), [
    ("1.5 million people", "15 million people"),
    ("at least 1,000", "more than 1,000"),
    ("1,000 troops", "1,500 troops"),
    ("north korea", "North Korea"),
    ("4.5%", "4.5 percentage points"),
    ("$5m", "\u00a35m"),
    ("10 a.m.", "10 p.m."),
    ("1,000 troops", "1,000 tanks"),
    ("14:30 GMT", "14:30 EST"),
    ("in -5 degrees", "in 5 degrees"),                  # a minus sign is not a hyphen between words
    ("the 11th case", "the 12th case"),
    ("ab c", "a bc"),                                   # white space that moves between words
])
def test_cosmetic_key_different(a: str, b: str) -> None:
    assert cosmetic_key(a) != cosmetic_key(b)


@given(st.text())
def test_cosmetic_key_never_raises_and_ignores_typography(text: str) -> None:
    assert cosmetic_key(text) == cosmetic_key(comparable(text))
