"""Benchmark of the heatmap data: ingestion through gunicorn, and `heatmaps/` over 1 M and 10 M stored points.

    .venv/bin/python bench/heatmap_data.py [--seconds 15] [--clients 8] [--sizes 1000000,10000000]
                                           [--postgres postgresql://postgres@127.0.0.1:5432/postgres]

Ingestion: a throw-away install (SQLite in a temp folder, and PostgreSQL when --postgres is given), gunicorn
started as `make run` starts it (`--workers 2`, access log on), and `--clients` threads posting
posthog-js-shaped batches (gzip, 10 `$$heatmap` events of 10 points) for `--seconds`: points/s and the
latency of a batch (p50/p99).

Query: the same tables filled in bulk (executemany on SQLite, COPY on PostgreSQL) with synthetic visits
(clustered clicks, mouse moves, rage and dead clicks, one scroll depth per visit, 8 screen widths, 30 days),
first to the smallest size, then topped up to each next size; at each size `GET …/heatmaps/` is timed
in-process through the real view (auth included), 30 times after 3 warm-ups. Every database, server and
temp folder it makes is removed on exit; Redis db 14 is used and flushed.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = "redis://127.0.0.1:6379/14"
PAGE = "https://shop.example/pricing"
# Screen widths and heights of a typical mix of phones, tablets, laptops and desktops, with their weights.
SCREENS = ((390, 844, 30), (414, 896, 10), (768, 1024, 8), (1280, 720, 10), (1366, 768, 10), (1440, 900, 17),
           (1536, 864, 5), (1920, 1080, 10))
PAGE_HEIGHT = 5000
HOTSPOTS = 40
VISITORS = 200_000
DAYS = 30
CHUNK = 200_000
RAW_COLUMNS = ("page_id", "type", "x", "y", "pointer_target_fixed", "viewport_width", "viewport_height", "session_id",
               "distinct_id", "timestamp", "scale_factor")
sys.path.insert(0, str(ROOT))

from bench.servers import free_port, listening  # noqa: E402


# --- a throw-away install -------------------------------------------------------------------------


@contextmanager
def postgres_database(server_url: str) -> Iterator[str]:
    import psycopg

    name = f"heatmap_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield server_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(server_url, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def environment_for(folder: Path, database_url: str) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": database_url, "MEDIA_ROOT": str(folder / "media"), "REDIS_URL": REDIS_URL,
            "SECRET_KEY": "bench-secret-key-bench-secret-key-0000",
            # The limiter stays in the path (one Redis round trip a batch) but does not throttle the benchmark.
            "HEATMAP_INGEST_RATE_LIMIT": "1000000/second", "HEATMAP_DATA_RETENTION_DAYS": "90"}


def prepare_install(environment: dict[str, str]) -> Any:
    """A migrated database; the app, a read key and the project of the queried data, and another project's token
    for the ingestion run (so its batches do not add to the data the queries read)."""
    os.environ.update(environment)
    from flask_migrate import upgrade
    from redis import Redis

    from heatmap_app import create_app
    from heatmap_app.accounts import create_api_key, create_user

    Redis.from_url(REDIS_URL).flushdb()
    app = create_app()
    with app.app_context():
        upgrade()
        user = create_user("bench@example.com", "bench password 1")
        sender = create_user("ingest@example.com", "bench password 1")
        raw_key = create_api_key(user, "bench", ["heatmap:read"])[1]
        return app, sender.current_project.api_token, raw_key, user.current_project_id


# --- synthetic visits -----------------------------------------------------------------------------


class Visits:
    """Deterministic visits to one page: clustered clicks, mouse moves, rage/dead clicks, one scroll depth each."""

    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed)
        layout = random.Random(1)  # the page's layout is the same whatever the seed
        self.hotspots = {width: [(layout.uniform(0.05, 0.95) * width, layout.betavariate(1.2, 3) * PAGE_HEIGHT)
                                 for _ in range(HOTSPOTS)] for width, _, _ in SCREENS}
        self.screens = [screen[:2] for screen in SCREENS]
        self.weights = [screen[2] for screen in SCREENS]
        self.today = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)

    def _near_hotspot(self, width: int, spread: float) -> tuple[float, float]:
        x, y = self.random.choice(self.hotspots[width])
        return max(0.0, self.random.gauss(x, spread)), max(0.0, self.random.gauss(y, spread))

    def points(self, count: int) -> Iterator[tuple[Any, ...]]:
        """(type, x, y, fixed, viewport width, viewport height, session, visitor, timestamp), in px."""
        made = 0
        rand = self.random
        while made < count:
            width, height = rand.choices(self.screens, self.weights)[0]
            visitor = f"visitor-{rand.randrange(VISITORS)}"
            session = uuid.UUID(int=rand.getrandbits(128)).hex
            moment = self.today - timedelta(days=rand.randrange(DAYS), seconds=rand.randrange(86_400))
            visit = [("click", *self._near_hotspot(width, 12)) for _ in range(rand.randint(1, 4))]
            visit += [("mousemove", *self._near_hotspot(width, 80)) for _ in range(rand.randint(3, 8))]
            if rand.random() < 0.05:
                x, y = self._near_hotspot(width, 6)
                visit += [("click", x, y)] * 3 + [("rageclick", x, y)]
            if rand.random() < 0.1:
                visit.append(("deadclick", *self._near_hotspot(width, 20)))
            for kind, x, y in visit:
                fixed = y < 70 and rand.random() < 0.5  # a sticky header
                yield kind, x, min(y, 70.0) if fixed else y, fixed, width, height, session, visitor, moment
            yield ("scrolldepth", 0, rand.betavariate(1.5, 2.5) * (PAGE_HEIGHT - height), False, width, height,
                   session, visitor, moment)
            made += len(visit) + 1


def scaled(value: float) -> int:
    """Ingestion's rounding to 16 px units (JavaScript's Math.round of value / 16)."""
    return math.floor(value / 16 + 0.5)


# --- bulk loading ---------------------------------------------------------------------------------


def load_points(app: Any, project_id: int, count: int, seed: int) -> None:
    """Store `count` points as ingestion would, in bulk: the raw rows and the daily tables' upserts."""
    from sqlalchemy import text

    from heatmap_app.extensions import db
    from heatmap_app.interactions.ingest import url_hash, visitor_hash
    from heatmap_app.models import InteractionPage

    with app.app_context():
        page = db.session.query(InteractionPage).filter_by(project_id=project_id).one_or_none()
        if page is None:
            page = InteractionPage(project_id=project_id, url=PAGE, url_hash=url_hash(PAGE),
                                   trimmed_url_hash=url_hash(PAGE.rstrip("/")))
            db.session.add(page)
            db.session.commit()
        page_id = page.id
        postgres = db.engine.dialect.name == "postgresql"
        visitor_ids: dict[str, int] = {}
        generator = Visits(seed).points(count)
        remaining = count
        while remaining > 0:
            chunk = [point for _, point in zip(range(min(CHUNK, remaining)), generator, strict=False)]
            remaining -= len(chunk)
            raw, cells, visitors, viewports = [], Counter(), set(), {}
            for kind, x, y, fixed, width, height, session, visitor, moment in chunk:
                sx, sy, sw, sh = scaled(x), scaled(y), scaled(width), scaled(height)
                raw.append((page_id, kind, sx, sy, fixed, sw, sh, session, visitor, moment, 16))
                day = moment.date()
                cell = (page_id, kind, day, sw, fixed, 0 if kind == "scrolldepth" else sx,
                        sy + sh if kind == "scrolldepth" else sy)
                cells[cell] += 1
                hashed = visitor_ids.get(visitor)
                if hashed is None:
                    hashed = visitor_ids[visitor] = visitor_hash(visitor)
                visitors.add((*cell, hashed))
                counts = viewports.setdefault((page_id, kind, day, sw, sh, sx == 0 and sy == 0), [0, 0, 0])
                counts[0] += 1
                counts[1] += not fixed
                counts[2] += (not fixed) and sy > sh
            connection = db.session.connection()
            bulk = copy_rows if postgres else insert_rows
            bulk(connection, "interaction_point", RAW_COLUMNS, raw)
            upsert(connection, postgres, "interaction_daily_count",
                   ("page_id", "type", "day", "viewport_width", "pointer_target_fixed", "x", "y"), ("count",),
                   [(*key, value) for key, value in cells.items()])
            upsert(connection, postgres, "interaction_daily_visitor",
                   ("page_id", "type", "day", "viewport_width", "pointer_target_fixed", "x", "y", "visitor"), (),
                   list(visitors))
            upsert(connection, postgres, "interaction_daily_viewport",
                   ("page_id", "type", "day", "viewport_width", "viewport_height", "at_origin"),
                   ("interactions", "unfixed", "below_fold"), [(*key, *values) for key, values in viewports.items()])
            db.session.commit()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            # What autovacuum/ANALYZE would have done by the time 10 M points have arrived.
            connection.execute(text("VACUUM ANALYZE" if postgres else "ANALYZE"))


