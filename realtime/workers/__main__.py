"""``python -m realtime.workers``: the stream path's workers (:mod:`realtime.workers.launcher`)."""

from realtime.workers.launcher import main

main()
