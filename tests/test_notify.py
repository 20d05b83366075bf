"""Notifications: selection by significance and source, message text, the JSON webhook, the outbox (written
first, retried with backoff, never sent twice), the apprise path through an injected ``send``, and the
daemon sending a batch's changes."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import select
from werkzeug import Request, Response

from monitor.config import Config, parse_config
from monitor.models import CheckEvent, Diff, FigureChange, TitleChange
from monitor.notify import Notifier, NotifyResult, build_message, event_significance, target_id
from monitor.store import Store, open_store, outbox

HOSTILE = '<img src=x onerror="alert(1)"><script>alert(2)</script> & "quotes"'
URL = "https://example.com/world/north-korea-troops"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class FakeSend:
    """Stands in for apprise: records (url, title, body); fails while ``failing`` is set."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []
        self.failing = False

    def __call__(self, url: str, title: str, body: str) -> bool:
        if self.failing:
            return False
        self.sent.append((url, title, body))
        return True


def figure_diff(*, title: TitleChange | None = None) -> Diff:
    old = "In January, at least 1,000 of the troops were killed."
    new = "In January, at least 1,500 of the troops were killed."
    return Diff(kind="modified", significance="high", title=title,
                figures=(FigureChange("1,000", "1,500", 1000, 1500, None, "at least", "at least", "killed",
                                      old, new),),
                added=("South Korean lawmakers were briefed on Friday.",))


def event(kind: str = "modified", *, url: str = URL, source: str = "wire", version: int | None = 2,
          diff: Diff | None = None, title: str = "North Korean troops in Russia") -> CheckEvent:
    return CheckEvent(url=url, source=source, event=kind, version=version,  # type: ignore[arg-type]
                      previous_version=1 if version else None, diff=diff, title=title,
                      checked_at=datetime(2026, 11, 27, 10, 0, tzinfo=UTC))


def low(url: str = URL + "-low") -> CheckEvent:
    return event(url=url, diff=Diff(kind="modified", significance="low"))


def medium(url: str = URL + "-medium", source: str = "wire") -> CheckEvent:
    return event(url=url, source=source, diff=Diff(kind="modified", significance="medium", added=("A new line.",)))


def config(*targets: str, tmp_path: Path | None = None) -> Config:
    notify = "".join(f"\n  - {t}" for t in targets)
    return parse_config(f"""
sources:
  - name: wire
  - name: local
notify:{notify}
""", base_dir=tmp_path)


# --- selection ----------------------------------------------------------------------------------------


def test_event_significance() -> None:
    assert event_significance(event(diff=figure_diff())) == "high"
    assert event_significance(event("removed", diff=None)) == "high"
    assert event_significance(event("restored", diff=None)) == "medium"
    assert event_significance(event("restored", diff=figure_diff())) == "high"
    assert event_significance(event("cosmetic", diff=Diff(kind="cosmetic", significance="none"))) == "none"
    for kind in ("new", "unchanged", "error"):
        assert event_significance(event(kind, diff=None)) is None


def test_targets_select_by_significance_and_source(store: Store) -> None:
    send = FakeSend()
    cfg = config("{url: 'ntfy://ntfy.sh/high', min_significance: high}",
                 "{url: 'ntfy://ntfy.sh/default'}",
                 "{url: 'ntfy://ntfy.sh/all', min_significance: none}",
                 "{url: 'ntfy://ntfy.sh/local', min_significance: low, sources: [local]}")
    events = [event(diff=figure_diff()), low(), medium(), medium(URL + "-local", "local"),
              event("removed", url=URL + "-gone", version=3), event("restored", url=URL + "-back", version=1),
              event("new", url=URL + "-new", version=1), event("unchanged", url=URL + "-same", version=1),
              event("error", url=URL + "-error", version=None),
              event("cosmetic", url=URL + "-typo", diff=Diff(kind="cosmetic", significance="none"))]
    result = Notifier(cfg, store, send=send).notify(events)
    got: dict[str, set[str]] = {}
    for url, _title, body in send.sent:
        got.setdefault(url.rsplit("/", 1)[1], set()).add(body.splitlines()[-1])
    assert got == {
        "high": {URL, URL + "-gone"},
        "default": {URL, URL + "-medium", URL + "-local", URL + "-gone", URL + "-back"},
        "all": {URL, URL + "-low", URL + "-medium", URL + "-local", URL + "-gone", URL + "-back", URL + "-typo"},
        "local": {URL + "-local"},
    }
    assert result.queued == result.sent == 15 and (result.failed, result.pending) == (0, 0)


