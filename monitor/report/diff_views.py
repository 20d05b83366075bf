"""A single diff as Markdown or as a small self-contained HTML page (``newsmon diff --format``).

All article text is escaped: Markdown through ``md_text``, HTML through the report templates (monitor/report/
render.py: autoescape on for every template, a Content-Security-Policy on every page).
"""

from __future__ import annotations

from ..models import Diff
from ..summary import describe_figure
from .markdown import md_text
from .render import render


def diff_markdown(diff: Diff) -> str:
    lines = [f"**{diff.kind}** (significance {diff.significance})", ""]
    lines += [f"- **{md_text(describe_figure(f))}**" for f in diff.figures]
    if diff.title is not None:
        lines.append(f"- headline rewritten: “{md_text(diff.title.old)}” -> “{md_text(diff.title.new)}”")
    lines += [f"- added: {md_text(s)}" for s in diff.added]
    lines += [f"- removed: {md_text(s)}" for s in diff.removed]
    for change in diff.changed:
        words = "".join(
            md_text(text) if op == "=" else f"~~{md_text(text)}~~" if op == "-" else f"**{md_text(text)}**"
            for op, text in change.words
        )
        lines.append(f"- changed: {words}")
    lines += [f"- moved: {md_text(s)}" for s in diff.moved]
    return "\n".join(lines) + "\n"


def diff_html(diff: Diff) -> str:
    """A self-contained page (templates/diff_page.html.j2), built from the same blocks as the report site."""
    return render("diff_page.html.j2", diff=diff)
