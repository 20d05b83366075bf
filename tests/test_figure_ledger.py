"""The figure ledger: every figure of every version recorded; one quantity per counted thing across the
sources of a story; 11,000 against 12,000 troops flagged, "at least 1,000" against "about 1,000" not;
a raised casualty figure shows which source changed first. End to end through `newsmon check` and
`newsmon figures` on a loopback site, and on the store directly (SQLite and PostgreSQL).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pytest_httpserver import HTTPServer
from sites import Site, revision
from test_stories import COURIER, FOOTBALL, T0, cli, courier_page, publish_all, store_article, write_config
from typer.testing import CliRunner

from monitor.cli import app
from monitor.demo.site import ArticleText, load_seed, render_article_page
from monitor.figure_ledger import Reading, compatible, subject_key, tracked_quantities, update_ledger
from monitor.store import Store
from monitor.stories import refresh_stories

VALUE_KEYS = {"source", "url", "value", "unit", "qualifier", "version", "seen_at", "sentence"}


def figures_json(config: Path, *args: str) -> list[dict[str, Any]]:
    data = json.loads(cli("figures", "-c", str(config), "--format", "json", *args))
    assert isinstance(data, list)
    return data


def quantity_with(data: list[dict[str, Any]], *values: int) -> dict[str, Any]:
    """The one quantity whose sources' latest values are exactly ``values``."""
    found = [q for q in data if sorted(v["value"] for v in q["values"]) == sorted(values)]
    assert len(found) == 1, [(q["subject"], [v["value"] for v in q["values"]]) for q in data]
    return found[0]


def test_troops_disagree_across_outlets_and_compatible_hedges_do_not(site: Site, httpserver: HTTPServer,
                                                                   tmp_path: Path) -> None:
    config = write_config(tmp_path, httpserver)
    publish_all(site)
    cli("check", "-c", str(config))
    story = json.loads(cli("stories", "-c", str(config), "--format", "json"))[0]["id"]
    data = figures_json(config)

    assert {q["story"] for q in data} == {story}            # unrelated articles are stories of their own
    troops = quantity_with(data, 11_000, 12_000)
    assert troops["discrepancy"] is True and "troops" in troops["subject"]
    assert {(v["source"], v["value"]) for v in troops["values"]} == {("ledger", 11_000), ("courier", 12_000)}
    for value in troops["values"]:
        assert set(value) >= VALUE_KEYS
        assert value["version"] == 1 and value["qualifier"] is None and value["unit"] is None
        assert f"{value['value']:,}" in value["sentence"]
        assert datetime.fromisoformat(value["seen_at"]).tzinfo is not None
    assert {v["url"] for v in troops["values"]} == {httpserver.url_for("/ledger/korea"),
                                                    httpserver.url_for("/courier/korea")}

    additional = quantity_with(data, 1_000, 1_000)         # "at least 1,000" and "about 1,000": compatible
    assert {v["qualifier"] for v in additional["values"]} == {"at least", "about"}
    assert additional["discrepancy"] is False
    killed = quantity_with(data, 1_000, 1_200)              # both lower bounds: they differ, but agree
    assert killed["discrepancy"] is False and killed["differs"] is True
    assert [q["discrepancy"] for q in data].count(True) == 1
    assert data[0] is troops or data[0]["discrepancy"]      # discrepancies come first

    only_story = figures_json(config, "--story", str(story))
    assert [q["subject"] for q in only_story] == [q["subject"] for q in data]
    missing = CliRunner().invoke(app, ["figures", "-c", str(config), "--story", "999"])
    assert missing.exit_code == 3 and "no story 999" in missing.stderr
    text = cli("figures", "-c", str(config))
    assert "DISAGREE" in text and "ledger: 11,000 (v1)" in text and "courier: 12,000 (v1)" in text


def test_a_raised_casualty_figure_shows_which_source_changed_first(site: Site, httpserver: HTTPServer,
                                                                   tmp_path: Path) -> None:
    config = write_config(tmp_path, httpserver)
    publish_all(site)
    cli("check", "-c", str(config))
    assert quantity_with(figures_json(config), 1_000, 1_200)["revisions"] == []

    # The first outlet raises its toll to at least 1,500 ...
    site.publish("/ledger/korea", render_article_page(revision("01_killed_figure_and_new_paragraph"), variant=1))
    cli("check", "-c", str(config))
    killed = quantity_with(figures_json(config), 1_500, 1_200)
    [lead] = killed["revisions"]
    assert (lead["from"], lead["to"], lead["first"]["source"], lead["first"]["version"]) == (1_000, 1_500, "ledger", 2)
    assert lead["followed"] == []
    ledger_history = [(h["value"], h["version"]) for h in killed["history"] if h["source"] == "ledger"]
    assert ledger_history == [(1_000, 1), (1_500, 2)]
    assert killed["discrepancy"] is False                   # at least 1,500 and at least 1,200 still agree

    # ... and the second follows on the next check: the lead names both, in order.
    raised = ArticleText(COURIER.title, COURIER.standfirst, tuple(
        p.replace("at least 1,200", "at least 1,500") for p in COURIER.paragraphs))
    site.publish("/courier/korea", courier_page(raised, edition=2))
    cli("check", "-c", str(config))
    killed = quantity_with(figures_json(config), 1_500, 1_500)
    [lead] = killed["revisions"]
    assert lead["first"]["source"] == "ledger"
    assert [(f["source"], f["version"]) for f in lead["followed"]] == [("courier", 2)]
    assert lead["first"]["at"] < lead["followed"][0]["at"]
    text = cli("figures", "-c", str(config))
    assert "revised 1,000 -> 1,500: ledger first" in text and "then courier" in text


