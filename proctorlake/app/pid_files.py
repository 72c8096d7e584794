"""PID files that name one process, not one PID: a PID is reused once its process is gone.

A file records the PID, the process's start time (field 22 of ``/proc/PID/stat``, clock ticks
since boot) and its exact command line. A process is "ours" only while all three match, so
``proctorlake down`` never signals a program that happens to have been given the same PID
after a crash or a reboot.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ProcessIdentity:
    """What tells one process apart from any later process with the same PID."""

    pid: int
    start_ticks: int
    argv: tuple[str, ...]


def identify(pid: int) -> ProcessIdentity | None:
    """The live process ``pid`` as /proc describes it; None when it is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        raw_argv = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    fields = stat.rsplit(")", 1)[1].split()
    state, start_ticks = fields[0], int(fields[19])
    if state in ("Z", "X"):
        return None
    argv = tuple(arg.decode(errors="replace") for arg in raw_argv.split(b"\0")[:-1])
    return ProcessIdentity(pid, start_ticks, argv)


def write_pid_file(path: Path, pid: int, settle_s: float = 5.0) -> ProcessIdentity:
    """Record the process ``pid`` (just started by us) in ``path``.

    ``Popen`` returns once exec has closed its close-on-exec pipe, which the kernel does
    before it lays out the new program's arguments: for a moment ``/proc/PID/cmdline`` is
    empty (seen with janus). A file recorded then would never match the running program, so
    ``down`` would leave it running; wait (up to ``settle_s``) until the arguments are there.
    """
    identity = identify(pid)
    deadline = time.monotonic() + settle_s
    while identity is not None and not identity.argv and time.monotonic() < deadline:
        time.sleep(0.01)
        identity = identify(pid)
    if identity is None:
        raise ProcessLookupError(f"process {pid} exited before its PID file was written")
    record = {"pid": pid, "start_ticks": identity.start_ticks, "argv": list(identity.argv)}
    path.write_text(json.dumps(record) + "\n")
    return identity


def read_pid_file(path: Path) -> ProcessIdentity | None:
    """The identity recorded in ``path``; None when there is none or it cannot be read (an
    old bare-PID file included: without a start time it cannot be trusted)."""
    try:
        record = json.loads(path.read_text())
        return ProcessIdentity(
            int(record["pid"]), int(record["start_ticks"]), tuple(record["argv"])
        )
    except (OSError, ValueError, TypeError, KeyError):
        return None


def recorded_process(path: Path) -> int | None:
    """The PID recorded in ``path`` if that very process still runs, else None."""
    recorded = read_pid_file(path)
    if recorded is None:
        return None
    return recorded.pid if identify(recorded.pid) == recorded else None
