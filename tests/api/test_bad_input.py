"""Bad input to the API gets a 4xx in PostHog's error shape, never a 500: sent over real HTTP to gunicorn.

(NUL bytes are refused by PostgreSQL text columns and lone surrogates by every UTF-8 encoder, so these run
on PostgreSQL too: TEST_DATABASE_URL.)
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
from sqlalchemy import func, select

from heatmap_app.extensions import db
from heatmap_app.models import Project, SavedHeatmap
from tests.support.bad_input import API_CASES, HandMade, send
from tests.support.gunicorn import Served


@pytest.fixture
def app_config(gunicorn: Served) -> dict[str, Any]:
    return {"MEDIA_ROOT": gunicorn.environment["MEDIA_ROOT"]}


@pytest.fixture
def api_session(bearer: Any) -> requests.Session:
    session = requests.Session()
    session.headers.update(bearer("*"))
    return session


@pytest.mark.parametrize("case", API_CASES, ids=lambda case: case.name)
def test_bad_input_answers_4xx_with_the_error_shape_and_writes_nothing(
    gunicorn: Served, api_session: requests.Session, project: Project, make_heatmap: Any, add_snapshot: Any,
    case: HandMade,
) -> None:
    heatmap = make_heatmap(name="Pricing")
    add_snapshot(heatmap, 1024)

    answer = send(api_session, gunicorn.base_url, case,
                  {"project": project.id, "short_id": heatmap.short_id, "id": heatmap.id})

    assert answer.status == case.status, gunicorn.log_text()[-3000:]
    assert answer.content_type == "application/json"
    body = answer.json()
    assert set(body) == {"type", "code", "detail", "attr"} and body["detail"]
    assert body["attr"] == case.attr
    db.session.expire_all()
    assert db.session.scalar(select(func.count(SavedHeatmap.id))) == 1
    assert db.session.scalar(select(SavedHeatmap.name)) == "Pricing"
