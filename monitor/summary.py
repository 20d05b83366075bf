"""One-line descriptions of a change, the way a journalist would say them.

"killed: at least 1,000 -> at least 1,500", "headline rewritten", "2 sentences added". Shared by the
terminal output, the Markdown report and notifications so that every output words a change the same way.
Pure functions; callers escape the result for their medium.
"""

from __future__ import annotations

from .models import CheckEvent, Diff, FigureChange, QualifierChange

ARROW = "->"


def _with_qualifier(qualifier: str | None, figure: str) -> str:
    return f"{qualifier} {figure}" if qualifier else figure


def describe_figure(change: FigureChange) -> str:
    """``killed: at least 1,000 -> at least 1,500`` (the context is left out when unknown)."""
    old = _with_qualifier(change.qualifier_old, change.old)
    new = _with_qualifier(change.qualifier_new, change.new)
    prefix = f"{change.context}: " if change.context else ""
    return f"{prefix}{old} {ARROW} {new}"


def describe_qualifier(change: QualifierChange) -> str:
    """``killed: at least 1,000 -> more than 1,000`` (the figure kept, its qualifier changed)."""
    old = _with_qualifier(change.old, change.figure)
    new = _with_qualifier(change.new, change.figure)
    prefix = f"{change.context}: " if change.context else ""
    return f"{prefix}{old} {ARROW} {new} (qualifier)"


def _count(n: int, singular: str, plural: str | None = None) -> str:
    return f"{n} {singular if n == 1 else (plural or singular + 's')}"


def describe_diff(diff: Diff) -> list[str]:
    """Most important first: figures, headline, then added/removed/changed/moved sentences."""
    if diff.kind == "unchanged":
        return []
    if diff.kind == "cosmetic":
        return ["typography or number formatting only"]
    lines = [describe_figure(f) for f in diff.figures]
    lines += [describe_qualifier(q) for q in diff.qualifiers]
    if diff.title is not None:
        lines.append(f"headline rewritten: {diff.title.old!r} {ARROW} {diff.title.new!r}")
    if diff.added:
        lines.append(_count(len(diff.added), "sentence") + " added")
    if diff.removed:
        lines.append(_count(len(diff.removed), "sentence") + " removed")
    if diff.changed:
        lines.append(_count(len(diff.changed), "sentence") + " reworded")
    if diff.moved:
        lines.append(_count(len(diff.moved), "sentence") + " moved")
    return lines


def describe_event(event: CheckEvent) -> str:
    """A short headline for one check's outcome."""
    if event.event == "new":
        return f"new article, stored as version {event.version}"
    if event.event == "unchanged":
        return "unchanged"
    if event.event == "removed":
        return "article taken down (HTTP 404/410)"
    if event.event == "restored":
        return f"article is back online (version {event.version})"
    if event.event == "error":
        return f"error: {event.error}"
    details = describe_diff(event.diff) if event.diff is not None else []
    if event.reverted_to is not None:
        details.insert(0, f"reverted to version {event.reverted_to}")
    return "; ".join(details) if details else event.event
