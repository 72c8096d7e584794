"""Security review #11: dashboard queries filter and limit in DuckDB, never load whole tables."""

from __future__ import annotations

import pyarrow.dataset as ds

from dashboards import lakehouse as dashboard_lake
from dashboards import queries


def test_security_11_dashboard_scans_only_the_institutions_rows(lakehouse):
    connection = dashboard_lake.institution_connection(lakehouse.settings, "uni-south")
    dataset, _ = dashboard_lake.current_dataset(lakehouse.settings, "exam_sessions")
    assert isinstance(dataset, ds.Dataset)  # lazy: nothing of the table is held in memory
    # the scan DuckDB reads is the institution-filtered dataset
    scanned = connection.execute("select institution_id, count(*) from exam_sessions group by 1")
    assert scanned.fetchall() == [("uni-south", 3)]


def test_security_11_session_review_list_is_a_bounded_page(lakehouse):
    connection = dashboard_lake.institution_connection(lakehouse.settings, "uni-north")
    everything = queries.sessions_for_review(connection)
    assert len(everything) == 4
    pages = [queries.sessions_for_review(connection, limit=3, offset=o) for o in (0, 3)]
    assert [len(p) for p in pages] == [3, 1]
    assert [s for p in pages for s in p["session_id"]] == list(everything["session_id"])
    assert len(queries.erasure_requests(connection, limit=1)) == 1
