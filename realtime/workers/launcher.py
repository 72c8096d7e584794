"""Run the stream path's background processes: detectors, lander, integrity rules, gateway
recorder and sampler.

``python -m realtime.workers`` starts one webcam detector, one screen detector, the Delta
lander, the integrity worker (the exam page's browser events), the gateway recorder and the
gateway sampler (:mod:`realtime.workers.gateway_recorder`,
:mod:`realtime.workers.gateway_sampler`), each in its own process; ``--detectors N`` /
``--screens N`` start more members of those consumer groups (Kafka spreads the partitions
among them); ``--only KIND`` runs one kind. A lone process (``--only detectors`` with one
detector) runs in this process itself, so a test can kill exactly it. The screen OCR and the
lander run at a lower CPU priority than the webcam detectors (whose alerts have a two-second
budget) and the gateway's recorder and sampler. SIGTERM or Ctrl-C stops everything after the
batch in hand is committed; a child whose parent died stops too.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import multiprocessing
import os
import signal
import threading
from importlib import import_module

from proctorlake.core.settings import load_settings

KINDS = ("detectors", "screens", "lander", "integrity", "recorder", "sampler")
NICENESS = {"detectors": 0, "screens": 10, "lander": 5, "integrity": 0, "recorder": 0, "sampler": 0}
"""Added niceness per kind: the latency-critical webcam path gets the CPU first."""


ENTRY_POINTS = {
    "detectors": "realtime.workers.detector_worker:run_worker",
    "screens": "realtime.workers.screen_worker:run_screen_worker",
    "lander": "realtime.workers.topic_lander:run_lander",
    "integrity": "realtime.workers.integrity_worker:run_integrity_worker",
    "recorder": "realtime.workers.gateway_recorder:run_recorder",
    "sampler": "realtime.workers.gateway_sampler:run_sampler",
}
"""Imported only in the process that runs the kind: the recorder, sampler and lander do not
load torch and the face models (seconds of start-up and hundreds of MB each)."""


def _run_kind(kind: str, stop: threading.Event) -> None:
    settings = load_settings()
    if NICENESS[kind]:
        os.nice(NICENESS[kind])
    module, function = ENTRY_POINTS[kind].split(":")
    getattr(import_module(module), function)(settings, stop)


def _watch_parent(parent_pid: int, stop: threading.Event) -> None:
    while not stop.wait(0.5):
        if os.getppid() != parent_pid:
            stop.set()


def _child(kind: str, parent_pid: int) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("kafka").setLevel(logging.WARNING)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    threading.Thread(target=_watch_parent, args=(parent_pid, stop), daemon=True).start()
    with contextlib.suppress(KeyboardInterrupt):
        _run_kind(kind, stop)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m realtime.workers.launcher", description=__doc__
    )
    parser.add_argument("--detectors", type=int, default=1, help="webcam detector processes")
    parser.add_argument("--screens", type=int, default=1, help="screen detector processes")
    parser.add_argument("--only", choices=KINDS, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("kafka").setLevel(logging.WARNING)
    counts = {
        "detectors": args.detectors,
        "screens": args.screens,
        "lander": 1,
        "integrity": 1,
        "recorder": 1,
        "sampler": 1,
    }
    plan = [kind for kind in KINDS if args.only in (None, kind) for _ in range(counts[kind])]
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    if len(plan) == 1:
        with contextlib.suppress(KeyboardInterrupt):
            _run_kind(plan[0], stop)
        return
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=_child, args=(kind, os.getpid()), name=kind) for kind in plan
    ]
    for process in processes:
        process.start()
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.join(timeout=30)


if __name__ == "__main__":
    main()
