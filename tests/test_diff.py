"""diff_texts / diff_documents: the Diff contract on sentence pairs, the seed article and its revisions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.diff import diff_documents, diff_texts, figure_changes, word_diff
from monitor.models import Diff, Document
from monitor.qualifiers import QualifierChange, qualifier_changes
from monitor.sentences import sentence_start, split_sentences

HERE = Path(__file__).parent
FIXTURES = HERE / "fixtures"
CASES = yaml.safe_load((HERE / "cases" / "figure_pairs.yaml").read_text(encoding="utf-8"))


def load(path: Path) -> Document:
    """A fixture as a Document: line 1 the headline, then one paragraph per line; the page boilerplate
    "Leave A Comment" at the end is dropped, as the extractor would."""
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if lines[-1].strip() == "Leave A Comment":
        lines = lines[:-1]
    return Document(title=lines[0], text="\n\n".join(lines[1:]))


SEED = load(FIXTURES / "article.txt")


def revision(prefix: str) -> Diff:
    (path,) = (FIXTURES / "revisions").glob(f"{prefix}_*.txt")
    return diff_documents(SEED, load(path))


# --- figure pairs (data-driven) -----------------------------------------------------------------------

@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_figure_pairs(case: dict[str, Any]) -> None:
    diff = diff_texts(case["old"], case["new"])
    expected = case["figures"]
    assert len(diff.figures) == len(expected), [f.to_dict() for f in diff.figures]
    for got, want in zip(diff.figures, expected, strict=True):
        assert (got.old_value, got.new_value) == (want["old_value"], want["new_value"])
        if "unit" in want:
            assert got.unit == want["unit"]
        if "context_contains" in want:
            assert got.context and want["context_contains"].lower() in got.context.lower(), got.context
        for key in ("qualifier_old", "qualifier_new"):
            if key in want:
                assert getattr(got, key) == want[key]
        assert got.old_sentence == case["old"] and got.new_sentence == case["new"]
        assert got.old in case["old"] and got.new in case["new"]
    if "kind" in case:
        assert diff.kind == case["kind"]
    if "changed" in case:
        assert len(diff.changed) == case["changed"]
    if diff.kind == "cosmetic":
        assert diff.significance == "none"
        assert not (diff.figures or diff.added or diff.removed or diff.changed or diff.moved or diff.title)
    if diff.figures:
        assert diff.significance == "high"
    found = qualifiers_of(diff)
    if "qualifiers" in case:
        assert [(q.value, q.old, q.new) for q in found] == \
            [(q["value"], q["old"], q["new"]) for q in case["qualifiers"]]
        for got_q, want_q in zip(found, case["qualifiers"], strict=True):
            if "context_contains" in want_q:
                assert got_q.context and want_q["context_contains"].lower() in got_q.context.lower()
            assert got_q.figure in case["new"] and got_q.new_sentence == case["new"]
    if found and not diff.figures:
        assert diff.significance == "medium"


def qualifiers_of(diff: Diff) -> list[QualifierChange]:
    """The diff's qualifier changes: its ``qualifiers`` field once models.Diff has one, else computed
    from its changed sentences as diff_texts does."""
    listed = getattr(diff, "qualifiers", None)
    if listed is not None:
        return list(listed)
    return [q for change in diff.changed for q in qualifier_changes(change.old, change.new)]


def test_figure_pairs_table_is_big_enough() -> None:
    assert len(CASES) >= 40


# --- the seed article and its revisions ---------------------------------------------------------------

def test_01_killed_figure_and_new_paragraph() -> None:
    diff = revision("01")
    assert diff.kind == "modified" and diff.significance == "high" and diff.title is None
    (figure,) = diff.figures
    assert (figure.old, figure.new, figure.old_value, figure.new_value) == ("1,000", "1,500", 1000, 1500)
    assert (figure.qualifier_old, figure.qualifier_new) == ("at least", "at least")
    assert figure.context and ("killed" in figure.context or "troops" in figure.context)
    assert diff.added == ("South Korean lawmakers briefed by the agency said on Friday that about 300 North "
                          "Korean soldiers had been captured or wounded in the latest fighting.",)
    assert diff.removed == () and diff.moved == ()
    (changed,) = diff.changed
    assert ("-", "1,000") in changed.words and ("+", "1,500") in changed.words


def test_02_typography_only_is_cosmetic() -> None:
    diff = revision("02")
    assert diff == Diff(kind="cosmetic", significance="none")


def test_03_reworded_and_paragraph_removed() -> None:
    diff = revision("03")
    assert diff.kind == "modified" and diff.significance == "medium" and diff.figures == ()
    (changed,) = diff.changed
    assert changed.old.startswith("Earlier intelligence reports") and "lacked experience" in changed.new
    assert diff.removed == (
        "Russian President Vladimir Putin launched a full-scale invasion of Ukraine in February 2022, "
        "resulting in heavy casualties on both sides.",
        "Last August, Ukrainian forces made a swift incursion into the Russian Kursk region, catching "
        "border guards off guard.",
        "Since then, Russia has been engaged in efforts to push them back.",
    )
    assert diff.added == () and diff.moved == ()


def test_04_headline_rewritten() -> None:
    diff = revision("04")
    assert diff.kind == "modified" and diff.significance == "high"
    assert diff.title is not None
    assert diff.title.old == SEED.title
    assert diff.title.new == "North Korea Deploys Fresh Troops to Russia's Kursk Front, Seoul Says"
    assert not (diff.figures or diff.added or diff.removed or diff.changed or diff.moved)


def test_05_paragraphs_moved() -> None:
    diff = revision("05")
    assert diff.kind == "modified" and diff.significance == "low"
    assert diff.added == () and diff.removed == () and diff.changed == () and diff.figures == ()
    assert len(diff.moved) in (2, 3)          # either of the two swapped paragraphs may be the one moved
    assert all(sentence in SEED.text for sentence in diff.moved)


def test_06_several_figures() -> None:
    diff = revision("06")
    assert diff.kind == "modified" and diff.significance == "high"
    found = {(f.old_value, f.new_value): f for f in diff.figures}
    assert set(found) == {(1000, 3000), (4, 5), (11000, 12000), (45100, 46000)}
    assert "additional soldiers" in (found[1000, 3000].context or "")
    assert found[4, 5].unit == "months" and (found[4, 5].old, found[4, 5].new) == ("four", "five")
    assert "troops" in (found[11000, 12000].context or "")
    assert found[45100, 46000].qualifier_new == "more than" and found[45100, 46000].qualifier_old is None
    assert len(diff.changed) == 4 and diff.added == () and diff.removed == ()


def test_identical_documents_are_unchanged() -> None:
    assert diff_documents(SEED, SEED) == Diff(kind="unchanged", significance="none")


def test_contract_shape_is_json() -> None:
    data = json.loads(json.dumps(revision("06").to_dict()))
    contract = ["kind", "significance", "title", "figures", "added", "removed", "changed", "moved"]
    assert list(data)[:len(contract)] == contract
    assert set(list(data)[len(contract):]) <= {"qualifiers"}            # fields may be added, never removed
    assert set(data["figures"][0]) == {"old", "new", "old_value", "new_value", "unit", "qualifier_old",
                                       "qualifier_new", "context", "old_sentence", "new_sentence"}
    assert all(op in ("=", "-", "+") for change in data["changed"] for op, _ in change["words"])


# --- other behaviour ----------------------------------------------------------------------------------

def test_titles_only_compared_when_both_given() -> None:
    assert diff_texts("Same.", "Same.", old_title="A", new_title=None).kind == "unchanged"
    diff = diff_texts("Same.", "Same.", old_title="Old headline", new_title="New headline")
    assert diff.kind == "modified" and diff.significance == "high" and diff.title is not None


def test_cosmetic_title_change_is_not_reported() -> None:
    diff = diff_texts("Alpha.", "Alpha. Beta is new here.", old_title="Korea\u2019s 1,000",
                      new_title="Korea's 1000")
    assert diff.title is None and diff.added == ("Beta is new here.",) and diff.significance == "medium"


def test_paragraph_breaks_moved_is_cosmetic() -> None:
    assert diff_texts("One. Two.\n\nThree.", "One.\n\nTwo. Three.").kind == "cosmetic"


def test_whole_paragraph_added_and_removed() -> None:
    old = "Kept paragraph.\n\nGone one. Gone two."
    new = "Kept paragraph.\n\nBrand new sentence here. And another fresh one."
    diff = diff_texts(old, new)
    assert diff.removed == ("Gone one.", "Gone two.")
    assert diff.added == ("Brand new sentence here.", "And another fresh one.")
    assert diff.significance == "medium"


def test_sentence_split_in_two_is_one_change() -> None:
    old = "Intro stays.\n\nThe army said 300 soldiers were captured and the rest retreated to the border."
    new = "Intro stays.\n\nThe army said 300 soldiers were captured. The rest retreated to the border."
    diff = diff_texts(old, new)
    assert diff.added == () and diff.removed == ()
    (changed,) = diff.changed
    assert changed.new == "The army said 300 soldiers were captured. The rest retreated to the border."


# One sentence split into several, or several merged into one, with the same content: one changed pair
# whose word diff touches only the punctuation and joining words. (old, new, the edits of the word diff)
SPLITS = [
    ("The army said 300 soldiers were captured near the border town after a long battle, officials said.",
     "The army said 300 soldiers were captured near the border town after a long battle. Officials said so.",
     [("-", ", officials"), ("+", ". Officials"), ("+", " so")]),
    ("Police said the fire started in the kitchen, and it spread quickly to the roof.",
     "Police said the fire started in the kitchen. It spread quickly to the roof.",
     [("-", ", and it"), ("+", ". It")]),
    ("Police said the fire started in the kitchen, it spread quickly to the roof, and two people were hurt.",
     "Police said the fire started in the kitchen. It spread quickly to the roof. Two people were hurt.",
     [("-", ", it"), ("+", ". It"), ("-", ", and"), ("+", "."), ("-", "two"), ("+", "Two")]),
]


@pytest.mark.parametrize("direction", ["split", "merge"])
@pytest.mark.parametrize(("one", "several", "edits"), SPLITS, ids=["short-clause", "two", "three"])
def test_split_and_merge_are_one_changed_pair(one: str, several: str, edits: list[tuple[str, str]],
                                              direction: str) -> None:
    old, new = (one, several) if direction == "split" else (several, one)
    diff = diff_texts(f"Intro stays.\n\n{old}\n\nOutro stays.", f"Intro stays.\n\n{new}\n\nOutro stays.")
    assert diff.added == () and diff.removed == () and diff.moved == () and diff.figures == ()
    (changed,) = diff.changed
    assert (changed.old, changed.new) == (old, new)
    removed = [text for op, text in edits if op == "-"]
    added = [text for op, text in edits if op == "+"]
    if direction == "merge":
        removed, added = added, removed
    assert [text for op, text in changed.words if op == "-"] == removed
    assert [text for op, text in changed.words if op == "+"] == added


def test_merge_across_a_paragraph_break() -> None:
    old = "Intro stays.\n\nPolice said the fire started in the kitchen.\n\nIt spread quickly to the roof."
    new = "Intro stays.\n\nPolice said the fire started in the kitchen and spread quickly to the roof."
    diff = diff_texts(old, new)
    assert diff.added == () and diff.removed == ()
    (changed,) = diff.changed
    assert [op for op in changed.words if op[0] != "="] == [("-", ". It"), ("+", " and")]


def test_split_with_a_figure_change_reports_the_figure() -> None:
    old = "Intro.\n\nThe army said 300 soldiers were captured. The rest retreated to the border."
    new = "Intro.\n\nThe army said 400 soldiers were captured and the rest retreated to the border."
    diff = diff_texts(old, new)
    assert diff.added == () and diff.removed == () and len(diff.changed) == 1
    assert [(f.old_value, f.new_value) for f in diff.figures] == [(300, 400)]


def test_a_genuinely_new_sentence_after_a_kept_one_is_added() -> None:
    old = "Intro.\n\nThe minister resigned on Friday after a long scandal about expenses, his office said."
    new = ("Intro.\n\nThe minister resigned on Friday after a long scandal about expenses, his office said "
           "on Saturday. A successor will be named next week.")
    diff = diff_texts(old, new)
    assert diff.added == ("A successor will be named next week.",)
    (changed,) = diff.changed
    assert changed.new.endswith("on Saturday.")


def test_moved_and_edited_sentence_is_changed_not_added() -> None:
    old = "Alpha leads here.\n\nBeta follows.\n\nAt least 1,000 troops were killed near the river."
    new = "At least 1,500 troops were killed near the river.\n\nAlpha leads here.\n\nBeta follows."
    diff = diff_texts(old, new)
    assert diff.added == () and diff.removed == ()
    assert [(f.old_value, f.new_value) for f in diff.figures] == [(1000, 1500)]


def test_moved_sentence_reformatted_is_moved() -> None:
    old = "Alpha leads here.\n\nBeta follows.\n\nAt least 1,000 troops were killed near the river."
    new = "At least 1000 troops were killed near the river.\n\nAlpha leads here.\n\nBeta follows."
    diff = diff_texts(old, new)
    assert diff.moved == ("At least 1000 troops were killed near the river.",)
    assert diff.changed == () and diff.significance == "low"


def test_cosmetic_sentence_inside_a_modified_text_is_not_reported() -> None:
    old = "Officials counted 1,500 people. The mayor spoke."
    new = "Officials counted 1500 people. The mayor spoke at length about the response."
    diff = diff_texts(old, new)
    assert [c.old for c in diff.changed] == ["The mayor spoke."]


def test_figure_changes_direct() -> None:
    (change,) = figure_changes("The toll rose to 45.", "The toll rose to 52.")
    assert (change.old, change.new, change.context) == ("45", "52", "toll")


# --- headlines ----------------------------------------------------------------------------------------

def test_figures_in_an_edited_headline_are_figure_changes() -> None:
    old_title, new_title = "1,000 killed in floods in Kerala", "1,500 killed in floods in Kerala"
    diff = diff_texts("The body did not change.", "The body did not change.", old_title=old_title,
                      new_title=new_title)
    assert diff.title is not None and diff.significance == "high"
    (figure,) = diff.figures
    assert (figure.old, figure.new, figure.old_value, figure.new_value) == ("1,000", "1,500", 1000, 1500)
    assert (figure.old_sentence, figure.new_sentence) == (old_title, new_title)
    assert figure.context and "killed" in figure.context


def test_headline_figures_come_first_then_the_body() -> None:
    diff = diff_texts("Officials counted 12 bodies.", "Officials counted 15 bodies.",
                      old_title="Floods: 1,000 dead", new_title="Floods: 1,200 dead")
    assert [(f.old_value, f.new_value, f.old_sentence) for f in diff.figures] == [
        (1000, 1200, "Floods: 1,000 dead"), (12, 15, "Officials counted 12 bodies.")]


def test_a_rewritten_headline_reports_no_figure_change() -> None:
    diff = diff_texts("Same.", "Same.", old_title="1,000 killed in floods in Kerala",
                      new_title="Army sends 5,000 troops as Kerala rain eases")
    assert diff.title is not None and diff.figures == ()


def test_qualifier_change_in_a_headline() -> None:
    old_title, new_title = "At least 1,000 killed in floods", "More than 1,000 killed in floods"
    assert qualifier_changes(old_title, new_title)[0].old == "at least"
    diff = diff_texts("Same.", "Same.", old_title=old_title, new_title=new_title)
    assert diff.title is not None and diff.figures == () and diff.significance == "high"
    if hasattr(diff, "qualifiers"):
        assert [(q.old, q.new, q.old_sentence) for q in diff.qualifiers] == [("at least", "more than", old_title)]


def test_headline_figure_formatting_is_not_a_title_change() -> None:
    diff = diff_texts("Same.", "Same.", old_title="1,000 killed", new_title="1000 killed")
    assert diff.kind == "unchanged" or diff.kind == "cosmetic"
    assert diff.title is None and diff.figures == ()


# --- qualifier changes --------------------------------------------------------------------------------

def test_qualifier_changes_direct() -> None:
    old = "At least 1,000 of the 11,000 troops deployed had been killed."
    new = "More than 1,000 of the 11,000 troops deployed had been killed."
    (change,) = qualifier_changes(old, new)
    assert (change.figure, change.value, change.old, change.new) == ("1,000", 1000, "at least", "more than")
    assert change.context and "killed" in change.context
    assert (change.old_sentence, change.new_sentence) == (old, new)
    assert change.to_dict() == {"figure": "1,000", "value": 1000, "old": "at least", "new": "more than",
                                "context": change.context, "old_sentence": old, "new_sentence": new}


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("Some 300 people fled.", "Up to 300 people fled.", [("some", "up to")]),
    ("300 people fled.", "As many as 300 people fled.", [(None, "as many as")]),
    ("Nearly 300 people fled.", "300 people fled.", [("nearly", None)]),
    ("Nearly 300 people fled.", "Almost 300 people fled.", []),           # the same meaning
    ("At least 300 people fled.", "At least 300 people fled the city.", []),
    ("At least 300 people fled.", "At least 400 people fled.", []),      # a figure change, not this
    ("At least $5m was raised.", "More than £5m was raised.", []),       # another currency: another value
    ("About 12% voted.", "Fewer than 12 per cent voted.", [("about", "fewer than")]),
    ("At least 1,500 soldiers.", "More than 1500 soldiers.", [("at least", "more than")]),
])
def test_qualifier_changes_cases(old: str, new: str, expected: list[tuple[str | None, str | None]]) -> None:
    assert [(q.old, q.new) for q in qualifier_changes(old, new)] == expected


def test_qualifier_change_alone_is_medium() -> None:
    diff = diff_texts("At least 1,000 soldiers have been killed.", "More than 1,000 soldiers have been killed.")
    assert diff.kind == "modified" and diff.figures == () and diff.significance == "medium"


@given(st.text(), st.text())
def test_qualifier_changes_never_raise(a: str, b: str) -> None:
    for change in qualifier_changes(a, b):
        assert change.figure in b and change.old != change.new


# --- word diff ----------------------------------------------------------------------------------------

def test_word_diff_keeps_figures_whole() -> None:
    old, new = "Paid $1.2bn at 10 a.m. on Feb. 3, 2022.", "Paid $1.5bn at 11 a.m. on Feb. 3, 2022."
    assert word_diff(old, new) == (
        ("=", "Paid "), ("-", "$1.2bn"), ("+", "$1.5bn"), ("=", " at "), ("-", "10 a.m."), ("+", "11 a.m."),
        ("=", " on Feb. 3, 2022."))
    assert word_diff("at least 1,000 troops", "at least 1,500 troops") == (
        ("=", "at least "), ("-", "1,000"), ("+", "1,500"), ("=", " troops"))


def test_word_diff_merges_adjacent_ops() -> None:
    ops = word_diff("soldiers were ill-prepared for war", "soldiers lacked experience of war")
    assert ops == (("=", "soldiers "), ("-", "were ill-prepared for"), ("+", "lacked experience of"),
                   ("=", " war"))
    assert all(a[0] != b[0] for a, b in zip(ops, ops[1:], strict=False))


def rebuild(ops: tuple[tuple[str, str], ...], skip: str) -> str:
    return "".join(text for op, text in ops if op != skip)


_WORDS = st.lists(st.sampled_from(["the", "The", " ", "  ", "troops", "1,000", "1000", "4.5%", "$2bn",
                                   "10 a.m.", ",", ".", "\u2019", "'", "killed", "at least", "\n", "four"]),
                  max_size=25)


@given(st.one_of(st.tuples(st.text(), st.text()), st.tuples(_WORDS.map("".join), _WORDS.map("".join))))
def test_word_diff_rebuilds_both_sentences(pair: tuple[str, str]) -> None:
    old, new = pair
    ops = word_diff(old, new)
    assert rebuild(ops, "+") == old
    assert rebuild(ops, "-") == new
    assert all(text for _, text in ops)
    assert all(a[0] != b[0] for a, b in zip(ops, ops[1:], strict=False))


# --- properties of whole diffs ------------------------------------------------------------------------

# Sentences that share no content words, and a second version of each with one figure changed: pairs
# between different bases are below the similarity threshold, so the alignment is unambiguous.
BASES = [
    ("Alpha company lost {} tanks near Kursk.", "12", "15"),
    ("Bravo officials counted {} ballots overnight.", "1,000", "1,500"),
    ("Charlie reporters saw smoke rising from {} buildings.", "three", "four"),
    ("Delta traders expect prices to climb {} this winter.", "4%", "5%"),
    ("Echo ministers approved {} in emergency funding.", "$2bn", "$3bn"),
    ("Foxtrot residents fled after the river burst its banks.", "", ""),
    ("Golf inspectors found serious faults in {} reactors.", "two", "six"),
    ("Hotel guests waited hours for news of their relatives.", "", ""),
]


def _article(picks: list[tuple[int, bool]]) -> str:
    sentences = [BASES[i][0].format(BASES[i][2] if alt else BASES[i][1]) for i, alt in picks]
    return "\n\n".join(" ".join(sentences[k:k + 2]) for k in range(0, len(sentences), 2))


_ARTICLE = st.lists(st.tuples(st.integers(0, len(BASES) - 1), st.booleans()), max_size=8,
                    unique_by=lambda t: t[0]).map(_article)


@given(st.one_of(st.text(), _ARTICLE))
def test_diff_of_a_text_with_itself_is_unchanged(text: str) -> None:
    assert diff_texts(text, text, old_title="T", new_title="T") == Diff(kind="unchanged", significance="none")


@settings(max_examples=200)
@given(_ARTICLE, _ARTICLE)
def test_swapping_arguments_swaps_added_and_removed(a: str, b: str) -> None:
    forward, backward = diff_texts(a, b), diff_texts(b, a)
    assert forward.kind == backward.kind and forward.significance == backward.significance
    assert sorted(forward.added) == sorted(backward.removed)
    assert sorted(forward.removed) == sorted(backward.added)
    assert sorted((c.old, c.new) for c in forward.changed) == sorted((c.new, c.old) for c in backward.changed)
    assert sorted((f.old_value, f.new_value) for f in forward.figures) == \
        sorted((f.new_value, f.old_value) for f in backward.figures)


@given(st.text(), st.text())
def test_diff_never_raises_and_is_consistent(a: str, b: str) -> None:
    diff = diff_texts(a, b)
    if diff.kind != "modified":
        assert not (diff.figures or diff.added or diff.removed or diff.changed or diff.moved)
        assert diff.significance == "none"
    for change in diff.changed:
        assert rebuild(change.words, "+") == change.old and rebuild(change.words, "-") == change.new


# --- long texts: the edit window and the guarded sequence matcher -------------------------------------

def _long_paragraph(copies: int = 60) -> str:
    """One paragraph of more than 20,000 characters whose sentences are all distinct."""
    sentences = [s for p in SEED.text.split("\n\n") for s in split_sentences(p)]
    return " ".join(f"Item {k}: {s}" for k in range(copies) for s in sentences[k % 5:k % 5 + 4])


@pytest.mark.parametrize("edit", [
    lambda t: t.replace("Item 30: ", "Item 30: At least 1,500 people said that ", 1),
    lambda t: t.replace("Item 31: ", "Item 31: A brand new sentence is inserted here. ", 1),
    lambda t: t.replace("at least 1,000", "at least 1000"),              # cosmetic, everywhere
    lambda t: t.replace("at least 1,000", "at least 1000", 1),           # cosmetic, once
    lambda t: t.replace("Item 1: ", "Item 1: Early change. ", 1),       # near the start
    lambda t: t[:-40] + " The very end was rewritten entirely.",       # near the end
    lambda t: t.replace("Item 29: ", "", 1).replace("Item 40: ", "Item 40: Moved text. ", 1),
], ids=["figure", "insert", "cosmetic-all", "cosmetic-one", "start", "end", "two-edits"])
def test_edit_window_gives_the_same_diff(edit: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import monitor.diff as diff_module

    old = _long_paragraph()
    new = edit(old)
    assert len(old) > diff_module._BIG and old != new
    windowed = diff_texts(old, new)
    monkeypatch.setattr(diff_module, "_BIG", 10**12)
    assert windowed == diff_texts(old, new)


def test_single_newlines_make_one_paragraph_and_still_diff_locally() -> None:
    lines = [f"Line {k} reports that {k * 10} soldiers were moved to the front." for k in range(2_000)]
    old = "\n".join(lines)
    new = old.replace("Line 1000 reports that 10000 soldiers", "Line 1000 reports that 12000 soldiers")
    diff = diff_texts(old, new)
    assert [(f.old_value, f.new_value) for f in diff.figures] == [(10000, 12000)]
    assert [c.old for c in diff.changed] == [lines[1000]]


@given(st.lists(st.sampled_from(list("ab .!?\"AB1") + ["Mr. ", "U.S. ", " a.m. "]), max_size=60).map("".join),
       st.integers(0, 200), st.booleans())
def test_sentence_start_cuts_where_the_splitter_would(text: str, limit: int, forward: bool) -> None:
    pos = sentence_start(text, limit, forward=forward, span=200)
    if pos is not None:
        assert (pos >= limit) if forward else (pos <= limit)
        assert split_sentences(text[:pos]) + split_sentences(text[pos:]) == split_sentences(text)


def _check_opcodes(a: list[str], b: list[str], ops: list[tuple[str, int, int, int, int]]) -> int:
    """Assert ``ops`` is a valid edit script from a to b; return how many items it keeps."""
    i = j = kept = 0
    for tag, i1, i2, j1, j2 in ops:
        assert (i1, j1) == (i, j)
        if tag == "equal":
            assert a[i1:i2] == b[j1:j2]
            kept += i2 - i1
        i, j = i2, j2
    assert (i, j) == (len(a), len(b))
    return kept


@given(st.lists(st.sampled_from("abcde"), max_size=30), st.lists(st.sampled_from("abcde"), max_size=30),
       st.booleans())
def test_opcodes_are_a_valid_edit_script(a: list[str], b: list[str], guarded: bool) -> None:
    import monitor.sequence as sequence

    ops = sequence.opcodes(a, b)
    _check_opcodes(a, b, ops)
    if guarded:                  # force the patience / greedy path and check it too
        original = sequence.MAX_MATCH_COST
        try:
            sequence.MAX_MATCH_COST = 0
            _check_opcodes(a, b, sequence.opcodes(a, b))
        finally:
            sequence.MAX_MATCH_COST = original


def test_opcodes_guard_finds_a_move_in_repeated_content(monkeypatch: pytest.MonkeyPatch) -> None:
    import monitor.sequence as sequence

    monkeypatch.setattr(sequence, "MAX_MATCH_COST", 100)
    a = [f"p{k % 17}" for k in range(17 * 50)]
    b = a[1:] + a[:1]                          # the first paragraph moved to the end
    ops = sequence.opcodes(a, b)
    assert _check_opcodes(a, b, ops) == len(a) - 1


def test_a_qualifier_change_is_listed_on_the_diff_not_as_a_figure() -> None:
    diff = diff_texts("Police said at least 20 people were hurt.", "Police said more than 20 people were hurt.")
    assert diff.figures == () and diff.significance == "medium"
    [change] = diff.qualifiers
    assert (change.figure, change.value, change.old, change.new) == ("20", 20, "at least", "more than")
    assert diff.to_dict()["qualifiers"][0]["new"] == "more than"
