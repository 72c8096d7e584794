"""The dashboard's read side: Delta tables cached by version, scoped to one institution.

Every page run asks each table for its current version (a read of the Delta log, cheap) and
reuses the Arrow table loaded for that version; a new version (a review written back, a batch
run, an erasure) replaces the cached one, so nothing stale and nothing erased is ever shown
again. Pages query through DuckDB over Arrow tables already filtered to the admin's
institution, so no page query can reach another institution's rows.
"""

from __future__ import annotations

import threading

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from proctorlake.core.schemas import ALL_TABLES
from proctorlake.core.settings import Settings
from proctorlake.storage import lake

_lock = threading.Lock()
# delta uri -> (version, rows): one entry per table, the latest version seen.
_cache: dict[str, tuple[int, pa.Table]] = {}


def current_table(settings: Settings, name: str) -> tuple[pa.Table, int | None]:
    """The table's rows at its current version and that version (None: never written)."""
    delta_table = lake.open_table(settings, name)
    if delta_table is None:
        return lake.table_for(name).arrow_schema().empty_table(), None
    version = delta_table.version()
    uri = lake.delta_uri(settings, name)
    with _lock:
        cached = _cache.get(uri)
    if cached is not None and cached[0] == version:
        return cached[1], version
    rows = delta_table.to_pyarrow_table()
    with _lock:
        _cache[uri] = (version, rows)
    return rows, version


def table_versions(settings: Settings) -> dict[str, int | None]:
    """The current version of every table (what the cached reads are keyed by)."""
    versions: dict[str, int | None] = {}
    for table in ALL_TABLES:
        delta_table = lake.open_table(settings, table.name)
        versions[table.name] = None if delta_table is None else delta_table.version()
    return versions


def institution_connection(settings: Settings, institution_id: str) -> duckdb.DuckDBPyConnection:
    """DuckDB with every table registered under its own name, holding one institution's rows."""
    connection = duckdb.connect()
    for table in ALL_TABLES:
        if "institution_id" not in table.column_names:
            continue  # a table that cannot be scoped is not shown at all
        rows, _ = current_table(settings, table.name)
        scoped = rows.filter(pc.field("institution_id") == institution_id)
        connection.register(table.name, scoped)
    return connection
