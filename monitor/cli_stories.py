"""``newsmon stories`` and ``newsmon figures``: articles of several outlets grouped into stories, and the
figures they report side by side. They register on the same ``app`` as the commands in ``cli.py``, which
imports this module at its end.

Both commands first bring stories and the figure ledger up to date from the store (only articles with a
version not grouped yet, only versions not yet in the ledger), so they answer correctly whether or not
``newsmon check`` refreshed them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from .cli import DEFAULT_CONFIG, ConfigOption, TextOrJson, app, fail, opened_store, out, print_json, read_config
from .console import styled
from .errors import MonitorError

if TYPE_CHECKING:
    from .config import Config
    from .store import Store

AllOption = Annotated[bool, typer.Option("--all", help="Also stories of a single article.")]


def story_threshold(config: Config) -> float:
    """The configuration's ``stories: {threshold: ...}`` (default: the measured 0.3)."""
    return config.stories.threshold


def refresh(store: Store, config: Config) -> None:
    """Group the articles with new versions and record the figures of new versions."""
    from .stories import refresh_stories

    try:
        refresh_stories(store, threshold=story_threshold(config))
    except MonitorError as exc:
        fail(str(exc))


@app.command()
def stories(
    config_path: ConfigOption = DEFAULT_CONFIG,
    format: Annotated[TextOrJson, typer.Option("--format", "-f", help="text, or json.")] = TextOrJson.text,
    include_single: AllOption = False,
) -> None:
    """List stories: articles of different sources that report the same event, and the terms they share.

    Example: newsmon stories -c config.yaml --format json
    """
    from .stories import list_stories
    from .terminal import safe

    config = read_config(config_path, required=False)
    with opened_store(config) as store:
        refresh(store, config)
        try:
            found = list_stories(store, include_single=include_single)
        except MonitorError as exc:
            fail(str(exc))
    if format is TextOrJson.json:
        print_json([story.to_dict() for story in found])
        return
    if not found:
        out.print(styled("no story has more than one article yet (--all lists every article's story)"
                         if not include_single else "no stories: the store has no versions yet"))
    for story in found:
        count = f"{len(story.articles)} article{'' if len(story.articles) == 1 else 's'}"
        out.print(styled(f"story {story.id}: {safe(story.title)} ({count})", style="bold"))
        if story.why:
            out.print(styled(f"  why: {', '.join(story.why)}", style="dim"))
        for article in story.articles:
            out.print(styled(f"  {safe(article.source)}  {safe(article.url)}  {safe(article.title)}"))


@app.command()
def figures(
    config_path: ConfigOption = DEFAULT_CONFIG,
    story: Annotated[int | None, typer.Option("--story", help="Only this story (an id from `newsmon stories`).")]
    = None,
    format: Annotated[TextOrJson, typer.Option("--format", "-f", help="text, or json.")] = TextOrJson.text,
    include_single: AllOption = False,
) -> None:
    """List the quantities stories report (troops, killed, ...), each source's value, and where they disagree.

    Example: newsmon figures -c config.yaml --story 3 --format json
    """
    from .figure_ledger import tracked_quantities
    from .stories.grouping import story_of
    from .terminal import safe

    config = read_config(config_path, required=False)
    with opened_store(config) as store:
        refresh(store, config)
        try:
            if story is not None and not story_of(store, story):
                fail(f"no story {story} in the store; `newsmon stories --all` lists them")
            quantities = tracked_quantities(store, story=story, include_single=include_single)
        except MonitorError as exc:
            fail(str(exc))
    if format is TextOrJson.json:
        print_json([q.to_dict() for q in quantities])
        return
    if not quantities:
        out.print(styled("no figures tracked" + (f" in story {story}" if story is not None else "")))
    for q in quantities:
        flag = "  DISAGREE" if q.discrepancy() else ""
        out.print(styled(f"story {q.story}: {safe(q.subject)}{flag}", style="bold red" if flag else "bold"))
        out.print(styled(f"  {safe(q.describe())}"))
        for lead in q.revisions():
            first = lead["first"]
            line = f"  revised {lead['from']:,} -> {lead['to']:,}: {first['source']} first ({_when(first)})"
            if lead["followed"]:
                line += ", then " + ", ".join(f"{f['source']} ({_when(f)})" for f in lead["followed"])
            out.print(styled(safe(line), style="yellow"))


def _when(seen: dict[str, object]) -> str:
    """ "v2, 2026-11-27 13:21:58 UTC" from a lead's ``{"version", "at"}``."""
    from datetime import datetime

    at = datetime.fromisoformat(str(seen["at"]))
    return f"v{seen['version']}, {at:%Y-%m-%d %H:%M:%S} UTC"
