"""The capture worker `flask worker` runs: an RQ SimpleWorker that outlives Redis outages, sweeps for stuck
captures between jobs, and whose scheduler process ends with it.

Jobs run in the worker's own process (no fork per job), so the capture browser stays warm between them.
"""

from __future__ import annotations

import ctypes
import os
import signal
import threading
from collections.abc import Sequence
from multiprocessing.process import BaseProcess
from types import FrameType

from flask import current_app
from redis import Redis
from redis.exceptions import RedisError
from rq import SimpleWorker
from rq.defaults import DEFAULT_LOGGING_DATE_FORMAT, DEFAULT_LOGGING_FORMAT
from rq.scheduler import RQScheduler
from sqlalchemy.exc import SQLAlchemyError

from heatmap_app.extensions import db
from heatmap_app.heatmaps import requeue_stuck_captures
from heatmap_app.queue import redis_connection

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
RECONNECT_FIRST_DELAY = 1.0
RECONNECT_MAX_DELAY = 30.0
REAPER_LOCK = "heatmap:reaper-lock"


def end_session() -> None:
    """End the database session of one unit of work (a job, a sweep) in the long-lived worker: roll back what it
    left open and remove it, so the next one starts clean. A connection the database dropped meanwhile fails its
    ROLLBACK; SQLAlchemy has discarded it by then, so the failure is only logged."""
    try:
        db.session.rollback()
    except SQLAlchemyError as error:
        current_app.logger.warning("Discarded a database connection the server had dropped: %s", error)
    db.session.remove()


def end_with_parent(parent_pid: int) -> bool:
    """Have the kernel send this process SIGTERM when its parent dies, SIGKILL included; False if it already has."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    return os.getppid() == parent_pid


class ParentBoundScheduler(RQScheduler):
    """rq's scheduler (it puts retried captures back on the queue once their back-off is over) in a process the
    kernel stops when its worker dies, so a killed worker leaves no scheduler holding the queue's scheduler lock.
    The SIGTERM lands in rq's own handler, which releases the lock on the way out."""

    _parent_pid = 0

    def start(self) -> BaseProcess:
        self._parent_pid = os.getpid()
        return super().start()

    def work(self) -> None:
        self._install_signal_handlers()
        if not end_with_parent(self._parent_pid):
            self.request_stop()
        super().work()


class CaptureWorker(SimpleWorker):
    """A SimpleWorker whose maintenance, every `reaper_interval` seconds between jobs, also re-enqueues heatmaps
    stuck in `processing` without a live job (one worker's sweep per interval, whatever the number of workers)."""

    def __init__(self, queues: Sequence[str], *, connection: Redis, reaper_interval: int) -> None:
        # The blocking dequeue wakes every reaper_interval seconds, so an idle worker sweeps on time too.
        super().__init__(queues, connection=connection, maintenance_interval=reaper_interval,
                         worker_ttl=reaper_interval + 15)
        self.reaper_interval = reaper_interval
        self.stop_requested = False

    def request_stop(self, signum: int, frame: FrameType | None) -> None:
        self.stop_requested = True
        super().request_stop(signum, frame)

    def _start_scheduler(
        self,
        burst: bool = False,
        logging_level: str | None = "INFO",
        date_format: str = DEFAULT_LOGGING_DATE_FORMAT,
        log_format: str = DEFAULT_LOGGING_FORMAT,
    ) -> None:
        # rq 3.0's BaseWorker._start_scheduler, with a ParentBoundScheduler in place of rq's RQScheduler.
        self.scheduler = ParentBoundScheduler(
            self.queues,
            connection=self.connection,
            logging_level=logging_level if logging_level is not None else self.log.level,
            date_format=date_format,
            log_format=log_format,
            serializer=self.serializer,
        )
        self.scheduler.acquire_locks()
        if not self.scheduler.acquired_locks:
            return
        if not burst:
            self.scheduler.start()
            return
        try:
            self.scheduler.register_birth()
            self.scheduler.enqueue_scheduled_jobs()
        finally:
            self.scheduler.release_locks()
            self.scheduler.register_death()

    def run_maintenance_tasks(self) -> None:
        super().run_maintenance_tasks()
        if not self.connection.set(REAPER_LOCK, self.name, nx=True, ex=max(1, self.reaper_interval - 1)):
            return
        try:
            requeued = requeue_stuck_captures()
        except SQLAlchemyError:  # a database that does not answer must not stop the worker: the next sweep tries again
            self.log.exception("Worker %s: the sweep for stuck captures failed", self.name)
        else:
            if requeued:
                self.log.warning("Worker %s: re-enqueued %d stuck capture(s)", self.name, requeued)
        finally:
            end_session()

    def teardown(self) -> None:
        try:
            super().teardown()
        except RedisError:
            # rq unsubscribes after registering the worker's death, which just failed: stop its listener anyway,
            # or every outage would leave a thread behind.
            if self.pubsub_thread is not None:
                self.pubsub_thread.stop()
            raise


def run_worker(queue_names: Sequence[str], *, burst: bool) -> None:
    """Work the queues until stopped (or, with `burst`, until they are empty). Whenever Redis goes away, wait
    for it with back-off and start over with a fresh worker, instead of exiting for good."""
    connection = redis_connection()
    stop = threading.Event()
    while True:
        worker: CaptureWorker | None = None
        try:
            worker = CaptureWorker(queue_names, connection=connection,
                                   reaper_interval=current_app.config["CAPTURE_REAPER_INTERVAL"])
            worker.work(burst=burst, with_scheduler=True)
            lost_redis = False
        except RedisError as error:
            current_app.logger.error("The capture worker lost Redis (%s); it waits for it", error)
            lost_redis = True
        if (worker is not None and worker.stop_requested) or (burst and not lost_redis):
            return
        if not lost_redis:
            current_app.logger.error("The capture worker stopped on the error above; it starts over")
        # rq's handlers belong to the worker that just ended; until the next one starts, a signal ends the wait.
        for signal_number in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signal_number, lambda *_: stop.set())
        if not _wait_for_redis(connection, stop):
            return


def _wait_for_redis(connection: Redis, stop: threading.Event) -> bool:
    """Ping Redis with exponential back-off until it answers (True) or a signal asks to stop (False)."""
    delay = RECONNECT_FIRST_DELAY
    while not stop.wait(delay):
        try:
            connection.ping()
        except RedisError as error:
            delay = min(delay * 2, RECONNECT_MAX_DELAY)
            current_app.logger.warning("Redis does not answer (%s); next try in %.0f s", error, delay)
        else:
            current_app.logger.warning("Redis answers: the capture worker starts over")
            return True
    return False
