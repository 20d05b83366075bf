"""find_figures: values, units, qualifiers, kinds and contexts of the figures in one sentence.

Whole-sentence-pair behaviour (which changes count as figure changes) is data-driven in
tests/cases/figure_pairs.yaml and run by tests/test_diff.py.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.figures import Figure, find_figures, format_value

SEED = ("In January, Western officials told the BBC that at least 1,000 of the 11,000 North Korean troops "
        "deployed had been killed within three months.")


def only(sentence: str) -> Figure:
    figures = find_figures(sentence)
    assert len(figures) == 1, figures
    return figures[0]


# (sentence, text, value, unit, qualifier, kind)
PARSED = [
    ("at least 1,000 people", "1,000", 1000, None, "at least", "number"),
    ("some 1500 people", "1500", 1500, None, "some", "number"),
    ("1,234.5 tonnes", "1,234.5", 1234.5, "tonnes", None, "number"),
    ("30.000 people marched", "30.000", 30000, None, None, "number"),
    ("1.234.567 votes", "1.234.567", 1234567, None, None, "number"),
    ("1.5 million people", "1.5 million", 1500000, None, None, "number"),
    ("15 million people", "15 million", 15000000, None, None, "number"),
    ("2.4bn barrels", "2.4bn", 2400000000, None, None, "number"),
    ("100m people", "100m", 100000000, None, None, "number"),
    ("the 100m sprint", "100m", 100, "m", None, "number"),
    ("5km away", "5", 5, "km", None, "number"),
    ("at 100mph", "100", 100, "mph", None, "number"),
    ("12%", "12%", 12, "%", None, "percent"),
    ("up 4.5 per cent", "4.5 per cent", 4.5, "%", None, "percent"),
    ("nearly 4.5 percent", "4.5 percent", 4.5, "%", "nearly", "percent"),
    ("2 percentage points", "2 percentage points", 2, "percentage points", None, "percent"),
    ("ten per cent", "ten per cent", 10, "%", None, "percent"),
    ("$2.4 billion in aid", "$2.4 billion", 2400000000, "USD", None, "money"),
    ("$2.4bn in aid", "$2.4bn", 2400000000, "USD", None, "money"),
    ("more than £300m", "£300m", 300000000, "GBP", "more than", "money"),
    ("€5.5bn", "€5.5bn", 5500000000, "EUR", None, "money"),
    ("US$1.2 billion", "US$1.2 billion", 1200000000, "USD", None, "money"),
    ("USD 500", "USD 500", 500, "USD", None, "money"),
    ("15 million dollars", "15 million dollars", 15000000, "USD", None, "money"),
    ("$5k", "$5k", 5000, "USD", None, "money"),
    ("four months ago", "four", 4, "months", None, "number"),
    ("twenty-five soldiers", "twenty-five", 25, None, None, "number"),
    ("two hundred and fifty soldiers", "two hundred and fifty", 250, None, None, "number"),
    ("a dozen eggs", "a dozen", 12, None, None, "number"),
    ("half a million people", "half a million", 500000, None, None, "number"),
    ("three thousand troops", "three thousand", 3000, None, None, "number"),
    ("dozens of people", "dozens", 12, None, None, "vague"),
    ("hundreds of square kilometers", "hundreds", 100, None, None, "vague"),
    ("tens of thousands of people", "tens of thousands", 10000, None, None, "vague"),
    ("several hundred people", "several hundred", 100, None, None, "vague"),
    ("as many as 40 people", "40", 40, None, "as many as", "number"),
    ("up to 40 people", "40", 40, None, "up to", "number"),
    ("fewer than 40 people", "40", 40, None, "fewer than", "number"),
    ("almost 40 people", "40", 40, None, "almost", "number"),
    ("around 40 people", "40", 40, None, "around", "number"),
    ("over 40 people", "40", 40, None, "over", "number"),
    ("at 10 a.m. local time", "10 a.m.", 1000, None, None, "time"),
    ("at 3pm", "3pm", 1500, None, None, "time"),
    ("at 10:30", "10:30", 1030, None, None, "time"),
    ("at 1430 GMT", "1430", 1430, None, None, "time"),
    ("at 0200 local time", "0200", 200, None, None, "time"),
    ("( 0900 )", "0900", 900, None, None, "time"),
    ("$ 30.000 USD", "$ 30.000 USD", 30000, "USD", None, "money"),
    ("US$ 1", "US$ 1", 1, "USD", None, "money"),
    ("70 , 725 large photos", "70 , 725", 70725, None, None, "number"),
    ("on February 24, 2022", "February 24, 2022", 20220224, None, None, "date"),
    ("on 24 February 2022", "24 February 2022", 20220224, None, None, "date"),
    ("on Feb. 24", "Feb. 24", 224, None, None, "date"),
    ("in September 2022", "September 2022", 20220900, None, None, "date"),
    ("on 2022-02-24", "2022-02-24", 20220224, None, None, "date"),
    ("in 2022", "2022", 2022, None, None, "year"),
    ("the 1990s", "1990", 1990, None, None, "year"),
    ("2000 troops", "2000", 2000, None, None, "number"),
    ("it rose to 2000", "2000", 2000, None, None, "number"),
    ("the 21st attack", "21st", 21, None, None, "ordinal"),
    ("the eleventh case", "eleventh", 11, None, None, "ordinal"),
    ("the twenty-first century", "twenty-first", 21, None, None, "ordinal"),
    ("his second term", "second", 2, None, None, "ordinal"),
    ("one second later", "one", 1, "seconds", None, "number"),           # a unit, not an ordinal
    ("a 30-second clip", "30", 30, "seconds", None, "number"),
    ("for upto 14 days", "14", 14, "days", "up to", "number"),
    ("at least an 8.5 GPA", "8.5", 8.5, None, "at least", "number"),
    ("at least a dozen people", "a dozen", 12, None, "at least", "number"),
    ("$ 5 million", "$ 5 million", 5000000, "USD", None, "money"),
]


@pytest.mark.parametrize(("sentence", "text", "value", "unit", "qualifier", "kind"), PARSED,
                         ids=[p[0] for p in PARSED])
def test_parsed(sentence: str, text: str, value: float, unit: str | None, qualifier: str | None,
                kind: str) -> None:
    figure = only(sentence)
    assert (figure.text, figure.value, figure.unit, figure.qualifier, figure.kind) == \
        (text, value, unit, qualifier, kind)
    assert sentence[figure.start:figure.end] == figure.text


def test_time_zone_stays_outside_the_figure() -> None:
    (figure,) = find_figures("at 14:30 GMT")
    assert (figure.text, figure.kind) == ("14:30", "time")
    assert [f.kind for f in find_figures("a 007 agent")] == ["number"]    # no zone: not a time


def test_comma_separated_numbers_stay_apart() -> None:
    """Only a tokeniser writes " , " inside a number; "258, 753" is a list of two (as "On May 3, 150")."""
    assert [f.value for f in find_figures("258, 753 photos")] == [258, 753]
    assert [(f.kind, f.value) for f in find_figures("On May 3, 150 people")] == [("date", 503), ("number", 150)]


def test_values_are_ints_when_integral() -> None:
    assert isinstance(only("$2.4 billion").value, int)
    assert isinstance(only("4.5%").value, float)


@pytest.mark.parametrize("sentence", [
    "COVID-19 cases rose", "the Su-57 jet", "no one came", "they blamed one another", "someone said",
    "the weight of evidence", "the tent was empty", "Version v1.2 shipped", "5G phones", "3D films",
    "people in their 20s",
])
def test_not_figures(sentence: str) -> None:
    assert [f for f in find_figures(sentence) if f.kind in ("number", "percent", "money", "vague")] == []


@pytest.mark.parametrize(("sentence", "figure", "contains"), [
    (SEED, "1,000", "killed"),
    (SEED, "11,000", "North Korean troops"),
    ("The exact number of additional soldiers remains unclear, but military sources estimate the figure "
     "to be at least 1,000.", "1,000", "additional soldiers"),
    ("Zelensky has stated that Ukraine's military has suffered 45,100 casualties, but experts disagree.",
     "45,100", "casualties"),
    ("It reported 5,937 deaths.", "5,937", "deaths"),
    ("about 300 North Korean soldiers had been captured or wounded", "300", "captured or wounded"),
    ("Ukraine still controls hundreds of square kilometers of Russian territory.", "hundreds",
     "square kilometers"),
    ("The death toll rose to 45.", "45", "death toll"),
    ("Inflation rose to 4.5% in March.", "4.5%", "Inflation"),
    ("12% of voters backed the plan.", "12%", "voters"),
    ("The US approved $2.4 billion in military aid.", "$2.4 billion", "military aid"),
    ("They were sent four months ago.", "four", "months"),
    ("12 died in the attack.", "12", "died"),
])
def test_context(sentence: str, figure: str, contains: str) -> None:
    found = {f.text: f for f in find_figures(sentence)}
    context = found[figure].context
    assert context is not None and contains.lower() in context.lower()


def test_seed_context_prefers_the_predicate() -> None:
    assert find_figures(SEED)[0].context == "troops killed"


def test_qualifier_is_not_part_of_the_text() -> None:
    figure = only("Officials said more than 46,000 casualties")
    assert (figure.text, figure.qualifier) == ("46,000", "more than")


def test_times_and_dates_get_no_qualifier_or_context() -> None:
    figures = find_figures("At about 10 a.m. on March 3, 2024, some 30 people gathered.")
    assert [(f.kind, f.qualifier, f.context is None) for f in figures] == [
        ("time", None, True), ("date", None, True), ("number", "some", False)]


def test_with_context_false_skips_only_the_context() -> None:
    full = find_figures(SEED)
    bare = find_figures(SEED, with_context=False)
    assert [(f.text, f.value, f.qualifier) for f in full] == [(f.text, f.value, f.qualifier) for f in bare]
    assert all(f.context is None for f in bare)


def test_format_value() -> None:
    assert format_value(2400000000, "USD") == "USD 2,400,000,000"
    assert format_value(4.5, "%") == "4.5%"
    assert format_value(4, "months") == "4 months"
    assert format_value(1500) == "1,500"


_NUMBERISH = st.lists(st.sampled_from(
    list("0123456789 ,.%$£€-:/") + ["bn", "m", "k", " million", " per cent", " a.m.", " at least ", "four",
                                    "-five", " hundred", " and ", "dozens", " of ", "thousands", "January ",
                                    "Feb. ", "st", "th", "USD", " people", "\n", "\u00a0", "\u2212"])
).map("".join)


@given(st.one_of(st.text(), _NUMBERISH))
def test_find_figures_never_raises_and_spans_match(sentence: str) -> None:
    figures = find_figures(sentence)
    previous_end = 0
    for figure in figures:
        assert sentence[figure.start:figure.end] == figure.text
        assert figure.start >= previous_end                      # sorted, never overlapping
        previous_end = figure.end
        assert isinstance(figure.value, int | float)
