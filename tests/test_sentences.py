"""Sentence splitting: a labelled set of news sentences, our splitter against pysbd, and properties.

Run ``PYTHONPATH=. python tests/test_sentences.py`` to print the comparison with pysbd (accuracy on LABELLED).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.sentences import split_sentences

# (paragraph, expected sentences). Each case targets one hazard named in its first sentence or comment.
LABELLED: list[tuple[str, list[str]]] = [
    ("Mr. Smith met Dr. Jones at 3 p.m. on Friday. They talked for an hour.",
     ["Mr. Smith met Dr. Jones at 3 p.m. on Friday.", "They talked for an hour."]),
    ("Mrs. Brown and Ms. Green spoke. Prof. Ian Smith did not.",
     ["Mrs. Brown and Ms. Green spoke.", "Prof. Ian Smith did not."]),
    ("Gen. Mark Milley and Lt. Col. Smith arrived. Sen. Warren and Rep. Ocasio-Cortez spoke.",
     ["Gen. Mark Milley and Lt. Col. Smith arrived.", "Sen. Warren and Rep. Ocasio-Cortez spoke."]),
    ("Gov. Newsom spoke in St. Louis. The crowd cheered.",
     ["Gov. Newsom spoke in St. Louis.", "The crowd cheered."]),
    ("The U.S. Army said it had sent more troops. The U.K. did not comment.",
     ["The U.S. Army said it had sent more troops.", "The U.K. did not comment."]),
    ("He moved to the U.S. The next year he returned.",
     ["He moved to the U.S.", "The next year he returned."]),
    ("The U.N. said 1.5 million people had fled. Aid groups said more.",
     ["The U.N. said 1.5 million people had fled.", "Aid groups said more."]),
    ("J. K. Rowling wrote the books. She lives in Edinburgh.",
     ["J. K. Rowling wrote the books.", "She lives in Edinburgh."]),
    ("Mr. Putin's spokesman, Dmitry S. Peskov, said no. The Kremlin declined further comment.",
     ["Mr. Putin's spokesman, Dmitry S. Peskov, said no.", "The Kremlin declined further comment."]),
    ("George W. Bush visited on Jan. 5. He left on Feb. 2.",
     ["George W. Bush visited on Jan. 5.", "He left on Feb. 2."]),
    ("Inflation rose to 4.5 per cent. Prices of food rose 3.2% in the year.",
     ["Inflation rose to 4.5 per cent.", "Prices of food rose 3.2% in the year."]),
    ("The attack began at 3 a.m. Officials said 12 people died.",
     ["The attack began at 3 a.m.", "Officials said 12 people died."]),
    ("The ceasefire took effect at 6 a.m. Residents returned home.",
     ["The ceasefire took effect at 6 a.m.", "Residents returned home."]),
    ("The attack began at 3 a.m. on Monday and lasted an hour.",
     ["The attack began at 3 a.m. on Monday and lasted an hour."]),
    ("The show starts at 8 p.m. ET. Tickets cost $20.",
     ["The show starts at 8 p.m. ET.", "Tickets cost $20."]),
    ("Sgt. Maj. Ahmed said the unit left at 5 a.m. Monday. It returned Tuesday.",
     ["Sgt. Maj. Ahmed said the unit left at 5 a.m. Monday.", "It returned Tuesday."]),
    ("He lives at No. 10 Downing Street. It is in London.",
     ["He lives at No. 10 Downing Street.", "It is in London."]),
    ("The No. 2 official resigned. He was replaced by Lt. Gen. James Smith.",
     ["The No. 2 official resigned.", "He was replaced by Lt. Gen. James Smith."]),
    ("\"We will not surrender,\" he said. \"Never.\"",
     ["\"We will not surrender,\" he said.", "\"Never.\""]),
    ("\"Is it true?\" she asked. Nobody answered.",
     ["\"Is it true?\" she asked.", "Nobody answered."]),
    ("He said: \"It is over.\" Then he left.",
     ["He said: \"It is over.\"", "Then he left."]),
    ("\u201cIt\u2019s over,\u201d he said. \u201cWe\u2019re going home.\u201d",
     ["\u201cIt\u2019s over,\u201d he said.", "\u201cWe\u2019re going home.\u201d"]),
    ("Ukraine\u2019s forces advanced. \u201cWe are winning,\u201d a commander said.",
     ["Ukraine\u2019s forces advanced.", "\u201cWe are winning,\u201d a commander said."]),
    ("She paused... Then she spoke again.", ["She paused...", "Then she spoke again."]),
    ("The numbers were... disappointing, he said.", ["The numbers were... disappointing, he said."]),
    ("Apple Inc. reported record sales. The company said demand was strong.",
     ["Apple Inc. reported record sales.", "The company said demand was strong."]),
    ("He works for Acme Inc. in Ohio. His boss works for Acme Corp. The two firms compete.",
     ["He works for Acme Inc. in Ohio.", "His boss works for Acme Corp.", "The two firms compete."]),
    ("Tools, e.g. hammers, were stolen. Other items, i.e. phones, were not.",
     ["Tools, e.g. hammers, were stolen.", "Other items, i.e. phones, were not."]),
    ("It was Spain vs. Italy in the final. Spain won.",
     ["It was Spain vs. Italy in the final.", "Spain won."]),
    ("Why did they leave? Nobody knows! The inquiry continues.",
     ["Why did they leave?", "Nobody knows!", "The inquiry continues."]),
    ("The figure, 1,000, was revised. It is now 1,500.",
     ["The figure, 1,000, was revised.", "It is now 1,500."]),
    ("Rep. John Smith (D-N.Y.) said he would vote no. The bill failed.",
     ["Rep. John Smith (D-N.Y.) said he would vote no.", "The bill failed."]),
    ("The company, based in St. Petersburg, Fla., said it would appeal. Its shares fell.",
     ["The company, based in St. Petersburg, Fla., said it would appeal.", "Its shares fell."]),
    ("In the U.S., prices rose 3.2%. In the U.K., they fell.",
     ["In the U.S., prices rose 3.2%.", "In the U.K., they fell."]),
]


def pysbd_split(text: str) -> list[str]:
    import pysbd

    segmenter = pysbd.Segmenter(language="en", clean=False)
    return [s.strip() for p in text.split("\n\n") for s in segmenter.segment(p) if s.strip()]


def accuracy(splitter: object) -> tuple[int, list[str]]:
    """How many LABELLED cases ``splitter`` gets exactly right, and the texts it gets wrong."""
    wrong = [text for text, expected in LABELLED if splitter(text) != expected]  # type: ignore[operator]
    return len(LABELLED) - len(wrong), wrong


@pytest.mark.parametrize(("text", "expected"), LABELLED, ids=[t[:40] for t, _ in LABELLED])
def test_labelled(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


def test_at_least_as_accurate_as_pysbd() -> None:
    ours, _ = accuracy(split_sentences)
    theirs, _ = accuracy(pysbd_split)
    assert ours == len(LABELLED)
    assert ours >= theirs


def test_paragraphs_never_joined() -> None:
    text = "The first paragraph ends without a stop\n\nthe second starts in lower case. Then more.\n \nLast"
    assert split_sentences(text) == ["The first paragraph ends without a stop",
                                     "the second starts in lower case.", "Then more.", "Last"]


def test_line_wrap_inside_paragraph_is_not_a_break() -> None:
    assert split_sentences("One sentence\nwrapped. Two.") == ["One sentence\nwrapped.", "Two."]


def test_empty_and_blank() -> None:
    assert split_sentences("") == []
    assert split_sentences(" \n\n \n") == []


def test_decimal_and_thousands_are_not_boundaries() -> None:
    assert split_sentences("It rose 4.5% to 1,234.56 units. Then it fell.") == [
        "It rose 4.5% to 1,234.56 units.", "Then it fell."]


_PIECES = list("ab .!?\n\"'’”AB1,.") + ["Mr.", "U.S.", " a.m. ", "\n\n", "No. 1", "... "]


@given(st.lists(st.sampled_from(_PIECES)).map("".join))
def test_no_text_lost_or_joined_across_paragraphs(text: str) -> None:
    sentences = split_sentences(text)
    assert "".join(s for s in sentences).replace(" ", "").replace("\n", "") == \
        text.replace(" ", "").replace("\n", "")
    assert all(s == s.strip() and s for s in sentences)
    paragraphs = [p for p in text.split("\n\n")]
    assert all(any(s in p for p in paragraphs) for s in sentences)


if __name__ == "__main__":
    for name, splitter in (("ours", split_sentences), ("pysbd", pysbd_split)):
        right, wrong = accuracy(splitter)
        print(f"{name}: {right}/{len(LABELLED)} right")
        for text in wrong:
            print("   wrong:", text, "->", splitter(text))