# --- the message --------------------------------------------------------------------------------------


def test_message_leads_with_the_figure_and_headline_changes() -> None:
    diff = figure_diff(title=TitleChange("Troops in Russia", "1,500 North Korean troops killed"))
    message = build_message(event(diff=diff), "high", "https://reports.example/index.html")
    assert message["title"] == "North Korean troops in Russia — modified (high)"
    lines = message["body"].splitlines()
    assert lines[0] == "killed: at least 1,000 -> at least 1,500"
    assert "at least 1,000 -> at least 1,500" in lines[0]
    assert lines[1] == "headline rewritten: 'Troops in Russia' -> '1,500 North Korean troops killed'"
    assert lines[2] == "1 sentence added"
    assert lines[-2:] == [URL, "Report: https://reports.example/index.html"]
    assert (message["url"], message["source"], message["event"], message["significance"]) == (
        URL, "wire", "modified", "high")
    assert message["diff"]["figures"][0]["new"] == "1,500"


def test_take_down_message() -> None:
    message = build_message(event("removed", version=3), "high")
    assert message["title"] == "North Korean troops in Russia — removed (high)"
    assert message["body"].splitlines() == ["article taken down (HTTP 404/410)", URL]


def test_control_and_bidi_characters_never_reach_a_message() -> None:
    message = build_message(event(title="Breaking\n\u202eevil\x1b[31m", diff=figure_diff()), "high")
    assert message["title"] == "Breaking evil [31m — modified (high)"


def test_target_ids_carry_no_secret() -> None:
    assert target_id("tgram://123456:SECRETTOKEN/987").startswith("tgram:// #")
    assert "SECRET" not in target_id("https://hooks.slack.com/services/T0/B0/SECRET")
    assert target_id("https://hooks.slack.com/services/T0/B0/SECRET").startswith("https://hooks.slack.com #")
    assert "pw" not in target_id("mailto://me:pw@example.com")


# --- the JSON webhook ---------------------------------------------------------------------------------


def test_webhook_receives_json_with_a_hostile_title_as_text(httpserver: HTTPServer, store: Store) -> None:
    received: list[Request] = []

    def hook(request: Request) -> Response:
        received.append(request)
        return Response("ok")

    httpserver.expect_request("/hook", method="POST").respond_with_handler(hook)
    cfg = config(f"url: {httpserver.url_for('/hook')}")
    result = Notifier(cfg, store).notify([event(title=HOSTILE, diff=figure_diff())], "https://r.example/")
    assert (result.sent, result.pending) == (1, 0)
    (request,) = received
    assert request.headers["Content-Type"].startswith("application/json")
    raw = request.get_data()
    for markup in (b"<", b">", b"&"):
        assert markup not in raw                           # escaped as \u003c ...: inert even if echoed
    payload = json.loads(raw)
    assert payload["title"] == f"{HOSTILE} — modified (high)"   # the same text back, never markup
    assert set(payload) >= {"title", "body", "url", "source", "event", "significance", "diff"}
    assert payload["body"].startswith("killed: at least 1,000 -> at least 1,500\n")
    assert payload["diff"]["figures"][0]["old"] == "1,000"
    assert (payload["url"], payload["source"], payload["event"], payload["significance"]) == (
        URL, "wire", "modified", "high")


