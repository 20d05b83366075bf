"""End to end through every event: a local HTTP server, a real store (SQLite and PostgreSQL), the real pipeline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from sites import Site, revision

from monitor.check import BOILERPLATE_REFRESH, ArticleChecker, check_articles, fetch_settings
from monitor.config import Config, parse_config
from monitor.demo.site import ArticleText, load_seed, render_article_page
from monitor.fetch import Fetcher
from monitor.models import CheckEvent
from monitor.store import Store


def make_config(tmp_path: Path, urls: list[str]) -> Config:
    url_list = "".join(f"\n      - {u!r}" for u in urls)
    return parse_config(
        f"storage: {str(tmp_path / 'snapshots')!r}\nreports: {str(tmp_path / 'reports')!r}\n"
        f"per_host_delay: 0\ntimeout: 5\nsources:\n  - name: test\n    urls:{url_list}\n",
        filename="test.yaml", base_dir=tmp_path,
    )


def check_once(config: Config, store: Store) -> dict[str, CheckEvent]:
    return {event.url: event for event in check_articles(config, store, config.articles())}


def test_every_event_in_an_articles_life(site: Site, httpserver: HTTPServer, tmp_path: Path, store: Store) -> None:
    url = httpserver.url_for("/world/story")
    config = make_config(tmp_path, [url])
    seed = load_seed()

    site.publish("/world/story", render_article_page(seed, variant=0))
    first = check_once(config, store)[url]
    assert (first.event, first.version, first.previous_version, first.diff) == ("new", 1, None, None)
    assert first.title == seed.title

    # Same bytes again: the server answers 304 to our conditional request.
    again = check_once(config, store)[url]
    assert (again.event, again.version) == ("unchanged", 1)
    assert site.requests[-1].headers.get("If-None-Match")

    # Noise changes (ads, timestamps, related links), the article does not.
    site.publish("/world/story", render_article_page(seed, variant=3))
    noisy = check_once(config, store)[url]
    assert (noisy.event, noisy.version) == ("unchanged", 1)

    # The editor raises the death toll and adds a paragraph.
    site.publish("/world/story", render_article_page(revision("01_killed_figure_and_new_paragraph"), variant=4))
    edited = check_once(config, store)[url]
    assert (edited.event, edited.version, edited.previous_version) == ("modified", 2, 1)
    assert edited.diff is not None
    figures = [(f.old_value, f.new_value) for f in edited.diff.figures]
    assert (1000, 1500) in figures
    assert any("captured or wounded" in s for s in edited.diff.added)

    # Back to the baseline text (a real edit), then a typography-only edit of it: stored, because the
    # display text changed, but reported as cosmetic.
    site.publish("/world/story", render_article_page(seed, variant=5))
    assert check_once(config, store)[url].event == "modified"
    site.publish("/world/story", render_article_page(revision("02_typography_only"), variant=6))
    cosmetic = check_once(config, store)[url]
    assert (cosmetic.event, cosmetic.version, cosmetic.previous_version) == ("cosmetic", 4, 3)
    assert cosmetic.diff is not None and cosmetic.diff.significance == "none"
    typography = revision("02_typography_only")

    # Taken down, then back.
    latest = store.history(url)[-1].number
    site.pages["/world/story"] = (404, "text/html", "<h1>Page not found</h1>")
    removed = check_once(config, store)[url]
    assert (removed.event, removed.version) == ("removed", latest)
    site.publish("/world/story", render_article_page(typography, variant=8))
    restored = check_once(config, store)[url]
    assert (restored.event, restored.version) == ("restored", latest)

    # A server error is an error event with a reason, and the article keeps its versions.
    site.pages["/world/story"] = (503, "text/html", "busy")
    failed = check_once(config, store)[url]
    assert failed.event == "error" and failed.error and "503" in failed.error
    assert failed.version == latest
    assert len(store.history(url)) == latest


def test_restored_with_new_text_stores_a_version(site: Site, httpserver: HTTPServer, tmp_path: Path,
                                                 store: Store) -> None:
    url = httpserver.url_for("/a")
    config = make_config(tmp_path, [url])
    site.publish("/a", render_article_page(load_seed()))
    check_once(config, store)
    site.pages["/a"] = (410, "text/html", "gone")
    assert check_once(config, store)[url].event == "removed"
    site.publish("/a", render_article_page(revision("04_headline_rewritten")))
    back = check_once(config, store)[url]
    assert (back.event, back.version, back.previous_version) == ("restored", 2, 1)
    assert back.diff is not None and back.diff.title is not None


def test_one_bad_url_never_stops_a_run(site: Site, httpserver: HTTPServer, tmp_path: Path, store: Store) -> None:
    good = httpserver.url_for("/good")
    missing = httpserver.url_for("/missing")
    pdf = httpserver.url_for("/report.pdf")
    empty = httpserver.url_for("/empty")
    refused = "http://127.0.0.1:9/nothing-listens-here"
    site.publish("/good", render_article_page(load_seed()))
    site.pages["/report.pdf"] = (200, "application/pdf", "%PDF-1.4")
    site.publish("/empty", "<html><head><title>x</title></head><body></body></html>")
    config = make_config(tmp_path, [refused, missing, pdf, empty, good])
    events = check_once(config, store)
    assert events[good].event == "new"
    for bad in (refused, missing, pdf, empty):
        assert events[bad].event == "error", bad
        assert events[bad].error
    assert "404" in (events[missing].error or "")
    assert "PDF" in (events[pdf].error or "") or "pdf" in (events[pdf].error or "")
    # Errors are recorded as checks, but no version exists for them.
    assert store.states([missing])[missing].latest_version is None


def test_ignore_patterns_hide_volatile_text(site: Site, httpserver: HTTPServer, tmp_path: Path, store: Store) -> None:
    url = httpserver.url_for("/live")
    config = parse_config(
        f"storage: {str(tmp_path / 's')!r}\nper_host_delay: 0\nsources:\n  - name: t\n    urls: [{url!r}]\n"
        "    ignore: ['Last updated [0-9:]+ GMT\\.?']\n", filename="t.yaml", base_dir=tmp_path)
    seed = load_seed()
    for minute, expected in (("10:01", "new"), ("10:17", "unchanged")):
        paragraphs = (*seed.paragraphs[:-1], f"{seed.paragraphs[-1]} Last updated {minute} GMT.")
        site.publish("/live", render_article_page(ArticleText(seed.title, seed.standfirst, paragraphs)))
        assert check_once(config, store)[url].event == expected


def test_a_collapsed_text_is_held_once_then_confirmed(site: Site, httpserver: HTTPServer, tmp_path: Path,
                                                       store: Store) -> None:
    url = httpserver.url_for("/c")
    config = make_config(tmp_path, [url])
    seed = load_seed()
    site.publish("/c", render_article_page(seed))
    check_once(config, store)
    stub = ArticleText(seed.title, seed.standfirst, seed.paragraphs[:1])   # most of the body is gone
    site.publish("/c", render_article_page(stub))
    held = check_once(config, store)[url]
    assert held.event == "error" and held.error and "shrank" in held.error
    assert len(store.history(url)) == 1
    confirmed = check_once(config, store)[url]          # the same short text again: it is real
    assert (confirmed.event, confirmed.version) == ("modified", 2)
    assert confirmed.diff is not None and len(confirmed.diff.removed) > 5


def test_a_collapse_that_recovers_reports_nothing(site: Site, httpserver: HTTPServer, tmp_path: Path,
                                                  store: Store) -> None:
    url = httpserver.url_for("/r")
    config = make_config(tmp_path, [url])
    seed = load_seed()
    site.publish("/r", render_article_page(seed, variant=1))
    check_once(config, store)
    site.publish("/r", render_article_page(ArticleText(seed.title, seed.standfirst, seed.paragraphs[:1])))
    assert check_once(config, store)[url].event == "error"
    site.publish("/r", render_article_page(seed, variant=2))
    assert check_once(config, store)[url].event == "unchanged"
    assert len(store.history(url)) == 1


def test_a_headline_flip_back_is_reported_as_a_revert(site: Site, httpserver: HTTPServer, tmp_path: Path,
                                                      store: Store) -> None:
    url = httpserver.url_for("/ab")
    config = make_config(tmp_path, [url])
    site.publish("/ab", render_article_page(load_seed()))
    check_once(config, store)
    site.publish("/ab", render_article_page(revision("04_headline_rewritten")))
    flipped = check_once(config, store)[url]
    assert (flipped.event, flipped.reverted_to) == ("modified", None)
    site.publish("/ab", render_article_page(load_seed(), variant=3))
    back = check_once(config, store)[url]
    assert (back.event, back.version, back.reverted_to) == ("modified", 3, 1)
    assert back.to_dict()["reverted_to"] == 1


def test_an_extraction_failure_is_retried_on_identical_bytes(site: Site, httpserver: HTTPServer, tmp_path: Path,
                                                             store: Store) -> None:
    url = httpserver.url_for("/e")
    config = make_config(tmp_path, [url])
    site.publish("/e", render_article_page(load_seed()))
    check_once(config, store)
    broken = "<html><head><title>Oops</title></head><body><nav><a href='/'>Home</a></nav></body></html>"
    site.publish("/e", broken)
    assert check_once(config, store)[url].event == "error"
    # The same broken bytes must be looked at again, not skipped as an identical (unchanged) body.
    assert check_once(config, store)[url].event == "error"


# -- boilerplate learned per source ------------------------------------------------------------------

TELEGRAM = "Follow our live coverage on Telegram."
WHATSAPP = "Follow our live coverage on WhatsApp."


def dispatch(n: int, sign_off: str | None, base: ArticleText | None = None,
             extra: tuple[str, ...] = ()) -> ArticleText:
    """Article n of a source: its own headline, standfirst and lede, the long paragraphs of the seed (or of
    a revision of it), its own short lines ``extra``, and the site's sign-off."""
    base = base or load_seed()
    return ArticleText(f"Dispatch {n}: {base.title}", f"Our correspondent's dispatch number {n} from Seoul.",
                       (f"In dispatch {n}, our correspondent looks at the deployment.", *extra,
                        *base.paragraphs[1:], *((sign_off,) if sign_off else ())))


