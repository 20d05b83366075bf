"""Notifications: each change worth telling, sent to the ``notify:`` targets of the configuration.

``Notifier.notify(events)`` picks, per target, the events at or above its ``min_significance`` (a take-down
counts as ``high``, a return as ``medium`` or its diff's significance if higher; ``new``, ``unchanged`` and
``error`` never notify) from its ``sources``, writes one message per (target, event) to the outbox
(``monitor.store.outbox``) and only then delivers what is due. A delivery that fails stays in the outbox and
is retried with exponential backoff by later calls (``flush()``); the outbox's unique dedup key means the
same change is never queued, so never sent, twice.

Delivery:

- ``http://`` and ``https://`` targets get a POST of a JSON body ``{title, body, url, source, event,
  significance, version, diff}`` (httpx), the plain webhook that works without any extra.
- any other scheme (``slack://``, ``tgram://``, ``mailto://``, ``ntfy://``, ``json://``, ...) goes through
  apprise when it is installed (``pip install 'newsmon[notify]'``; imported only when needed), as plain text
  (``body_format=text``). Without apprise, ``json://``/``jsons://`` fall back to the JSON webhook over
  http/https; other schemes log one clear error and their messages wait in the outbox.

**Story discrepancies.** ``notify_discrepancies(store, config, quantities, link)`` (or
``Notifier.notify_discrepancies``) sends one message per quantity of a multi-source story whose sources
newly disagree (``monitor.figure_ledger``: 11,000 troops against 12,000), to every target whose ``sources``
include one of the story's sources (or that lists none; ``min_significance`` does not apply: a
disagreement is not one article's change). ``notified_discrepancies`` remembers each open disagreement,
keyed by story id and quantity (subject key + subject): while it stays open nothing more is sent, even if
the values move (11,000 against 13,000 is the same disagreement); once a later call sees the quantity agree
again it is closed, and if it disagrees again afterwards that is a new episode and is sent again.
Quantities absent from a call are left as they are (a call may cover one story only).

Article text is untrusted: messages are plain text (control and bidi characters removed, never markup),
apprise is told the body is text so each service escapes it, and the JSON body is JSON-encoded with
``<``, ``>`` and ``&`` as ``\\u`` escapes. Target URLs often carry tokens: the outbox and the logs name a
target by its scheme (and host for web hooks) and a hash, never by the full URL.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sqlalchemy import Boolean, Column, Integer, Table, Text, and_, insert, select, update

from monitor.config import Config, NotifyTarget
from monitor.models import SIGNIFICANCE_ORDER, CheckEvent
from monitor.store import outbox
from monitor.store.schema import Sha256, UTCDateTime, articles, metadata, sources
from monitor.store.store import Store
from monitor.stories.tables import stories, story_members, transaction
from monitor.summary import describe_diff, describe_event

if TYPE_CHECKING:                    # the ledger (figure parsing) is only needed by who passes quantities
    from monitor.figure_ledger import Quantity

__all__ = ["NotifyResult", "Notifier", "SendFunction", "build_message", "discrepancy_message", "event_significance",
           "notified_discrepancies", "notify_discrepancies", "report_link", "story_report_link", "target_id"]

log = logging.getLogger("monitor.notify")

# send(url, title, body) delivers one plain-text message through apprise (or a test double); False or an
# exception is a failure.
SendFunction = Callable[[str, str, str], "bool | None"]

RETRY_FIRST = 60.0            # seconds before the first retry; doubled at each failure
RETRY_MAX = 6 * 3600.0        # ... up to six hours; a message is never given up
WEBHOOK_TIMEOUT = 10.0
MAX_LINE = 500                # characters of one body line (a very long headline is cut)
MAX_FIGURE_LINES = 10
FLUSH_LIMIT = 200             # messages delivered per flush at most

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200e\u200f]")
_SPACES = re.compile(r"\s+")
_WEBHOOK = ("http", "https")
_JSON_SCHEMES = {"json": "http", "jsons": "https"}


# The disagreements of story quantities already told: one row per (story, quantity). Defined on the store's
# shared metadata like monitor/store/scheduling.py (open_store creates it once this module is imported;
# ``_ensure_discrepancy_table`` otherwise). Derived data: dropping it only re-sends the open disagreements.
notified_discrepancies = Table(
    "notified_discrepancies", metadata,
    Column("story_id", Integer, primary_key=True),
    Column("quantity", Sha256, primary_key=True),     # sha256 of the quantity's subject key and subject
    Column("subject", Text, nullable=False),          # for people reading the table
    Column("episode", Integer, nullable=False),       # 1 at the first disagreement, +1 each time it reopens
    Column("is_open", Boolean, nullable=False),       # disagreeing as of the last call that saw it
    Column("told", Text, nullable=False),             # what was sent: "ledger says 11,000, courier says 12,000"
    Column("changed_at", UTCDateTime, nullable=False),
)


@dataclass(frozen=True)
class NotifyResult:
    queued: int = 0           # new messages written to the outbox by this call
    sent: int = 0             # messages delivered by this call (new ones and retries)
    failed: int = 0           # deliveries that failed (kept in the outbox for a later try)
    pending: int = 0          # messages in the outbox not sent yet, after this call


def event_significance(event: CheckEvent) -> str | None:
    """How much a change matters for notifications; None for events that never notify."""
    if event.event == "removed":
        return "high"
    if event.event == "restored":
        diff = event.diff.significance if event.diff is not None else "none"
        return max("medium", diff, key=SIGNIFICANCE_ORDER.__getitem__)
    if event.event in ("modified", "cosmetic") and event.diff is not None:
        return event.diff.significance
    return None


def _text(value: str, *, limit: int = MAX_LINE) -> str:
    """One line of plain text: control and bidi characters gone, white space collapsed, cut at ``limit``."""
    line = _SPACES.sub(" ", _CONTROL.sub(" ", value)).strip()
    return line if len(line) <= limit else line[:limit - 1].rstrip() + "…"


def build_message(event: CheckEvent, significance: str, report_url: str | None = None) -> dict[str, Any]:
    """The message of one event: the JSON webhook body, whose ``title`` and ``body`` are the plain text
    every other channel sends. The body leads with the figure and headline changes."""
    headline = _text(event.title or event.url, limit=200)
    lines: list[str] = []
    if event.reverted_to is not None:
        lines.append(f"reverted to version {event.reverted_to}")
    if event.diff is not None:
        details = describe_diff(event.diff)
        figures = len(event.diff.figures) + len(event.diff.qualifiers)
        if figures > MAX_FIGURE_LINES:
            details = [*details[:MAX_FIGURE_LINES], f"... and {figures - MAX_FIGURE_LINES} more figure changes",
                       *details[figures:]]
        lines += details
    if event.event in ("removed", "restored"):
        lines.append(describe_event(event))
    lines = [_text(line) for line in lines]
    lines.append(_text(event.url, limit=2000))
    if report_url:
        lines.append(f"Report: {_text(report_url, limit=2000)}")
    return {
        "title": f"{headline} — {event.event} ({significance})",
        "body": "\n".join(lines),
        "url": event.url,
        "source": event.source,
        "event": event.event,
        "significance": significance,
        "version": event.version,
        "diff": None if event.diff is None else event.diff.to_dict(),
    }


def target_id(url: str) -> str:
    """A target's name in the outbox and the logs: no token or password, stable for the same URL."""
    digest = hashlib.sha256(url.encode("utf-8")).hexdigest()[:12]
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    # Only web hooks show their host: in apprise URLs the "host" is often a token (tgram://TOKEN/CHAT).
    shown = f"{scheme}://{parts.hostname}" if scheme in (*_WEBHOOK, *_JSON_SCHEMES) and parts.hostname \
        else f"{scheme}://"
    return f"{shown} #{digest}"


