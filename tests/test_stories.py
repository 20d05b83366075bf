"""Stories: the seed story as two outlets publish it (other wording, other template, other figures) is one
story; a budget vote, a storm and a football match stay out of it; a rewrite moves an article between
stories. End to end through `newsmon check` and `newsmon stories` on a loopback site, and on the store
directly (SQLite and PostgreSQL).

The texts here are also the labelled set's hand-written part in benchmarks/story_grouping.py.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from html import escape
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from sites import Site, cli
from sqlalchemy import func, select

from monitor.demo.site import ArticleText, load_seed, render_article_page
from monitor.models import Document
from monitor.normalise import fingerprint
from monitor.store import CheckRecord, NewVersion, Store, open_store
from monitor.stories import DEFAULT_THRESHOLD, list_stories, refresh_stories
from monitor.stories.similarity import idf, shared_terms, terms, tfidf_cosine

# The seed story as a second outlet writes it: its own headline and sentences, 12,000 troops (the seed
# says 11,000), "at least 1,200" killed (the seed: "at least 1,000") and "about 1,000" additional
# soldiers (the seed: "at least 1,000", a compatible hedge).
COURIER = ArticleText(
    title="Pyongyang sends more soldiers to Russia and moves troops to the Kursk front, Seoul says",
    standfirst="South Korean intelligence says fresh North Korean units have arrived in Russia while others "
               "returned to the front line in Kursk",
    paragraphs=(
        "South Korea's National Intelligence Service said North Korea has sent additional troops to Russia and "
        "moved some of those already there to the front line in the Kursk region.",
        "Seoul did not say how many more had arrived. South Korean media, citing military sources, put the "
        "number of additional soldiers at about 1,000. Neither the Kremlin nor Pyongyang has confirmed the "
        "deployments.",
        "North Korean units have taken heavy losses since arriving four months ago to help Russia fight "
        "Ukraine. Western officials estimated in January that at least 1,200 of the 12,000 North Korean "
        "troops deployed had been killed within three months.",
        "The spy agency said on Thursday that North Korean soldiers already in Russia went back to the Kursk "
        "front in early February after a lull of about a month. Ukrainian special forces had said in January "
        "that they had not seen North Korean troops for weeks.",
        "Moscow last gave a figure for its military deaths in September 2022. Analysts believe the true tolls "
        "on both sides are far higher than either government admits.",
    ),
)

BUDGET = ArticleText(
    title="Parliament passes budget after all-night session",
    standfirst="The finance minister's spending plan survived a late rebellion by backbenchers",
    paragraphs=(
        "Lawmakers approved the government's budget for next year by 312 votes to 287 early on Wednesday, "
        "after a debate on hospital funding and fuel duty that ran through the night.",
        "The plan raises spending on hospitals by 4.5% and freezes fuel duty for a second year. The finance "
        "minister said the deficit would fall to $42 billion.",
        "Opposition parties said the cuts to local councils would close libraries and youth centres.",
    ),
)

STORM = ArticleText(
    title="Storm Eleanor leaves thousands without power along the coast",
    standfirst="Gusts of more than 90mph brought down trees and power lines overnight",
    paragraphs=(
        "Storm Eleanor cut electricity to 80,000 homes along the east coast overnight as gusts of more than "
        "90mph brought down trees and power lines.",
        "The weather service kept a red warning in place for coastal towns until Friday morning and told "
        "residents to stay indoors. Two people were injured by falling trees.",
        "Rail operators cancelled all trains on the coastal line and ferry crossings were suspended.",
    ),
)

FOOTBALL = ArticleText(
    title="City beat United 3-1 to go top of the league",
    standfirst="A second-half double from the captain settled the derby",
    paragraphs=(
        "City came from behind to beat United 3-1 at home on Sunday and climb to the top of the league table "
        "with eight matches left.",
        "United led at half-time through a header from a corner, but the captain scored twice after the break "
        "and a late penalty sealed the derby in front of 53,000 fans.",
        "The manager praised his side's patience and said the title race was far from over.",
    ),
)


def courier_page(article: ArticleText, *, edition: int = 0) -> str:
    """The second outlet's page template: nothing like render_article_page's markup."""
    body = "\n".join(f"<p class=\"para\">{escape(p)}</p>" for p in article.paragraphs)
    return f"""<!DOCTYPE html><html lang="en-GB"><head><meta charset="utf-8">