def test_a_sign_off_learned_across_articles_is_not_a_change(site: Site, httpserver: HTTPServer, tmp_path: Path,
                                                            store: Store) -> None:
    urls = [httpserver.url_for(f"/live/{n}") for n in range(1, 6)]
    config = make_config(tmp_path, urls)
    first_four = make_config(tmp_path, urls[:4])

    def publish(n: int, article: ArticleText, variant: int = 0) -> None:
        site.publish(f"/live/{n}", render_article_page(article, variant=variant))

    # Round 1: four articles end with the same sign-off; round 2: a fifth joins them.
    for n in range(1, 5):
        publish(n, dispatch(n, TELEGRAM))
    assert {e.event for e in check_once(first_four, store).values()} == {"new"}
    publish(5, dispatch(5, TELEGRAM))
    assert check_once(config, store)[urls[4]].event == "new"

    # The site changes its sign-off on every page, and article 5 gets a real edit at the same time.
    for n in range(1, 5):
        publish(n, dispatch(n, WHATSAPP), variant=1)
    publish(5, dispatch(5, WHATSAPP, base=revision("01_killed_figure_and_new_paragraph")), variant=1)
    events = check_once(config, store)
    # The old sign-off was learned, so it is never "removed". The new one is unknown at first sight:
    # the first two pages checked report it; from the third page on it recurs in enough articles.
    for url in urls[:2]:
        event = events[url]
        assert (event.event, event.version) == ("modified", 2)
        assert event.diff is not None and event.diff.added == (WHATSAPP,) and event.diff.removed == ()
    for url in urls[2:4]:
        assert (events[url].event, events[url].version) == ("unchanged", 1)
    edited = events[urls[4]]
    assert (edited.event, edited.version, edited.previous_version) == ("modified", 2, 1)
    assert edited.diff is not None
    assert [(f.old_value, f.new_value) for f in edited.diff.figures] == [(1000, 1500)]
    assert not any("Telegram" in s or "WhatsApp" in s for s in (*edited.diff.added, *edited.diff.removed))
    assert any("captured or wounded" in s for s in edited.diff.added)
    # Versions are stored as extracted, sign-off included.
    assert store.version(urls[4], 2).text.endswith(WHATSAPP)
    assert store.version(urls[2], 1).text.endswith(TELEGRAM)

    # Next run (new ads and timestamps, so every page is extracted again): nothing to report, though the
    # stored versions of articles 3 and 4 still end with the old sign-off.
    for n in range(1, 5):
        publish(n, dispatch(n, WHATSAPP), variant=2)
    publish(5, dispatch(5, WHATSAPP, base=revision("01_killed_figure_and_new_paragraph")), variant=2)
    assert {e.event for e in check_once(config, store).values()} == {"unchanged"}
    # Dropping the sign-off altogether is not news either; a new sentence still is.
    publish(3, dispatch(3, None), variant=3)
    publish(4, dispatch(4, WHATSAPP, extra=("Seoul said 40 more soldiers had arrived.",)), variant=3)
    events = check_once(config, store)
    assert events[urls[2]].event == "unchanged"
    added = events[urls[3]]
    assert added.event == "modified"
    assert added.diff is not None and added.diff.added == ("Seoul said 40 more soldiers had arrived.",)


