"""gunicorn's config module for the ingest benchmark (``-c python:bench.ingest_gunicorn``).

Kept apart from the apps so the master imports nothing of the service: each worker loads
its own app, as without ``--preload`` in a deployment.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

# The folder where each worker leaves a file once its app is loaded (set by the bench).
READY_DIR_VAR = "INGEST_BENCH_READY_DIR"


def post_worker_init(worker: Any) -> None:
    """After the worker has loaded the app and before it serves."""
    folder = os.environ.get(READY_DIR_VAR)
    if folder:
        (Path(folder) / f"worker-{worker.pid}").touch()
