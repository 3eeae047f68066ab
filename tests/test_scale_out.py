"""Scaling out, for real: two capture workers on two other "machines" (network namespaces, each with its own
address and loopback) share one PostgreSQL, one Redis and one S3-compatible bucket (moto's server) with the web
app here. They drain 20 captures between them: every heatmap completed, every snapshot's objects in the bucket
and nothing else there, and nothing left behind — no job, lock or worker record in Redis, no process in either
machine.

The shared services listen on this machine's address on the first namespace's link (reachable from both, as a
LAN address is), PostgreSQL through a relay since it listens on loopback only. Needs root (ip netns) and
PostgreSQL (TEST_DATABASE_URL): a SQLite file is no database two machines can share.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from rq import Queue, Worker
from rq.job import Job
from sqlalchemy.engine import make_url

from heatmap_app.heatmaps import create_heatmap
from heatmap_app.models import SavedHeatmap, User
from heatmap_app.queue import CAPTURE_QUEUE
from tests.support.forward import tcp_forward
from tests.support.netns import Namespace, network_namespace
from tests.support.redis_server import RedisServer, redis_server
from tests.support.s3_server import S3Server, s3_server
from tests.support.site import Site, serve_site
from tests.support.workers import reload

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root"),
    pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="two machines share PostgreSQL, not SQLite"),
]

ROOT = Path(__file__).resolve().parents[1]
CAPTURES = 20


class Machines:
    def __init__(self, first: Namespace, second: Namespace, redis: RedisServer, s3: S3Server, site: Site,
                 database_port: int) -> None:
        self.namespaces = (first, second)
        self.lan = first.host_address  # this machine as the others see it
        self.redis, self.s3, self.site, self.database_port = redis, s3, site, database_port


@pytest.fixture
def machines(database_url: str) -> Iterator[Machines]:
    with ExitStack() as stack:
        first = stack.enter_context(network_namespace())
        second = stack.enter_context(network_namespace())
        lan = first.host_address
        database = make_url(database_url)
        port = stack.enter_context(tcp_forward(lan, (database.host or "127.0.0.1", database.port or 5432)))
        redis = stack.enter_context(redis_server(lan))
        s3 = stack.enter_context(s3_server(lan))
        site = stack.enter_context(serve_site(address=lan))
        yield Machines(first, second, redis, s3, site, port)


@pytest.fixture
def app_config(machines: Machines) -> dict[str, Any]:
    return {"REDIS_URL": machines.redis.url, "CAPTURE_ALLOW_HOSTS": machines.site.host,
            "HEATMAP_CREATE_RATE_LIMIT": "100/minute", **machines.s3.settings("shared")}


def worker_environment(app: Flask, machines: Machines, database_url: str) -> dict[str, str]:
    """What a capture machine's worker.env and common.env say (deploy/env), with this test's addresses."""
    database = make_url(database_url).set(host=machines.lan, port=machines.database_port)
    return {
        **{name: value for name, value in os.environ.items() if not name.startswith("PROMETHEUS")},
        "SECRET_KEY": app.config["SECRET_KEY"],
        "DATABASE_URL": database.render_as_string(hide_password=False),
        "REDIS_URL": machines.redis.url,
        "CAPTURE_ALLOW_HOSTS": machines.site.host,
        "SE_OFFLINE": "true",
        **{name: str(value) for name, value in machines.s3.settings("shared").items()},
    }


def test_two_workers_on_two_machines_drain_twenty_captures_into_the_shared_bucket(
    app: Flask, user: User, machines: Machines, database_url: str, tmp_path: Path
) -> None:
    heatmaps = [create_heatmap(user.current_project, user, {"url": machines.site.url("hero-100vh.html"),
                                                             "name": f"page {n}", "widths": [375, 1024]})
                for n in range(CAPTURES)]
    environment = worker_environment(app, machines, database_url)
    logs = [tmp_path / f"worker-{n}.log" for n in range(2)]
    workers = []
    for namespace, log in zip(machines.namespaces, logs, strict=True):
        with log.open("wb") as output:
            workers.append(namespace.popen([sys.executable, "-m", "flask", "--app", "wsgi", "worker", "--burst"],
                                           cwd=ROOT, env=environment, stdout=output, stderr=subprocess.STDOUT))
    try:
        for worker, log in zip(workers, logs, strict=True):
            assert worker.wait(timeout=600) == 0, log.read_text()
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()

    connection = machines.redis.client()
    jobs = Job.fetch_many([f"capture-{heatmap.id}-{heatmap.capture_generation}" for heatmap in heatmaps],
                          connection=connection)
    assert {job.get_status() for job in jobs} == {"finished"}
    assert len({job.worker_name for job in jobs}) == 2, "both machines should have captured"

    expected_keys = set()
    bucket = machines.s3.client()
    for heatmap in heatmaps:
        done: SavedHeatmap = reload(heatmap.id)
        assert done.status == "completed", (done.exception, logs[0].read_text(), logs[1].read_text())
        assert sorted(snapshot.width for snapshot in done.snapshots) == [375, 1024]
        for snapshot in done.snapshots:
            stored = bucket.get_object(Bucket=machines.s3.bucket, Key=f"shared/{snapshot.file_path}")["Body"].read()
            assert hashlib.sha256(stored).hexdigest() == snapshot.content_hash
            expected_keys |= {f"shared/{snapshot.file_path}", f"shared/{snapshot.thumbnail_path}"}
    assert set(machines.s3.keys()) == expected_keys  # every object has its row, and no object is left over

    queue = Queue(CAPTURE_QUEUE, connection=connection)
    assert queue.count == 0 and queue.failed_job_registry.count == 0
    assert Worker.all(connection=connection) == []
    assert list(connection.scan_iter("heatmap:capture-lock:*")) == []
    for namespace in machines.namespaces:
        assert namespace.pids() == [], f"processes left in {namespace.name}"
