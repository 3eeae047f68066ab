"""The `gunicorn` fixture: the app served by gunicorn on the suite's database and Redis, for one test module.

A test module that uses it creates its rows through the usual function-scoped fixtures (the served app reads
the same database) and stores files in `gunicorn.environment["MEDIA_ROOT"]`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from heatmap_app.config import testing_config
from tests.conftest import TEST_REDIS_URL
from tests.support.gunicorn import Served, app_environment, serve_with_gunicorn


@pytest.fixture(scope="module")
def gunicorn(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    instance = tmp_path_factory.mktemp("gunicorn")
    secret_key = testing_config(instance, database_url=database_url, redis_url=TEST_REDIS_URL)["SECRET_KEY"]
    environment = app_environment(database_url=database_url, redis_url=TEST_REDIS_URL, media_root=instance / "media",
                                  secret_key=secret_key)
    with serve_with_gunicorn(environment) as served:
        yield served
