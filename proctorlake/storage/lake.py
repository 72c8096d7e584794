"""Delta tables without Spark: create, append, merge and read through delta-rs, and DuckDB views.

Small writers (the API, landing, reviews, erasure logs) use this module; heavy transforms use
Spark (``proctorlake.storage.spark_session``). Both write the same Delta protocol to the same URIs.
Tables are created here, once, with the schemas and properties from ``proctorlake.core.schemas``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import duckdb
import pyarrow as pa
from deltalake import DeltaTable, write_deltalake
from deltalake.exceptions import TableNotFoundError

from proctorlake.core.schemas import ALL_TABLES, TABLES_BY_NAME, Table
from proctorlake.core.settings import Settings


class UnknownTable(KeyError):
    """A table name that is not declared in ``proctorlake.core.schemas``."""


def table_for(name: str) -> Table:
    try:
        return TABLES_BY_NAME[name]
    except KeyError as exc:
        raise UnknownTable(f"no such table {name!r}; known: {sorted(TABLES_BY_NAME)}") from exc


def delta_uri(settings: Settings, table: str) -> str:
    """The table's URI as delta-rs spells it (``s3://`` where Spark says ``s3a://``)."""
    uri = settings.table_uri(table)
    return "s3://" + uri[len("s3a://") :] if uri.startswith("s3a://") else uri


def storage_options(settings: Settings) -> dict[str, str] | None:
    """delta-rs storage options for the configured backend (None for local folders)."""
    if settings.storage_backend != "s3":
        return None
    options = {
        "AWS_REGION": settings.s3_region,
        "AWS_S3_ALLOW_UNSAFE_RENAME": "true",
    }
    if settings.s3_endpoint:
        options["AWS_ENDPOINT_URL"] = settings.s3_endpoint
        options["AWS_ALLOW_HTTP"] = "true"
    if settings.s3_access_key:
        options["AWS_ACCESS_KEY_ID"] = settings.s3_access_key
    if settings.s3_secret_key:
        options["AWS_SECRET_ACCESS_KEY"] = settings.s3_secret_key
    return options


def table_properties(table: Table) -> dict[str, str]:
    """Properties every ProctorLake table is created with."""
    return {"delta.dataSkippingStatsColumns": ",".join(table.stats_columns)}


def ensure_table(settings: Settings, table: Table) -> DeltaTable:
    """Create the table if it does not exist yet (idempotent) and return it."""
    return DeltaTable.create(
        delta_uri(settings, table.name),
        schema=table.arrow_schema(),
        mode="ignore",
        partition_by=list(table.partition_by) or None,
        name=table.name,
        description=table.doc,
        configuration=table_properties(table),
        storage_options=storage_options(settings),
    )


def ensure_all_tables(settings: Settings) -> None:
    for table in ALL_TABLES:
        ensure_table(settings, table)


def to_arrow(table: Table, rows: Iterable[dict]) -> pa.Table:
    """Rows as an Arrow table in the declared schema; unknown keys are an error."""
    rows = list(rows)
    allowed = set(table.column_names)
    for row in rows:
        extra = set(row) - allowed
        if extra:
            raise ValueError(f"{table.name}: unknown columns {sorted(extra)}")
    return pa.Table.from_pylist(rows, schema=table.arrow_schema())


def append_rows(settings: Settings, table: Table, rows: Sequence[dict]) -> int:
    """Append rows (creating the table on first use); returns how many were written."""
    if not rows:
        return 0
    ensure_table(settings, table)
    write_deltalake(
        delta_uri(settings, table.name),
        to_arrow(table, rows),
        mode="append",
        storage_options=storage_options(settings),
    )
    return len(rows)


def merge_rows(
    settings: Settings,
    table: Table,
    rows: Sequence[dict],
    key_columns: Sequence[str],
    keep_on_update: Sequence[str] = (),
) -> dict:
    """Upsert rows by key (replays and retries never duplicate); returns delta-rs metrics.
    ``keep_on_update`` columns are written on insert only (a review status a later state of
    the same row must not reset)."""
    if not rows:
        return {}
    dt = ensure_table(settings, table)
    predicate = " AND ".join(f"t.{k} = s.{k}" for k in key_columns)
    merge = dt.merge(
        to_arrow(table, rows),
        predicate=predicate,
        source_alias="s",
        target_alias="t",
    )
    if keep_on_update:
        updates = {c: f"s.{c}" for c in table.column_names if c not in keep_on_update}
        merge = merge.when_matched_update(updates)
    else:
        merge = merge.when_matched_update_all()
    return merge.when_not_matched_insert_all().execute()


def open_table(settings: Settings, name: str) -> DeltaTable | None:
    """The table at its current version, or None if nothing was written yet."""
    table_for(name)
    try:
        return DeltaTable(delta_uri(settings, name), storage_options=storage_options(settings))
    except TableNotFoundError:
        return None


def read_table(settings: Settings, name: str) -> pa.Table:
    """The table's current rows (an empty table in the declared schema if never written)."""
    dt = open_table(settings, name)
    if dt is None:
        return table_for(name).arrow_schema().empty_table()
    return dt.to_pyarrow_table()


def duckdb_connection(settings: Settings) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with every Delta table registered as a view.

    Tables are registered through deltalake's Arrow dataset, which reads only the files of
    the current version; globbing the parquet files would also return deleted rows.
    """
    connection = duckdb.connect()
    for table in ALL_TABLES:
        dt = open_table(settings, table.name)
        source = dt.to_pyarrow_dataset() if dt is not None else table.arrow_schema().empty_table()
        connection.register(table.name, source)
    return connection