def report_link(config: Config) -> str:
    """The report site's index, as a file: URI (what ``newsmon report`` writes into the reports folder)."""
    return (config.reports_dir() / "index.html").as_uri()


def story_report_link(config: Config) -> Callable[[int], str]:
    """A story's page in the report site, as a file: URI (``monitor.report.stories_page.story_file``)."""
    root = config.reports_dir()
    return lambda story_id: (root / "stories" / f"{int(story_id)}.html").as_uri()


def _says(quantity: Quantity) -> str:
    """Each source's current value: "ledger says 11,000, courier says at least 12,000" (first reporter first)."""
    said: dict[str, list[str]] = {}
    for r in quantity.latest():
        if r.latest:
            value = f"{r.qualifier} {r.text}" if r.qualifier else r.text
            if value not in said.setdefault(r.source, []):
                said[r.source].append(value)
    return ", ".join(f"{source} says {' / '.join(values)}" for source, values in said.items())


def discrepancy_message(title: str, quantity: Quantity, link: str | None = None) -> dict[str, Any]:
    """The message of one disagreement; ``title`` and ``body`` are the plain text every channel sends."""
    subject = _text(quantity.subject or quantity.key, limit=200)
    headline = f"Story: {_text(title, limit=200)} — {subject}: {_text(_says(quantity))}"
    lines = []
    for r in quantity.latest():
        if r.latest:
            value = f"{r.qualifier} {r.text}" if r.qualifier else r.text
            lines.append(_text(f"{r.source} (v{r.version}): {value} — {r.sentence}"))
            lines.append(_text(r.url, limit=2000))
    if link:
        lines.append(f"Report: {_text(link, limit=2000)}")
    return {
        "title": _text(headline, limit=2 * MAX_LINE),
        "body": "\n".join(lines),
        "url": link,
        "source": None,
        "event": "discrepancy",
        "significance": None,
        "version": None,
        "diff": None,
        "story": quantity.story,
        "subject": quantity.subject,
        "values": [r.to_dict() for r in quantity.latest() if r.latest],
    }


