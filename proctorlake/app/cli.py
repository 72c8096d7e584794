"""The ``proctorlake`` command line: one entry point for operators, engineers and analysts.

Heavy imports (Spark, dlib, Dagster) happen inside each command so ``--help`` stays fast.
Every command that answers with data has ``--json``; long work prints progress.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from proctorlake.app.storage_cli import add_storage_parser, run_storage_command
from proctorlake.core.settings import Settings, load_settings

Handler = Callable[[argparse.Namespace, Settings], int]
COMMANDS: dict[str, Handler] = {}


def command(name: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        COMMANDS[name] = handler
        return handler

    return register


def say(message: str) -> None:
    """Progress and status go to stderr so stdout stays machine-readable."""
    print(message, file=sys.stderr, flush=True)


def print_json(value: object) -> None:
    print(json.dumps(value, indent=2, default=str))


def print_table(columns: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [[("" if v is None else str(v)) for v in row] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    line = "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))
    print(line)
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))
    print(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")


# --- services -----------------------------------------------------------------------------


@command("up")
def cmd_up(args: argparse.Namespace, settings: Settings) -> int:
    from proctorlake.app import launchers
    from proctorlake.storage import broker, lake
    from proctorlake.storage.jars import resolve_jars

    say("resolving JVM jars (Maven Central) ...")
    resolve_jars(settings)
    nodes = settings.kafka_nodes
    say(f"starting Kafka (KRaft, {nodes} node{'s' if nodes > 1 else ''}) ...")
    status = broker.start_broker(settings)
    for node in status.nodes:
        say(f"  kafka-{node.node_id}   {node.address} pid={node.pid}")
    lake.ensure_all_tables(settings)
    for spec in launchers.service_specs(settings):
        if args.only and spec.name not in args.only:
            continue
        say(f"starting {spec.name} ...")
        state = launchers.start(settings, spec)
        say(f"  {spec.name:<9} {state.url or ''} pid={state.pid} log={state.log}")
    return 0


@command("down")
def cmd_down(args: argparse.Namespace, settings: Settings) -> int:
    from proctorlake.app import launchers
    from proctorlake.storage import broker

    for spec in reversed(launchers.service_specs(settings)):
        outcome = launchers.stop(settings, spec)
        if outcome == "stopped":
            say(f"stopped {spec.name}")
        elif outcome == "stale pid file removed":
            say(f"{spec.name}: not running; removed its stale PID file")
    if broker.stop_broker(settings):
        say("stopped kafka")
    return 0


@command("status")
def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    from proctorlake.app import launchers
    from proctorlake.storage import broker

    kafka = broker.broker_status(settings)
    if kafka.nodes and len(kafka.nodes) > 1:
        rows = [(f"kafka-{n.node_id}", n.running, n.pid, n.address) for n in kafka.nodes]
    else:
        rows = [("kafka", kafka.running, kafka.pid, kafka.bootstrap)]
    for spec in launchers.service_specs(settings):
        state = launchers.status(settings, spec)
        rows.append((spec.name, state.running, state.pid, state.url))
    if args.json:
        print_json(
            [dict(zip(("service", "running", "pid", "address"), r, strict=True)) for r in rows]
        )
    else:
        print_table(("service", "running", "pid", "address"), rows)
    return 0


@command("jars")
def cmd_jars(args: argparse.Namespace, settings: Settings) -> int:
    from proctorlake.storage.jars import resolve_jars

    sets = resolve_jars(settings)
    say(f"jars ready under {settings.jars_dir}")
    if args.json:
        print_json({"spark": [str(p) for p in sets.spark], "kafka": [str(p) for p in sets.kafka]})
    return 0


# --- data in and out ----------------------------------------------------------------------


@command("ingest")
def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from proctorlake.services.ingest import SessionIdentity, ingest_recording

    identity = SessionIdentity(
        args.session, args.student, args.exam, args.institution, args.name, args.email
    )
    manifest = ingest_recording(settings, identity, args.webcam, args.screen, progress=say)
    if args.json:
        print_json(manifest)
    else:
        say(f"stored {len(manifest['chunks'])} chunks for session {args.session}")
    return 0


@command("sql")
def cmd_sql(args: argparse.Namespace, settings: Settings) -> int:
    from proctorlake.storage.lake import duckdb_connection

    connection = duckdb_connection(settings)
    if args.command:
        return _run_query(connection, args.command, args.json)
    say("DuckDB over every ProctorLake Delta table; end statements with ';', quit with .quit")
    buffer = ""
    while True:
        try:
            line = input("proctorlake> " if not buffer else "        ...> ")
        except EOFError:
            return 0
        if line.strip() in (".quit", ".exit", "\\q"):
            return 0
        if line.strip() == ".tables":
            line = "show tables;"
        buffer += line + "\n"
        if buffer.rstrip().endswith(";"):
            try:
                _run_query(connection, buffer, args.json)
            except Exception as exc:  # noqa: BLE001 - a shell reports and continues
                say(f"error: {exc}")
            buffer = ""


def _run_query(connection, query: str, as_json: bool) -> int:
    result = connection.execute(query)
    columns = [d[0] for d in result.description] if result.description else []
    rows = result.fetchall()
    if as_json:
        print_json([dict(zip(columns, row, strict=True)) for row in rows])
    else:
        print_table(columns, rows)
    return 0


# --- models and identity ------------------------------------------------------------------


@command("analyze")
def cmd_analyze(args: argparse.Namespace, settings: Settings) -> int:
    from proctorlake.services.analyze import analyze_recording

    result = analyze_recording(
        args.webcam, args.screen, progress=lambda s: say(f"analysed {s:.0f} s")
    )
    if args.json:
        print_json(result)
    else:
        rows = [
            (f["type"], f["severity"], f["start_s"], f["end_s"], f["confidence"])
            for f in result["flags"]
        ]
        print_table(("type", "severity", "start_s", "end_s", "confidence"), rows)
        say(f"{result['video_seconds']:.0f} s of video analysed")
    return 0


@command("evaluate")
def cmd_evaluate(args: argparse.Namespace, settings: Settings) -> int:
    from proctorlake.app.evaluate import main as evaluate_main

    argv = [str(args.dataset_dir), *(["--json"] if args.json else [])]
    return evaluate_main(argv + (["--cache", str(args.cache)] if args.cache else []))


@command("verify-identity")
def cmd_verify_identity(args: argparse.Namespace, settings: Settings) -> int:
    from proctorlake.app.identity_cli import verify_identity_files

    result = verify_identity_files(
        args.id_photo,
        args.selfie,
        args.burst,
        args.expected_name,
        args.expected_id_number,
        require_liveness=args.require_liveness,
    )
    if args.json:
        print_json(result)
    else:
        verdict = "VERIFIED" if result["verified"] else "NOT VERIFIED (human review)"
        print(f"{verdict}: similarity {result['similarity_score']:.3f}")
        print(f"OCR: name={result['ocr']['name']!r} id={result['ocr']['id_number']!r}")
        print(f"liveness: {result['liveness']}")
    return 0


# --- erasure ------------------------------------------------------------------------------


@command("erase")
def cmd_erase(args: argparse.Namespace, settings: Settings) -> int:
    from proctorlake.governance.erasure.commands import erase_command

    return erase_command(settings, args.student, args.session, args.yes, args.json)


@command("verify-certificate")
def cmd_verify_certificate(args: argparse.Namespace, settings: Settings) -> int:
    from proctorlake.governance.erasure.commands import verify_certificate_command

    return verify_certificate_command(settings, args.file, args.public_key, args.json)


# --- demo and UIs -------------------------------------------------------------------------


@command("demo")
def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from proctorlake.app.demo import DemoOptions, run_demo

    options = DemoOptions(
        sessions=args.sessions,
        duration_s=args.minutes * 60,
        render_fps=args.render_fps,
        start_services=not args.no_services,
    )
    summary = run_demo(settings, options, say)
    if args.json:
        print_json(summary)
        return 0
    print()
    print("Incidents found by the batch analysis (video timestamps in seconds):")
    print_table(
        ("session_id", "type", "severity", "start_s", "end_s", "confidence"),
        [tuple(i.values()) for i in summary["incidents"]],
    )
    print()
    for line in summary["where_to_look"]:
        print(line)
    print(f"\ndemo finished in {summary['elapsed_s']:.0f} s")
    return 0


@command("report")
def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    from proctorlake.services.reports import render_report

    fmt = "json" if args.json else "html" if args.html else "text"
    print(render_report(settings, args.session_id, fmt))
    return 0


@command("dashboard")
def cmd_dashboard(args: argparse.Namespace, settings: Settings) -> int:
    """The dashboard in the foreground (``up`` runs the same service in the background)."""
    import os
    import subprocess

    from proctorlake.app.launchers import service_specs
    from proctorlake.core.settings import REPO_ROOT

    spec = next(s for s in service_specs(settings) if s.name == "dashboard")
    say(f"dashboard on {spec.url} (Ctrl-C stops it)")
    # From the repo root, as `up` does: Streamlit reads .streamlit/config.toml from there.
    env = os.environ | {"PROCTORLAKE_HOME": str(settings.home)}
    return subprocess.call(spec.argv, env=env, cwd=REPO_ROOT)


# --- the parser ---------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="proctorlake", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True, metavar="COMMAND")

    p = sub.add_parser("up", help="start the local broker, API, workers, Dagster and dashboard")
    p.add_argument("--only", nargs="*", help="start only these services (kafka always)")
    nodes_help = "local KRaft nodes (PROCTORLAKE_KAFKA_NODES; give down and status the same)"
    p.add_argument("--kafka-nodes", type=int, help=nodes_help)
    p = sub.add_parser("down", help="stop everything `up` started")
    p.add_argument("--kafka-nodes", type=int, help=nodes_help)
    p = sub.add_parser("status", help="show the local services")
    p.add_argument("--json", action="store_true")
    p.add_argument("--kafka-nodes", type=int, help=nodes_help)
    p = sub.add_parser("jars", help="resolve the JVM jars from Maven Central")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("ingest", help="store a recorded session (chunks, transcode, register)")
    p.add_argument("--session", required=True)
    p.add_argument("--student", required=True)
    p.add_argument("--exam", required=True)
    p.add_argument("--institution", required=True)
    p.add_argument("--name", help="student's display name (personal data; erasable)")
    p.add_argument("--email", help="student's email (personal data; erasable)")
    p.add_argument("--webcam", required=True, type=Path)
    p.add_argument("--screen", type=Path)
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("sql", help="DuckDB over every Delta table (a shell, or -c QUERY)")
    p.add_argument("-c", "--command", help="run one query and print the result")
    p.add_argument("--json", action="store_true", help="print rows as a JSON array")

    p = sub.add_parser("analyze", help="run the detectors on video files and print flags")
    p.add_argument("webcam", type=Path)
    p.add_argument("--screen", type=Path)
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("evaluate", help="score `analyze` against a labelled set")
    p.add_argument("dataset_dir", type=Path)
    p.add_argument("--json", action="store_true")
    p.add_argument(
        "--cache", type=Path, help="keep each clip's observations here (re-score rule changes)"
    )
    p = sub.add_parser("verify-identity", help="face match, OCR and liveness on image files")
    p.add_argument("--id-photo", required=True, type=Path)
    p.add_argument("--selfie", required=True, type=Path)
    p.add_argument("--burst", type=Path, help="folder of selfie burst frames (liveness)")
    p.add_argument("--expected-name")
    p.add_argument("--expected-id-number")
    p.add_argument("--require-liveness", action="store_true", help="refuse without --burst")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("erase", help="GDPR erasure of a student's exam data (signed certificate)")
    p.add_argument("--student", required=True)
    p.add_argument("--session", help="erase only this session of the student")
    p.add_argument("--yes", action="store_true", help="confirm: erasure cannot be undone")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("verify-certificate", help="check an erasure certificate's signature")
    p.add_argument("file", type=Path)
    p.add_argument("--public-key", type=Path, help="PEM of the signing key (default: ours)")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("report", help="a session's incident report with video links")
    p.add_argument("session_id")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true")
    fmt.add_argument("--html", action="store_true")

    p = sub.add_parser("demo", help="run a sample exam window end to end")
    p.add_argument("--sessions", type=int, default=2, help="sessions in the window (default 2)")
    p.add_argument("--minutes", type=float, default=1.5, help="minutes per session (default 1.5)")
    p.add_argument(
        "--render-fps", type=int, default=15, help="frame rate of the rendered recordings"
    )
    p.add_argument("--no-services", action="store_true", help="do not start the local services")
    p.add_argument("--json", action="store_true")
    sub.add_parser("dashboard", help="the Streamlit admin dashboard")
    add_storage_parser(sub)
    return parser


COMMANDS["storage"] = run_storage_command


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "kafka_nodes", None) is not None:
        # The services `up` starts inherit the environment, so they see the same cluster.
        os.environ["PROCTORLAKE_KAFKA_NODES"] = str(args.kafka_nodes)
    settings = load_settings()
    try:
        return COMMANDS[args.cmd](args, settings)
    except KeyboardInterrupt:
        say("interrupted")
        return 130
    except Exception as exc:  # noqa: BLE001 - one clear line instead of a traceback
        if _is_user_error(exc):
            say(f"error: {exc}")
            return 2
        raise


def _is_user_error(exc: Exception) -> bool:
    """Errors about the user's input or data: one line, no traceback."""
    from models.identity_verification import IdentityInputError
    from proctorlake.services.ingest import IngestError
    from proctorlake.storage.video import VideoError

    user_errors = (IngestError, VideoError, IdentityInputError, FileNotFoundError, LookupError)
    return isinstance(exc, user_errors)


if __name__ == "__main__":
    sys.exit(main())
