"""Erase sessions from Delta tables so that no byte of their rows survives anywhere.

Per table, in this order:
1. ``DELETE ... WHERE session_id IN (...)``. Only session ids ever appear in a predicate: the
   student id, name and email never reach the transaction log (tables also keep personal
   columns out of per-file statistics, see ``schemas.Table.personal_columns``).
2. Deletion vectors: a live file can still hold deleted rows behind a deletion vector (Spark
   deletes that way when the table enables them). Such files are found by reading them as
   written and rewritten with Spark's ``REORG ... APPLY (PURGE)``.
3. Targeted vacuum instead of a zero-hour ``VACUUM``: delete exactly the data files (and
   change-data files) outside the current version that hold the erased sessions: the files
   our DELETE replaced, older tombstoned copies, orphans of crashed writers. A blanket
   zero-retention VACUUM would also delete the uncommitted files of a writer in flight and
   corrupt its commit; files that were already replaced in a committed version are never
   touched by writers, so deleting only those is safe for writers. A reader still holding
   the version before the erasure gets "file not found" and must reload: by design, since
   what it would read is erased.
4. Seal the history: a checkpoint at the current version, then every older log file
   (commits, checksums, checkpoints) deleted. Statistics in old commits (which could hold a
   personal value if a table was ever written without ``personal_columns`` excluded) are
   gone, and time travel to any version before the erasure fails instead of pointing at
   vanished files. The last commit (the DELETE, naming session ids only) stays: writers
   need it to find the current version.
5. On a versioned bucket, purge the noncurrent object versions and delete markers under the
   table, or the bytes would stay readable by version id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable
from deltalake.exceptions import TableNotFoundError

from proctorlake.core.schemas import ALL_TABLES, ERASURE_LOG, LEGAL_HOLDS, RETENTION_LOG
from proctorlake.core.settings import Settings
from proctorlake.governance.erasure.table_files import (
    LOG_DIR,
    TableFiles,
    lake_table_names,
    table_files,
)
from proctorlake.storage import lake
from proctorlake.storage.delta_predicates import column_in

LAYER_ORDER = {"bronze": 0, "silver": 1, "gold": 2, "audit": 3}
# Audit tables that must outlive the sessions they talk about; they hold no personal data
# (ids, hashed student ids, reasons and actors only).
KEPT_TABLES = frozenset({ERASURE_LOG.name, LEGAL_HOLDS.name, RETENTION_LOG.name})
UNREADABLE_ORPHAN_GRACE_S = 3600  # a writer in flight finishes its files well within this
_LOG_VERSION = re.compile(r"^(\d{20})\.")


class ErasureIncomplete(RuntimeError):
    """Rows of an erased session are still readable after the table step: never certify."""


@dataclass(frozen=True)
class TableRef:
    name: str
    layer: str


def tables_in_erasure_order(settings: Settings) -> list[TableRef]:
    """Every table that can hold session rows, bronze first, then silver, gold, audit.

    Tables found in the lake but not declared in ``proctorlake.core.schemas`` are included too
    (last), so a store added later is not silently skipped.
    """
    layers = {t.name: t.layer for t in ALL_TABLES if "session_id" in t.column_names}
    without_sessions = {t.name for t in ALL_TABLES} - set(layers)
    names = set(layers) | (set(lake_table_names(settings)) - without_sessions)
    refs = [TableRef(n, layers.get(n, "undeclared")) for n in names if n not in KEPT_TABLES]
    return sorted(refs, key=lambda r: (LAYER_ORDER.get(r.layer, len(LAYER_ORDER)), r.name))


def open_delta(settings: Settings, name: str) -> DeltaTable | None:
    try:
        return DeltaTable(
            lake.delta_uri(settings, name), storage_options=lake.storage_options(settings)
        )
    except TableNotFoundError:
        return None


def _has_session_column(dt: DeltaTable, column: str = "session_id") -> bool:
    return any(f.name == column for f in dt.schema().fields)


def _session_filter(session_ids: list[str], column: str = "session_id") -> pc.Expression:
    return pc.field(column).isin(pa.array(session_ids, pa.string()))


def count_session_rows(settings: Settings, name: str, session_ids: list[str]) -> int:
    """Rows of these sessions in the table's current version (0 if absent)."""
    dt = open_delta(settings, name)
    if dt is None or not _has_session_column(dt) or not session_ids:
        return 0
    return dt.to_pyarrow_dataset().count_rows(filter=_session_filter(session_ids))


def rows_by_session(settings: Settings, name: str, session_ids: list[str], columns: list[str]):
    """The sessions' rows (selected columns) as an Arrow table, or None if the table is absent."""
    dt = open_delta(settings, name)
    if dt is None or not _has_session_column(dt):
        return None
    available = [c for c in columns if c in {f.name for f in dt.schema().fields}]
    return dt.to_pyarrow_dataset().to_table(columns=available, filter=_session_filter(session_ids))


def _live_paths(dt: DeltaTable) -> set[str]:
    actions = pa.table(dt.get_add_actions(flatten=True))
    return {unquote(p) for p in actions.column("path").to_pylist()}