def test_a_line_shared_by_two_articles_is_still_news(site: Site, httpserver: HTTPServer, tmp_path: Path,
                                                     store: Store) -> None:
    urls = [httpserver.url_for(f"/story/{n}") for n in range(1, 5)]
    config = make_config(tmp_path, urls)
    shared = "The ministry said 40 people were evacuated."
    for n in range(1, 5):
        extra = (shared,) if n <= 2 else ()
        site.publish(f"/story/{n}", render_article_page(dispatch(n, TELEGRAM, extra=extra)))
    check_once(config, store)
    updated = "The ministry said 60 people were evacuated."
    for n in (1, 2):
        site.publish(f"/story/{n}", render_article_page(dispatch(n, TELEGRAM, extra=(updated,)), variant=1))
    events = check_once(config, store)
    for url in urls[:2]:
        event = events[url]
        assert (event.event, event.version) == ("modified", 2)
        assert event.diff is not None and [(f.old_value, f.new_value) for f in event.diff.figures] == [(40, 60)]
    assert (events[urls[2]].event, events[urls[3]].event) == ("unchanged", "unchanged")


def test_a_reused_checker_reads_the_boilerplate_once_per_refresh(site: Site, httpserver: HTTPServer, tmp_path: Path,
                                                                 store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    urls = [httpserver.url_for(f"/d/{n}") for n in range(1, 4)]
    config = make_config(tmp_path, urls)
    reads: list[str] = []
    learn = store.boilerplate
    monkeypatch.setattr(store, "boilerplate", lambda source, **kw: reads.append(source) or learn(source, **kw))
    now = [datetime(2026, 1, 5, 9, 0, tzinfo=UTC)]
    with Fetcher(fetch_settings(config)) as fetcher:
        checker = ArticleChecker(config, store, fetcher, clock=lambda: now[0])
        for variant in range(3):           # three runs (daemon batches), each article extracted again
            for n in range(1, 4):
                site.publish(f"/d/{n}", render_article_page(dispatch(n, TELEGRAM), variant=variant))
            assert len(list(checker.run(config.articles()))) == 3
            now[0] += timedelta(seconds=30)
        assert reads == ["test"]          # once for three articles and three runs, not per article
        now[0] += BOILERPLATE_REFRESH
        for n in range(1, 4):
            site.publish(f"/d/{n}", render_article_page(dispatch(n, TELEGRAM), variant=3))
        assert {e.event for e in checker.run(config.articles())} == {"unchanged"}
        assert reads == ["test", "test"]


def test_unchanged_checks_are_written_in_batches_and_a_failing_last_write_is_a_warning(
        site: Site, httpserver: HTTPServer, tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    from monitor.errors import StoreError

    urls = [httpserver.url_for(f"/story/{n}") for n in range(3)]
    for n in range(3):
        site.publish(f"/story/{n}", render_article_page(load_seed(), variant=n))
    config = make_config(tmp_path, urls)
    assert {e.event for e in check_once(config, store).values()} == {"new"}
    writes: list[int] = []
    real = Store.record_many

    def counting(self: Store, items: list) -> list:  # type: ignore[type-arg]
        writes.append(len(items))
        return real(self, items)

    monkeypatch.setattr(Store, "record_many", counting)
    assert {e.event for e in check_once(config, store).values()} == {"unchanged"}
    assert writes == [3]                                   # three 304s, one transaction
    assert all(len(store.checks(u)) == 2 for u in urls)

    def failing(self: Store, items: list) -> list:  # type: ignore[type-arg]
        raise StoreError("cannot record checks: database or disk is full")

    monkeypatch.setattr(Store, "record_many", failing)
    events = check_once(config, store)                     # the run ends; nothing raises
    assert {e.event for e in events.values()} == {"unchanged"}
    assert "3 unchanged or failed checks were not recorded" in caplog.text