def _quantity_id(quantity: Quantity) -> str:
    # Subject key alone is not enough: one story can count "additional soldiers" and "soldiers" apart.
    text = f"{quantity.key}\n{(quantity.subject or '').casefold()}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def notify_discrepancies(store: Store, config: Config, quantities: Sequence[Quantity],
                         link: Callable[[int], str | None] | None = None, *,
                         send: SendFunction | None = None,
                         clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> NotifyResult:
    """Queue and deliver one message per quantity that newly disagrees (see the module docstring);
    ``quantities`` are ``tracked_quantities(store)`` after a refresh, ``link`` gives a story's page."""
    with Notifier(config, store, send=send, clock=clock) as notifier:
        return notifier.notify_discrepancies(quantities, link)


def apprise_available() -> bool:
    return importlib.util.find_spec("apprise") is not None


def apprise_send(url: str, title: str, body: str) -> bool:
    """Send plain text through apprise (imported here: it is an optional extra)."""
    import apprise  # type: ignore[import-not-found,unused-ignore]

    sender = apprise.Apprise()
    if not sender.add(url):
        raise ValueError("apprise does not understand this URL (check its scheme and fields)")
    return bool(sender.notify(body=body, title=title, body_format=apprise.NotifyFormat.TEXT))


def json_bytes(payload: dict[str, Any]) -> bytes:
    """JSON with ``<``, ``>`` and ``&`` escaped: still the same text to a JSON parser, never markup."""
    text = json.dumps(payload, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").encode("utf-8")


class Notifier:
    """Sends a cycle's changes to the configured ``notify:`` targets, through the store's outbox."""

    def __init__(self, config: Config, store: Store, *, send: SendFunction | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 http: Any = None) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.targets: dict[str, NotifyTarget] = {target_id(t.url): t for t in config.notify}
        self._send = send
        self._http = http                      # an httpx.Client; made at the first webhook delivery
        self._own_http = http is None
        self._warned: set[str] = set()
        if self.targets:
            outbox.ensure(store)

    # -- the two calls -------------------------------------------------------------------------------

    def notify(self, events: Sequence[CheckEvent], report_url: str | None = None) -> NotifyResult:
        """Queue the messages ``events`` call for, then deliver everything due (older retries included)."""
        if not self.targets:
            return NotifyResult()
        rows: list[tuple[str, str, dict[str, Any]]] = []
        for ident, target in self.targets.items():
            for event in self.select(target, events):
                significance = event_significance(event) or "none"
                rows.append((ident, outbox.dedup_key(target.url, event.url, event.version, event.event),
                             build_message(event, significance, report_url)))
        queued = outbox.enqueue(self.store, rows, now=self.clock())   # written first, delivered after
        sent, failed = self._deliver()
        return NotifyResult(queued=queued, sent=sent, failed=failed, pending=outbox.count_pending(self.store))

    def notify_discrepancies(self, quantities: Sequence[Quantity],
                             link: Callable[[int], str | None] | None = None) -> NotifyResult:
        """Queue a message per quantity of ``quantities`` that disagrees and was not told yet (or agreed
        again since), to the targets that want its story's sources; close the ones that agree again; then
        deliver what is due. The outbox is written before the table: a crash in between re-queues the same
        episode, which the outbox's dedup key ignores."""
        if not self.targets:
            return NotifyResult()
        _ensure_discrepancy_table(self.store)
        now = self.clock()
        story_ids = sorted({q.story for q in quantities})
        with transaction(self.store, "read the notified discrepancies") as conn:
            known = {(r.story_id, r.quantity): r for r in conn.execute(
                select(notified_discrepancies).where(notified_discrepancies.c.story_id.in_(story_ids)))}
            titles = dict(conn.execute(select(stories.c.id, stories.c.title).where(stories.c.id.in_(story_ids))).all())
            story_sources: dict[int, set[str]] = {}
            for story_id, name in conn.execute(
                    select(story_members.c.story_id, sources.c.name)
                    .join(articles, articles.c.id == story_members.c.article_id)
                    .join(sources, sources.c.id == articles.c.source_id)
                    .where(story_members.c.story_id.in_(story_ids))):
                story_sources.setdefault(story_id, set()).add(name)
        rows: list[tuple[str, str, dict[str, Any]]] = []
        opened: list[tuple[Quantity, str, int, str]] = []        # quantity, its id, episode, values sent
        closed: list[tuple[int, str]] = []
        for quantity in quantities:
            ident = _quantity_id(quantity)
            row = known.get((quantity.story, ident))
            if not quantity.discrepancy():
                if row is not None and row.is_open:
                    closed.append((quantity.story, ident))
                continue
            if row is not None and row.is_open:
                continue                                         # told already, still open
            episode = (row.episode if row is not None else 0) + 1
            title = titles.get(quantity.story, f"story {quantity.story}")
            payload = discrepancy_message(title, quantity, link(quantity.story) if link else None)
            involved = story_sources.get(quantity.story) or {r.source for r in quantity.readings}
            for target_key, target in self.targets.items():
                if target.sources and not involved & set(target.sources):
                    continue
                key = outbox.dedup_key(target.url, f"story:{quantity.story}:{ident}", episode, "discrepancy")
                rows.append((target_key, key, payload))
            opened.append((quantity, ident, episode, _says(quantity)))
        queued = outbox.enqueue(self.store, rows, now=now)      # written first, remembered after
        if opened or closed:
            with transaction(self.store, "remember the notified discrepancies", write=True) as conn:
                for quantity, ident, episode, said in opened:
                    values = {"subject": quantity.subject or quantity.key, "episode": episode, "is_open": True,
                              "told": said, "changed_at": now}
                    if (quantity.story, ident) in known:
                        conn.execute(update(notified_discrepancies).values(**values).where(and_(
                            notified_discrepancies.c.story_id == quantity.story,
                            notified_discrepancies.c.quantity == ident)))
                    else:
                        conn.execute(insert(notified_discrepancies).values(
                            story_id=quantity.story, quantity=ident, **values))
                for story_id, ident in closed:
                    conn.execute(update(notified_discrepancies).values(is_open=False, changed_at=now).where(and_(
                        notified_discrepancies.c.story_id == story_id, notified_discrepancies.c.quantity == ident)))
        sent, failed = self._deliver()
        return NotifyResult(queued=queued, sent=sent, failed=failed, pending=outbox.count_pending(self.store))

    def flush(self) -> NotifyResult:
        """Deliver the messages whose next attempt is due (failed ones, retried with backoff)."""
        if not self.targets:
            return NotifyResult()
        sent, failed = self._deliver()
        return NotifyResult(sent=sent, failed=failed, pending=outbox.count_pending(self.store))

    def close(self) -> None:
        if self._http is not None and self._own_http:
            self._http.close()
            self._http = None

    def __enter__(self) -> Notifier:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- selection -----------------------------------------------------------------------------------

    @staticmethod
    def select(target: NotifyTarget, events: Sequence[CheckEvent]) -> list[CheckEvent]:
        """The events ``target`` wants: from its sources (all when none listed), at its significance or up."""
        floor = SIGNIFICANCE_ORDER[target.min_significance]
        chosen = []
        for event in events:
            significance = event_significance(event)
            if significance is None or SIGNIFICANCE_ORDER[significance] < floor:
                continue
            if target.sources and event.source not in target.sources:
                continue
            chosen.append(event)
        return chosen

    # -- delivery ------------------------------------------------------------------------------------

    def _deliver(self) -> tuple[int, int]:
        now = self.clock()
        sent = failed = 0
        broken: set[str] = set()                # targets that failed in this round: the rest waits
        for message in outbox.due(self.store, now=now, targets=list(self.targets), limit=FLUSH_LIMIT):
            if message.target in broken:
                continue
            target = self.targets[message.target]
            try:
                self._send_one(target.url, message.payload)
            except Exception as exc:  # noqa: BLE001 -- any failure of any channel: keep it, retry later
                error = str(exc) or type(exc).__name__
                delay = min(RETRY_FIRST * 2 ** message.attempts, RETRY_MAX)
                outbox.mark_failed(self.store, message.id, error=error, retry_at=now + timedelta(seconds=delay))
                broken.add(message.target)
                failed += 1
                if isinstance(exc, _NoApprise):
                    if message.target not in self._warned:      # once per target, not once per message
                        self._warned.add(message.target)
                        log.error("cannot notify %s: %s", message.target, error)
                else:
                    log.warning("notification to %s failed (attempt %d): %s; retrying in %.0f s",
                                message.target, message.attempts + 1, error, delay)
                continue
            outbox.mark_sent(self.store, message.id, now=self.clock())
            sent += 1
            log.info("notified %s: %s", message.target, message.payload.get("title", ""))
        return sent, failed

    def _send_one(self, url: str, payload: dict[str, Any]) -> None:
        scheme = urlsplit(url).scheme.lower()
        if scheme in _WEBHOOK:
            self._post(url, payload)
            return
        send = self._send or (apprise_send if apprise_available() else None)
        if send is not None:
            if send(url, payload["title"], payload["body"]) is False:
                raise RuntimeError("the service refused the message (apprise reported a failure)")
            return
        if scheme in _JSON_SCHEMES:
            self._post(_JSON_SCHEMES[scheme] + url[len(scheme):], payload)
            return
        raise _NoApprise(f"{scheme}:// needs apprise, which is not installed: pip install 'newsmon[notify]' "
                         "(only http(s):// and json:// web hooks work without it); the message is kept "
                         "in the outbox")

    def _post(self, url: str, payload: dict[str, Any]) -> None:
        if self._http is None:
            import httpx

            self._http = httpx.Client(timeout=WEBHOOK_TIMEOUT, follow_redirects=False,
                                      headers={"User-Agent": self.config.user_agent})
        response = self._http.post(url, content=json_bytes(payload),
                                   headers={"Content-Type": "application/json; charset=utf-8"})
        if not 200 <= response.status_code < 300:
            raise RuntimeError(f"HTTP {response.status_code} {response.reason_phrase}".rstrip())


def _ensure_discrepancy_table(store: Store) -> None:
    """Create the table in a store opened before this module was imported (a no-op when it exists)."""
    with transaction(store, "create the notified discrepancies table", write=True) as conn:
        metadata.create_all(conn, tables=[notified_discrepancies], checkfirst=True)


class _NoApprise(RuntimeError):
    """A scheme only apprise can send to, without apprise: logged once per target."""
