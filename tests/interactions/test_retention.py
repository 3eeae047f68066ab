"""Heatmap data past its retention is dropped: by the hourly worker job, by the CLI, and from answers at once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from redis import Redis
from rq import Queue, SimpleWorker

from heatmap_app.extensions import db
from heatmap_app.interactions.ingest import Point, store_points
from heatmap_app.interactions.retention import purge_expired
from heatmap_app.models import (
    InteractionDailyCount,
    InteractionDailyVisitor,
    InteractionPage,
    InteractionPoint,
    Project,
)
from heatmap_app.queue import CAPTURE_QUEUE
from tests.interactions.conftest import PAGE, click, heatmap_event


def store_at(project: Project, age: timedelta, *, url: str = PAGE, x: int = 10) -> None:
    """A click stored as if it had arrived `age` ago (ingestion itself refuses what is past retention)."""
    moment = datetime.now(UTC) - age
    point = Point(url=url, type="click", x=x, y=10, target_fixed=False, viewport_width=90, viewport_height=56,
                  session_id="s", distinct_id="d", timestamp=moment)
    store_points(project.id, [point], keep_points_after=moment - timedelta(days=1))
    db.session.execute(db.update(InteractionPage).where(InteractionPage.url == url).values(last_seen_at=moment))
    db.session.commit()


def test_the_purge_keeps_daily_counts_and_raw_points_for_their_own_durations(app: Flask, project: Project) -> None:
    data_days, points_days = app.config["HEATMAP_DATA_RETENTION_DAYS"], app.config["HEATMAP_POINTS_RETENTION_DAYS"]
    store_at(project, timedelta(days=data_days + 2), url="https://shop.example/gone", x=1)
    store_at(project, timedelta(days=points_days + 2), x=2)
    store_at(project, timedelta(hours=1), x=3)

    deleted = purge_expired(app.config)

    assert deleted["interaction_daily_count"] == 1 and deleted["interaction_page"] == 1
    assert deleted["interaction_point"] == 2
    assert sorted(row.x for row in db.session.query(InteractionDailyCount)) == [2, 3]
    assert sorted(row.x for row in db.session.query(InteractionDailyVisitor)) == [2, 3]
    assert [row.x for row in db.session.query(InteractionPoint)] == [3]
    assert [page.url for page in db.session.query(InteractionPage)] == [PAGE]


def test_answers_leave_out_expired_days_before_any_purge(
    app: Flask, project: Project, api_get: Callable[..., Any]
) -> None:
    store_at(project, timedelta(days=app.config["HEATMAP_DATA_RETENTION_DAYS"] + 2))

    assert api_get("heatmaps/", date_from="-1000d").get_json()["results"] == []


def test_ingestion_queues_the_purge_for_the_worker_once_an_hour(
    app: Flask, project: Project, send: Callable[..., Any], redis_conn: Redis
) -> None:
    store_at(project, timedelta(days=app.config["HEATMAP_DATA_RETENTION_DAYS"] + 2), url="https://shop.example/gone")
    send([heatmap_event([click(16, 16)])])
    send([heatmap_event([click(32, 32)])])

    queue = Queue(CAPTURE_QUEUE, connection=redis_conn)
    jobs = [job for job in queue.get_jobs() if job.func_name == "jobs.interactions.purge_expired_heatmap_data"]
    assert len(jobs) == 1

    SimpleWorker([queue], connection=redis_conn).work(burst=True)

    db.session.rollback()
    assert jobs[0].get_status(refresh=True) == "finished"
    assert [page.url for page in db.session.query(InteractionPage)] == [PAGE]


def test_the_cli_purges_too(app: Flask, project: Project) -> None:
    store_at(project, timedelta(days=app.config["HEATMAP_POINTS_RETENTION_DAYS"] + 2))

    result = app.test_cli_runner().invoke(args=["purge-heatmap-data"])

    assert result.exit_code == 0, result.output
    assert "interaction_point: 1 deleted" in result.output
    assert "interaction_daily_count: 0 deleted" in result.output