def sqlite_value(value: Any) -> Any:
    """Dates and times as SQLAlchemy stores them on SQLite (the driver-level inserts below skip its processing)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value.isoformat() if isinstance(value, date) else value


def insert_rows(connection: Any, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]],
                conflict: str = "") -> None:
    names = ", ".join(f'"{column}"' for column in columns)
    connection.exec_driver_sql(f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(columns))}) {conflict}",
                               [tuple(sqlite_value(value) for value in row) for row in rows])


def copy_rows(connection: Any, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    cursor = connection.connection.driver_connection.cursor()
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def upsert(connection: Any, postgres: bool, table: str, keys: tuple[str, ...], added: tuple[str, ...],
           rows: list[tuple[Any, ...]]) -> None:
    """INSERT … ON CONFLICT adding `added` columns (or doing nothing), as ingestion does; COPY-staged on PostgreSQL."""
    from sqlalchemy import text

    columns = keys + added
    if postgres:
        connection.execute(text(f"CREATE TEMP TABLE stage (LIKE {table}) ON COMMIT DROP"))
        copy_rows(connection, "stage", columns, rows)
        action = ("DO UPDATE SET " + ", ".join(f"{name} = {table}.{name} + excluded.{name}" for name in added)
                  if added else "DO NOTHING")
        connection.execute(text(f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(columns)} FROM stage "
                                f"ON CONFLICT ({', '.join(keys)}) {action}"))
        connection.execute(text("DROP TABLE stage"))
        return
    action = ("DO UPDATE SET " + ", ".join(f'"{name}" = {table}."{name}" + excluded."{name}"' for name in added)
              if added else "DO NOTHING")
    insert_rows(connection, table, columns, rows, f"ON CONFLICT ({', '.join(keys)}) {action}")


def table_sizes(app: Any) -> dict[str, int]:
    from sqlalchemy import text

    from heatmap_app.extensions import db

    with app.app_context():
        return {table: db.session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
                for table in ("interaction_point", "interaction_daily_count", "interaction_daily_visitor",
                              "interaction_daily_viewport")}


DESKTOP = {"url_exact": PAGE, "viewport_width_min": 1296, "viewport_width_max": 1584}  # a 1440 px tab, ± 10 %
QUERIES = (
    ("clicks, 1440 px ± 10 %, last 7 days", {**DESKTOP, "type": "click", "date_from": "-7d"}),
    ("clicks, 1440 px ± 10 %, last 30 days", {**DESKTOP, "type": "click", "date_from": "-30d"}),
    ("clicks, all widths, last 30 days", {"url_exact": PAGE, "type": "click", "date_from": "-30d"}),
    ("mouse moves, 1440 px ± 10 %, 30 days", {**DESKTOP, "type": "mousemove", "date_from": "-30d"}),
    ("scroll depth, 1440 px ± 10 %, 30 days", {**DESKTOP, "type": "scrolldepth", "date_from": "-30d"}),
    ("clicks, unique visitors, 1440 px, 7 days", {**DESKTOP, "type": "click", "date_from": "-7d",
                                                  "aggregation": "unique_visitors"}),
)


def time_queries(app: Any, raw_key: str, project_id: int, repeats: int = 30) -> dict[str, tuple[float, float]]:
    timings = {}
    with app.app_context():
        client = app.test_client()
        headers = {"Authorization": f"Bearer {raw_key}"}
        for label, params in QUERIES:
            samples = []
            for attempt in range(repeats + 3):
                started = time.perf_counter()
                response = client.get(f"/api/projects/{project_id}/heatmaps/", query_string=params, headers=headers)
                elapsed = (time.perf_counter() - started) * 1000
                if response.status_code != 200 or not response.get_json()["results"]:
                    raise RuntimeError(f"{label}: {response.status_code} {response.get_data(as_text=True)[:200]}")
                if attempt >= 3:
                    samples.append(elapsed)
            samples.sort()
            timings[label] = (statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.99))])
    return timings


# --- ingestion through gunicorn -------------------------------------------------------------------


def start_gunicorn(stack: ExitStack, environment: dict[str, str]) -> int:
    """gunicorn as scripts/run.sh starts it (the access log goes nowhere instead of the terminal)."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "2", "--access-logfile", "-",
         "--graceful-timeout", "5", "wsgi:app"],
        cwd=ROOT, env=environment, start_new_session=True, stdout=subprocess.DEVNULL,
    )
    return listening(stack, server, port, "gunicorn")


