"""The daemon's ``ArticleChecker``: shutdowns leave articles due, and discovered articles are tracked under
the canonical URL their page names (monitor/daemon.py)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace

from monitor.check import ArticleChecker, Clock, Fetched, PageFetcher, utc_now
from monitor.config import ArticleTarget, Config
from monitor.models import CheckEvent
from monitor.polite import CANCELLED
from monitor.store import ArticleState, Store
from monitor.store import scheduling as sched
from monitor.urls import canonicalize, same_site

__all__ = ["DaemonChecker"]


class DaemonChecker(ArticleChecker):
    """An ``ArticleChecker`` for the daemon.

    - A check cancelled by a shutdown is not recorded: the article simply stays due.
    - A discovered article seen for the first time whose page names another URL of the same site as its
      own (``rel=canonical``, else ``og:url``) is recorded and tracked under that URL: feeds list
      ``?ref=rss`` and AMP variants of one article, and its history must not split across them.
    """

    def __init__(self, config: Config, store: Store, fetcher: PageFetcher, *, clock: Clock = utc_now,
                 extract_workers: int | None = None) -> None:
        super().__init__(config, store, fetcher, clock=clock, extract_workers=extract_workers)
        self.discovered: set[str] = set()          # the batch's discovered URLs (set by the daemon)
        self._moved: dict[str, str] = {}           # canonical URL -> the URL fetched for it, this event only
        self._adopted: set[str] = set()            # canonical URLs taken over in this daemon's life

    def checks(self, targets: Sequence[ArticleTarget]) -> Iterator[tuple[str, CheckEvent]]:
        """``(URL fetched, event)`` per target; the event names the canonical URL when the check moved."""
        for event in self.run(targets):
            # run() calls _event right before it yields, so _moved describes exactly this event.
            yield self._moved.get(event.url, event.url), event
            self._moved.clear()

    def _event(self, fetched: Fetched, state: ArticleState | None) -> CheckEvent:
        if fetched.error == CANCELLED:
            return CheckEvent(url=fetched.target.url, source=fetched.target.source, event="error",
                              error=fetched.error, checked_at=fetched.started_at)
        url = fetched.target.url
        if url in self._adopted:
            # Its state was read before this batch began; a moved check may have stored a version since.
            state = self.store.states([url]).get(url)
        canonical = self._canonical(fetched, state)
        if canonical is not None:
            sched.move_article(self.store, url, canonical)
            self._moved[canonical] = url
            self._adopted.add(canonical)
            fetched = replace(fetched, target=ArticleTarget(canonical, fetched.target.source))
            state = self.store.states([canonical]).get(canonical)
        return super()._event(fetched, state)

    def _canonical(self, fetched: Fetched, state: ArticleState | None) -> str | None:
        """The URL to track a discovered article under, when its page names another on the same site."""
        url, declared = fetched.target.url, fetched.document.canonical if fetched.document else None
        if declared is None or url not in self.discovered or (state is not None and state.latest_version):
            return None                             # configured URLs are the user's choice; history stays
        try:
            canonical = canonicalize(declared)
        except ValueError:
            return None
        return canonical if canonical != url and same_site(canonical, url) else None
