"""gunicorn's settings file (read from the working directory): a worker that ends is marked dead for
prometheus_client's multiprocess mode, so its live gauges leave /metrics (heatmap_app.metrics)."""

import os

from prometheus_client import multiprocess


def child_exit(server, worker):  # noqa: ANN001, ANN201  (gunicorn's hook signature)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)
