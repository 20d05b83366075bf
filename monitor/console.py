"""The command line's two consoles (standard output and standard error), made at their first use.

Importing rich costs about 20 ms, a twentieth of a run that checks 1,000 unchanged articles, and a run
printing JSON Lines (``newsmon check --format json``) writes its events itself: it needs rich only for a
warning or an error, if any.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

__all__ = ["lazy_console", "made", "styled"]


class _LazyConsole:
    """Stands for a rich ``Console`` made with ``options`` at the first use of any of its attributes: enough for
    printing through it. Python looks special methods up on the class, never through ``__getattr__``, so where
    rich needs the console itself (a ``Progress`` enters it with ``with``), give it ``made(console)``."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Console | None = None

    def __getattr__(self, name: str) -> Any:       # only for what the instance itself does not have
        if name.startswith("__") or name in ("_options", "_console"):
            raise AttributeError(name)             # not a console's: copy and pickle look for these
        return getattr(self.made(), name)

    def made(self) -> Console:
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
        return self._console


def lazy_console(**options: Any) -> Console:
    """A console (``rich.console.Console(**options)``) that imports rich only when it is first used."""
    return cast("Console", _LazyConsole(**options))


def made(console: Console) -> Console:
    """The rich ``Console`` itself behind one of ``lazy_console``'s (made now if need be); any other as it is."""
    return console.made() if isinstance(console, _LazyConsole) else console


def styled(text: str, style: str = "") -> Text:
    """``rich.text.Text(text, style=style)``: plain text, never parsed as markup (article text is untrusted)."""
    from rich.text import Text

    return Text(text, style=style)
