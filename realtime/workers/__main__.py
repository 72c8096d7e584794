"""``python -m realtime.workers`` runs the stream path's workers (see :mod:`realtime.workers.launcher`)."""

from realtime.workers.launcher import main

main()
