"""The Markdown report of one run, for people who paste reports into chat or e-mail.

Article text is untrusted: every piece of it goes through ``md_text`` (HTML special characters become
entities, Markdown syntax is backslash-escaped), and only http(s) URLs become links.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from ..models import EVENTS, CheckEvent
from ..summary import describe_event, describe_figure
from .changes import changes_of

# Characters that start Markdown syntax anywhere in a line: links and images ([ ] !), code (`),
# emphasis and strike-through (* _ ~) and the escape itself. Line-start syntax (#, -, >, 1.) cannot occur:
# every piece of article text is placed after a prefix of ours.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]~!|])")


def md_text(text: str) -> str:
    """Inert Markdown for untrusted text: no HTML, no links, no emphasis, one line.

    ``&`` and ``<`` become entities, so no tag, comment or entity from the article survives; the rest of
    Markdown's inline syntax is backslash-escaped.
    """
    text = " ".join(text.split())
    return _MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(text, quote=False).replace("&gt;", ">"))


def md_link(url: str) -> str:
    if re.match(r"^https?://", url, re.IGNORECASE) and not re.search(r"[\s<>()]", url):
        return f"<{url}>"
    return md_text(url)


def _event_section(event: CheckEvent) -> list[str]:
    title = event.title or event.url
    significance = f", {event.diff.significance}" if event.diff else ""
    lines = [f"### {md_text(title)}", "",
             f"{md_link(event.url)} · source {md_text(event.source)} · **{event.event}**{significance}"]
    if event.version is not None:
        versions = (f"version {event.previous_version} -> {event.version}"
                    if event.previous_version and event.previous_version != event.version
                    else f"version {event.version}")
        lines[-1] += f" · {versions}"
    lines.append("")
    diff = event.diff
    if event.reverted_to is not None:
        lines.append(f"- **reverted to version {event.reverted_to}**")
    if diff is None:
        lines += [f"- {md_text(describe_event(event))}", ""]
        return lines
    for figure in diff.figures:
        lines.append(f"- **{md_text(describe_figure(figure))}**")
    if diff.title is not None:
        lines.append(f"- headline rewritten: “{md_text(diff.title.old)}” -> “{md_text(diff.title.new)}”")
    lines += [f"- added: {md_text(s)}" for s in diff.added]
    lines += [f"- removed: {md_text(s)}" for s in diff.removed]
    for change in diff.changed:
        lines.append(f"- changed: {md_text(change.old)}")
        lines.append(f"  now: {md_text(change.new)}")
    lines += [f"- moved: {md_text(s)}" for s in diff.moved]
    if diff.kind == "cosmetic":
        lines.append("- typography or number formatting only")
    lines.append("")
    return lines


def render_markdown(events: Sequence[CheckEvent], started_at: datetime) -> str:
    counts = Counter(e.event for e in events)
    summary = ", ".join(f"{counts[name]} {name}" for name in EVENTS if counts.get(name))
    lines = [f"# newsmon check, {started_at.strftime('%Y-%m-%d %H:%M:%S UTC')}", "",
             f"{len(events)} articles checked: {summary or 'nothing to check'}.", ""]
    changes = changes_of(events)
    if not changes:
        lines += ["No changes.", ""]
    for event in changes:
        lines += _event_section(event)
    return "\n".join(lines)


def render_changes_markdown(events: Sequence[CheckEvent], heading: str, generated_at: datetime) -> str:
    """The report site's changes (already in report order) as Markdown: ``changes.md``."""
    lines = [f"# {md_text(heading)}", "",
             f"{len(events)} changes, most significant first; made {generated_at.strftime('%Y-%m-%d %H:%M UTC')}.",
             ""]
    if not events:
        lines += ["No changes.", ""]
    for event in events:
        lines += _event_section(event)
    return "\n".join(lines)
