"""The ``newsmon`` command: parse, call, print. No logic of its own beyond choosing what to print.

Exit codes (also in the README):
  0  success
  1  ``check``: at least one article ended in an ``error`` event (every other article was still checked)
  2  bad usage or an invalid configuration file (nothing was done)
  3  the request could not be served: storage unusable, article or version not in the store, a file that
     cannot be read, a page that cannot be fetched or has no article text
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from .config import Config, load_config, parse_config
from .console import lazy_console, made, styled
from .errors import ConfigError, MonitorError
from .models import CHANGE_EVENTS, CheckEvent, Diff, Document

if TYPE_CHECKING:
    from datetime import datetime

    from .check import PageFetcher
    from .store import Store

EXIT_ERRORS_IN_RUN = 1
EXIT_USAGE = 2
EXIT_FAILED = 3

DEFAULT_CONFIG = Path("config.yaml")

app = typer.Typer(
    name="newsmon",
    help="Monitor news articles for changes after publication.\n\nExample: newsmon check -c config.yaml",
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
)

# rich is imported at the first line printed through them (monitor.console), never by a JSON run that succeeds.
out = lazy_console(highlight=False, soft_wrap=True)
err = lazy_console(stderr=True, highlight=False, soft_wrap=True)


class TextOrJson(StrEnum):
    text = "text"
    json = "json"


class DiffFormat(StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"
    html = "html"


ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="Configuration file.", show_default=True)]


def fail(message: str, code: int = EXIT_FAILED) -> NoReturn:
    err.print(styled(f"newsmon: {message}", style="red"))
    raise typer.Exit(code)


def read_config(path: Path, *, required: bool) -> Config:
    """The configuration, or the defaults when an optional default ./config.yaml does not exist."""
    try:
        if not required and path == DEFAULT_CONFIG and not path.exists():
            return parse_config("", filename=str(path), base_dir=Path.cwd())
        config = load_config(path)
    except ConfigError as exc:
        fail(str(exc), EXIT_USAGE)
    return config  # its warnings (duplicate URLs) went to the log, which prints them


@contextmanager
def opened_store(config: Config) -> Iterator:  # type: ignore[type-arg]
    from .store import open_store

    try:
        store = open_store(config.storage_url())
    except MonitorError as exc:
        fail(str(exc))
    try:
        yield store
    finally:
        store.close()


def print_json(value: object) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False) + "\n")


# -- check ----------------------------------------------------------------------------------------------

@app.command()
def check(
    config_path: ConfigOption = DEFAULT_CONFIG,
    source: Annotated[str | None, typer.Option("--source", "-s", help="Only this source.")] = None,
    format: Annotated[TextOrJson, typer.Option("--format", "-f", help="text, or json (JSON Lines).")] = TextOrJson.text,
    polite: Annotated[bool, typer.Option("--polite", help="Honour robots.txt, retry and back off, as `run` does.")]
    = False,
) -> None:
    """Check every configured article once, store new versions and report the changes.

    Example: newsmon check -c config.yaml --format json
    """
    from .check import check_articles, fetch_settings, utc_now
    from .check_processes import check_on_all_cores
    from .report import write_run_reports
    from .store import open_store

    config = read_config(config_path, required=True)
    try:
        targets = config.articles(source)
    except ConfigError as exc:
        fail(str(exc), EXIT_USAGE)
    started = utc_now()
    events: list[CheckEvent] = []
    show_progress = format is TextOrJson.text and len(targets) >= 20 and err.is_terminal
    polite_fetcher = None
    if polite:
        from .polite import GuardedFetcher, PoliteFetcher

        def polite_fetcher(share: Config) -> AbstractContextManager[PageFetcher]:
            # Made in each checking process (a large run uses one per core), never shared across a fork.
            return PoliteFetcher(GuardedFetcher(fetch_settings(share)), per_host_delay=share.per_host_delay,
                                 concurrency=share.concurrency)
    with opened_store(config) as store:
        stream = check_on_all_cores(config, store, targets, open_store=lambda: open_store(config.storage_url()),
                                    check=check_articles, fetcher=polite_fetcher,
                                    after_share=lambda store, events: _draw_changed_pages(store, config, events))
        stream = _readying_the_site(stream, store)
        if format is TextOrJson.text:
            from .terminal import print_event
        if show_progress:
            from rich.progress import Progress

            # Without rich's refresh thread: a thread running when the checks start keeps the run in one
            # process (check_processes.process_count), so the bar is redrawn here, at most ten times a second.
            with Progress(console=made(err), transient=True, auto_refresh=False) as progress:  # the real console
                task = progress.add_task("checking", total=len(targets))
                drawn = 0.0
                for event in stream:
                    events.append(event)
                    progress.advance(task)
                    if time.monotonic() - drawn >= 0.1:
                        progress.refresh()
                        drawn = time.monotonic()
                    if event.event != "unchanged":
                        print_event(out, event)
        else:
            for event in stream:
                events.append(event)
                if format is TextOrJson.json:
                    print_json(event.to_dict())
                    sys.stdout.flush()
                else:
                    print_event(out, event)
        if config.notify:
            # Queued in the store's outbox first, then delivered; failures are retried on later runs.
            from .notify import Notifier, report_link

            with Notifier(config, store) as notifier:
                notifier.notify(events, report_link(config))
        _refresh_site(store, config, events, started)
    try:
        report = write_run_reports(events, config.reports_dir(), started)
    except OSError as exc:
        fail(f"{config.reports_dir()}: cannot write the run report: {exc.strerror or exc}; the checks are stored",
             EXIT_ERRORS_IN_RUN)
    if format is TextOrJson.text:
        counts = {name: sum(1 for e in events if e.event == name) for name in dict.fromkeys(e.event for e in events)}
        summary = ", ".join(f"{n} {name}" for name, n in counts.items()) or "nothing to check"
        err.print(styled(f"{len(events)} checked: {summary}. Report: {report.markdown}"))
    if any(e.event == "error" for e in events):
        raise typer.Exit(EXIT_ERRORS_IN_RUN)


def _readying_the_site(stream: Iterator[CheckEvent], store: Store) -> Iterator[CheckEvent]:
    """The run's events as they come. At the first change, while the other articles are still being checked
    (also by the other processes of a large run), what the site's refresh at the end needs is imported
    (with the story modules and the store's engine, when there are stories: 0.2 s more): time that would
    otherwise all come after the last check, when only the other processes' articles changed. Only a head
    start: a failure here is left for the refresh itself to report."""
    ready = False
    for event in stream:
        if not ready and event.event in CHANGE_EVENTS:
            ready = True
            with suppress(MonitorError, OSError):
                from .report.site import ready_for_build

                ready_for_build(store)
        yield event


def _refresh_site(store: Store, config: Config, events: list[CheckEvent], started: datetime) -> None:
    """Bring the report site up to date with this run's changes; a failure is a warning, never lost checks."""
    if not any(e.event in CHANGE_EVENTS for e in events) and (config.reports_dir() / "index.html").exists():
        return                      # checked before importing the site's modules (jinja2): most runs stop here
    from .report.site import build_site

    try:
        build_site(store, config.reports_dir(), since=None, generated_at=started, diffs=_run_diffs(events))
    except (MonitorError, OSError) as exc:
        err.print(styled(f"newsmon: warning: the report site in {config.reports_dir()} was not updated: {exc}",
                         style="yellow"))


def _draw_changed_pages(store: Store, config: Config, events: list[CheckEvent]) -> None:
    """In each process of a run split over the cores: draw the report pages of the articles it changed,
    while the others still check theirs; the run's site refresh then draws only the lists."""
    changed = [e.url for e in events if e.event in CHANGE_EVENTS]
    if changed:
        from .report.site import draw_article_pages

        draw_article_pages(store, config.reports_dir(), changed, diffs=_run_diffs(events))


def _run_diffs(events: list[CheckEvent]) -> dict[tuple[str, int, int], Diff]:
    """The diffs a run computed, by (url, old version, new version): the site draws them as they are
    rather than computing them again."""
    return {(e.url, e.previous_version, e.version): e.diff for e in events
            if e.diff is not None and e.previous_version is not None and e.version is not None}


# -- diff -----------------------------------------------------------------------------------------------

def _is_url(value: str) -> bool:
    return value.lower().startswith(("http://", "https://"))


def _load_file(path: str) -> Document:
    from .documents import load_document

    try:
        return load_document(path)
    except MonitorError as exc:
        message = str(exc)
        fail(message if message.startswith(path) else f"{path}: {message}")


@app.command()
def diff(
    old: Annotated[str, typer.Argument(help="Old file (HTML or text), or an article URL with --from/--to.")],
    new: Annotated[str | None, typer.Argument(help="New file (HTML or text).")] = None,
    version_from: Annotated[int | None, typer.Option("--from", help="Stored version to compare from.")] = None,
    version_to: Annotated[int | None, typer.Option("--to", help="Stored version to compare to (latest).")] = None,
    format: Annotated[DiffFormat, typer.Option("--format", "-f")] = DiffFormat.text,
    config_path: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Compare two files, or two stored versions of an article.

    Examples: newsmon diff old.html new.html --format json;
    newsmon diff https://example.com/story --from 1 --to 3
    """
    from .diff import diff_documents

    if new is None:
        if not _is_url(old):
            fail("give two files, or an article URL with --from N [--to M]", EXIT_USAGE)
        config = read_config(config_path, required=False)
        with opened_store(config) as store:
            try:
                history = store.history(old)
                first = version_from or (history[-2].number if len(history) > 1 else history[-1].number)
                last = version_to or history[-1].number
                old_doc = store.version(old, first).document
                new_doc = store.version(old, last).document
            except MonitorError as exc:
                fail(str(exc))
    else:
        if version_from is not None or version_to is not None:
            fail("--from/--to apply to a stored article URL, not to two files", EXIT_USAGE)
        old_doc, new_doc = _load_file(old), _load_file(new)
    result = diff_documents(old_doc, new_doc)
    if format is DiffFormat.json:
        print_json(result.to_dict())
    elif format is DiffFormat.markdown:
        from .report.diff_views import diff_markdown

        sys.stdout.write(diff_markdown(result))
    elif format is DiffFormat.html:
        from .report.diff_views import diff_html

        sys.stdout.write(diff_html(result))
    else:
        from .terminal import print_diff_details

        out.print(styled(f"{result.kind} (significance {result.significance})", style="bold"))
        print_diff_details(out, result)


# -- extract, history, show -----------------------------------------------------------------------------

@app.command()
def extract(
    page: Annotated[str, typer.Argument(help="An HTML file or an http(s) URL.")],
    format: Annotated[TextOrJson, typer.Option("--format", "-f")] = TextOrJson.text,
    selector: Annotated[str | None, typer.Option(help="CSS selector of the article body.")] = None,
    exclude: Annotated[list[str] | None, typer.Option(help="CSS selector to remove (repeatable).")] = None,
    config_path: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Extract the article (title, body, byline, dates) from a page.

    Example: newsmon extract page.html --format json
    """
    from .extract import extract as extract_document

    try:
        if _is_url(page):
            from .check import fetch_settings
            from .fetch import Fetcher

            config = read_config(config_path, required=False)
            with Fetcher(fetch_settings(config)) as fetcher:
                result = fetcher.fetch(page)
            if not 200 <= result.status < 300:
                fail(f"{page}: HTTP {result.status}")
            document = extract_document(result.body, url=result.final_url, charset=result.charset,
                                        selector=selector, exclude=exclude or ())
        else:
            try:
                data = Path(page).read_bytes()
            except OSError as exc:
                fail(f"{page}: cannot read: {exc.strerror or exc}")
            document = extract_document(data, selector=selector, exclude=exclude or ())
    except MonitorError as exc:
        fail(f"{page}: {exc}" if not str(exc).startswith(page) else str(exc))
    if format is TextOrJson.json:
        fields = document.to_dict()
        if fields["url"] is None and _is_url(page):
            fields["url"] = page
        print_json(fields)
    else:
        from .terminal import print_document

        print_document(out, document)


@app.command()
def history(
    url: Annotated[str, typer.Argument(help="Article URL.")],
    format: Annotated[TextOrJson, typer.Option("--format", "-f")] = TextOrJson.text,
    config_path: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """List the stored versions of an article (number, time, title, size).

    Example: newsmon history https://example.com/story --format json
    """
    config = read_config(config_path, required=False)
    with opened_store(config) as store:
        try:
            versions = store.history(url)
        except MonitorError as exc:
            fail(str(exc))
    if format is TextOrJson.json:
        print_json([v.to_dict() for v in versions])
        return
    from .terminal import safe

    for v in versions:
        out.print(styled(f"{v.number:>4}  {v.created_at:%Y-%m-%d %H:%M:%S}  {v.size:>7} chars  {safe(v.title)}"))


@app.command()
def show(
    url: Annotated[str, typer.Argument(help="Article URL.")],
    version: Annotated[int | None, typer.Option("--version", "-v", help="Version number (default: latest).")] = None,
    format: Annotated[TextOrJson, typer.Option("--format", "-f")] = TextOrJson.text,
    config_path: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Print a stored version of an article (the latest by default).

    Example: newsmon show https://example.com/story --version 2
    """
    config = read_config(config_path, required=False)
    with opened_store(config) as store:
        try:
            number = version if version is not None else store.history(url)[-1].number
            stored = store.version(url, number)
        except MonitorError as exc:
            fail(str(exc))
    if format is TextOrJson.json:
        data = stored.document.to_dict()
        data.update(version=stored.number, time=stored.created_at.isoformat())
        print_json(data)
    else:
        from .terminal import print_document

        print_document(out, stored.document)


@app.command()
def demo() -> None:
    """Run a complete offline demonstration: serve an article on loopback, check it, edit it, check again.

    Example: newsmon demo
    """
    from .demo.run import run_demo

    raise typer.Exit(run_demo(out))


# -- run, status ----------------------------------------------------------------------------------------

# The service commands (report, serve, run, status) live in their own module; importing it registers them.
from . import cli_distributed, cli_migrate, cli_service, cli_stories  # noqa: E402,F401


def main(argv: Sequence[str] | None = None) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    app(args=list(argv) if argv is not None else None, prog_name="newsmon")


if __name__ == "__main__":
    main()