def _live_paths_in_range(dt: DeltaTable, ids: pa.Array, column: str = "session_id") -> list[str]:
    """Live files whose statistics on ``column`` do not rule out the erased values."""
    rows = pa.table(dt.get_add_actions(flatten=True)).to_pylist()
    wanted = ids.to_pylist()
    low, high = f"min.{column}", f"max.{column}"
    return [
        unquote(row["path"])
        for row in rows
        if row.get(low) is None
        or row.get(high) is None
        or any(row[low] <= s <= row[high] for s in wanted)
    ]


def _holds_sessions(
    files: TableFiles, relative: str, ids: pa.Array, column: str = "session_id"
) -> bool:
    values = files.read_column(relative, column)
    return values is not None and pc.any(pc.is_in(values, value_set=ids)).as_py() is True


def _uses_deletion_vectors(dt: DeltaTable) -> bool:
    protocol = dt.protocol()
    return "deletionVectors" in (protocol.reader_features or [])


def _purge_deletion_vectors(settings: Settings, name: str) -> None:
    from proctorlake.storage.spark_session import get_spark

    spark = get_spark(settings)
    spark.sql(f"REORG TABLE delta.`{settings.table_uri(name)}` APPLY (PURGE)")


def _purge_dead_files(
    files: TableFiles,
    live_before: set[str],
    live_after: set[str],
    ids: pa.Array,
    column: str = "session_id",
) -> tuple[int, int]:
    """Delete non-current data files that held the sessions; returns (purged, unreadable kept)."""
    purged = kept = 0
    for relative in list(files.list()):
        if relative.startswith(LOG_DIR + "/") or not relative.endswith(".parquet"):
            continue
        if relative in live_after:
            continue
        if relative not in live_before:
            try:
                if not _holds_sessions(files, relative, ids, column):
                    continue
            except Exception:
                # A file no reader can parse: an in-flight write while young, debris when old.
                if files.age_s(relative) < UNREADABLE_ORPHAN_GRACE_S:
                    kept += 1
                    continue
        files.delete(relative)
        purged += 1
    return purged, kept


def _seal_history(settings: Settings, name: str, files: TableFiles) -> int:
    """Checkpoint the current version and drop every older log file.

    Returns the first version still readable. The current version's own commit stays (a
    writer needs it to find the table's version): after a DELETE it is the DELETE, whose
    predicate names session ids only.
    """
    dt = open_delta(settings, name)
    dt.create_checkpoint()
    first = dt.version()
    for relative in list(files.list(LOG_DIR + "/")):
        leaf = relative.rsplit("/", 1)[-1]
        match = _LOG_VERSION.match(leaf)
        if match and int(match.group(1)) < first:
            files.delete(relative)
    return first


def erase_sessions_from_table(settings: Settings, name: str, session_ids: list[str]) -> dict:
    """Run the five steps above on one table; idempotent, so a resumed request re-runs it."""
    return erase_rows_from_table(settings, name, "session_id", session_ids)


def erase_rows_from_table(settings: Settings, name: str, column: str, values: list[str]) -> dict:
    """The five steps for the rows whose ``column`` is one of ``values`` (session ids, or the
    keyed student hash of a per-student table such as ``accommodations``)."""
    dt = open_delta(settings, name)
    if dt is None or not _has_session_column(dt, column):
        return {"rows_deleted": 0, "files_purged": 0, "table_present": dt is not None}
    files = table_files(settings, name)
    ids = pa.array(sorted(set(values)), pa.string())
    live_before = _live_paths(dt)
    deleted = 0
    if dt.to_pyarrow_dataset().count_rows(filter=_session_filter(values, column)):
        predicate = column_in(column, ids.to_pylist())
        deleted = int(dt.delete(predicate)["num_deleted_rows"])
        dt = open_delta(settings, name)
    if _uses_deletion_vectors(dt) and any(
        _holds_sessions(files, p, ids, column) for p in _live_paths_in_range(dt, ids, column)
    ):
        _purge_deletion_vectors(settings, name)
        dt = open_delta(settings, name)
    live_after = _live_paths(dt)
    purged, unreadable_kept = _purge_dead_files(files, live_before, live_after, ids, column)
    first_version = _seal_history(settings, name, files)
    noncurrent = files.purge_noncurrent_versions()
    dt = open_delta(settings, name)
    remaining = dt.to_pyarrow_dataset().count_rows(filter=_session_filter(values, column))
    physically_left = [
        p for p in _live_paths_in_range(dt, ids, column) if _holds_sessions(files, p, ids, column)
    ]
    if remaining or physically_left:
        raise ErasureIncomplete(
            f"{name}: {remaining} rows and {len(physically_left)} files still hold erased rows"
        )
    return {
        "rows_deleted": deleted,
        "files_purged": purged,
        "unreadable_files_kept": unreadable_kept,
        "noncurrent_versions_purged": noncurrent,
        "history_starts_at_version": first_version,
        "table_present": True,
    }
