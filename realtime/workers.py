"""Run the stream path's background processes: detector workers and the Delta lander.

``python -m realtime.workers`` starts one detector worker and the lander in this process;
``--detectors N`` starts N detector workers as separate processes (they share the consumer
group, so Kafka spreads the partitions among them); ``--only detectors|lander`` runs one
kind. SIGTERM or Ctrl-C stops them after the batch in hand is committed.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import multiprocessing
import signal
import threading

from proctorlake.settings import load_settings
from realtime.detector_worker import run_worker
from realtime.topic_lander import run_lander


def _detector_process() -> None:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        run_worker(load_settings(), stop)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m realtime.workers", description=__doc__)
    parser.add_argument("--detectors", type=int, default=1, help="detector worker processes")
    parser.add_argument("--only", choices=("detectors", "lander"), default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("kafka").setLevel(logging.WARNING)
    settings = load_settings()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    processes = []
    if args.only in (None, "detectors"):
        context = multiprocessing.get_context("spawn")
        processes = [context.Process(target=_detector_process) for _ in range(args.detectors)]
        for process in processes:
            process.start()
    try:
        if args.only in (None, "lander"):
            run_lander(settings, stop)
        else:
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
