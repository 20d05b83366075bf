"""The command line's consoles: made at their first use, and article text printed as it is."""

from __future__ import annotations

import copy
import io
import subprocess
import sys

from monitor.console import lazy_console, styled


def test_text_is_printed_as_written_never_as_markup() -> None:
    file = io.StringIO()
    console = lazy_console(file=file, highlight=False, soft_wrap=True, color_system=None)
    console.print(styled("[bold]1,500[/bold] killed", style="red"))
    assert file.getvalue() == "[bold]1,500[/bold] killed\n"


def test_rich_is_imported_at_the_first_use_only() -> None:
    script = ("import sys\nfrom monitor.console import lazy_console\nc = lazy_console()\n"
              "print('rich' in sys.modules)\nc.is_terminal\nprint('rich' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["False", "True"], done.stderr


def test_a_console_not_yet_made_can_be_copied() -> None:
    """copy and pickle look for special attributes before __init__ has run: never a recursion."""
    console = lazy_console(highlight=False)
    assert copy.copy(console) is not console


def test_a_progress_bar_on_a_terminal_runs_on_a_lazy_console() -> None:
    """rich's Progress enters its console with ``with``, which a stand-in cannot forward: it gets the real one."""
    from rich.progress import Progress

    from monitor.console import made

    file = io.StringIO()
    console = lazy_console(file=file, force_terminal=True, width=60)
    with Progress(console=made(console), transient=False) as progress:
        task = progress.add_task("checking", total=3)
        for _ in range(3):
            progress.advance(task)
    assert "checking" in file.getvalue()
    assert made(console) is made(console)
