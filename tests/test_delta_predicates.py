"""Security review #18: a value holding a quote cannot widen a Delta predicate."""

from __future__ import annotations

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from proctorlake.storage.delta_predicates import (
    UnsafePredicateValue,
    column_equals,
    column_in,
    sql_literal,
)


def _table(path) -> DeltaTable:
    rows = pa.table({"session_id": ["s-1", "s-2", "x' OR '1'='1"], "n": [1, 2, 3]})
    write_deltalake(str(path), rows)
    return DeltaTable(str(path))


def test_security_18_quote_in_value_cannot_widen_delete(tmp_path):
    table = _table(tmp_path / "t")
    hostile = "s-9' OR '1'='1"
    deleted = table.delete(column_in("session_id", [hostile]))["num_deleted_rows"]
    assert deleted == 0
    assert DeltaTable(str(tmp_path / "t")).to_pyarrow_table().num_rows == 3


def test_security_18_quoted_value_matches_only_itself(tmp_path):
    table = _table(tmp_path / "t")
    deleted = table.delete(column_equals("session_id", "x' OR '1'='1"))["num_deleted_rows"]
    assert deleted == 1
    left = DeltaTable(str(tmp_path / "t")).to_pyarrow_table().column("session_id").to_pylist()
    assert sorted(left) == ["s-1", "s-2"]


def test_security_18_backslashes_and_bad_columns_are_refused():
    with pytest.raises(UnsafePredicateValue):
        sql_literal("s-1\\' OR 1=1 --")
    with pytest.raises(UnsafePredicateValue):
        column_in("session_id = session_id OR session_id", ["s-1"])
    assert column_in("session_id", []) == "1 = 0"
    assert column_in("session_id", ["b", "a", "a"]) == "session_id IN ('a', 'b')"
