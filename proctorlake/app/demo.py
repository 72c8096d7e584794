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

from proctorlake.core.settings import Settings

LIVE_SESSION_S = 90.0
"""The streamed session stays short whatever the window size: it shows the live path."""


@dataclass(frozen=True)
class DemoOptions:
    sessions: int = 2
    duration_s: float = 90.0
    render_fps: int = 15  # a big window renders at 5 fps (stored at 5 fps: no padded frames)
    start_services: bool = True
    institution_id: str = "demo-university"
    exam_id: str = "demo-exam-101"


def demo_session_ids(options: DemoOptions) -> list[str]:
    return [f"demo-{options.exam_id}-{i:03d}" for i in range(options.sessions)]


@dataclass(frozen=True)
class RenderedSession:
    session_id: str
    index: int
    face: str
    webcam: Path
    screen: Path


def render_session(
    options: DemoOptions, index: int, session_id: str, out_dir: Path
) -> RenderedSession:
    """One session's seeded webcam (real faces) and screen recordings (a worker process)."""
    from proctorlake.samples.faces import FACE_NAMES
    from proctorlake.samples.screen import demo_screen_segments, make_screen_recording
    from proctorlake.samples.webcam import WebcamScript, demo_exam_script, make_webcam_recording

    base = demo_exam_script(options.duration_s, seed=index)
    face = FACE_NAMES[index % len(FACE_NAMES)]
    second = FACE_NAMES[(index + 1) % len(FACE_NAMES)]
    script = WebcamScript(base.segments, face, second, background_seed=index)
    webcam = Path(out_dir) / f"{session_id}.webm"
    screen = Path(out_dir) / f"{session_id}-screen.mp4"
    make_webcam_recording(webcam, script, seed=index, fps=options.render_fps, codec="libvpx")
    make_screen_recording(screen, demo_screen_segments(options.duration_s), seed=index)
    return RenderedSession(session_id, index, face, webcam, screen)


def render_workers(sessions: int) -> int:
    """Processes rendering recordings while the main process ingests: one per core, so a
    big window's synthetic recordings (the stand-in for uploads) do not serialise on one."""
    return max(1, min(sessions, os.cpu_count() or 1))


def render_and_ingest(
    settings: Settings, options: DemoOptions, say: Callable[[str], None]
) -> list[str]:
    """Render one recording per session (distinct faces, seeded) and ingest it.

    Renders run in worker processes; each finished one is ingested here, in session order."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from proctorlake.services.ingest import SessionIdentity, ingest_recording, session_exists

    ids = demo_session_ids(options)
    todo = []
    for i, sid in enumerate(ids):
        if session_exists(settings, sid):
            say(f"[{i + 1}/{options.sessions}] {sid} already ingested")
        else:
            todo.append((i, sid))
    minutes = options.duration_s / 60
    workers = render_workers(len(todo))
    with (
        tempfile.TemporaryDirectory(prefix="proctorlake-demo-") as tmp,
        ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool,
    ):
        if todo:
            say(
                f"rendering {len(todo)} x {minutes:.1f} min webcam + screen recordings "
                f"({workers} processes)"
            )
        futures = [pool.submit(render_session, options, i, sid, Path(tmp)) for i, sid in todo]
        for future in futures:
            done = future.result()
            i = done.index
            say(f"[{i + 1}/{options.sessions}] ingesting {done.session_id} ({done.face})")
            identity = SessionIdentity(
                done.session_id,
                f"student-{i:03d}",
                options.exam_id,
                options.institution_id,
                student_name=f"Demo Student {i:03d}",
                student_email=f"student{i:03d}@demo-university.example",
            )
            ingest_recording(
                settings, identity, done.webcam, done.screen, progress=lambda m: say(f"    {m}")
            )
            done.webcam.unlink()
            done.screen.unlink()
    return ids


def stream_through_realtime(
    settings: Settings, options: DemoOptions, say: Callable[[str], None]
) -> tuple[str, list[dict]]:
    """One exam session as a student's browser runs it: headless Chromium opens the exam page
    with a scripted camera and publishes through the media gateway, which records it (chunks
    in the object layout) and samples one frame a second for the detector workers (live
    alerts); the session ends after ``LIVE_SESSION_S``. Returns the session id and the
    incidents the proctors' live feed showed."""
    from proctorlake.app.exam_browser import ExamBrowser
    from proctorlake.app.exam_client import ExamClient, ProctorLiveFollower
    from proctorlake.samples.webcam import demo_exam_script, render_webcam_frames, write_y4m
    from proctorlake.storage.gateway import raw_recording_dir
    from realtime.api.auth import issue_token

    api = f"http://{settings.api_host}:{settings.api_port}"
    staff = issue_token(settings, "demo-proctor", "proctor", options.institution_id)
    client = ExamClient(api, staff)
    feed = ProctorLiveFollower(api, staff).start()
    session = client.create_session(options.exam_id, "student-live", options.institution_id)
    session_id = session["session_id"]
    claim_in_dagster(settings, [session_id])
    seen = 0

    def show_alerts() -> None:
        nonlocal seen
        for event in feed.events[seen:]:
            say(
                f"    live alert: {event['incident_type']} ({event['severity']}, "
                f"{event['state']}) at {event.get('start_s', '?')} s"
            )
        seen = len(feed.events)

    with tempfile.TemporaryDirectory(prefix="proctorlake-demo-live-") as tmp:
        script = demo_exam_script(LIVE_SESSION_S, seed=100)
        camera = write_y4m(
            Path(tmp) / "camera.y4m", render_webcam_frames(script, seed=100, fps=5), 5
        )
        url = f"{api}/exam#session={session_id}&token={session['token']}"
        say(f"session {session_id}: headless Chromium publishes it through the media gateway")
        with ExamBrowser(url, camera, settings.run_dir / "demo-browser.log"):
            deadline = time.monotonic() + LIVE_SESSION_S
            while time.monotonic() < deadline:
                time.sleep(1)
                show_alerts()
            client.end_session(session)
            raw = raw_recording_dir(settings, session_id)
            waited = time.monotonic() + 60
            while list(raw.glob("*.mjr")) and time.monotonic() < waited:
                time.sleep(0.5)  # the gateway recorder stores the last chunk
    time.sleep(3)  # let the workers close the session's open incidents
    feed.stop()
    client.close()
    show_alerts()
    return session_id, list(feed.events)


