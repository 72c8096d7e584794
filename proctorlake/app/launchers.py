"""Background services the local mode starts (media gateway, Spark Connect, API, detector
workers, Dagster, Streamlit).

The Spark Connect server (Spark's own, ``spark-submit`` of its server class) starts first
unless ``PROCTORLAKE_SPARK_REMOTE`` already names one (a cluster's): Dagster is started with
``PROCTORLAKE_SPARK_REMOTE`` pointing at it, so its runs attach as clients to a warm JVM.

Each service is a detached process with a PID file and a log under ``PROCTORLAKE_HOME/run``.
Starting twice is harmless; a stale PID file (process gone or PID reused) is replaced, and
stopping signals only the very process that was started (see :mod:`proctorlake.app.pid_files`).
The Kafka broker has its own lifecycle in ``proctorlake.storage.broker``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from dagster_project.instance import write_instance_config
from proctorlake.app.pid_files import recorded_process, write_pid_file
from proctorlake.core.settings import REPO_ROOT, Settings
from proctorlake.storage import gateway
from proctorlake.storage.spark_session import (
    connect_server_argv,
    connect_server_env,
    connect_url,
)

StopOutcome = Literal["stopped", "not running", "stale pid file removed"]


class ServiceError(RuntimeError):
    """A service did not start or stop as asked; the message names its log."""


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    argv: tuple[str, ...]
    url: str | None
    health_path: str | None
    env: tuple[tuple[str, str], ...] = ()
    tcp_port: int | None = None  # ready when this port on 127.0.0.1 accepts a connection
    # The program replaces itself (spark-submit's scripts exec java, same PID, new command
    # line): its PID file is written again once it is ready, naming the final program.
    execs: bool = False
    # Writes what the process reads (a generated configuration) just before each start.
    prepare: Callable[[Settings], object] | None = None

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
    """DAGSTER_HOME for the local mode: run and event storage in this folder, and the run
    queue of ``dagster_project.instance`` (its limits from the settings)."""
    home = settings.home / "dagster"
    write_instance_config(home, settings)
    return home


def service_specs(settings: Settings) -> list[ServiceSpec]:
    """The local services in start order."""
    python = sys.executable
    api = f"http://{settings.api_host}:{settings.api_port}"
    dagster = f"http://127.0.0.1:{settings.dagster_port}"
    dashboard = f"http://127.0.0.1:{settings.dashboard_port}"
    dagster_env = (("DAGSTER_HOME", str(dagster_home(settings))),)
    specs = [
        ServiceSpec(
            "gateway",
            gateway.janus_argv(settings),
            gateway.gateway_url(settings),
            "/info",
            prepare=gateway.write_config,
        ),
    ]
    if not settings.spark_remote:
        specs.append(
            ServiceSpec(
                "spark",
                tuple(connect_server_argv(settings)),
                connect_url(settings),
                None,
                tuple(connect_server_env(settings).items()),
                tcp_port=settings.spark_connect_port,
                execs=True,
            )
        )
        dagster_env += (("PROCTORLAKE_SPARK_REMOTE", connect_url(settings)),)
    specs += [
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
            dagster_env,
        ),
        # Sensors, schedules, back-fills and the run queue (UI launches and retries included)
        # are the daemon's work; without it every queued run would wait for ever.
        ServiceSpec(
            "dagster-daemon",
            (
                python,
                "-m",
                "dagster._daemon",  # what `dagster dev` starts
                "run",
                "-w",
                str(REPO_ROOT / "workspace.yaml"),
            ),
            None,
            None,
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


def status(settings: Settings, spec: ServiceSpec) -> ServiceStatus:
    pid = recorded_process(_pid_file(settings, spec.name))
    return ServiceStatus(spec.name, pid is not None, pid, spec.url, _log_file(settings, spec.name))


def start(settings: Settings, spec: ServiceSpec, timeout_s: float = 120.0) -> ServiceStatus:
    current = status(settings, spec)
    if current.running:
        return current
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    if spec.prepare is not None:
        spec.prepare(settings)
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
    write_pid_file(_pid_file(settings, spec.name), process.pid)
    if spec.health_url:
        _wait_http(spec, process, log, timeout_s)
    if spec.tcp_port:
        _wait_tcp(spec, process, log, timeout_s)
    if spec.execs:
        write_pid_file(_pid_file(settings, spec.name), process.pid)
    return status(settings, spec)


def _wait_tcp(spec: ServiceSpec, process: subprocess.Popen, log: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServiceError(f"{spec.name} exited with {process.returncode}; see {log}")
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", spec.tcp_port), timeout=2),
        ):
            return
        time.sleep(0.5)
    raise ServiceError(
        f"{spec.name} did not listen on port {spec.tcp_port} in {timeout_s:.0f} s; see {log}"
    )


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


def stop(settings: Settings, spec: ServiceSpec, timeout_s: float = 20.0) -> StopOutcome:
    """SIGTERM the service's process group, SIGKILL after ``timeout_s``. A PID file whose
    process is gone, or whose PID now belongs to another process, is removed unsignalled."""
    pid_path = _pid_file(settings, spec.name)
    pid = recorded_process(pid_path)
    if pid is None:
        if not pid_path.exists():
            return "not running"
        pid_path.unlink()
        return "stale pid file removed"
    os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and recorded_process(pid_path) == pid:
        time.sleep(0.2)
    if recorded_process(pid_path) == pid:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
    pid_path.unlink(missing_ok=True)
    return "stopped"
