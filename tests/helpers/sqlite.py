"""A SQLite connection for tests that closes when its block ends, and one query's rows."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any


@contextmanager
def connect(database: Any, **options: Any) -> Iterator[sqlite3.Connection]:
    """``sqlite3.connect`` whose ``with`` block commits (or rolls back), then closes.

    A ``with`` block over ``sqlite3.connect(...)`` itself ends the transaction but leaves
    the connection open until it is collected; Python 3.13 warns of that (a
    ResourceWarning), which fails whichever test is running when it is collected.
    """
    connection = sqlite3.connect(database, **options)
    try:
        with connection:
            yield connection
    finally:
        connection.close()


def fetch_all(database: Any, sql: str, params: Sequence[Any] = ()) -> list[Any]:
    """The rows of one query, on a connection of its own (closed after)."""
    with connect(database) as connection:
        return connection.execute(sql, params).fetchall()
