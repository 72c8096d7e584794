"""Raw file access to one Delta table's folder, local or S3, below what Delta itself exposes.

Erasure has to see what Delta hides: data files no longer in the current version, change-data
files, old commit files, and on a versioned bucket the noncurrent object versions that a plain
delete leaves behind.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from proctorlake.core.settings import Settings
from proctorlake.storage.object_store import S3ObjectStore

LOG_DIR = "_delta_log"


class TableFiles:
    """The files under one table's root, as paths relative to it (``part-...parquet``)."""

    def list(self, under: str = "") -> Iterator[str]:
        raise NotImplementedError

    def delete(self, relative: str) -> None:
        raise NotImplementedError

    def read_bytes(self, relative: str) -> bytes:
        raise NotImplementedError

    def age_s(self, relative: str) -> float:
        raise NotImplementedError

    def purge_noncurrent_versions(self) -> int:
        """Remove object versions no reader can reach any more; 0 where there are none."""
        return 0

    def parquet_source(self, relative: str) -> object:
        return io.BytesIO(self.read_bytes(relative))

    def read_column(self, relative: str, column: str) -> pa.Array | None:
        """One column of a parquet file as written (deletion vectors not applied)."""
        parquet = pq.ParquetFile(self.parquet_source(relative))
        if column not in parquet.schema_arrow.names:
            return None
        return parquet.read(columns=[column]).column(column).combine_chunks()


class LocalTableFiles(TableFiles):
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def list(self, under: str = "") -> Iterator[str]:
        start = self.root / under if under else self.root
        if not start.exists():
            return
        for dirpath, _dirs, files in os.walk(start):
            for name in files:
                yield (Path(dirpath) / name).relative_to(self.root).as_posix()

    def delete(self, relative: str) -> None:
        (self.root / relative).unlink(missing_ok=True)

    def read_bytes(self, relative: str) -> bytes:
        return (self.root / relative).read_bytes()

    def parquet_source(self, relative: str) -> object:
        return str(self.root / relative)

    def age_s(self, relative: str) -> float:
        return time.time() - (self.root / relative).stat().st_mtime


class S3TableFiles(TableFiles):
    def __init__(self, settings: Settings, key_prefix: str) -> None:
        self.store = S3ObjectStore(settings)
        self.prefix = key_prefix.rstrip("/") + "/"

    def list(self, under: str = "") -> Iterator[str]:
        for key in self.store.list(self.prefix + under):
            yield key[len(self.prefix) :]

    def delete(self, relative: str) -> None:
        self.store.client.delete_object(Bucket=self.store.bucket, Key=self.prefix + relative)

    def read_bytes(self, relative: str) -> bytes:
        return self.store.get_bytes(self.prefix + relative)

    def age_s(self, relative: str) -> float:
        head = self.store.client.head_object(Bucket=self.store.bucket, Key=self.prefix + relative)
        return time.time() - head["LastModified"].timestamp()

    def purge_noncurrent_versions(self) -> int:
        return purge_noncurrent_versions(self.store, self.prefix)


def purge_noncurrent_versions(store: S3ObjectStore, prefix: str) -> int:
    """Delete every noncurrent version and delete marker under ``prefix``.

    On a versioned bucket a delete only stacks a marker on top: the bytes stay readable by
    version id. What is current (the latest, non-deleted version of a key) is kept.
    """
    removed = 0
    paginator = store.client.get_paginator("list_object_versions")
    versions: list[dict] = []
    markers: list[dict] = []
    for page in paginator.paginate(Bucket=store.bucket, Prefix=prefix):
        for item in page.get("Versions", []):
            if not item["IsLatest"]:
                versions.append({"Key": item["Key"], "VersionId": item["VersionId"]})
        for item in page.get("DeleteMarkers", []):
            markers.append({"Key": item["Key"], "VersionId": item["VersionId"]})
    # Old versions first: removing a marker before them would make one current again.
    doomed = versions + markers
    for start in range(0, len(doomed), 1000):
        batch = doomed[start : start + 1000]
        store.client.delete_objects(Bucket=store.bucket, Delete={"Objects": batch, "Quiet": True})
        removed += len(batch)
    return removed


def table_files(settings: Settings, table: str) -> TableFiles:
    if settings.storage_backend == "s3":
        return S3TableFiles(settings, f"lake/{table}")
    return LocalTableFiles(Path(settings.table_uri(table)))


def lake_table_names(settings: Settings) -> list[str]:
    """Every folder under the lake root that holds a Delta log (declared or not)."""
    if settings.storage_backend == "s3":
        store = S3ObjectStore(settings)
        pages = store.client.get_paginator("list_objects_v2").paginate(
            Bucket=store.bucket, Prefix="lake/", Delimiter="/"
        )
        names = [
            p["Prefix"][len("lake/") :].rstrip("/")
            for page in pages
            for p in page.get("CommonPrefixes", [])
        ]
        return sorted(n for n in names if any(store.list(f"lake/{n}/{LOG_DIR}/")))
    root = Path(settings.lake_root)
    if not root.exists():
        return []
    return sorted(p.name for p in root.iterdir() if (p / LOG_DIR).is_dir())
