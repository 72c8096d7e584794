"""The storage estimate from bitrates measured at ingest, beside the seed's arithmetic."""

from __future__ import annotations

import argparse
import json

import pytest

from proctorlake.app.storage_cli import add_storage_parser, run_storage_command
from proctorlake.core.settings import Settings
from proctorlake.governance.storage_policy import (
    SEED_BYTES_PER_HOUR,
    MeasuredRate,
    estimate_storage,
    measured_rate,
    seed_arithmetic,
)


def _estimate(settings: Settings, capsys, *extra: str) -> str:
    parser = argparse.ArgumentParser(prog="proctorlake")
    add_storage_parser(parser.add_subparsers(dest="cmd"))
    argv = ["storage", "estimate", "--sessions", "200000", "--hours", "3"]
    args = parser.parse_args([*argv, "--windows-per-year", "50", *extra])
    assert run_storage_command(args, settings) == 0
    return capsys.readouterr().out


def test_seed_rate_reproduces_the_seed_figures() -> None:
    seed = MeasuredRate(SEED_BYTES_PER_HOUR, 0, 0.0, "seed default")
    estimate = estimate_storage(200_000, 3, 50, 2, seed)
    assert estimate.bytes_per_window == pytest.approx(135e12)
    assert estimate.bytes_retained == pytest.approx(13.5e15)
    lines = seed_arithmetic()
    assert "135.00 TB per window" in lines[0] and "500 kbit/s" in lines[0]
    assert "13.50 PB" in lines[1]
    assert "27 PB" in lines[2] and "2x" in lines[2]


def test_nothing_ingested_falls_back_to_the_stated_default(settings: Settings, capsys) -> None:
    rate = measured_rate(settings)
    assert rate.bytes_per_hour == SEED_BYTES_PER_HOUR and rate.sessions == 0
    out = _estimate(settings, capsys)
    assert "seed default" in out
    assert "per window (200,000 sessions): 135.00 TB" in out


def test_estimate_uses_the_bitrate_measured_at_ingest(
    settings: Settings, aged_session_factory, tmp_path, capsys
) -> None:
    aged_session_factory(settings, "rate-1", "uni-a", 1)
    aged_session_factory(settings, "rate-2", "uni-a", 1)
    sources = [tmp_path / "recordings" / f"rate-{i}.mp4" for i in (1, 2)]  # 1 s each

    rate = measured_rate(settings)

    assert rate.source == "measured at ingest" and rate.sessions == 2
    # Hours are the stored chunks' spans (the last 5 fps frame lasts 1/15 s once at 15 fps).
    assert rate.recorded_hours == pytest.approx(2 * 1.0 / 3600, rel=0.15)
    # What arrived per hour: the sources' bytes over their one-second durations.
    mean_size = sum(s.stat().st_size for s in sources) / 2
    assert rate.bytes_per_hour == pytest.approx(mean_size * 3600, rel=0.05)
    assert rate.bytes_per_hour != SEED_BYTES_PER_HOUR
    printed = json.loads(_estimate(settings, capsys, "--json"))
    assert printed["rate_source"] == "measured at ingest"
    assert printed["bytes_per_window"] == pytest.approx(rate.bytes_per_hour * 3 * 200_000)
    assert printed["years"] == pytest.approx(2, abs=0.01)
