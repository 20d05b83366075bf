"""The story pages of the report site: ``stories.html`` and ``stories/<id>.html``.

::

    stories.html            every story of two articles or more, newest first
    stories/<id>.html       one story: its articles, a table of its quantities by source (discrepancies
                            marked), one chart per quantity over time, and who revised a figure first

The pages only read what the story tables hold (``list_stories``, ``tracked_quantities``): grouping and
the figure ledger are brought up to date by the check and the daemon (``refresh_stories``), which costs
seconds on a big batch and has no place in a report build. File names are the story's numeric id, never
text. Every string reaches the page through an autoescaping template; only http(s) URLs become links.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from ..store import Store
from ..store.reporting import changed_article_stamps, has_stories
from .charts import _number
from .render import render, utc_time
from .timeline import article_key

if TYPE_CHECKING:
    from ..figure_ledger import Quantity, Reading
    from ..stories import Story

__all__ = ["StoryChart", "story_chart", "story_file", "write_story_pages"]

WIDTH, HEIGHT = 640, 220
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 80, 30, 40, 46
LEGEND_CHAR = 7.0              # px per character of a legend name (11px sans-serif, roughly)
# One colour per source, in order of first report; dark enough for text on white.
COLOURS = ("#1565c0", "#c62828", "#2e7d32", "#6a1b9a", "#ef6c00", "#00838f", "#4e342e", "#37474f")


def story_file(story_id: int) -> str:
    """The page of a story, relative to the site's root: from the id only (an int), never from text."""
    return f"stories/{int(story_id)}.html"


# -- the chart -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoryPoint:
    x: float
    y: float
    label: str              # "at least 1,500", or "" when the value did not change since the last point
    anchor: str             # text-anchor of the label: kept inside the box at either edge
    title: str              # "courier v2, 2025-02-27 11:00 UTC: at least 1,500"
    label_y: float


@dataclass(frozen=True)
class StorySeries:
    name: str               # the source (twice the same source: "source (2)")
    colour: str
    polyline: str           # steps: a value holds until the next reading changes it
    points: tuple[StoryPoint, ...]
    legend_x: float         # the legend is one line above the plot: a swatch and the name per series


@dataclass(frozen=True)
class StoryChart:
    """What story_chart.svg.j2 draws: coordinates in a width x height box, labels as plain text."""

    name: str
    width: int
    height: int
    series: tuple[StorySeries, ...]
    levels: tuple[tuple[float, str], ...]        # y position, "12,000": the highest and lowest value
    ticks: tuple[tuple[float, str, str], ...]    # x position, anchor, "02-27 09:00"
    x_left: float
    x_right: float
    summary: str                                 # every series in words, for readers and screen readers


def _series_names(readings: Sequence[Reading]) -> dict[int, str]:
    """article id -> series name: its source, numbered when one source has several articles in the story."""
    by_source: dict[str, list[int]] = defaultdict(list)
    for r in readings:
        if r.article_id not in by_source[r.source]:
            by_source[r.source].append(r.article_id)
    names = {}
    for source, ids in by_source.items():
        for n, article_id in enumerate(ids, start=1):
            names[article_id] = source if len(ids) == 1 else f"{source} ({n})"
    return names


def _label(r: Reading) -> str:
    return f"{r.qualifier} {r.text}" if r.qualifier else r.text