def batches(token: str, count: int, events: int = 10, per_event: int = 10) -> list[bytes]:
    """gzip bodies as posthog-js sends them: {api_key, batch: [$$heatmap …], sent_at}, `events` × `per_event` points."""
    rand = random.Random(3)
    bodies = []
    now = datetime.now(UTC)
    for _ in range(count):
        width, height = rand.choice([screen[:2] for screen in SCREENS])
        batch = [{
            "event": "$$heatmap", "uuid": str(uuid.uuid4()), "timestamp": now.isoformat(),
            "properties": {"distinct_id": f"visitor-{rand.randrange(VISITORS)}", "$session_id": uuid.uuid4().hex,
                           "$viewport_width": width, "$viewport_height": height, "$current_url": PAGE,
                           "token": token, "$heatmap_data": {PAGE: [
                               {"x": rand.uniform(0, width), "y": rand.uniform(0, 3000), "target_fixed": False,
                                "type": rand.choice(("click", "mousemove", "mousemove"))}
                               for _ in range(per_event)]}},
        } for _ in range(events)]
        payload = {"api_key": token, "batch": batch, "sent_at": now.isoformat()}
        bodies.append(gzip.compress(json.dumps(payload).encode()))
    return bodies


def ingest(port: int, bodies: list[bytes], points_per_body: int, seconds: float, clients: int) -> dict[str, float]:
    latencies: list[float] = []
    failures: Counter[str] = Counter()
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client(offset: int) -> None:
        index = offset
        mine, failed = [], Counter()
        while time.monotonic() < deadline:
            body = bodies[index % len(bodies)]
            index += clients
            started = time.perf_counter()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            try:
                connection.request("POST", "/i/v0/e/", body=body, headers={"Content-Type": "text/plain"})
                response = connection.getresponse()
                response.read()
                if response.status == 200:
                    mine.append(time.perf_counter() - started)
                else:
                    failed[str(response.status)] += 1
            except OSError as error:
                failed[type(error).__name__] += 1
            finally:
                connection.close()
        with lock:
            latencies.extend(mine)
            failures.update(failed)

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(offset,)) for offset in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    latencies.sort()
    return {
        "batches": len(latencies), "points_per_second": len(latencies) * points_per_body / elapsed,
        "p50": statistics.median(latencies) * 1000 if latencies else 0.0,
        "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000 if latencies else 0.0,
        "failures": dict(failures),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15, help="duration of each ingestion run (default 15)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent posting threads (default 8)")
    parser.add_argument("--sizes", default="1000000,10000000", help="stored points to query over, ascending")
    parser.add_argument("--postgres", default=None,
                        help="a PostgreSQL server URL: also benchmark on a fresh database there")
    parser.add_argument("--skip-ingest", action="store_true", help="only the query part")
    parser.add_argument("--skip-query", action="store_true", help="only the ingestion part")
    options = parser.parse_args()
    sizes = [int(size) for size in options.sizes.split(",")]

    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the start\n", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-heatmap-data-") as temp, ExitStack() as stack:
        databases = [("SQLite", f"sqlite:///{Path(temp) / 'bench.db'}")]
        if options.postgres:
            databases.append(("PostgreSQL", stack.enter_context(postgres_database(options.postgres))))
        for name, url in databases:
            folder = Path(temp) / name
            folder.mkdir()
            environment = environment_for(folder, url)
            app, token, raw_key, project_id = prepare_install(environment)
            if not options.skip_ingest:
                with ExitStack() as servers:
                    port = start_gunicorn(servers, environment)
                    bodies = batches(token, 300)
                    ingest(port, bodies[:20], 100, 2, options.clients)  # warm-up: imports, connections, pages
                    result = ingest(port, bodies, 100, options.seconds, options.clients)
                print(f"| {name} | ingestion, {options.clients} clients × {options.seconds:g} s, 100 points a batch | "
                      f"{result['points_per_second']:,.0f} points/s ({result['batches']} batches) | "
                      f"p50 {result['p50']:.1f} ms | p99 {result['p99']:.1f} ms | failures {result['failures'] or 0} |",
                      flush=True)
            stored = 0  # in the queried project (the ingestion run wrote to another one)
            for size in [] if options.skip_query else sizes:
                started = time.monotonic()
                load_points(app, project_id, size - stored, seed=size)
                stored = size
                sizes_now = table_sizes(app)
                print(f"\n{name}, {size:,} points stored in the project "
                      f"({sizes_now['interaction_point']:,} in all; loaded in "
                      f"{time.monotonic() - started:.0f} s): daily counts {sizes_now['interaction_daily_count']:,}, "
                      f"visitors {sizes_now['interaction_daily_visitor']:,}, "
                      f"viewports {sizes_now['interaction_daily_viewport']:,} rows", flush=True)
                print("| query | p50 ms | p99 ms |\n|---|---:|---:|")
                for label, (p50, p99) in time_queries(app, raw_key, project_id).items():
                    print(f"| {label} | {p50:.1f} | {p99:.1f} |", flush=True)
            with app.app_context():
                from heatmap_app.extensions import db

                db.engine.dispose()
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