def claim_in_dagster(settings: Settings, session_ids: list[str]) -> None:
    """The demo analyses its sessions in-process: keep the daemon's sensor off them."""
    from dagster import DagsterInstance

    from dagster_project.runs import claim_sessions
    from proctorlake.app.launchers import dagster_home

    os.environ["DAGSTER_HOME"] = str(dagster_home(settings))
    with DagsterInstance.get() as instance:
        claim_sessions(instance, session_ids)


def run_dagster_analysis(
    settings: Settings, session_ids: list[str], say: Callable[[str], None]
) -> None:
    """Materialize each session's partition (with its blocking quality checks) in the
    instance the Dagster UI reads, then the institution statistics."""
    from dagster import DagsterInstance

    from dagster_project.runs import analyze_in_dagster
    from proctorlake.app.launchers import dagster_home

    os.environ["DAGSTER_HOME"] = str(dagster_home(settings))
    runs = analyze_in_dagster(
        settings, session_ids, DagsterInstance.get(), say, tags={"source": "proctorlake-demo"}
    )
    failed = [r for r in runs if not r.success]
    if failed:
        raise RuntimeError(
            "analysis failed for " + ", ".join(f"{r.session_id} ({r.error})" for r in failed)
        )


def incident_rows(settings: Settings, session_ids: list[str]) -> list[tuple]:
    from proctorlake.storage.lake import duckdb_connection

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


def where_to_look(settings: Settings, options: DemoOptions) -> list[str]:
    from dashboards.admins import add_account
    from dashboards.links import sign_in_url
    from realtime.api.auth import issue_token

    add_account(settings, "demo-admin", options.institution_id, None)  # create or replace
    api = f"http://{settings.api_host}:{settings.api_port}"
    dashboard = f"http://127.0.0.1:{settings.dashboard_port}"
    proctor = issue_token(
        settings, "demo-proctor", "proctor", options.institution_id, ttl_s=8 * 3600
    )
    return [
        "Where to look:",
        f"  Dagster UI (lineage, runs, checks):  http://127.0.0.1:{settings.dagster_port}",
        f"  Proctor live page:                   {api}/proctor#token={proctor}",
        f"  Admin dashboard (sign-in link, 1 h): "
        f"{sign_in_url(settings, 'demo-admin', dashboard, ttl_s=3600)}",
        f"  API docs:                            {api}/docs",
        '  Analysts: .venv/bin/proctorlake sql -c "select detection_type, count(*) '
        'from detection_events group by 1"',
        "  Stop the services: .venv/bin/proctorlake down",
    ]


def run_demo(settings: Settings, options: DemoOptions, say: Callable[[str], None]) -> dict:
    from proctorlake.storage import lake

    started = time.monotonic()
    if options.start_services:
        from proctorlake.app.cli import main as cli_main

        cli_main(["up"])
        if not settings.spark_remote:
            from proctorlake.storage.spark_session import connect_url

            # The analysis attaches to the warm Spark Connect server `up` started, as the
            # Dagster UI's runs do.
            os.environ["PROCTORLAKE_SPARK_REMOTE"] = connect_url(settings)
    lake.ensure_all_tables(settings)
    claim_in_dagster(settings, demo_session_ids(options))
    live_events: list[dict] = []
    session_ids: list[str] = []
    if options.start_services:
        say("== realtime: one exam session through the API, Kafka and the detector workers")
        live_session, live_events = stream_through_realtime(settings, options, say)
        session_ids.append(live_session)
    say("== recorded sessions: render from real faces and ingest")
    session_ids += render_and_ingest(settings, options, say)
    say("== batch analysis through Dagster (Spark -> Delta)")
    run_dagster_analysis(settings, session_ids, say)
    rows = incident_rows(settings, session_ids)
    columns = ("session_id", "type", "severity", "start_s", "end_s", "confidence")
    return {
        "sessions": session_ids,
        "live_alerts": len(live_events),
        "incidents": [dict(zip(columns, r, strict=True)) for r in rows],
        "where_to_look": where_to_look(settings, options) if options.start_services else [],
        "elapsed_s": round(time.monotonic() - started, 1),
    }