def story_chart(quantity: Quantity) -> StoryChart:
    """One quantity over time: x is when each version was stored (``seen_at``), y its value, one series
    per article (named by its source). A reading that repeats the article's previous value adds no label."""
    readings = quantity.readings
    names = _series_names(readings)
    first = min(r.seen_at for r in readings)
    last = max(r.seen_at for r in readings)
    low = min(r.value for r in readings)
    high = max(r.value for r in readings)
    span_x = WIDTH - PAD_LEFT - PAD_RIGHT
    span_y = HEIGHT - PAD_TOP - PAD_BOTTOM
    seconds = (last - first).total_seconds()

    def x_of(when: datetime) -> float:
        return round(PAD_LEFT + (span_x * (when - first).total_seconds() / seconds if seconds else span_x / 2), 1)

    def y_of(value: float) -> float:
        # Equal values everywhere sit on the middle line.
        return round(PAD_TOP + (span_y * (high - value) / (high - low) if high > low else span_y / 2), 1)

    per_article: dict[int, list[Reading]] = defaultdict(list)
    for r in readings:
        per_article[r.article_id].append(r)
    series = []
    words = []
    legend_x = float(PAD_LEFT)
    for index, (article_id, own) in enumerate(per_article.items()):
        own.sort(key=lambda r: (r.seen_at, r.version))
        points: list[StoryPoint] = []
        steps: list[str] = []
        previous: Reading | None = None
        for r in own:
            x, y = x_of(r.seen_at), y_of(r.value)
            if previous is not None:
                steps.append(f"{x},{y_of(previous.value)}")      # the old value holds until this version
            steps.append(f"{x},{y}")
            changed = previous is None or _label(previous) != _label(r)
            points.append(StoryPoint(
                x=x, y=y, label=_label(r) if changed else "",
                anchor="start" if x < PAD_LEFT + 40 else ("end" if x > WIDTH - PAD_RIGHT - 40 else "middle"),
                title=f"{names[article_id]} v{r.version}, {utc_time(r.seen_at)}: {_label(r)}",
                # Alternate series label above and below their points: two sources at one value stay legible.
                label_y=round(y - 10 if index % 2 == 0 else y + 18, 1)))
            previous = r
        if previous is not None and previous.latest and x_of(previous.seen_at) < x_of(last):
            # The article's current version still says it: the line runs on to the chart's last moment.
            steps.append(f"{x_of(last)},{y_of(previous.value)}")
        series.append(StorySeries(name=names[article_id], colour=COLOURS[index % len(COLOURS)],
                                  polyline=" ".join(steps), points=tuple(points), legend_x=legend_x))
        legend_x += 30 + LEGEND_CHAR * len(names[article_id])
        words.append(f"{names[article_id]}: " + " -> ".join(
            f"{p.label} ({utc_time(r.seen_at)})" for p, r in zip(points, own, strict=True) if p.label))
    moments = [first] if seconds == 0 else [first, last]
    ticks = tuple((x_of(m), "middle" if seconds == 0 else ("start" if m == first else "end"), utc_time(m))
                  for m in moments)
    unit = f" {quantity.readings[0].unit}" if quantity.readings[0].unit else ""
    return StoryChart(
        name=quantity.subject or quantity.key, width=WIDTH, height=HEIGHT, series=tuple(series),
        levels=tuple((y_of(v), _number(v) + unit) for v in dict.fromkeys((high, low))),
        ticks=ticks, x_left=PAD_LEFT - 10, x_right=WIDTH - PAD_RIGHT + 10,
        summary=f"{quantity.subject or quantity.key}: " + "; ".join(words))


# -- the table and the leads -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    text: str               # "at least 1,500 (v2)"; "" when the source does not give this quantity
    current: bool           # from the source's latest version (else: no longer in the article)


@dataclass(frozen=True)
class Row:
    subject: str
    cells: tuple[Cell, ...]                      # one per column of the table (the story's sources)
    status: str                                  # "disagree", "differ", "agree", "one source"
    chart: Markup
    leads: tuple[str, ...]
    anchor: str


def _cells(quantity: Quantity, columns: Sequence[str]) -> tuple[Cell, ...]:
    by_source: dict[str, list[Reading]] = defaultdict(list)
    for r in quantity.latest():
        by_source[r.source].append(r)
    cells = []
    for source in columns:
        own = by_source.get(source, [])
        current = [r for r in own if r.latest]
        if current:
            cells.append(Cell("; ".join(f"{_label(r)} (v{r.version})" for r in current), True))
        elif own:     # the source's latest version no longer gives it: say what it last said
            cells.append(Cell("; ".join(f"was {_label(r)} (v{r.version})" for r in own), False))
        else:
            cells.append(Cell("", True))
    return tuple(cells)


