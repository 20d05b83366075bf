"""Terminal rendering of events and diffs with rich.

Article text is untrusted: it is always wrapped in ``Text`` objects, never passed as a markup string, so
``[bold]`` or ``[link=...]`` in an article prints as it is.
"""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from .models import CheckEvent, Diff, Document
from .summary import describe_event, describe_figure, describe_qualifier

_EVENT_STYLE = {"new": "cyan", "unchanged": "dim", "cosmetic": "blue", "modified": "bold yellow",
                "removed": "bold red", "restored": "green", "error": "red"}


def print_event(out: Console, event: CheckEvent) -> None:
    line = Text()
    line.append(f"{event.event:<10}", style=_EVENT_STYLE.get(event.event, ""))
    line.append(f" {event.url}")
    if event.version is not None:
        line.append(f"  v{event.version}", style="dim")
    out.print(line)
    if event.event in ("unchanged", "new"):
        return
    if event.reverted_to is not None:
        out.print(Text(f"           reverted to version {event.reverted_to}", style="bold"))
    if event.diff is not None:
        print_diff_details(out, event.diff, indent="           ")
    else:
        out.print(Text("           " + describe_event(event)))


def print_diff_details(out: Console, diff: Diff, indent: str = "") -> None:
    for figure in diff.figures:
        out.print(Text(indent + describe_figure(figure), style="bold"))
    for qualifier in diff.qualifiers:
        out.print(Text(indent + describe_qualifier(qualifier), style="bold"))
    if diff.title is not None:
        out.print(Text(f"{indent}headline rewritten: {diff.title.old}", style="bold"))
        out.print(Text(f"{indent}                 -> {diff.title.new}", style="bold"))
    for sentence in diff.added:
        out.print(Text(f"{indent}+ {sentence}", style="green"))
    for sentence in diff.removed:
        out.print(Text(f"{indent}- {sentence}", style="red"))
    for change in diff.changed:
        words = Text(f"{indent}~ ")
        # wdiff-style markers keep the change visible where colour is lost (pipes, logs, e-mail).
        for op, text in change.words:
            if op == "-":
                words.append(f"[-{text}-]", style="red")
            elif op == "+":
                words.append(f"{{+{text}+}}", style="green")
            else:
                words.append(text)
        out.print(words)
    for sentence in diff.moved:
        out.print(Text(f"{indent}moved: {sentence}", style="dim"))
    if diff.kind == "cosmetic":
        out.print(Text(f"{indent}typography or number formatting only", style="dim"))


def print_document(out: Console, document: Document) -> None:
    """The headline, a blank line, then the body's paragraphs (as ``newsmon extract`` and ``show`` print)."""
    out.print(Text(document.title, style="bold"))
    out.print()
    out.print(Text(document.text))
