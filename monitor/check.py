"""One check of many articles: fetch -> extract -> store -> diff -> event.

Fetching and extraction run in worker threads, one request at a time per host (``hosts.run_per_host``);
storing and diffing run on the calling thread, so the store has exactly one writer. A failure of one article
becomes an ``error`` event for that article and never stops the run.

Event rules (the contract):
  new        first successful fetch of an article
  unchanged  a 304, a byte-identical body, or the same comparable title and text once the source's learned
             boilerplate (monitor/boilerplate.py) is set aside
  cosmetic   only typography, white space or number formatting changed (a version is stored)
  modified   the title or text changed (a version is stored)
  removed    404/410 after a version existed
  restored   a page answering again after it was removed
  error      anything else, with a reason a person can act on
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from .config import ArticleTarget, Config
from .errors import ExtractionError, FetchError, MonitorError
from .extract_pool import Extractor
from .fetch import Fetcher, FetchSettings
from .hosts import Handover, run_per_host
from .models import CheckEvent, Diff, Document, EventName, FetchResult, Validators
from .store import ArticleState, CheckRecord, NewVersion, RecordItem, Store
from .url_parts import split_url

if TYPE_CHECKING:
    from .boilerplate import RunBoilerplate

# The differ, the normaliser and the boilerplate rules are imported where a page's text is looked at: a
# cycle of unchanged articles (304s, identical bodies) never needs them, and they cost 60 ms to import.

Clock = Callable[[], datetime]
log = logging.getLogger("monitor.check")


class PageFetcher(Protocol):
    """What a check needs of a fetcher: ``monitor.fetch.Fetcher``, or the daemon's ``PoliteFetcher``."""

    def fetch(self, url: str, validators: Validators) -> FetchResult: ...


def utc_now() -> datetime:
    return datetime.now(UTC)


def fetch_settings(config: Config) -> FetchSettings:
    return FetchSettings(
        user_agent=config.user_agent,
        connect_timeout=config.timeout.connect,
        idle_timeout=config.timeout.idle,
        total_timeout=config.timeout.total,
        max_bytes=config.max_bytes,
    )


@dataclass(frozen=True)
class Fetched:
    """What a worker thread found for one article; exactly one of the optional parts is meaningful."""

    target: ArticleTarget
    started_at: datetime
    result: FetchResult | None = None
    document: Document | None = None
    fingerprint: str | None = None     # of the document as extracted (boilerplate included), as stored
    line_keys: tuple[str, ...] = ()    # of the document's short paragraphs (monitor.boilerplate)
    body_sha256: str | None = None
    identical_body: bool = False       # same raw bytes as the last fetch: extraction skipped
    error: str | None = None


# A text that shrinks below this share of the previous one, from at least MIN chars, is more likely a
# broken extraction (a consent wall, a changed template, an error page served as 200) than an edit.
COLLAPSE_RATIO = 0.3
COLLAPSE_MIN_CHARS = 500


# Unchanged and failed checks are written this many at a time (ArticleChecker._record).
WRITE_BATCH = 200


# The daemon runs a batch every few seconds: a source's learned boilerplate is read from the store at its
# first article and again at most this often; what the checks see in between is learned in memory.
BOILERPLATE_REFRESH = timedelta(minutes=5)


def text_collapse(old_text: str, new_text: str) -> str | None:
    """A reason when ``new_text`` looks like a collapsed extraction of ``old_text``, else None."""
    if len(old_text) >= COLLAPSE_MIN_CHARS and len(new_text) < COLLAPSE_RATIO * len(old_text):
        return (f"the article text shrank from {len(old_text):,} to {len(new_text):,} characters, "
                "which looks like a failed extraction rather than an edit")
    return None


def apply_ignore(document: Document, patterns: Sequence[re.Pattern[str]]) -> Document:
    """Remove text matching a source's ``ignore`` patterns, dropping paragraphs left empty."""
    if not patterns:
        return document
    paragraphs = []
    for paragraph in document.paragraphs:
        for pattern in patterns:
            paragraph = pattern.sub("", paragraph)
        paragraph = " ".join(paragraph.split())
        if paragraph:
            paragraphs.append(paragraph)
    return Document(title=document.title, text="\n\n".join(paragraphs), byline=document.byline,
                    published=document.published, modified=document.modified, url=document.url)


