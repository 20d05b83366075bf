"""The JSON report of one run: counts per event and the diff objects of the contract."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from ..models import EVENTS, CheckEvent
from .changes import changes_of


def safe_json(value: object) -> str:
    """JSON whose ``<``, ``>`` and ``&`` are \\u escapes: the same data after ``json.loads``, but inert if a
    server or a viewer ever takes the file for HTML (article text is untrusted).

    A list is written one item per line: ``indent`` would switch ``json`` to its pure-Python encoder, five
    times slower on the site's change lists, which are rewritten after every check."""
    if isinstance(value, list):
        return safe_json_list([json.dumps(item, ensure_ascii=False) for item in value])
    return _inert(json.dumps(value, ensure_ascii=False, indent=2)) + "\n"


def safe_json_list(items: Sequence[str]) -> str:
    """``safe_json`` of a list whose items are already JSON text (``json.dumps(item, ensure_ascii=False)``):
    the site encodes each change once for the two lists that carry it, its source's and the whole site's."""
    return _inert("[\n" + ",\n".join(items) + "\n]" if items else "[]") + "\n"


def _inert(text: str) -> str:
    # In JSON text these characters can only occur inside strings, where the escapes mean the same.
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def render_json(events: Sequence[CheckEvent], started_at: datetime) -> str:
    counts = Counter(e.event for e in events)
    document = {
        "generated_at": started_at.isoformat(),
        "checked": len(events),
        "counts": {name: counts.get(name, 0) for name in EVENTS},
        "changes": [e.to_dict() for e in changes_of(events)],
    }
    return safe_json(document)
