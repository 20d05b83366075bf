"""The values the store takes and gives besides the shared models: frozen dataclasses, no I/O."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from monitor.models import EVENTS, Document, Validators

# A sha256 hex digest: line keys, fingerprints and body hashes are stored as their 32 bytes.
_SHA256 = re.compile(r"[0-9a-f]{64}")

# Keeps every IN list of URLs or ids far below SQLite's bound-parameter limit (32766, or 999 in old builds).
IN_CHUNK = 500


@dataclass(frozen=True)
class ArticleState:
    """What a check needs to know about an article before fetching it."""

    url: str
    source: str
    latest_version: int | None
    fingerprint: str | None        # of the latest version
    validators: Validators
    gone: bool
    body_sha256: str | None        # of the last fetched body
    last_checked: datetime | None  # UTC
    pending_fingerprint: str | None = None  # a held collapse of the text, awaiting confirmation


@dataclass(frozen=True)
class CheckRecord:
    """One fetch of one article, whatever its outcome."""

    checked_at: datetime
    outcome: str                   # an EventName; validated when recorded
    status: int | None = None
    validators: Validators = field(default_factory=Validators)
    wire_bytes: int = 0
    body_bytes: int = 0
    duration: float = 0.0          # seconds
    error: str | None = None
    final_url: str | None = None


@dataclass(frozen=True)
class NewVersion:
    """A version to store: the extracted document, the raw HTML it came from, and its fingerprint."""

    document: Document
    html: bytes
    fingerprint: str               # sha256 of the comparable title + text (monitor.normalise)
    created_at: datetime


@dataclass(frozen=True)
class RecordItem:
    """The arguments of one ``Store.record`` call, for ``Store.record_many``."""

    url: str
    source: str
    check: CheckRecord
    new_version: NewVersion | None = None
    validators: Validators | None = None   # None: keep the stored ones
    body_sha256: str | None = None         # None: keep the stored one
    gone: bool | None = None               # None: keep the stored flag
    # Set: hold this fingerprint as an unconfirmed change. Any check that is not an error clears it.
    pending_fingerprint: str | None = None
    # Keys of the short paragraphs ("lines") of the page this check extracted, before boilerplate was
    # removed (monitor.boilerplate.line_keys): kept per source and article to learn the source's boilerplate.
    line_keys: tuple[str, ...] = ()


def validate(item: RecordItem) -> None:
    """Refuse bad input before any read or write."""
    check = item.check
    if check.outcome not in EVENTS:
        raise ValueError(f"{item.url}: unknown check outcome {check.outcome!r}; expected one of {EVENTS}")
    for when in (check.checked_at, item.new_version.created_at if item.new_version else None):
        if when is not None and when.utcoffset() is None:
            raise ValueError(f"{item.url}: naive datetime {when.isoformat()}; the store needs aware ones")
        if when is not None and not in_utc_range(when):
            raise ValueError(f"{item.url}: {when.isoformat()} is outside years 1-9999 in UTC")
    check_line_keys(item.url, item.line_keys)
    digests = {"fingerprint": item.new_version.fingerprint if item.new_version else None,
               "body_sha256": item.body_sha256, "pending_fingerprint": item.pending_fingerprint}
    for name, digest in digests.items():
        if digest is not None and not is_sha256(digest):
            raise ValueError(f"{item.url}: {name} {digest!r} is not a lowercase sha256 hex digest")


def in_utc_range(when: datetime) -> bool:
    """Whether an aware time falls within years 1-9999 once in UTC, the only times the store can keep."""
    try:
        when.astimezone(UTC)
    except OverflowError:
        return False
    return True


def is_sha256(value: object) -> bool:
    """Whether ``value`` is a lowercase sha256 hex digest, the only hashes the store keeps."""
    return isinstance(value, str) and _SHA256.fullmatch(value) is not None


def check_line_keys(url: str, keys: Sequence[str]) -> None:
    """Refuse anything but sha256 hex digests before a write begins."""
    for key in keys:
        if not is_sha256(key):
            raise ValueError(f"{url}: line key {key!r} is not a lowercase sha256 hex digest")


def is_plain(item: RecordItem) -> bool:
    """A check that only touches its article's row and adds a check row: no version, no lines (an
    unchanged or failed check, most of a cycle). Such checks are written in bulk."""
    return item.new_version is None and not item.line_keys


def article_changes(item: RecordItem, article_id: int, source_id: int) -> dict[str, Any]:
    """The article row's new values after this check (failures apart: see the writers)."""
    check = item.check
    changes: dict[str, Any] = {"article": article_id, "source_id": source_id, "last_checked": check.checked_at}
    if item.validators is not None:
        changes["etag"] = item.validators.etag
        changes["last_modified"] = item.validators.last_modified
    if item.body_sha256 is not None:
        changes["body_sha256"] = item.body_sha256
    if item.gone is not None:
        changes["gone"] = item.gone
    if item.pending_fingerprint is not None:
        changes["pending_fingerprint"] = item.pending_fingerprint
    elif check.outcome != "error":
        changes["pending_fingerprint"] = None
    return changes


def check_row(article_id: int, check: CheckRecord, version: int | None) -> dict[str, Any]:
    """The ``checks`` row of one check, by column."""
    return {"article_id": article_id, "checked_at": check.checked_at, "outcome": check.outcome,
            "status": check.status, "etag": check.validators.etag,
            "last_modified": check.validators.last_modified, "wire_bytes": check.wire_bytes,
            "body_bytes": check.body_bytes, "duration": check.duration, "error": check.error,
            "final_url": check.final_url, "version": version}