class ArticleChecker:
    """Checks a batch of articles against the store. Reusable across runs (the daemon keeps one)."""

    def __init__(self, config: Config, store: Store, fetcher: PageFetcher, *, clock: Clock = utc_now,
                 extract_workers: int | None = None) -> None:
        self.config = config
        self.store = store
        self.fetcher = fetcher
        self.clock = clock
        self._ignore = {
            source.name: [re.compile(p) for p in source.ignore] for source in config.sources
        }
        self._sources = {source.name: source for source in config.sources}
        self._boilerplate: dict[str, tuple[datetime, RunBoilerplate]] = {}   # per source: loaded at, state
        self._unwritten: list[RecordItem] = []     # deferred checks (see _record)
        # In worker processes once a run has many pages to parse (``extract_workers``: one per core when
        # None; 1 keeps it in this process). Nothing is imported until a page needs extracting: trafilatura
        # costs a fifth of a second, which a cycle of unchanged articles never needs.
        self._extract = Extractor(workers=extract_workers)

    def close(self) -> None:
        """Stop the extraction workers, if any were started."""
        self._extract.close()

    # -- worker threads: network and parsing only, no store access -------------------------------

    def _fetch_and_extract(self, target: ArticleTarget, state: ArticleState | None) -> Fetched:
        started = self.clock()
        # Validators only make sense while we hold a version they describe.
        validators = state.validators if state and state.latest_version and not state.gone else Validators()
        try:
            result = self.fetcher.fetch(target.url, validators)
        except FetchError as exc:
            return Fetched(target, started, error=exc.reason)
        if result.not_modified or result.gone:
            return Fetched(target, started, result=result)
        body_sha256 = hashlib.sha256(result.body).hexdigest()
        if state and state.latest_version and not state.gone and state.body_sha256 == body_sha256:
            return Fetched(target, started, result=result, body_sha256=body_sha256, identical_body=True)
        source = self._sources.get(target.source)
        try:
            document = self._extract(result.body, url=result.final_url, charset=result.charset,
                                     selector=source.selector if source else None,
                                     exclude=source.exclude if source else ())
        except ExtractionError as exc:
            return Fetched(target, started, result=result, body_sha256=body_sha256,
                           error=f"no article text could be extracted: {exc}")
        document = apply_ignore(document, self._ignore.get(target.source, []))
        from .boilerplate import line_keys
        from .normalise import fingerprint

        return Fetched(target, started, result=result, document=document, body_sha256=body_sha256,
                       fingerprint=fingerprint(document.title, document.text),
                       line_keys=tuple(line_keys(document.text)))

    # -- calling thread: decide the event and store it --------------------------------------------

    def _record_check(self, fetched: Fetched, outcome: str, error: str | None = None) -> CheckRecord:
        result = fetched.result
        duration = (self.clock() - fetched.started_at).total_seconds()
        return CheckRecord(
            checked_at=fetched.started_at, outcome=outcome,
            status=result.status if result else None,
            validators=result.validators if result else Validators(),
            wire_bytes=result.wire_bytes if result else 0,
            body_bytes=len(result.body) if result else 0,
            duration=result.duration if result else max(duration, 0.0),
            error=error, final_url=result.final_url if result else None,
        )

    def _event(self, fetched: Fetched, state: ArticleState | None) -> CheckEvent:
        target = fetched.target
        url, source = target.url, target.source
        latest = state.latest_version if state else None
        base: dict[str, Any] = {"url": url, "source": source, "checked_at": fetched.started_at}

        def fail(reason: str, pending_fingerprint: str | None = None) -> CheckEvent:
            # The body hash is not recorded: the same bytes next time must be looked at again, not
            # skipped as "unchanged".
            self._record(RecordItem(url, source, self._record_check(fetched, "error", reason),
                                    pending_fingerprint=pending_fingerprint), deferred=True)
            return CheckEvent(**base, event="error", version=latest, previous_version=latest, error=reason)

        if fetched.error is not None:
            return fail(fetched.error)
        result = fetched.result
        assert result is not None

        if result.gone:
            if latest is None:
                return fail(f"HTTP {result.status}: the page does not exist (no version was ever stored)")
            self._record(RecordItem(url, source, self._record_check(fetched, "removed"), gone=True,
                                    validators=Validators()))
            return CheckEvent(**base, event="removed", version=latest, previous_version=latest)

        if result.not_modified or fetched.identical_body:
            if latest is None:
                return fail("HTTP 304 Not Modified for a page that was never stored (a misbehaving server)")
            self._record(RecordItem(url, source, self._record_check(fetched, "unchanged"),
                                    validators=result.validators if fetched.identical_body else None), deferred=True)
            return CheckEvent(**base, event="unchanged", version=latest, previous_version=latest)

        from .boilerplate import strip_boilerplate
        from .diff import diff_documents
        from .normalise import fingerprint

        document, new_fingerprint = fetched.document, fetched.fingerprint
        assert document is not None and new_fingerprint is not None
        was_gone = bool(state and state.gone)
        boilerplate = self._run_boilerplate(source).observe(url, fetched.line_keys, new_article=latest is None)

        if latest is None:
            return self._store_version(fetched, "new", None, document, new_fingerprint)
        assert state is not None
        diff = old = new = None
        if new_fingerprint != state.fingerprint:
            previous = self.store.latest_version(url)
            assert previous is not None
            # Versions are stored as extracted; the source's boilerplate, as known now, is removed from
            # both sides, so a line that changes on every page of the site, or that became boilerplate
            # since the last version, is not a change.
            stored = previous.document
            old, new = strip_boilerplate(stored, boilerplate), strip_boilerplate(document, boilerplate)
            old_fingerprint = previous.text_sha256 if old is stored else fingerprint(old.title, old.text)
            if old_fingerprint != (new_fingerprint if new is document else fingerprint(new.title, new.text)):
                diff = diff_documents(old, new)
        if diff is None or diff.kind == "unchanged":
            # Same comparable text, boilerplate aside (or a difference the differ does not see, such as a
            # moved paragraph break): no new version.
            event: EventName = "restored" if was_gone else "unchanged"
            self._record(RecordItem(url, source, self._record_check(fetched, event), validators=result.validators,
                                    body_sha256=fetched.body_sha256, gone=False, line_keys=fetched.line_keys),
                         deferred=event == "unchanged")
            return CheckEvent(**base, event=event, version=latest, previous_version=latest,
                              title=document.title)
        assert old is not None and new is not None
        collapse = text_collapse(old.text, new.text)
        if collapse and state.pending_fingerprint != new_fingerprint:
            return fail(f"{collapse}; held until the next check confirms it", pending_fingerprint=new_fingerprint)
        # An A -> B -> A flip (headline tests, a reverted edit) names the version it returns to.
        reverted_to = self.store.version_with_fingerprint(url, new_fingerprint)
        return self._store_version(fetched, "restored" if was_gone else diff.kind, latest, document,
                                   new_fingerprint, diff=diff, reverted_to=reverted_to)

    def _store_version(self, fetched: Fetched, event: EventName, previous: int | None, document: Document,
                       new_fingerprint: str, diff: Diff | None = None, reverted_to: int | None = None) -> CheckEvent:
        result = fetched.result
        assert result is not None
        number = self._record(RecordItem(
            fetched.target.url, fetched.target.source, self._record_check(fetched, event),
            new_version=NewVersion(document=document, html=result.body, fingerprint=new_fingerprint,
                                   created_at=fetched.started_at),
            validators=result.validators, body_sha256=fetched.body_sha256, gone=False,
            line_keys=fetched.line_keys,
        ))
        return CheckEvent(url=fetched.target.url, source=fetched.target.source, event=event,
                          version=number, previous_version=previous, diff=diff, title=document.title,
                          checked_at=fetched.started_at, reverted_to=reverted_to)

    def _record(self, item: RecordItem, *, deferred: bool = False) -> int | None:
        """Store one check. ``deferred`` (an unchanged or failed check: no version, no change to report)
        waits for the next write, so a cycle of unchanged articles costs a transaction per WRITE_BATCH
        checks, not one each; anything else is written at once, with what waited, before its event is
        reported. A crash loses at most the deferred checks: their articles are simply checked again."""
        if deferred:
            self._unwritten.append(item)
            if len(self._unwritten) >= WRITE_BATCH:
                self.flush()
            return None
        items, self._unwritten = [*self._unwritten, item], []
        return self.store.record_many(items)[-1]

    def flush(self) -> None:
        """Write the deferred checks."""
        if self._unwritten:
            items, self._unwritten = self._unwritten, []
            self.store.record_many(items)

    def _flush_at_end(self) -> None:
        # The events of these checks are out already; a store that fails now (a full disk) loses only the
        # record that they were made, which the next run makes again. Said, never a crash.
        count = len(self._unwritten)
        try:
            self.flush()
        except MonitorError as exc:
            log.warning("%s; %d unchanged or failed checks were not recorded (they are checked again next "
                        "time)", exc, count)

    def _run_boilerplate(self, source: str) -> RunBoilerplate:
        """The source's boilerplate: read from the store at its first article (of a ``newsmon check`` run),
        then again when BOILERPLATE_REFRESH has passed (a daemon), never once per article."""
        from .boilerplate import MIN_ARTICLES, MIN_PERCENT, RunBoilerplate

        now = self.clock()
        loaded = self._boilerplate.get(source)
        if loaded is None or now - loaded[0] >= BOILERPLATE_REFRESH:
            learned = self.store.boilerplate(source, min_articles=MIN_ARTICLES, min_percent=MIN_PERCENT)
            loaded = self._boilerplate[source] = (
                now, RunBoilerplate(learned, self.store.articles_with_versions(source)))
        return loaded[1]

    def run(self, targets: Sequence[ArticleTarget],
            handover: Handover[ArticleTarget] | None = None) -> Iterator[CheckEvent]:
        """Check every target once, yielding one event per target as each completes; but those given to
        another process through ``handover`` (``run_per_host``), which are neither checked nor reported."""
        states = self.store.states(t.url for t in targets)

        def work(target: ArticleTarget) -> Fetched:
            return self._fetch_and_extract(target, states.get(target.url))

        try:
            for target, fetched, exc in run_per_host(
                targets, lambda t: split_url(t.url).netloc.lower(), work,
                concurrency=self.config.concurrency, delay=self.config.per_host_delay, handover=handover,
            ):
                yield self._checked(target, fetched, exc, states.get(target.url))
        finally:
            self._flush_at_end()      # also when the caller stops early: the checks made are kept

    def _checked(self, target: ArticleTarget, fetched: Fetched | None, exc: BaseException | None,
                 state: ArticleState | None) -> CheckEvent:
        if fetched is None:
            # A bug in a worker must not end the run; report it as this article's error.
            fetched = Fetched(target, self.clock(), error=f"internal error: {exc!r}")
        try:
            return self._event(fetched, state)
        except MonitorError as error:
            return CheckEvent(url=target.url, source=target.source, event="error",
                              version=state.latest_version if state else None,
                              previous_version=state.latest_version if state else None,
                              error=str(error), checked_at=fetched.started_at)


def check_articles(config: Config, store: Store, targets: Sequence[ArticleTarget], *,
                   fetcher: PageFetcher | None = None, clock: Clock = utc_now,
                   extract_workers: int | None = None,
                   handover: Handover[ArticleTarget] | None = None) -> Iterator[CheckEvent]:
    """Check ``targets`` once. Opens (and closes) a fetcher from the config unless one is given.
    ``handover``: see ``ArticleChecker.run``."""
    with Fetcher(fetch_settings(config)) if fetcher is None else nullcontext(fetcher) as used:
        checker = ArticleChecker(config, store, used, clock=clock, extract_workers=extract_workers)
        try:
            yield from checker.run(targets, handover)
        finally:
            checker.close()
