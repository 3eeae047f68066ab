"""Bad input to the UI gets a 4xx page, never a 500: sent over real HTTP to gunicorn, logged in (PostgreSQL too)."""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests

from heatmap_app.models import User
from tests.conftest import PASSWORD
from tests.support.bad_input import UI_CASES, HandMade, send
from tests.support.gunicorn import Served


@pytest.fixture
def app_config(gunicorn: Served, capture_site: Any) -> dict[str, Any]:
    return {"MEDIA_ROOT": gunicorn.environment["MEDIA_ROOT"], "CAPTURE_ALLOW_HOSTS": capture_site.host_port}


@pytest.fixture
def logged_in_session(gunicorn: Served, user: User) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{gunicorn.base_url}/login", timeout=30).text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = session.post(f"{gunicorn.base_url}/login", data={"email": user.email, "password": PASSWORD,
                                                                "csrf_token": token}, allow_redirects=False)
    assert response.status_code == 302
    return session


@pytest.mark.parametrize("case", UI_CASES, ids=lambda case: case.name)
def test_bad_input_answers_a_4xx_page(
    gunicorn: Served, logged_in_session: requests.Session, make_heatmap: Any, case: HandMade
) -> None:
    heatmap = make_heatmap(name="Pricing")

    answer = send(logged_in_session, gunicorn.base_url, case, {"short_id": heatmap.short_id})

    assert answer.status == case.status, gunicorn.log_text()[-3000:]
    assert answer.content_type.startswith("text/html")
