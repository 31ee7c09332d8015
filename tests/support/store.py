"""A page store (`polyptt.relay.store.pages.PageStore`) opened on a database file, as a
relay opens it, for tests that fill or read one without a relay."""

from __future__ import annotations

from pathlib import Path

from polyptt.relay.store.database import Database
from polyptt.relay.store.pages import PageStore


def open_store(path: Path) -> PageStore:
    """The store at `path` (created if missing), its tables declared and the database open."""
    db = Database(path)
    store = PageStore(db)
    db.open()
    store.open()
    return store
