"""``proctorlake storage ...``: legal holds, retention, bucket lifecycle, storage estimate.

Wired into ``proctorlake.app.cli`` with :func:`add_storage_parser` and :func:`run_storage_command`.
Progress goes to stderr; ``--json`` prints machine-readable results on stdout.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from dataclasses import asdict

from proctorlake.core.settings import Settings


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _print_json(value: object) -> None:
    print(json.dumps(value, indent=2, default=str))


def add_storage_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "storage", help="legal holds, retention, bucket lifecycle rules and the storage estimate"
    )
    sub = parser.add_subparsers(dest="storage_cmd", required=True, metavar="STORAGE_COMMAND")

    for name, help_text in (
        ("hold", "place a session under legal hold (retention never purges it)"),
        ("release", "lift a session's legal hold"),
    ):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("session_id")
        p.add_argument("--reason", required=True, help="case reference (no personal data)")
        p.add_argument("--actor", default=None, help="acting admin (default: the OS user)")
        p.add_argument("--json", action="store_true")

    p = sub.add_parser("holds", help="list sessions under legal hold (--history: every event)")
    p.add_argument("--history", action="store_true")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("retention", help="purge expired, un-held sessions through erasure now")
    p.add_argument("--dry-run", action="store_true", help="only list what would be purged")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("quality", help="sessions whose recording is below 1280x720 at 15 fps")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("lifecycle", help="print (and --apply) the S3 bucket lifecycle rules")
    p.add_argument("--apply", action="store_true", help="set them and tag existing objects")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("estimate", help="storage the retention policy implies")
    p.add_argument("--sessions", type=int, required=True, help="sessions per exam window")
    p.add_argument("--hours", type=float, required=True, help="hours per exam")
    p.add_argument("--windows-per-year", type=float, required=True)
    p.add_argument("--years", type=float, help="retention in years (default: the policy's)")
    p.add_argument("--json", action="store_true")
    return parser


def _hold(args: argparse.Namespace, settings: Settings) -> int:
    from proctorlake.governance.legal_holds import place_hold, release_hold

    action = place_hold if args.storage_cmd == "hold" else release_hold
    event = action(settings, args.session_id, args.reason, args.actor or getpass.getuser())
    if args.json:
        _print_json(event.to_json())
    else:
        print(f"{event.session_id}: hold {event.action} by {event.actor} ({event.reason})")
    return 0


def _holds(args: argparse.Namespace, settings: Settings) -> int:
    from proctorlake.governance.legal_holds import current_holds, hold_history

    events = hold_history(settings) if args.history else list(current_holds(settings).values())
    if args.json:
        _print_json([e.to_json() for e in events])
        return 0
    for e in events:
        print(f"{e.event_at:%Y-%m-%d %H:%M}  {e.session_id}  {e.action}  {e.actor}  {e.reason}")
    print(f"({len(events)} {'events' if args.history else 'sessions under hold'})")
    return 0


def _retention(args: argparse.Namespace, settings: Settings) -> int:
    from proctorlake.governance.retention import run_retention

    report = run_retention(settings, dry_run=args.dry_run, progress=_say)
    if args.json:
        _print_json(report.to_json())
        return 1 if report.failed else 0
    if args.dry_run:
        print(f"would purge {len(report.would_purge)}: {' '.join(report.would_purge) or '-'}")
    for item in report.purged:
        print(
            f"purged {item['session_id']} ({item['institution_id']}): {item['rows_removed']} rows,"
            f" {item['objects_removed']} objects, certificate {item['erasure_request_id']}"
        )
    for item in report.failed:
        print(f"FAILED {item['session_id']}: {item['error']}")
    print(f"kept under legal hold: {' '.join(report.held) or '-'}")
    return 1 if report.failed else 0


def _quality(args: argparse.Namespace, settings: Settings) -> int:
    from proctorlake.services.recording_quality import sessions_below_floor

    rows = sessions_below_floor(settings)
    if args.json:
        _print_json(rows)
        return 0
    for r in rows:
        print(f"{r['institution_id']}  {r['session_id']}  {r['track']}  {r['issues']}")
    print(f"({len(rows)} session tracks below {rows[0]['floor'] if rows else 'the floor'})")
    return 0


def _lifecycle(args: argparse.Namespace, settings: Settings) -> int:
    from proctorlake.governance.legal_holds import current_holds
    from proctorlake.governance.retention_policy import load_retention_policy
    from proctorlake.governance.storage_policy import (
        apply_lifecycle,
        lifecycle_rules,
        tag_all_sessions,
    )

    policy = load_retention_policy(settings)
    rules = lifecycle_rules(policy)
    result: dict = {"bucket": settings.s3_bucket, "rules": rules, "applied": False}
    if args.apply:
        result["rules"] = apply_lifecycle(settings, policy)
        result["applied"] = True
        _say("tagging stored objects with their retention class ...")
        held = set(current_holds(settings))
        result["tagged"] = tag_all_sessions(settings, policy, held)
    elif settings.storage_backend != "s3":
        _say("note: this installation stores locally; the rules apply to an S3 bucket")
    if args.json:
        _print_json(result)
    else:
        print(json.dumps({"Rules": result["rules"]}, indent=2))
        if args.apply:
            tagged = result["tagged"]
            print(
                f"applied to s3://{settings.s3_bucket}; tagged {tagged['objects']} objects of "
                f"{tagged['sessions']} sessions ({tagged['held_sessions']} held)"
            )
    return 0


def _estimate(args: argparse.Namespace, settings: Settings) -> int:
    from proctorlake.governance.retention_policy import load_retention_policy
    from proctorlake.governance.storage_policy import (
        estimate_storage,
        human_bytes,
        measured_rate,
        seed_arithmetic,
    )

    years = args.years or load_retention_policy(settings).default_days / 365
    rate = measured_rate(settings)
    estimate = estimate_storage(args.sessions, args.hours, args.windows_per_year, years, rate)
    if args.json:
        _print_json(estimate.to_json() | {"measured": asdict(rate), "seed": seed_arithmetic()})
        return 0
    kbps = rate.bytes_per_hour * 8 / 3600 / 1000
    basis = f"{rate.sessions} sessions, {rate.recorded_hours:.2f} h" if rate.sessions else "none"
    print(f"rate: {kbps:,.0f} kbit/s = {human_bytes(rate.bytes_per_hour)} per hour")
    print(f"      {rate.source}; basis: {basis}")
    print(f"per session ({args.hours:g} h): {human_bytes(estimate.bytes_per_session)}")
    print(f"per window ({args.sessions:,} sessions): {human_bytes(estimate.bytes_per_window)}")
    print(f"per year ({args.windows_per_year:g} windows): {human_bytes(estimate.bytes_per_year)}")
    print(f"kept ({years:g} years of retention): {human_bytes(estimate.bytes_retained)}")
    for line in seed_arithmetic():
        print(line)
    return 0


_HANDLERS = {
    "hold": _hold,
    "release": _hold,
    "holds": _holds,
    "retention": _retention,
    "quality": _quality,
    "lifecycle": _lifecycle,
    "estimate": _estimate,
}


def run_storage_command(args: argparse.Namespace, settings: Settings) -> int:
    """Run ``proctorlake storage <command>``; rejected input prints one line and returns 2."""
    from proctorlake.governance.legal_holds import HoldError
    from proctorlake.governance.retention_policy import RetentionPolicyError

    try:
        return _HANDLERS[args.storage_cmd](args, settings)
    except (HoldError, RetentionPolicyError, ValueError) as exc:
        _say(f"error: {exc}")
        return 2
