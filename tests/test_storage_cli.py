"""``proctorlake storage`` subcommands through their real argument parser."""

from __future__ import annotations

import argparse
import json

import pytest

from proctorlake.app.storage_cli import add_storage_parser, run_storage_command
from proctorlake.core.settings import Settings


def _run(settings: Settings, *argv: str) -> int:
    parser = argparse.ArgumentParser(prog="proctorlake")
    add_storage_parser(parser.add_subparsers(dest="cmd"))
    return run_storage_command(parser.parse_args(["storage", *argv]), settings)


def test_hold_retention_and_quality_from_the_command_line(
    settings: Settings, aged_session_factory, capsys: pytest.CaptureFixture
) -> None:
    aged_session_factory(settings, "cli-old", "uni-a", 800)
    aged_session_factory(settings, "cli-held", "uni-a", 800)

    assert _run(settings, "hold", "cli-held", "--reason", "case 5", "--actor", "ad-1") == 0
    assert "hold placed by ad-1" in capsys.readouterr().out
    assert _run(settings, "hold", "cli-held", "--reason", "case 5") == 2
    assert "already under legal hold" in capsys.readouterr().err
    assert _run(settings, "holds", "--json") == 0
    assert [h["session_id"] for h in json.loads(capsys.readouterr().out)] == ["cli-held"]

    assert _run(settings, "retention", "--dry-run", "--json") == 0
    dry = json.loads(capsys.readouterr().out)
    assert dry["would_purge"] == ["cli-old"] and dry["held"] == ["cli-held"]

    assert _run(settings, "retention") == 0
    out = capsys.readouterr().out
    assert "purged cli-old (uni-a)" in out and "kept under legal hold: cli-held" in out

    # The recordings are 320x240 at 5 fps: below the floor, listed for auditors.
    assert _run(settings, "quality") == 0
    out = capsys.readouterr().out
    assert "cli-held  webcam  resolution 320x240 < 1280x720; frame rate 5 < 15 fps" in out
    assert "cli-old" not in out  # purged with everything else of the session

    assert _run(settings, "release", "cli-held", "--reason", "closed", "--json") == 0
    assert json.loads(capsys.readouterr().out)["action"] == "released"
    assert _run(settings, "release", "no-such", "--reason", "x") == 2
