"""Background services the local mode starts (API, detector workers, Dagster, Streamlit).

Each service is a detached process with a PID file and a log under ``PROCTORLAKE_HOME/run``.
Starting twice is harmless; a stale PID file (process gone or PID reused) is replaced.
The Kafka broker has its own lifecycle in ``proctorlake.storage.broker``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from proctorlake.core.settings import REPO_ROOT, Settings


class ServiceError(RuntimeError):
    """A service did not start or stop as asked; the message names its log."""


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    argv: tuple[str, ...]
    url: str | None
    health_path: str | None
    env: tuple[tuple[str, str], ...] = ()

    @property
    def health_url(self) -> str | None:
        return f"{self.url}{self.health_path}" if self.url and self.health_path else None


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    running: bool
    pid: int | None
    url: str | None
    log: Path


def dagster_home(settings: Settings) -> Path:
    """DAGSTER_HOME for the local mode, created with an (empty) instance config."""
    home = settings.home / "dagster"
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").touch()  # defaults: run and event storage in this folder
    return home


def service_specs(settings: Settings) -> list[ServiceSpec]:
    """The local services in start order."""
    python = sys.executable
    api = f"http://{settings.api_host}:{settings.api_port}"
    dagster = f"http://127.0.0.1:{settings.dagster_port}"
    dashboard = f"http://127.0.0.1:{settings.dashboard_port}"
    specs = [
        ServiceSpec("api", (python, "-m", "realtime.api.serve"), api, "/healthz"),
        ServiceSpec("workers", (python, "-m", "realtime.workers.launcher"), None, None),
        ServiceSpec(
            "dagster",
            (
                python,
                "-m",
                "dagster_webserver",
                "-w",
                str(REPO_ROOT / "workspace.yaml"),
                "-h",
                "127.0.0.1",
                "-p",
                str(settings.dagster_port),
            ),
            dagster,
            "/server_info",
            (("DAGSTER_HOME", str(dagster_home(settings))),),
        ),
        ServiceSpec(
            "dashboard",
            (
                python,
                "-m",
                "streamlit",
                "run",
                str(REPO_ROOT / "dashboards" / "Home.py"),
                "--server.port",
                str(settings.dashboard_port),
                "--server.address",
                "127.0.0.1",
                "--server.headless",
                "true",
                "--browser.gatherUsageStats",
                "false",
            ),
            dashboard,
            "/_stcore/health",
        ),
    ]
    return specs


def _pid_file(settings: Settings, name: str) -> Path:
    return settings.run_dir / f"{name}.pid"


def _log_file(settings: Settings, name: str) -> Path:
    return settings.run_dir / f"{name}.log"


def _alive(pid: int, argv: tuple[str, ...]) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    # A reused PID belongs to some other program: compare the command line.
    return any(arg.encode() in cmdline for arg in argv[1:3])


def status(settings: Settings, spec: ServiceSpec) -> ServiceStatus:
    pid_path = _pid_file(settings, spec.name)
    pid = int(pid_path.read_text()) if pid_path.exists() else None
    running = pid is not None and _alive(pid, spec.argv)
    return ServiceStatus(
        spec.name, running, pid if running else None, spec.url, _log_file(settings, spec.name)
    )


def start(settings: Settings, spec: ServiceSpec, timeout_s: float = 120.0) -> ServiceStatus:
    current = status(settings, spec)
    if current.running:
        return current
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    env = os.environ.copy() | dict(spec.env) | {"PROCTORLAKE_HOME": str(settings.home)}
    log = _log_file(settings, spec.name)
    with open(log, "ab") as out:
        process = subprocess.Popen(
            spec.argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=REPO_ROOT,
            env=env,
            start_new_session=True,
        )
    _pid_file(settings, spec.name).write_text(str(process.pid))
    if spec.health_url:
        _wait_http(spec, process, log, timeout_s)
    return status(settings, spec)


def _wait_http(spec: ServiceSpec, process: subprocess.Popen, log: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServiceError(f"{spec.name} exited with {process.returncode}; see {log}")
        try:
            with urllib.request.urlopen(spec.health_url, timeout=2):
                return
        except (TimeoutError, urllib.error.URLError, OSError):
            time.sleep(0.5)
    raise ServiceError(
        f"{spec.name} did not answer at {spec.health_url} in {timeout_s:.0f} s; see {log}"
    )


def stop(settings: Settings, spec: ServiceSpec, timeout_s: float = 20.0) -> bool:
    current = status(settings, spec)
    _pid_file(settings, spec.name).unlink(missing_ok=True)
    if not current.running or current.pid is None:
        return False
    os.killpg(current.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and _alive(current.pid, spec.argv):
        time.sleep(0.2)
    if _alive(current.pid, spec.argv):
        os.killpg(current.pid, signal.SIGKILL)
    return True
