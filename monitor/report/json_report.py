"""The JSON report of one run: counts per event and the diff objects of the contract."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from ..models import EVENTS, CheckEvent
from .changes import changes_of


def render_json(events: Sequence[CheckEvent], started_at: datetime) -> str:
    counts = Counter(e.event for e in events)
    document = {
        "generated_at": started_at.isoformat(),
        "checked": len(events),
        "counts": {name: counts.get(name, 0) for name in EVENTS},
        "changes": [e.to_dict() for e in changes_of(events)],
    }
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"
