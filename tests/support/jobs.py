"""Jobs the worker tests enqueue to see what a job's process can reach."""

from flask import current_app

from heatmap_app.queue import redis_connection


def record_app_context(marker: str) -> str:
    redis_connection().set(f"test-worker:{marker}", current_app.config["MEDIA_ROOT"])
    return marker
