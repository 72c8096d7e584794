"""Run the stream path's background processes: webcam and screen detectors and the lander.

``python -m realtime.workers`` starts one webcam detector, one screen detector and the Delta
lander, each in its own process; ``--detectors N`` / ``--screens N`` start more members of
those consumer groups (Kafka spreads the partitions among them); ``--only KIND`` runs one
kind. A lone process (``--only detectors`` with one detector) runs in this process itself,
so a test can kill exactly it. The screen OCR and the lander run at a lower CPU priority
than the webcam detectors, whose alerts have a two-second budget. SIGTERM or Ctrl-C stops
everything after the batch in hand is committed; a child whose parent died stops too.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import multiprocessing
import os
import signal
import threading

from proctorlake.core.settings import load_settings
from realtime.workers.detector_worker import run_worker
from realtime.workers.screen_worker import run_screen_worker
from realtime.workers.topic_lander import run_lander

KINDS = ("detectors", "screens", "lander")
NICENESS = {"detectors": 0, "screens": 10, "lander": 5}
"""Added niceness per kind: the latency-critical webcam path gets the CPU first."""


def _run_kind(kind: str, stop: threading.Event) -> None:
    settings = load_settings()
    if NICENESS[kind]:
        os.nice(NICENESS[kind])
    if kind == "detectors":
        run_worker(settings, stop)
    elif kind == "screens":
        run_screen_worker(settings, stop)
    else:
        run_lander(settings, stop)


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
    counts = {"detectors": args.detectors, "screens": args.screens, "lander": 1}
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
