"""The one line ``newsmon check`` prints per article: off a terminal it is written without rich, and must
be exactly what rich would write there."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from monitor.models import EVENTS, CheckEvent
from monitor.terminal import print_event

T0 = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)


def printed(event: CheckEvent, *, terminal: bool) -> str:
    buffer = io.StringIO()
    print_event(Console(file=buffer, force_terminal=terminal, highlight=False, soft_wrap=True, width=60,
                        color_system=None), event)
    return buffer.getvalue()


@given(url=st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=120),
       event=st.sampled_from(["new", "unchanged"]), version=st.none() | st.integers(1, 10**6))
def test_the_plain_line_is_the_line_rich_would_write(url: str, event: str, version: int | None) -> None:
    checked = CheckEvent(url=url, source="s", event=event, version=version, previous_version=version, checked_at=T0)
    # A terminal without colours renders the styled line to the same characters as rich's own plain output.
    assert printed(checked, terminal=False) == printed(checked, terminal=True)


def test_every_event_starts_with_its_padded_name_and_url() -> None:
    for name in EVENTS:
        event = CheckEvent(url="https://news.example/a", source="s", event=name, version=3, previous_version=2,
                           checked_at=T0, error="HTTP 503" if name == "error" else None)
        assert printed(event, terminal=False).splitlines()[0] == f"{name:<10} https://news.example/a  v3"
