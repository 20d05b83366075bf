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
from typing import Any
from urllib.parse import urlsplit

from monitor.config import Config, NotifyTarget
from monitor.models import SIGNIFICANCE_ORDER, CheckEvent
from monitor.store import outbox
from monitor.store.store import Store
from monitor.summary import describe_diff, describe_event

__all__ = ["NotifyResult", "Notifier", "SendFunction", "build_message", "event_significance", "report_link",
           "target_id"]

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


class _NoApprise(RuntimeError):
    """A scheme only apprise can send to, without apprise: logged once per target."""
