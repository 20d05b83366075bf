"""Which events of a run a report lists, and in what order."""

from __future__ import annotations

from collections.abc import Sequence

from ..models import SIGNIFICANCE_ORDER, CheckEvent

# "unchanged" is counted in a report's summary, never listed.
REPORTED_EVENTS = ("new", "modified", "cosmetic", "removed", "restored", "error")

# Among events of equal significance: take-downs first, then edits, errors, new articles, cosmetic edits.
_EVENT_ORDER = {"removed": 5, "modified": 4, "restored": 4, "error": 3, "new": 2, "cosmetic": 1}


def changes_of(events: Sequence[CheckEvent]) -> list[CheckEvent]:
    """The events a reader wants listed, most significant first (stable within a rank)."""

    def rank(event: CheckEvent) -> tuple[int, int]:
        significance = SIGNIFICANCE_ORDER[event.diff.significance] if event.diff else 0
        return (-significance, -_EVENT_ORDER.get(event.event, 0))

    return sorted((e for e in events if e.event in REPORTED_EVENTS), key=rank)
