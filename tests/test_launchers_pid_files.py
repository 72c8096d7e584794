"""``proctorlake down`` signals only the process it started, never one that inherited its PID."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from proctorlake.app import launchers
from proctorlake.app.pid_files import identify, read_pid_file, recorded_process
from proctorlake.core.settings import Settings

SLEEPER = (sys.executable, "-m", "timeit", "-n", "1", "import time; time.sleep(120)")
"""An unrelated program with ``-m`` in its command line, as every service has."""


@pytest.fixture
def unrelated_process() -> Iterator[subprocess.Popen]:
    process = subprocess.Popen(SLEEPER, start_new_session=True)
    try:
        yield process
    finally:
        process.kill()
        process.wait(timeout=10)


def _api_spec(settings: Settings) -> launchers.ServiceSpec:
    (spec,) = [s for s in launchers.service_specs(settings) if s.name == "api"]
    return spec


def _wait_exit(process: subprocess.Popen, timeout_s: float) -> int | None:
    """The exit status, or None if still running after ``timeout_s``. A bounded negative
    check: no event tells "never signalled", but a wrongly signalled process dies at once,
    and a correct run passes whatever the wait (it can only miss a bug, never flake)."""
    try:
        return process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return None


def test_identify_tells_this_process_by_start_time_and_command_line() -> None:
    me = identify(os.getpid())
    assert me is not None and me.pid == os.getpid()
    assert me.argv == tuple(sys.orig_argv)
    assert me.start_ticks > 0
    assert identify(os.getpid()) == me


def test_down_never_signals_a_reused_pid(
    settings: Settings, unrelated_process: subprocess.Popen
) -> None:
    spec = _api_spec(settings)
    settings.run_dir.mkdir(parents=True)
    pid_file = settings.run_dir / "api.pid"
    reused = identify(unrelated_process.pid)
    assert reused is not None
    # The API once ran as this PID; it died and the kernel gave the PID to another program.
    pid_file.write_text(
        json.dumps(
            {"pid": reused.pid, "start_ticks": reused.start_ticks - 1, "argv": list(spec.argv)}
        )
    )
    assert launchers.status(settings, spec).running is False
    assert launchers.stop(settings, spec, timeout_s=2) == "stale pid file removed"
    assert not pid_file.exists()
    assert _wait_exit(unrelated_process, timeout_s=1) is None, "an unrelated process was killed"


def test_down_never_signals_the_pid_of_an_old_bare_pid_file(
    settings: Settings, unrelated_process: subprocess.Popen
) -> None:
    spec = _api_spec(settings)
    settings.run_dir.mkdir(parents=True)
    pid_file = settings.run_dir / "api.pid"
    pid_file.write_text(str(unrelated_process.pid))
    assert launchers.stop(settings, spec, timeout_s=2) == "stale pid file removed"
    assert not pid_file.exists()
    assert _wait_exit(unrelated_process, timeout_s=1) is None, "an unrelated process was killed"


def test_down_stops_the_process_it_started(settings: Settings) -> None:
    spec = launchers.ServiceSpec("sleeper", SLEEPER, url=None, health_path=None)
    started = launchers.start(settings, spec)
    assert started.running and started.pid is not None
    recorded = read_pid_file(settings.run_dir / "sleeper.pid")
    assert recorded is not None and recorded.argv == SLEEPER
    assert launchers.stop(settings, spec, timeout_s=20) == "stopped"
    deadline = time.monotonic() + 10
    while identify(started.pid) is not None:
        assert time.monotonic() < deadline, "the service outlived stop()"
        time.sleep(0.05)
    assert recorded_process(settings.run_dir / "sleeper.pid") is None
    assert launchers.stop(settings, spec) == "not running"
