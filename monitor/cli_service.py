"""``newsmon report``, ``serve``, ``run`` and ``status``: the commands that run newsmon as a service and
publish what it found. They register on the same ``app`` as the commands in ``cli.py``, which imports this
module at its end."""

from __future__ import annotations

import logging
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from .cli import (
    DEFAULT_CONFIG,
    EXIT_USAGE,
    ConfigOption,
    TextOrJson,
    app,
    fail,
    opened_store,
    out,
    print_json,
    read_config,
)
from .console import styled
from .errors import MonitorError


@app.command()
def report(
    config_path: ConfigOption = DEFAULT_CONFIG,
    out_dir: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Folder of the site (default: the configuration's reports folder).")] = None,
    since: Annotated[str | None, typer.Option(
        "--since", help="Only changes this recent: 90 (seconds), 30m, 12h, 7d (default: every change).")] = None,
    rebuild: Annotated[bool, typer.Option(
        "--rebuild", help="Redraw every article from the store, ignoring the site's cache (same result, slower).")]
    = False,
) -> None:
    """Write the report site: index.html, a page per changed article, changes.json, changes.atom, changes.md.

    The pages open from disk without a server and run no JavaScript.

    Example: newsmon report -c config.yaml --since 7d && xdg-open reports/index.html
    """
    from datetime import timedelta

    from .check import utc_now
    from .config import parse_duration
    from .report.site import build_site

    cutoff = None
    now = utc_now()
    if since is not None:
        try:
            cutoff = now - timedelta(seconds=parse_duration(since))
        except (ValueError, OverflowError) as exc:
            fail(f"--since: {exc}", EXIT_USAGE)
    config = read_config(config_path, required=False)
    target = out_dir if out_dir is not None else config.reports_dir()
    with opened_store(config) as store:
        try:
            # The story pages show the story tables: group what is new first, as `newsmon stories` does
            # (a check leaves that to the daemon or to these commands: it costs seconds for many articles).
            from .stories import refresh_stories

            refresh_stories(store, threshold=config.stories.threshold)
            site = build_site(store, target, since=cutoff, generated_at=now, rebuild=rebuild)
        except MonitorError as exc:
            fail(str(exc))
        except OSError as exc:
            fail(f"cannot write the report into {target}: {exc.strerror or exc}")
    changes = f"{site.changes} change{'' if site.changes == 1 else 's'}"
    articles = f"{site.articles} article{'' if site.articles == 1 else 's'}"
    out.print(styled(f"{changes} in {articles} ({site.rebuilt} redrawn): {site.index}"))


@app.command()
def serve(
    config_path: ConfigOption = DEFAULT_CONFIG,
    host: Annotated[str, typer.Option(
        "--host", help="Address to listen on; anything but loopback shows the store to the network.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", "-p", min=0, max=65535, help="Port to listen on.")] = 8080,
) -> None:
    """Serve the report site read-only, rendered live from the store, with search by URL or headline.

    GET and HEAD only; nothing is written. Stop it with Ctrl-C.

    Example: newsmon serve -c config.yaml --port 8080 (then open http://127.0.0.1:8080/)
    """
    from .serve import make_server

    config = read_config(config_path, required=False)
    with opened_store(config) as store:
        try:
            server = make_server(store, host, port)
        except OSError as exc:
            fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
        bound_host, bound_port = str(server.server_address[0]), int(server.server_address[1])
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        out.print(styled(f"Serving the store read-only on http://{shown}:{bound_port}/ (Ctrl-C stops)"))
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()


class LogFormat(StrEnum):
    text = "text"
    json = "json"


@app.command()
def run(
    config_path: ConfigOption = DEFAULT_CONFIG,
    log_format: Annotated[LogFormat, typer.Option(
        "--log-format", help="text (readable), or json (one object per line).")] = LogFormat.text,
) -> None:
    """Run as a daemon: check articles on their schedule and discover new ones from feeds and sitemaps.

    Stops on SIGTERM or Ctrl-C after the checks in flight (exit 0). One daemon per storage.

    Example: newsmon run -c config.yaml --log-format json
    """
    import os
    import signal
    import threading

    from .lock import acquire

    # From the first moment: a SIGTERM during start-up (the imports below take seconds) is a clean stop too.
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    config = read_config(config_path, required=True)
    try:
        # Before the heavy imports below: a second daemon is refused in a fraction of a second.
        lock = acquire(config.storage_url())
    except MonitorError as exc:
        fail(str(exc))
    from .daemon import configure_logging
    from .daemon import run as run_daemon

    configure_logging(log_format.value)
    try:
        code = run_daemon(config, lock=lock, stopping=stopping)
    except MonitorError as exc:
        fail(str(exc))
    # Fetch threads of a cancelled batch may still wait on a slow server: do not let the interpreter's
    # exit join them. Everything is stored and the lock released by now.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


@app.command()
def status(
    config_path: ConfigOption = DEFAULT_CONFIG,
    format: Annotated[TextOrJson, typer.Option("--format", "-f", help="text (a table), or json.")] = TextOrJson.text,
) -> None:
    """Show each source's health: articles, last and next check, versions, recent errors.

    Example: newsmon status -c config.yaml --format json
    """
    from .store import scheduling

    config = read_config(config_path, required=True)
    with opened_store(config) as store:
        try:
            figures = scheduling.source_status(store, [s.name for s in config.sources])
        except MonitorError as exc:
            fail(str(exc))
    if format is TextOrJson.json:
        print_json([f.to_dict() for f in figures])
        return
    from rich.table import Table

    def when(value: object) -> str:
        return "-" if value is None else f"{value:%Y-%m-%d %H:%M:%S}"

    table = Table(box=None, pad_edge=False)
    for heading in ("source", "articles", "tracked", "versions", "failing", "last check (UTC)", "next check (UTC)"):
        table.add_column(heading, no_wrap=True)
    for f in figures:
        table.add_row(f.name, str(f.articles), str(f.tracked), str(f.versions), str(f.failing),
                      when(f.last_check), when(f.next_check))
    out.print(table)
    from .lock import holder

    running = holder(config.storage_url())
    out.print(styled(f"daemon: running ({running})" if running else "daemon: not running (start it with newsmon run)"))
    for f in figures:
        for at, url, error in f.recent_errors:
            out.print(styled(f"{f.name}: {when(at)} {url}: {error}", style="yellow"))
        for url, error in f.feed_errors:
            out.print(styled(f"{f.name}: feed {url}: {error}", style="yellow"))
