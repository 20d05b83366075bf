"""Shared fixtures. ``store`` runs a test on SQLite and on PostgreSQL (skipped when no server answers).

PostgreSQL: ``NEWSMON_TEST_PG_URL`` names the database; without it, ``root@127.0.0.1:5432/test`` and
then ``postgres@...`` are tried. Each test gets its own schema (dropped afterwards), so tests are
independent and may run while other suites use the same database.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from functools import cache

import pytest
from hypothesis import settings
from sites import site  # noqa: F401 (the local news site fixture, for every test module)
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url

from monitor.store import Store, open_store

# Timing varies on shared CI machines; a property must fail on its input, never on a slow moment.
# NEWSMON_HYPOTHESIS=thorough runs every property on many more examples.
settings.register_profile("default", deadline=None)
settings.register_profile("thorough", deadline=None, max_examples=3000)
settings.load_profile(os.environ.get("NEWSMON_HYPOTHESIS", "default"))

PG_DEFAULT_USERS = ("root", "postgres")
PG_DEFAULT_URL = "postgresql+psycopg://{user}@127.0.0.1:5432/test"


@cache
def _postgresql_url() -> URL | str:
    """The first PostgreSQL URL that answers, or why none did (computed once per session)."""
    override = os.environ.get("NEWSMON_TEST_PG_URL")
    candidates = [override] if override else [PG_DEFAULT_URL.format(user=u) for u in PG_DEFAULT_USERS]
    errors = []
    for candidate in candidates:
        url = make_url(candidate)
        engine = create_engine(url, connect_args={"connect_timeout": 3})
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return url
        except Exception as exc:  # any failure means "not usable here", reported in the skip reason
            errors.append(f"{url.render_as_string(hide_password=True)}: {str(exc).splitlines()[0]}")
        finally:
            engine.dispose()
    return "; ".join(errors)


@pytest.fixture
def pg_schema_url() -> Iterator[str]:
    """A URL to a fresh, empty PostgreSQL schema of its own, dropped after the test."""
    found = _postgresql_url()
    if isinstance(found, str):
        pytest.skip(f"PostgreSQL not reachable at {found}")
    schema = f"newsmon_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(found)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        # libpq "options" puts every connection of the store into the schema.
        url = found.update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A URL of an empty store on each backend; the database is created by ``open_store``."""
    if request.param == "postgresql":
        return str(request.getfixturevalue("pg_schema_url"))
    folder = tmp_path_factory.mktemp("store")
    return f"sqlite:///{folder}/snapshots/newsmon.db"


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """An open, empty store on each backend."""
    with open_store(store_url) as opened:
        yield opened
