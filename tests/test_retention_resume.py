"""A retention run killed in the middle of a purge is finished by the next run."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from proctorlake.core.settings import Settings
from proctorlake.governance.retention import retention_log, run_retention
from proctorlake.storage import lake

# Dies hard (no cleanup, like a killed worker) right after the erasure's first table step.
CRASHING_RUN = textwrap.dedent(
    """
    import logging, os
    from proctorlake.governance.retention import run_retention
    from proctorlake.core.settings import load_settings

    class DieAfterFirstTable(logging.Handler):
        def emit(self, record):
            if str(getattr(record, "step", "")).startswith("delta:"):
                os._exit(9)

    erasure_log = logging.getLogger("proctorlake.governance.erasure")
    erasure_log.setLevel(logging.INFO)
    erasure_log.addHandler(DieAfterFirstTable())
    run_retention(load_settings())
    """
)


def test_killed_purge_is_completed_by_the_next_run(
    settings: Settings, aged_session_factory
) -> None:
    aged_session_factory(settings, "crash-old", "uni-a", 800)
    aged_session_factory(settings, "crash-young", "uni-a", 2)

    crashed = subprocess.run(
        [sys.executable, "-c", CRASHING_RUN],
        env=os.environ | {"PROCTORLAKE_HOME": str(settings.home)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert crashed.returncode == 9, crashed.stderr[-2000:]
    [row] = retention_log(settings)
    assert (row["session_id"], row["status"]) == ("crash-old", "started")
    assert (settings.objects_root / "sessions" / "crash-old").exists()  # half done

    report = run_retention(settings)

    assert report.resumed == ["crash-old"]
    assert [p["session_id"] for p in report.purged] == ["crash-old"]
    assert not (settings.objects_root / "sessions" / "crash-old").exists()
    [row] = retention_log(settings)
    assert row["status"] == "purged" and row["objects_removed"] > 0
    certificate = lake.duckdb_connection(settings).execute(
        "select certificate_json from erasure_log where request_id = ?",
        [row["erasure_request_id"]],
    )
    assert '"noop":false' in certificate.fetchone()[0].replace(" ", "")
    for table in ("exam_sessions", "media_chunks"):
        assert lake.read_table(settings, table).column("session_id").to_pylist() == ["crash-young"]
    assert run_retention(settings).purged == []
