"""Terminal rendering of events and diffs with rich.

Article text is untrusted: it is always wrapped in ``Text`` objects, never passed as a markup string, so
``[bold]`` or ``[link=...]`` in an article prints as it is; and it goes through ``safe`` first, which
removes control characters (every terminal escape sequence starts with one: ESC, CSI, OSC ...; rich
only strips a few of them) and bidi overrides (which reorder what the terminal shows).
"""

from __future__ import annotations

import re

from rich.console import Console
from rich.text import Text

from .models import CheckEvent, Diff, Document
from .summary import describe_event, describe_figure, describe_qualifier

# C0 and C1 controls but tab and newline, DEL, and the bidi embeddings, overrides, isolates and marks.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200e\u200f]")


def safe(text: str) -> str:
    """Untrusted text fit for a terminal: no control character (so no escape sequence), no bidi override."""
    return _UNSAFE.sub("", text)


_EVENT_STYLE = {"new": "cyan", "unchanged": "dim", "cosmetic": "blue", "modified": "bold yellow",
                "removed": "bold red", "restored": "green", "error": "red"}


def print_event(out: Console, event: CheckEvent) -> None:
    line = Text()
    line.append(f"{event.event:<10}", style=_EVENT_STYLE.get(event.event, ""))
    line.append(f" {safe(event.url)}")
    if event.version is not None:
        line.append(f"  v{event.version}", style="dim")
    if out.is_terminal or "\t" in line.plain:
        out.print(line)         # colours on a terminal; rich expands tabs
    else:
        # Off a terminal (a cron job's log, a pipe) rich writes exactly the plain text, at about 60 us a
        # line: for a run of 1,000 articles, a tenth of its time (tests/test_terminal.py holds the two equal).
        out.file.write(line.plain + "\n")
        out.file.flush()
    if event.event in ("unchanged", "new"):
        return
    if event.reverted_to is not None:
        out.print(Text(f"           reverted to version {event.reverted_to}", style="bold"))
    if event.diff is not None:
        print_diff_details(out, event.diff, indent="           ")
    else:
        out.print(Text("           " + safe(describe_event(event))))


def print_diff_details(out: Console, diff: Diff, indent: str = "") -> None:
    for figure in diff.figures:
        out.print(Text(indent + safe(describe_figure(figure)), style="bold"))
    for qualifier in diff.qualifiers:
        out.print(Text(indent + safe(describe_qualifier(qualifier)), style="bold"))
    if diff.title is not None:
        out.print(Text(f"{indent}headline rewritten: {safe(diff.title.old)}", style="bold"))
        out.print(Text(f"{indent}                 -> {safe(diff.title.new)}", style="bold"))
    for sentence in diff.added:
        out.print(Text(f"{indent}+ {safe(sentence)}", style="green"))
    for sentence in diff.removed:
        out.print(Text(f"{indent}- {safe(sentence)}", style="red"))
    for change in diff.changed:
        words = Text(f"{indent}~ ")
        # wdiff-style markers keep the change visible where colour is lost (pipes, logs, e-mail).
        for op, piece in change.words:
            text = safe(piece)
            if op == "-":
                words.append(f"[-{text}-]", style="red")
            elif op == "+":
                words.append(f"{{+{text}+}}", style="green")
            else:
                words.append(text)
        out.print(words)
    for sentence in diff.moved:
        out.print(Text(f"{indent}moved: {safe(sentence)}", style="dim"))
    if diff.kind == "cosmetic":
        out.print(Text(f"{indent}typography or number formatting only", style="dim"))


def print_document(out: Console, document: Document) -> None:
    """The headline, a blank line, then the body's paragraphs (as ``newsmon extract`` and ``show`` print)."""
    out.print(Text(safe(document.title), style="bold"))
    out.print()
    out.print(Text(safe(document.text)))
