"""The revisions, one module each (Alembic loads them by file, not as a package; this file only makes
setuptools ship them)."""
