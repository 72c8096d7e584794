"""The dashboard's read side: Delta tables opened by version, scoped to one institution.

Every page run asks each table for its current version (a read of the Delta log, cheap) and
reuses the lazy Arrow dataset opened at that version; a new version (a review written back, a
batch run, an erasure) replaces it, so nothing stale and nothing erased is ever shown again.
Nothing is loaded whole: the tables are streamed a batch at a time and only the admin's
institution's rows are kept, and pages limit their lists in DuckDB. Only the institution's
rows are registered, so no page query can reach another's.
"""

from __future__ import annotations

import threading

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from proctorlake.core.schemas import ALL_TABLES
from proctorlake.core.settings import Settings
from proctorlake.storage import lake

_lock = threading.Lock()
# delta uri -> (version, dataset): one entry per table, the latest version seen.
_cache: dict[str, tuple[int, ds.Dataset]] = {}


def current_dataset(settings: Settings, name: str) -> tuple[ds.Dataset, int | None]:
    """The table at its current version as a lazy dataset (nothing read yet) and that
    version (None: never written)."""
    delta_table = lake.open_table(settings, name)
    if delta_table is None:
        return ds.dataset(lake.table_for(name).arrow_schema().empty_table()), None
    version = delta_table.version()
    uri = lake.delta_uri(settings, name)
    with _lock:
        cached = _cache.get(uri)
    if cached is not None and cached[0] == version:
        return cached[1], version
    dataset = delta_table.to_pyarrow_dataset()
    with _lock:
        _cache[uri] = (version, dataset)
    return dataset, version


def table_versions(settings: Settings) -> dict[str, int | None]:
    """The current version of every table (what the cached reads are keyed by)."""
    versions: dict[str, int | None] = {}
    for table in ALL_TABLES:
        delta_table = lake.open_table(settings, table.name)
        versions[table.name] = None if delta_table is None else delta_table.version()
    return versions


def _institution_rows(dataset: ds.Dataset, institution_id: str) -> pa.Table:
    """One institution's rows, read a batch at a time: memory holds those rows and one batch,
    never the whole table. (Filtering in the scan itself fails on tables whose files mix
    ``string`` and ``string_view`` columns, as delta-rs merges write them.)"""
    schema = dataset.schema
    kept = []
    for batch in dataset.to_batches():
        batch = batch.cast(schema) if batch.schema != schema else batch
        kept.append(batch.filter(pc.equal(batch.column("institution_id"), institution_id)))
    return pa.Table.from_batches(kept, schema)


def institution_connection(settings: Settings, institution_id: str) -> duckdb.DuckDBPyConnection:
    """DuckDB with every table registered under its own name, holding one institution's rows."""
    connection = duckdb.connect()
    for table in ALL_TABLES:
        if "institution_id" not in table.column_names:
            continue  # a table that cannot be scoped is not shown at all
        dataset, _ = current_dataset(settings, table.name)
        scoped = _institution_rows(dataset, institution_id)
        connection.register(table.name, scoped)
    return connection
