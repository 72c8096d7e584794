"""``proctorlake demo``: a sample exam window end to end on the embedded defaults.

Starts the local services, renders seeded recordings from real face photos that installed
packages ship, ingests them, runs the Dagster analysis (Spark -> Delta) for every session,
and prints the incidents with their video timestamps and where to look next.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from proctorlake.settings import Settings


@dataclass(frozen=True)
class DemoOptions:
    sessions: int = 2
    duration_s: float = 90.0
    start_services: bool = True
    institution_id: str = "demo-university"
    exam_id: str = "demo-exam-101"


def demo_session_ids(options: DemoOptions) -> list[str]:
    return [f"demo-{options.exam_id}-{i:03d}" for i in range(options.sessions)]


def render_and_ingest(
    settings: Settings, options: DemoOptions, say: Callable[[str], None]
) -> list[str]:
    """Render one recording per session (distinct faces, seeded) and ingest it."""
    from proctorlake.ingest import SessionIdentity, ingest_recording, session_exists
    from proctorlake.samples.faces import FACE_NAMES
    from proctorlake.samples.webcam import WebcamScript, demo_exam_script, make_webcam_recording

    ingested = []
    with tempfile.TemporaryDirectory(prefix="proctorlake-demo-") as tmp:
        for i, session_id in enumerate(demo_session_ids(options)):
            if session_exists(settings, session_id):
                say(f"[{i + 1}/{options.sessions}] {session_id} already ingested")
                ingested.append(session_id)
                continue
            base = demo_exam_script(options.duration_s, seed=i)
            face = FACE_NAMES[i % len(FACE_NAMES)]
            second = FACE_NAMES[(i + 1) % len(FACE_NAMES)]
            script = WebcamScript(base.segments, face, second, background_seed=i)
            path = Path(tmp) / f"{session_id}.webm"
            say(
                f"[{i + 1}/{options.sessions}] rendering {options.duration_s:.0f} s webcam ({face})"
            )
            make_webcam_recording(path, script, seed=i, codec="libvpx")
            identity = SessionIdentity(
                session_id,
                f"student-{i:03d}",
                options.exam_id,
                options.institution_id,
                student_name=f"Demo Student {i:03d}",
                student_email=f"student{i:03d}@demo-university.example",
            )
            ingest_recording(settings, identity, path, progress=lambda m: say(f"    {m}"))
            ingested.append(session_id)
    return ingested


def run_dagster_analysis(
    settings: Settings, session_ids: list[str], say: Callable[[str], None]
) -> None:
    """Materialize the analysis assets per session in the instance the Dagster UI reads."""
    from dagster import DagsterInstance, materialize

    from dagster_project.definitions import defs
    from dagster_project.partitions import session_partitions
    from dagster_project.resources import ProctorLakeResource
    from proctorlake.services import dagster_home

    home = dagster_home(settings)
    home.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(home)
    instance = DagsterInstance.get()
    instance.add_dynamic_partitions(session_partitions.name, session_ids)
    assets = list(defs.assets)
    resource = ProctorLakeResource(home=str(settings.home))
    for i, session_id in enumerate(session_ids):
        started = time.monotonic()
        result = materialize(
            assets,
            partition_key=session_id,
            instance=instance,
            resources={"proctorlake": resource},
            tags={"source": "proctorlake-demo"},
        )
        state = "ok" if result.success else "FAILED"
        say(
            f"[{i + 1}/{len(session_ids)}] Dagster run {result.run_id[:8]} for {session_id}: "
            f"{state} in {time.monotonic() - started:.0f} s"
        )
        if not result.success:
            raise RuntimeError(f"analysis of {session_id} failed; see the run in the Dagster UI")


def incident_rows(settings: Settings, session_ids: list[str]) -> list[tuple]:
    from proctorlake.lake import duckdb_connection

    placeholders = ", ".join("?" for _ in session_ids)
    return (
        duckdb_connection(settings)
        .execute(
            "select session_id, incident_type, severity, round(start_s, 1), round(end_s, 1), "
            f"round(confidence, 2) from incidents where session_id in ({placeholders}) "
            "order by session_id, start_s",
            session_ids,
        )
        .fetchall()
    )


def run_demo(settings: Settings, options: DemoOptions, say: Callable[[str], None]) -> dict:
    from proctorlake import lake

    started = time.monotonic()
    if options.start_services:
        from proctorlake.cli import main as cli_main

        cli_main(["up"])
    lake.ensure_all_tables(settings)
    say("== recording and ingesting the sample exam window")
    session_ids = render_and_ingest(settings, options, say)
    say("== batch analysis through Dagster (Spark -> Delta)")
    run_dagster_analysis(settings, session_ids, say)
    rows = incident_rows(settings, session_ids)
    return {
        "sessions": session_ids,
        "incidents": [
            dict(
                zip(
                    ("session_id", "type", "severity", "start_s", "end_s", "confidence"),
                    r,
                    strict=True,
                )
            )
            for r in rows
        ],
        "elapsed_s": round(time.monotonic() - started, 1),
    }
