"""DuckDB plumbing for the feature builders: one bounded, in-process connection and its inputs.

The group builders are SQL over a few named relations, so each can be tested on a hand-made
table and the whole day runs column-pruned and streaming over Parquet with bounded memory:

- ``day_events``       the day's validated events (raw schema, DESIGN.md)
- ``users``            the users table
- ``window_user_day``  per user and day: n_events, n_sessions, spend_sum, first_purchase_ts,
                       for every day of the trailing window up to and including the day
- ``window_entities``  per user, day, kind (device / ip / country / payment) and value: n_events
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

import duckdb

DEFAULT_THREADS = 2
DEFAULT_MEMORY_LIMIT = "1.5GB"
USER_COLUMNS = ("user_id", "signup_ts", "birth_year", "country", "segment")


def connect(threads: int = DEFAULT_THREADS, memory_limit: str = DEFAULT_MEMORY_LIMIT) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with bounded threads and memory, clock in UTC."""
    con = duckdb.connect(config={"threads": threads, "memory_limit": memory_limit})
    con.execute("SET TimeZone = 'UTC'")
    # Insertion order does not matter to us (we sort the output); dropping it saves memory.
    con.execute("SET preserve_insertion_order = false")
    return con


def sql_date(day: date) -> str:
    return f"DATE '{day.isoformat()}'"


def parquet_source(files: Sequence[Path], union_by_name: bool = False) -> str:
    """A ``read_parquet`` table expression over explicit files (quotes escaped)."""
    quoted = ", ".join("'" + str(f).replace("'", "''") + "'" for f in files)
    return f"read_parquet([{quoted}]{', union_by_name = true' if union_by_name else ''})"


def create_view(con: duckdb.DuckDBPyConnection, name: str, source_sql: str) -> None:
    con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT * FROM {source_sql}")


def create_input_views(con: duckdb.DuckDBPyConnection, event_files: Sequence[Path], users_file: Path,
                       user_day_files: Sequence[Path], entity_files: Sequence[Path], where: str = "TRUE") -> None:
    """The four named relations the group builders read (see the module doc).

    ``where`` (a condition on user_id) narrows every relation to one shard of the users.
    """
    # Timestamps may arrive in ns from pandas writers; the SQL works on microseconds.
    con.execute("CREATE OR REPLACE TEMP VIEW day_events AS SELECT * REPLACE (ts::TIMESTAMPTZ AS ts) "
                f"FROM {parquet_source(event_files)} WHERE {where}")
    con.execute("CREATE OR REPLACE TEMP VIEW users AS SELECT * REPLACE (signup_ts::TIMESTAMPTZ AS signup_ts) "
                f"FROM (SELECT {', '.join(USER_COLUMNS)} FROM {parquet_source([users_file])}) WHERE {where}")
    con.execute(f"CREATE OR REPLACE TEMP VIEW window_user_day AS SELECT * FROM {parquet_source(user_day_files)} "
                f"WHERE {where}")
    con.execute(f"CREATE OR REPLACE TEMP VIEW window_entities AS SELECT * FROM {parquet_source(entity_files)} "
                f"WHERE {where}")
