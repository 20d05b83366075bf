"""Boilerplate learned per source: lines, their keys, stripping, the threshold and learning within a run."""

from __future__ import annotations

import hashlib

from monitor.boilerplate import (
    MAX_LINE_WORDS,
    RunBoilerplate,
    is_boilerplate,
    line_key,
    line_keys,
    strip_boilerplate,
)
from monitor.models import Document

SIGN_OFF = "Follow our live coverage on Telegram."
LONG = " ".join(["word"] * (MAX_LINE_WORDS + 1))


def key(line: str) -> str:
    found = line_key(line)
    assert found is not None
    return found


def test_a_line_is_a_short_paragraph_keyed_by_its_comparable_form() -> None:
    assert key(SIGN_OFF) == hashlib.sha256(SIGN_OFF.encode()).hexdigest()
    # Typography, invisible characters and white space do not make another line.
    assert key("Leave A Comment") == key("  Leave\u00a0A \u200bComment ")
    assert key("Don\u2019t miss our newsletter \u2014 sign up") == key("Don't miss our newsletter - sign up")
    # Case and wording do.
    assert key("Leave a comment") != key("Leave A Comment")
    assert line_key(" ".join(["word"] * MAX_LINE_WORDS)) is not None
    assert line_key(LONG) is None
    assert line_key(" \u200b ") is None


def test_line_keys_lists_each_short_paragraph_once_in_order() -> None:
    text = f"First paragraph.\n\n{LONG}\n\n{SIGN_OFF}\n\nFirst paragraph.\n\n"
    assert line_keys(text) == [key("First paragraph."), key(SIGN_OFF)]
    assert line_keys("") == []


def test_strip_removes_only_paragraphs_whose_key_is_known() -> None:
    document = Document(title=SIGN_OFF, text=f"A real sentence.\n\n{SIGN_OFF}\n\n{LONG}\n\nFollow our live coverage.",
                        byline="By A. Reporter", published="2025-02-13", url="https://news.example/a")
    stripped = strip_boilerplate(document, {key(SIGN_OFF), "0" * 64})
    assert stripped.paragraphs == ("A real sentence.", LONG, "Follow our live coverage.")
    # The title is never stripped, even when it reads like a learned line; metadata is kept.
    assert (stripped.title, stripped.byline, stripped.published, stripped.url) == (
        SIGN_OFF, "By A. Reporter", "2025-02-13", "https://news.example/a")
    assert strip_boilerplate(document, set()) is document
    assert strip_boilerplate(document, {key("Not in the text.")}) is document


def test_the_threshold_is_three_articles_and_a_fifth_of_the_source() -> None:
    assert not is_boilerplate(2, 2)
    assert is_boilerplate(3, 3) and is_boilerplate(3, 0)
    assert is_boilerplate(3, 15)               # exactly 20%: 0.2 * 15 is not exactly 3 in floating point
    assert not is_boilerplate(3, 16)
    assert is_boilerplate(20, 100) and not is_boilerplate(19, 100)


def test_a_run_learns_a_line_once_enough_articles_show_it() -> None:
    whatsapp = key("Follow our live coverage on WhatsApp.")
    learned = RunBoilerplate({key(SIGN_OFF)}, articles=5)
    assert learned.keys == {key(SIGN_OFF)}
    assert learned.observe("https://a/1", [whatsapp, key("Only in one.")], new_article=False) == {key(SIGN_OFF)}
    # The same article seen again in the run is counted once.
    assert whatsapp not in learned.observe("https://a/1", [whatsapp], new_article=False)
    assert whatsapp not in learned.observe("https://a/2", [whatsapp], new_article=False)
    assert whatsapp in learned.observe("https://a/3", [whatsapp], new_article=False)
    assert key("Only in one.") not in learned.keys


def test_a_run_weighs_lines_by_the_size_of_the_source() -> None:
    line = key("Share this story.")
    run = RunBoilerplate(frozenset(), articles=20)        # needs 4 articles (20% of 20) ...
    for n in range(3):
        run.observe(f"https://a/{n}", [line], new_article=False)
    assert line not in run.keys
    run.observe("https://a/3", [line], new_article=False)
    assert line in run.keys
    # Articles first stored in this run count towards the source: 3 of 12 + 3 new ones is 20% ...
    grown = RunBoilerplate(frozenset(), articles=12)
    for n in range(3):
        grown.observe(f"https://b/{n}", [line], new_article=True)
    assert line in grown.keys
    # ... but one more new article without the line before them makes it 3 of 16.
    grown = RunBoilerplate(frozenset(), articles=12)
    grown.observe("https://b/other", [], new_article=True)
    for n in range(3):
        grown.observe(f"https://b/{n}", [line], new_article=True)
    assert line not in grown.keys
