"""The report site kept up to date: after each check and daemon cycle, redrawing only what changed.

The property that matters: a site brought up to date from its cache is the same, file for file, as one
rebuilt from nothing. The other tests show that the cache saves the work it should (only changed articles
are read and diffed again) and that a stale or broken cache costs a redraw, never a wrong page.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from sites import Site, revision
from typer.testing import CliRunner

from monitor.cli import app
from monitor.config import parse_config
from monitor.daemon import Daemon
from monitor.demo.site import load_seed, render_article_page
from monitor.diff import diff_documents
from monitor.fetch import FetchSettings
from monitor.models import Diff, Document
from monitor.normalise import fingerprint
from monitor.polite import GuardedFetcher, PoliteFetcher
from monitor.report import site as site_module
from monitor.report.site import build_site
from monitor.report.site_cache import CACHE_DIR
from monitor.report.timeline import Change
from monitor.store import CheckRecord, NewVersion, Store, open_store
from monitor.store.reporting import article_histories, article_history

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
GENERATED = T0 + timedelta(days=2)


def add_version(store: Store, url: str, source: str, title: str, text: str, when: datetime) -> None:
    outcome = "modified" if store.states([url]).get(url) else "new"
    store.record(url, source, CheckRecord(when, outcome, 200),
                 new_version=NewVersion(Document(title=title, text=text), b"<html></html>",
                                        fingerprint(title, text), when))


def seed_store(store: Store) -> None:
    for n, (url, source) in enumerate((("https://a.example/war", "wire"), ("https://b.example/quake", "wire"),
                                       ("https://c.example/vote", "daily"))):
        for v, toll in enumerate((1_000, 1_500)):
            add_version(store, url, source, f"Story {n}",
                        f"At least {toll + n:,} people were killed, officials said on Monday.\n\n"
                        f"Rescue teams searched the area of story {n} through the night.",
                        T0 + timedelta(hours=v, minutes=n))


def site_files(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): p.read_text(encoding="utf-8")
            for p in sorted(folder.rglob("*")) if p.is_file() and CACHE_DIR not in p.parts}


def test_an_updated_site_equals_a_site_rebuilt_from_nothing(store: Store, tmp_path: Path) -> None:
    seed_store(store)
    out = tmp_path / "site"
    first = build_site(store, out, since=None, generated_at=GENERATED)
    assert (first.articles, first.rebuilt) == (3, 3)
    # A new version of one article, a take-down of another.
    add_version(store, "https://a.example/war", "wire", "Story 0 (updated)",
                "At least 2,000 people were killed, officials said on Monday.\n\n"
                "Rescue teams searched the area of story 0 through the night.", T0 + timedelta(hours=5))
    store.record("https://b.example/quake", "wire", CheckRecord(T0 + timedelta(hours=6), "removed", 404), gone=True)
    second = build_site(store, out, since=None, generated_at=GENERATED)
    assert (second.articles, second.rebuilt, second.changes) == (3, 2, 5)
    full = build_site(store, tmp_path / "full", since=None, generated_at=GENERATED, rebuild=True)
    assert full.rebuilt == 3
    assert site_files(out) == site_files(tmp_path / "full")
    assert "at least 1,500 -&gt; at least 2,000" in (out / "index.html").read_text(encoding="utf-8")
    # Nothing new: nothing read again, nothing written.
    third = build_site(store, out, since=None, generated_at=GENERATED)
    assert (third.rebuilt, third.written) == (0, 0)


def test_pages_drawn_ahead_by_a_checking_process_are_not_drawn_again(store: Store, tmp_path: Path) -> None:
    """draw_article_pages (each process of a split check, for its own articles) leaves the site's build
    only the lists to draw, and the site is the one a single build draws."""
    seed_store(store)
    out = tmp_path / "site"
    build_site(store, out, since=None, generated_at=GENERATED)
    add_version(store, "https://a.example/war", "wire", "Story 0 (updated)",
                "At least 2,000 people were killed, officials said on Monday.\n\n"
                "Rescue teams searched the area of story 0 through the night.", T0 + timedelta(hours=5))
    add_version(store, "https://c.example/vote", "daily", "Story 2",
                "At least 1,900 people were killed, officials said on Monday.\n\n"
                "Rescue teams searched the area of story 2 through the night.", T0 + timedelta(hours=6))
    # One process drew its article; the other article (another process's) is left to the build.
    assert site_module.draw_article_pages(store, out, ["https://a.example/war", "https://b.example/none"]) == 1
    assert site_module.draw_article_pages(store, out, ["https://a.example/war"]) == 0     # already current
    after = build_site(store, out, since=None, generated_at=GENERATED)
    assert (after.articles, after.rebuilt) == (3, 1)
    build_site(store, tmp_path / "full", since=None, generated_at=GENERATED, rebuild=True)
    assert site_files(out) == site_files(tmp_path / "full")


def test_histories_read_together_are_the_histories_read_one_by_one(store: Store) -> None:
    seed_store(store)
    store.record("https://b.example/quake", "wire", CheckRecord(T0 + timedelta(hours=6), "removed", 404), gone=True)
    urls = ["https://a.example/war", "https://b.example/quake", "https://c.example/vote"]
    together = article_histories(store, [*urls, "https://unknown.example/"])
    assert together == {url: article_history(store, url) for url in urls}
    assert together["https://b.example/quake"].marks[0].outcome == "removed"


def test_new_boilerplate_redraws_its_source_only(store: Store, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    seed_store(store)
    out = tmp_path / "site"
    build_site(store, out, since=None, generated_at=GENERATED)
    learned = site_module.boilerplate_keys

    def more_boilerplate(store: Store, source: str) -> frozenset[str]:
        return learned(store, source) | ({"a line learned since"} if source == "wire" else set())

    monkeypatch.setattr(site_module, "boilerplate_keys", more_boilerplate)
    assert build_site(store, out, since=None, generated_at=GENERATED).rebuilt == 2     # wire's two articles


def test_a_broken_cache_costs_a_redraw_not_a_wrong_page(store: Store, tmp_path: Path) -> None:
    seed_store(store)
    out = tmp_path / "site"
    build_site(store, out, since=None, generated_at=GENERATED)
    before = site_files(out)
    cached = sorted((out / CACHE_DIR).glob("*.json"))
    assert len(cached) == 3
    cached[0].write_text("{not json", encoding="utf-8")
    cached[1].write_text('{"build": "another version"}', encoding="utf-8")
    cached[2].unlink()
    report = build_site(store, out, since=None, generated_at=GENERATED)
    assert report.rebuilt == 3
    assert site_files(out) == before


def test_a_deleted_page_is_drawn_again(store: Store, tmp_path: Path) -> None:
    seed_store(store)
    out = tmp_path / "site"
    build_site(store, out, since=None, generated_at=GENERATED)
    before = site_files(out)
    page = next((out / "articles").glob("*-v1.html"))
    article = out / "articles" / (page.name.split("-v")[0] + ".html")
    article.unlink()
    page.unlink()
    assert build_site(store, out, since=None, generated_at=GENERATED).rebuilt == 1
    assert site_files(out) == before


def test_diffs_and_changes_survive_the_cache_round_trip() -> None:
    seed = load_seed()
    old = Document(title=seed.title, text="\n\n".join((seed.standfirst, *seed.paragraphs)))
    for name in ("01_killed_figure_and_new_paragraph", "02_typography_only", "03_reworded_and_paragraph_removed",
                 "04_headline_rewritten", "06_several_figures"):
        article = revision(name)
        new = Document(title=article.title, text="\n\n".join((article.standfirst, *article.paragraphs)))
        diff = diff_documents(old, new)
        assert Diff.from_dict(diff.to_dict()) == diff, name
        change = Change(url="https://e.com/a", source="wire", title=new.title, event=diff.kind, version=2,
                        previous_version=1, time=T0, diff=diff, significance=diff.significance)
        assert Change.from_dict(change.to_dict()) == change, name


# -- after each check and daemon cycle ----------------------------------------------------------------------

def test_newsmon_check_brings_the_site_up_to_date(site: Site, httpserver: HTTPServer, tmp_path: Path) -> None:
    url = httpserver.url_for("/world/story")
    config = tmp_path / "config.yaml"
    config.write_text(f"storage: snapshots/\nreports: reports/\nper_host_delay: 0\n"
                      f"sources:\n  - name: wire\n    urls: [{url}]\n", encoding="utf-8")
    runner = CliRunner()
    site.publish("/world/story", render_article_page(load_seed(), variant=0))
    assert runner.invoke(app, ["check", "-c", str(config)]).exit_code == 0
    index = tmp_path / "reports" / "index.html"
    assert "No changes" in index.read_text(encoding="utf-8")          # drawn once, empty, so it can be opened
    site.publish("/world/story", render_article_page(revision("01_killed_figure_and_new_paragraph"), variant=1))
    assert runner.invoke(app, ["check", "-c", str(config)]).exit_code == 0
    assert "at least 1,000 -&gt; at least 1,500" in index.read_text(encoding="utf-8")
    drawn = index.stat().st_mtime_ns
    assert runner.invoke(app, ["check", "-c", str(config)]).exit_code == 0   # unchanged: not redrawn
    assert index.stat().st_mtime_ns == drawn


def test_the_daemon_brings_the_site_up_to_date(site: Site, httpserver: HTTPServer, tmp_path: Path) -> None:
    url = httpserver.url_for("/world/story")
    config = parse_config(f"per_host_delay: 0\nsources:\n  - name: wire\n    urls: [{url}]\n    interval: 2s\n",
                          base_dir=tmp_path)
    site.publish("/world/story", render_article_page(load_seed(), variant=0))
    clock = [datetime.now(UTC)]
    index = config.reports_dir() / "index.html"
    with open_store(config.storage_url()) as store, \
            PoliteFetcher(GuardedFetcher(FetchSettings(user_agent="newsmon/0.1 (+x)")), per_host_delay=0) as polite:
        daemon = Daemon(config, store, polite, clock=lambda: clock[0], rng=lambda: 0.0)
        daemon.sync()
        assert daemon.tick() == 1
        assert index.is_file()                            # drawn at start: changes may predate the daemon
        site.publish("/world/story", render_article_page(revision("01_killed_figure_and_new_paragraph"), variant=1))
        clock[0] += timedelta(seconds=3)
        daemon._next_site = 0.0                           # the once-a-minute limit, passed
        assert daemon.tick() == 1
    assert "at least 1,000 -&gt; at least 1,500" in index.read_text(encoding="utf-8")


def test_diffs_a_check_computed_are_drawn_as_given(store: Store, tmp_path: Path) -> None:
    seed_store(store)
    given = Diff(kind="modified", significance="high", added=("A sentence only the check saw.",))
    build_site(store, tmp_path / "site", since=None, generated_at=GENERATED,
               diffs={("https://a.example/war", 1, 2): given})
    page = next(p for p in (tmp_path / "site" / "articles").glob("*.html")
                if "Story 0" in p.read_text(encoding="utf-8") and "-v" not in p.name)
    assert "A sentence only the check saw." in page.read_text(encoding="utf-8")


def test_a_stop_request_ends_a_build_between_articles_and_the_next_build_finishes(store: Store,
                                                                                 tmp_path: Path) -> None:
    seed_store(store)
    out = tmp_path / "site"
    asked = []

    def stop_after_two() -> bool:
        asked.append(1)
        return len(asked) > 2

    halfway = build_site(store, out, since=None, generated_at=GENERATED, stop=stop_after_two)
    assert not halfway.complete and halfway.rebuilt == 2 and not (out / "index.html").exists()
    finished = build_site(store, out, since=None, generated_at=GENERATED)
    assert finished.complete and finished.rebuilt == 1                     # the two drawn came from the cache
    assert site_files(out) == site_files(build_site(store, tmp_path / "full", since=None, generated_at=GENERATED,
                                                    rebuild=True).index.parent)