def _status(quantity: Quantity) -> str:
    current = [r for r in quantity.latest() if r.latest]
    if len({r.source for r in current}) < 2:
        return "one source"
    if quantity.discrepancy():
        return "disagree"
    # Different values that can all be true ("at least 1,000" and "at least 1,200").
    return "differ" if len({(r.value, r.unit) for r in current}) > 1 else "agree"


def _at(value: str) -> str:
    return utc_time(datetime.fromisoformat(value))


def lead_texts(quantity: Quantity) -> tuple[str, ...]:
    """``Quantity.revisions`` in words: "raised from 1,000 to 1,500 by ledger first, at ... (v2); followed by
    courier (at ..., v2)"."""
    texts = []
    for lead in quantity.revisions():
        unit = f" {lead['unit']}" if lead["unit"] else ""
        verb = "raised" if lead["to"] > lead["from"] else "lowered"
        first = lead["first"]
        text = (f"{verb} from {_number(lead['from'])}{unit} to {_number(lead['to'])}{unit} "
                f"by {first['source']} first, at {_at(first['at'])} (v{first['version']})")
        if lead["followed"]:
            text += "; followed by " + ", ".join(f"{f['source']} (at {_at(f['at'])}, v{f['version']})"
                                                 for f in lead["followed"])
        else:
            text += "; no other source has followed"
        texts.append(text)
    return tuple(texts)


# -- the pages -------------------------------------------------------------------------------------------


def _story_rows(quantities: Sequence[Quantity], columns: Sequence[str]) -> list[Row]:
    rows = []
    for n, q in enumerate(quantities, start=1):
        # Safe: rendered by an autoescaping template; every label in it is escaped.
        svg = Markup(render("story_chart.svg.j2", chart=story_chart(q)).rstrip("\n"))
        rows.append(Row(subject=q.subject or q.key, cells=_cells(q, columns), status=_status(q), chart=svg,
                        leads=lead_texts(q), anchor=f"q{n}"))
    return rows


def _articles(story: Story, with_pages: set[str]) -> list[dict[str, Any]]:
    found = []
    for a in story.articles:
        key = article_key(a.url)
        found.append({"source": a.source, "title": a.title, "url": a.url,
                      "page": f"../articles/{key}.html" if key in with_pages else None})
    return found


def write_story_pages(store: Store, write: Any, generated_at: datetime, *, since: datetime | None = None) -> int:
    """Write stories.html and one page per story of two articles or more; returns how many story pages.

    ``write`` is the site's page writer (``site.PageWriter``); ``since`` is the site's window, used only to
    know which articles have a page of their own in the site (those with a change in the window).
    Reads only: call ``refresh_stories`` elsewhere (the check and the daemon do)."""
    stories: list[Story] = []
    by_story: dict[int, list[Quantity]] = defaultdict(list)
    if has_stories(store):
        # Imported here: the story tables are read through SQLAlchemy, which a checking process that imports
        # the site's modules to draw its changed articles' pages (site.draw_article_pages) must not import.
        from ..figure_ledger import tracked_quantities
        from ..stories import list_stories

        stories = list_stories(store)
        for q in tracked_quantities(store):       # every story of two articles or more, discrepancies first
            by_story[q.story].append(q)
    with_pages = {article_key(s.url) for s in changed_article_stamps(store, since)} if stories else set()
    listed = []
    for story in stories:
        quantities = by_story.get(story.id, [])
        columns = sorted({a.source for a in story.articles}, key=str.casefold)
        rows = _story_rows(quantities, columns)
        # No generation time on a story page: an unchanged story leaves its file untouched.
        write(story_file(story.id), render(
            "story.html.j2", story=story, articles=_articles(story, with_pages), columns=columns, rows=rows,
            disagreements=sum(r.status == "disagree" for r in rows), root="../"))
        listed.append({"story": story, "href": story_file(story.id), "sources": columns,
                       "quantities": len(rows), "disagreements": sum(r.status == "disagree" for r in rows)})
    write("stories.html", render("stories.html.j2", stories=listed, generated_at=generated_at, root=""))
    return len(stories)