# -- on the store directly (both backends) ------------------------------------------------------------------


def test_every_figure_of_every_version_is_recorded_once(store: Store) -> None:
    from sqlalchemy import func, select

    from monitor.stories.tables import figure_occurrences

    store_article(store, "https://ledger.example/korea", "ledger", load_seed(), T0)
    store_article(store, "https://sport.example/derby", "sport", FOOTBALL, T0)
    assert update_ledger(store) == 2
    assert update_ledger(store) == 0                        # incremental: nothing new, nothing parsed
    with store.engine.connect() as conn:
        rows = conn.execute(select(figure_occurrences).order_by(figure_occurrences.c.id)).all()
    derby = [r for r in rows if r.text == "3-1" or "53,000" in r.text]
    assert any(r.value == 53_000 for r in derby)
    troops = [r for r in rows if r.text == "11,000"]
    assert len(troops) == 1 and troops[0].context == "North Korean troops" and troops[0].subject == "troop||count"
    assert "11,000 North Korean troops deployed" in troops[0].sentence
    killed = [r for r in rows if r.qualifier == "at least" and r.context == "troops killed"]
    assert [r.value for r in killed] == [1_000]
    dates = [r for r in rows if r.kind in ("year", "date")]
    assert dates and all(r.subject is None for r in dates)   # recorded, but not a tracked quantity

    later = T0 + timedelta(hours=2)
    store_article(store, "https://ledger.example/korea", "ledger", revision("01_killed_figure_and_new_paragraph"),
                  later)
    assert update_ledger(store) == 1
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(figure_occurrences)).scalar() > len(rows)

    refresh_stories(store)
    [killed_quantity] = [q for q in tracked_quantities(store, include_single=True) if q.key == "|killed|count"]
    assert [(r.version, r.value, r.seen_at) for r in killed_quantity.readings] == [(1, 1000, T0), (2, 1500, later)]
    assert killed_quantity.revisions()[0]["first"]["version"] == 2
    assert tracked_quantities(store) == []                  # no story has two articles


WIRE = ArticleText(
    title="North Korea sends more troops to Russia's Kursk front, says Seoul",
    standfirst="South Korea's spy agency says Pyongyang has sent more soldiers to Russia",
    paragraphs=(
        "South Korea's spy agency said Pyongyang has sent more soldiers to Russia and moved others to the Kursk "
        "front line. Military sources put the number of additional soldiers at 1,000 or more.",
        "North Korea has sent 12,000 soldiers to Russia since October, Western officials say.",
    ))


def test_the_same_noun_counted_twice_links_by_context_and_value(store: Store) -> None:
    # "additional soldiers" (1,000) and "soldiers" (12,000) against "additional soldiers" (at least 1,000)
    # and "North Korean troops" (11,000): one key ("troop||count"), two quantities, each kept apart.
    store_article(store, "https://ledger.example/korea", "ledger", load_seed(), T0)
    store_article(store, "https://wire.example/korea", "wire", WIRE, T0 + timedelta(minutes=3))
    refresh_stories(store)
    quantities = tracked_quantities(store)
    by_values = {tuple(sorted((r.source, int(r.value)) for r in q.latest())): q for q in quantities}
    troops = by_values[(("ledger", 11_000), ("wire", 12_000))]
    assert troops.discrepancy() and troops.key == "troop||count"
    assert (("ledger", 1_000), ("wire", 1_000)) in by_values
    assert [q.discrepancy() for q in quantities].count(True) == 1


def reading(value: float, qualifier: str | None = None, unit: str | None = None) -> Reading:
    return Reading(article_id=1, source="s", url="u", version=1, seen_at=datetime(2025, 1, 1, tzinfo=UTC),
                   value=value, text=str(value), unit=unit, qualifier=qualifier, context=None, sentence="",
                   position=0)


def test_compatible_values() -> None:
    assert compatible([reading(1000, "at least"), reading(1000, "about")])
    assert compatible([reading(1000), reading(1000, "more than")])    # one value, hedged differently
    assert not compatible([reading(11_000), reading(12_000)])
    assert not compatible([reading(11_000, "about"), reading(12_000)])
    assert compatible([reading(10_000, "more than"), reading(11_000)])
    assert compatible([reading(1_000, "at least"), reading(1_200, "at least")])
    assert not compatible([reading(1_000, "up to"), reading(1_200, "at least")])
    assert not compatible([reading(5, unit="USD"), reading(5, unit="EUR")])


def test_subject_keys() -> None:
    assert subject_key("North Korean troops", None, "number") == subject_key("soldiers", None, "number")
    assert subject_key("troops killed", None, "number") == "|killed|count"
    assert subject_key("troops killed", None, "number") == subject_key("soldiers died", None, "number")
    assert subject_key("killed", None, "number") == "|killed|count"               # "1,000 have been killed"
    assert subject_key("soldiers captured or wounded", None, "number") == "|injured|count"
    assert subject_key("troops deployed", None, "number") == "troop||count"
    assert subject_key("months", "months", "number") is None
    assert subject_key("military aid", "USD", "money") == "aid||USD"
    assert subject_key("voters", "%", "percent") != subject_key("voters", None, "number")
    assert subject_key(None, None, "number") is None and subject_key("troops", None, "year") is None


def test_figures_on_an_empty_store(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("storage: snapshots/\nsources: []\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["figures", "-c", str(config), "--format", "json"])
    assert result.exit_code == 0 and json.loads(result.stdout) == []
    result = CliRunner().invoke(app, ["stories", "-c", str(config)])
    assert result.exit_code == 0 and "no story" in result.stdout