<title>{escape(article.title)} | The Morning Courier</title>
<meta property="og:title" content="{escape(article.title)}">
<meta property="og:site_name" content="The Morning Courier">
<meta property="article:published_time" content="2025-02-27T09:30:00Z"></head>
<body><div class="topbar"><a href="/">The Morning Courier</a> <a href="/world">World</a>
<a href="/subscribe">Subscribe for 1 a week</a> <span class="edition">Edition {edition}</span></div>
<div class="wrap"><div class="col-main"><div class="story">
<h1 class="story-headline">{escape(article.title)}</h1>
<h2 class="story-dek">{escape(article.standfirst)}</h2>
<div class="story-meta">By Daniel Osei, Seoul correspondent</div>
<div class="story-text">
{body}
</div></div></div>
<div class="col-side"><h3>Trending</h3><ol><li><a href="/t/1">Ten recipes for a cold evening</a></li>
<li><a href="/t/2">The best walking boots, tested</a></li></ol></div></div>
<div class="foot">Copyright The Morning Courier. <a href="/privacy">Privacy</a></div></body></html>"""





def write_config(tmp_path: Path, httpserver: HTTPServer) -> Path:
    def urls(*paths: str) -> str:
        return "[" + ", ".join(httpserver.url_for(p) for p in paths) + "]"

    config = tmp_path / "config.yaml"
    config.write_text(
        "storage: snapshots/\nreports: reports/\nper_host_delay: 0\nsources:\n"
        f"  - name: ledger\n    urls: {urls('/ledger/korea', '/ledger/budget')}\n"
        f"  - name: courier\n    urls: {urls('/courier/korea', '/courier/storm')}\n"
        f"  - name: sport\n    urls: {urls('/sport/derby')}\n", encoding="utf-8")
    return config


def publish_all(site: Site) -> None:
    site.publish("/ledger/korea", render_article_page(load_seed(), variant=0))
    site.publish("/ledger/budget", render_article_page(BUDGET, variant=1, site="The Daily Ledger"))
    site.publish("/courier/korea", courier_page(COURIER))
    site.publish("/courier/storm", courier_page(STORM))
    site.publish("/sport/derby", render_article_page(FOOTBALL, variant=2, site="Sport Today"))


def test_two_outlets_are_one_story_and_unrelated_articles_stay_out(site: Site, httpserver: HTTPServer,
                                                                  tmp_path: Path) -> None:
    config = write_config(tmp_path, httpserver)
    publish_all(site)
    cli("check", "-c", str(config))

    found = json.loads(cli("stories", "-c", str(config), "--format", "json"))
    korea = {httpserver.url_for("/ledger/korea"), httpserver.url_for("/courier/korea")}
    assert len(found) == 1, found
    story = found[0]
    assert set(story) >= {"id", "title", "why", "articles"}
    assert {a["url"] for a in story["articles"]} == korea
    assert {a["source"] for a in story["articles"]} == {"ledger", "courier"}
    assert {a["title"] for a in story["articles"]} == {load_seed().title, COURIER.title}
    assert story["title"] in (load_seed().title, COURIER.title)
    assert {"kursk", "korean", "russia"} <= set(story["why"]), story["why"]

    # With --all the unrelated articles are listed as stories of their own, one each.
    every = json.loads(cli("stories", "-c", str(config), "--format", "json", "--all"))
    singles = [s for s in every if s["id"] != story["id"]]
    assert sorted(len(s["articles"]) for s in singles) == [1, 1, 1]
    assert all(s["why"] == [] for s in singles)

    text = cli("stories", "-c", str(config))
    assert f"story {story['id']}:" in text and "why: " in text and httpserver.url_for("/courier/korea") in text


def test_a_rewrite_moves_an_article_to_another_story(site: Site, httpserver: HTTPServer, tmp_path: Path) -> None:
    config = write_config(tmp_path, httpserver)
    publish_all(site)
    cli("check", "-c", str(config))
    first = json.loads(cli("stories", "-c", str(config), "--format", "json"))
    assert len(first) == 1

    # The sports page is replaced by a storm report (a live page reused): it now belongs with the storm.
    site.publish("/sport/derby", render_article_page(storm_from_another_outlet(), variant=3, site="Sport Today"))
    cli("check", "-c", str(config))
    after = json.loads(cli("stories", "-c", str(config), "--format", "json"))
    by_urls = {frozenset(a["url"] for a in s["articles"]): s for s in after}
    storm = frozenset({httpserver.url_for("/courier/storm"), httpserver.url_for("/sport/derby")})
    assert storm in by_urls, after
    assert by_urls[frozenset({httpserver.url_for("/ledger/korea"), httpserver.url_for("/courier/korea")})]["id"] \
        == first[0]["id"]                        # the Korea story keeps its id

    # ... and back: the football report returns, the storm story is one article again.
    site.publish("/sport/derby", render_article_page(FOOTBALL, variant=4, site="Sport Today"))
    cli("check", "-c", str(config))
    final = json.loads(cli("stories", "-c", str(config), "--format", "json"))
    assert [len(s["articles"]) for s in final] == [2]


def storm_from_another_outlet() -> ArticleText:
    return ArticleText(
        title="Storm Eleanor: power cut to 80,000 homes on the east coast",
        standfirst="Trees and power lines down as gusts pass 90mph",
        paragraphs=(
            "Around 80,000 homes on the east coast lost power overnight when Storm Eleanor brought gusts of more "
            "than 90mph that felled trees and power lines.",
            "A red weather warning stays in force for coastal towns until Friday; two people were hurt by falling "
            "trees and rail services on the coastal line were cancelled.",
        ))


# -- on the store directly (both backends) ------------------------------------------------------------------

T0 = datetime(2025, 2, 27, 9, 0, tzinfo=UTC)


def store_article(store: Store, url: str, source: str, article: ArticleText, when: datetime) -> None:
    text = "\n\n".join((article.standfirst, *article.paragraphs))
    document = Document(title=article.title, text=text, byline=None, published=None, modified=None, url=url)
    store.record(url, source, CheckRecord(checked_at=when, outcome="new", status=200),
                 new_version=NewVersion(document=document, html=b"<html></html>",
                                        fingerprint=fingerprint(article.title, text), created_at=when))


def test_grouping_on_both_backends_is_incremental(store: Store) -> None:
    store_article(store, "https://ledger.example/korea", "ledger", load_seed(), T0)
    store_article(store, "https://courier.example/korea", "courier", COURIER, T0 + timedelta(minutes=5))
    store_article(store, "https://ledger.example/budget", "ledger", BUDGET, T0)
    first = refresh_stories(store)
    assert len(first.regrouped) == 3 and first.moved == ()
    assert refresh_stories(store).regrouped == ()          # nothing new: nothing regrouped

    stories = list_stories(store)
    assert [sorted(a.source for a in s.articles) for s in stories] == [["courier", "ledger"]]
    assert stories[0].title == load_seed().title           # the earliest article names the story
    assert len(list_stories(store, include_single=True)) == 2

    # A shortened copy of the courier's article stays out at a strict threshold; an article grouped at
    # another threshold than the current one is regrouped, and at the default this one joins.
    shortened = ArticleText(COURIER.title, COURIER.standfirst, COURIER.paragraphs[2:])
    store_article(store, "https://wire.example/korea", "wire", shortened, T0 + timedelta(minutes=9))
    refresh_stories(store, ["https://wire.example/korea"], threshold=0.99)
    assert sorted(len(s.articles) for s in list_stories(store, include_single=True)) == [1, 1, 2]
    again = refresh_stories(store)                          # only the article grouped at 0.99 is stale
    assert again.regrouped == again.moved == ("https://wire.example/korea",)
    assert sorted(len(s.articles) for s in list_stories(store, include_single=True)) == [1, 3]
    with pytest.raises(ValueError, match="threshold"):
        refresh_stories(store, threshold=0)


def test_concurrent_refreshes_group_each_article_once(store_url: str) -> None:
    # A check's refresh and a `newsmon stories` run at the same moment: they take turns, never fail.
    with open_store(store_url) as store:
        for n, article in enumerate((load_seed(), COURIER, BUDGET, STORM, FOOTBALL)):
            store_article(store, f"https://site{n}.example/a", f"s{n}", article, T0)
    errors: list[BaseException] = []
    # Opened one after the other: opening a SQLite store while another connection writes is the store's
    # own matter (monitor/store/engine.py), not what this test is about.
    stores = [open_store(store_url) for _ in range(3)]

    def refresh(own: Store) -> None:
        try:
            refresh_stories(own)
        except BaseException as exc:  # reported below, with the other threads' outcome
            errors.append(exc)
        finally:
            own.close()

    threads = [threading.Thread(target=refresh, args=(own,)) for own in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with open_store(store_url) as store:
        every = list_stories(store, include_single=True)
        with store.engine.connect() as conn:
            from monitor.stories.tables import figure_occurrences, ledger_versions

            assert conn.execute(select(func.count()).select_from(ledger_versions)).scalar() == 5
            once = conn.execute(select(func.count(func.distinct(figure_occurrences.c.version_id)))).scalar()
    assert sorted(len(s.articles) for s in every) == [1, 1, 1, 2]
    assert once == 5


def test_similarity_separates_the_story_from_unrelated_news() -> None:
    bags = [terms(a.title, "\n\n".join((a.standfirst, *a.paragraphs)))
            for a in (load_seed(), COURIER, BUDGET, STORM, FOOTBALL)]
    matrix = tfidf_cosine(bags)
    assert matrix[0][1] >= DEFAULT_THRESHOLD
    assert all(matrix[i][j] < DEFAULT_THRESHOLD for i in range(5) for j in range(5) if i != j and {i, j} != {0, 1})
    why = shared_terms(bags[:2], idf(bags))
    assert "kursk" in why and "said" not in why and not any(w.isdigit() for w in why)


def test_figures_are_not_terms() -> None:
    bag = terms("11,000 troops in Kursk", "At least 1,000 were killed in 2024.")
    assert set(bag) == {"troop", "kursk", "least", "killed"}


def test_newsmon_report_draws_the_story_pages_after_a_check(site: Site, httpserver: HTTPServer,
                                                           tmp_path: Path) -> None:
    """`newsmon check` does not group (the daemon and these commands do); `newsmon report` groups what is
    new before drawing, so its story pages are there without running `newsmon stories` first."""
    config = write_config(tmp_path, httpserver)
    publish_all(site)
    cli("check", "-c", str(config))
    cli("report", "-c", str(config))
    listing = (tmp_path / "reports" / "stories.html").read_text(encoding="utf-8")
    assert 'href="stories/' in listing
    assert "Pyongyang sends more soldiers" in listing or "North Korea Sends More Troops" in listing
    pages = list((tmp_path / "reports" / "stories").glob("*.html"))
    assert len(pages) == 1 and "disagree" in pages[0].read_text(encoding="utf-8")