def test_json_scheme_falls_back_to_the_webhook_without_apprise(httpserver: HTTPServer, store: Store,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("monitor.notify.apprise_available", lambda: False)
    httpserver.expect_request("/j", method="POST").respond_with_data("ok")
    cfg = config(f"url: '{httpserver.url_for('/j').replace('http://', 'json://')}'")
    assert Notifier(cfg, store).notify([event(diff=figure_diff())]).sent == 1
    assert json.loads(httpserver.log[0][0].get_data())["event"] == "modified"


def test_a_failing_webhook_keeps_the_message_and_a_later_flush_delivers_it_once(
        httpserver: HTTPServer, store: Store, caplog: pytest.LogCaptureFixture) -> None:
    status = {"code": 500}
    deliveries: list[dict[str, object]] = []

    def hook(request: Request) -> Response:
        if status["code"] == 200:
            deliveries.append(json.loads(request.get_data()))
        return Response("x", status=status["code"])

    httpserver.expect_request("/hook", method="POST").respond_with_handler(hook)
    clock = Clock()
    notifier = Notifier(config(f"url: {httpserver.url_for('/hook')}"), store, clock=clock)
    with caplog.at_level(logging.WARNING, logger="monitor.notify"):
        first = notifier.notify([event(diff=figure_diff())])
    assert (first.queued, first.sent, first.failed, first.pending) == (1, 0, 1, 1)
    assert "HTTP 500" in caplog.text and "/hook" not in caplog.text     # the target named by its id only
    (kept,) = outbox.pending(store)
    assert kept.attempts == 1 and kept.payload["body"].startswith("killed: at least 1,000 -> at least 1,500")

    status["code"] = 200                                  # the server recovers ...
    assert notifier.flush().sent == 0                     # ... but the retry is not due yet (backoff)
    clock.now += timedelta(seconds=61)
    assert (notifier.flush().sent, notifier.flush().sent) == (1, 0)
    assert notifier.notify([event(diff=figure_diff())]).queued == 0     # a re-run: already sent
    assert len(deliveries) == 1 and outbox.pending(store) == []


def test_backoff_doubles(httpserver: HTTPServer, store: Store) -> None:
    httpserver.expect_request("/down", method="POST").respond_with_data("no", status=503)
    clock = Clock()
    notifier = Notifier(config(f"url: {httpserver.url_for('/down')}"), store, clock=clock)
    notifier.notify([event(diff=figure_diff())])
    for delay in (60, 120, 240):
        clock.now += timedelta(seconds=delay - 1)
        assert notifier.flush().failed == 0
        clock.now += timedelta(seconds=1)
        assert notifier.flush().failed == 1
    assert outbox.pending(store)[0].attempts == 4


def test_the_outbox_is_written_before_delivery(store: Store) -> None:
    seen: list[int] = []

    def send(url: str, title: str, body: str) -> bool:
        seen.append(len(outbox.pending(store)))          # the message is already stored when it is sent
        return True

    Notifier(config("url: 'discord://id/token'"), store, send=send).notify([event(diff=figure_diff())])
    assert seen == [1]


# --- dedup, apprise ------------------------------------------------------------------------------------


def test_the_same_events_twice_are_sent_once(store: Store) -> None:
    send = FakeSend()
    notifier = Notifier(config("url: 'slack://a/b/c'", "url: 'ntfy://ntfy.sh/x'"), store, send=send)
    events = [event(diff=figure_diff()), medium()]
    assert notifier.notify(events).queued == 4
    again = notifier.notify(events)
    assert (again.queued, again.sent) == (0, 0)
    assert len(send.sent) == 4
    # A new version of the same article is a new change.
    assert notifier.notify([event(version=3, diff=figure_diff())]).sent == 2


def test_apprise_path_sends_plain_text_through_send(store: Store) -> None:
    send = FakeSend()
    cfg = config("url: 'tgram://123:TOKEN/456'")
    result = Notifier(cfg, store, send=send).notify([event(title=HOSTILE, diff=figure_diff())],
                                                   "file:///srv/reports/index.html")
    assert result.sent == 1
    ((url, title, body),) = send.sent
    assert url == "tgram://123:TOKEN/456"
    assert title == f"{HOSTILE} — modified (high)"
    assert body.splitlines()[0] == "killed: at least 1,000 -> at least 1,500"
    assert body.splitlines()[-1] == "Report: file:///srv/reports/index.html"


def test_apprise_failure_is_retried(store: Store) -> None:
    send, clock = FakeSend(), Clock()
    send.failing = True
    notifier = Notifier(config("url: 'slack://a/b/c'"), store, send=send, clock=clock)
    assert notifier.notify([event(diff=figure_diff())]).failed == 1
    send.failing = False
    clock.now += timedelta(minutes=5)
    assert notifier.flush().sent == 1 and len(send.sent) == 1


def test_without_apprise_other_schemes_wait_in_the_outbox_with_one_clear_error(
        store: Store, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr("monitor.notify.apprise_available", lambda: False)
    clock = Clock()
    notifier = Notifier(config("url: 'slack://a/b/SECRET'"), store, clock=clock)
    with caplog.at_level(logging.WARNING, logger="monitor.notify"):
        notifier.notify([event(diff=figure_diff()), medium()])
        clock.now += timedelta(hours=1)
        notifier.flush()
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert "apprise" in errors[0].getMessage() and "newsmon[notify]" in errors[0].getMessage()
    assert "SECRET" not in caplog.text
    assert len(outbox.pending(store)) == 2
    # Installing apprise later (here: a send function) delivers them.
    send = FakeSend()
    clock.now += timedelta(hours=7)
    assert Notifier(notifier.config, store, send=send, clock=clock).flush().sent == 2


def test_no_targets_no_work(store: Store) -> None:
    result = Notifier(parse_config("sources: [{name: wire}]\n"), store).notify([event(diff=figure_diff())])
    assert result == type(result)()


def test_outbox_table_is_added_to_an_open_store(tmp_path: Path) -> None:
    # open_store creates it when monitor.notify is imported; ensure() covers a store opened otherwise.
    with open_store(f"sqlite:///{tmp_path}/n.db") as store:
        outbox.notify_outbox.drop(store.engine)
        Notifier(config("url: 'ntfy://x/y'"), store, send=FakeSend()).notify([event(diff=figure_diff())])
        assert outbox.count_pending(store) == 0


# --- the daemon ---------------------------------------------------------------------------------------

PAGE = ("<html><head><title>Troops in Russia</title></head><body><article><h1>Troops in Russia</h1>"
        "<p>In January, at least {n} of the North Korean troops sent to Russia were killed in the fighting "
        "near Kursk, officials said on Thursday.</p><p>The agency said the losses were mounting quickly as "
        "the fighting went on through the winter months in the region.</p></article></body></html>")


def test_the_daemon_sends_a_batchs_changes(httpserver: HTTPServer, tmp_path: Path) -> None:
    from monitor.daemon import Daemon
    from monitor.fetch import FetchSettings
    from monitor.polite import GuardedFetcher, PoliteFetcher

    figure = {"n": "1,000"}
    hooks: list[dict[str, object]] = []
    httpserver.expect_request("/story").respond_with_handler(
        lambda _r: Response(PAGE.format(n=figure["n"]), content_type="text/html; charset=utf-8"))
    httpserver.expect_request("/robots.txt").respond_with_data("", status=404)
    httpserver.expect_request("/hook", method="POST").respond_with_handler(
        lambda r: hooks.append(json.loads(r.get_data())) or Response("ok"))
    cfg = parse_config(f"""
sources:
  - name: wire
    urls: ["{httpserver.url_for('/story')}"]
    interval: 1s
notify:
  - url: {httpserver.url_for('/hook')}
""", base_dir=tmp_path)
    clock = Clock()
    clock.now = datetime.now(UTC)
    with open_store(cfg.storage_url()) as store, \
            PoliteFetcher(GuardedFetcher(FetchSettings(user_agent="newsmon/0.1 (+x)")), per_host_delay=0) as polite:
        daemon = Daemon(cfg, store, polite, clock=clock, rng=lambda: 0.0)
        daemon.sync()
        assert daemon.tick() == 1 and hooks == []           # "new" never notifies
        figure["n"] = "1,500"
        clock.now += timedelta(seconds=5)
        assert daemon.tick() == 1
        daemon.close()
    (payload,) = hooks
    assert payload["event"] == "modified" and payload["significance"] == "high"
    assert "at least 1,000 -> at least 1,500" in str(payload["body"]).splitlines()[0]
    assert str(payload["body"]).splitlines()[-1] == f"Report: {(tmp_path / 'reports' / 'index.html').as_uri()}"


# --- story discrepancies ------------------------------------------------------------------------------


def troops_story(store: Store, courier_troops: str = "12,000", *, minutes: int = 5) -> list[Any]:
    """The seed (ledger: 11,000 troops) and the courier's copy with ``courier_troops``, grouped; the quantities."""
    from test_stories import COURIER, T0, store_article

    from monitor.demo.site import ArticleText, load_seed
    from monitor.figure_ledger import tracked_quantities
    from monitor.stories import refresh_stories

    courier = ArticleText(f"{COURIER.title} {HOSTILE}", COURIER.standfirst,
                          tuple(p.replace("12,000", courier_troops) for p in COURIER.paragraphs))
    if minutes == 5:
        store_article(store, "https://ledger.example/korea", "ledger", load_seed(), T0)
    store_article(store, "https://courier.example/korea", "courier", courier, T0 + timedelta(minutes=minutes))
    refresh_stories(store)
    return tracked_quantities(store)


def test_a_story_discrepancy_is_sent_once_and_again_when_it_reopens(httpserver: HTTPServer, store: Store) -> None:
    """Decided: one message when a quantity starts to disagree; nothing while it stays open (even if values
    move); a call that sees it agree closes it; disagreeing again later is a new message."""
    from monitor.notify import notified_discrepancies, notify_discrepancies

    received: list[dict[str, Any]] = []

    def hook(request: Request) -> Response:
        received.append(json.loads(request.get_data()))
        return Response("ok")

    httpserver.expect_request("/hook", method="POST").respond_with_handler(hook)
    httpserver.expect_request("/sport", method="POST").respond_with_handler(hook)
    httpserver.expect_request("/courier", method="POST").respond_with_handler(hook)
    cfg = parse_config(f"""
sources: [{{name: ledger}}, {{name: courier}}, {{name: sport}}]
notify:
  - url: {httpserver.url_for('/hook')}
  - {{url: '{httpserver.url_for('/sport')}', sources: [sport]}}
  - {{url: '{httpserver.url_for('/courier')}', sources: [courier], min_significance: high}}
""")
    link = lambda story: f"file:///reports/stories/{story}.html"  # noqa: E731
    clock = Clock()

    quantities = troops_story(store)
    assert [q.discrepancy() for q in quantities].count(True) == 1
    result = notify_discrepancies(store, cfg, quantities, link, clock=clock)
    assert (result.queued, result.sent, result.pending) == (2, 2, 0)
    assert sorted(r[0].path for r in httpserver.log) == ["/courier", "/hook"]         # not /sport
    message = received[0]
    assert message["event"] == "discrepancy" and message["url"].startswith("file:///reports/stories/")
    assert message["title"].startswith("Story: North Korea Sends More Troops to Russia")
    assert message["title"].endswith("— North Korean troops: ledger says 11,000, courier says 12,000")
    assert {(v["source"], v["value"]) for v in message["values"]} == {("ledger", 11_000), ("courier", 12_000)}
    assert "courier (v1): 12,000 — " in message["body"] and "https://courier.example/korea" in message["body"]

    # The same discrepancy again, and again with moved values: nothing more.
    assert notify_discrepancies(store, cfg, quantities, link, clock=clock).queued == 0
    moved = troops_story(store, "13,000", minutes=10)
    assert notify_discrepancies(store, cfg, moved, link, clock=clock).queued == 0
    assert len(received) == 2

    # Resolved (the courier now says 11,000): nothing sent, the row is closed ...
    agreed = troops_story(store, "11,000", minutes=20)
    assert not any(q.discrepancy() for q in agreed)
    assert notify_discrepancies(store, cfg, agreed, link, clock=clock).queued == 0
    with store.engine.connect() as conn:
        [row] = conn.execute(select(notified_discrepancies)).all()
    assert (row.episode, row.is_open, row.told) == (1, False, "ledger says 11,000, courier says 12,000")

    # ... and when it reappears, it is sent again.
    again = troops_story(store, "12,500", minutes=30)
    result = notify_discrepancies(store, cfg, again, link, clock=clock)
    assert (result.queued, result.sent) == (2, 2)
    assert received[-1]["title"].endswith("ledger says 11,000, courier says 12,500")
    for raw in (r[0].get_data() for r in httpserver.log):
        assert b"<" not in raw and b">" not in raw                          # the hostile title, escaped
    assert HOSTILE not in received[-1]["title"]                             # the story is named by the ledger's title


def test_story_discrepancies_without_targets_do_nothing(store: Store) -> None:
    from monitor.notify import notify_discrepancies

    quantities = troops_story(store)
    assert notify_discrepancies(store, config(), quantities) == NotifyResult()
