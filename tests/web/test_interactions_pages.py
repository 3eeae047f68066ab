"""The install page and the overlay's endpoints of the detail page (signed-in only, the user's project only)."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from typing import Any

from flask.testing import FlaskClient

from heatmap_app.interactions.snippet import install_snippet
from heatmap_app.models import SavedHeatmap, User
from tests.interactions.conftest import click, heatmap_event


def send(client: FlaskClient, user: User, *events: dict[str, Any]) -> None:
    body = json.dumps({"api_key": user.current_project.api_token, "batch": list(events),
                       "sent_at": datetime.now(UTC).isoformat()}).encode()
    assert client.post("/i/v0/e/", data=gzip.compress(body), content_type="text/plain").status_code == 200


def test_the_install_page_shows_the_token_the_snippet_and_when_data_arrived(
    client: FlaskClient, logged_in: User
) -> None:
    token = logged_in.current_project.api_token
    before = client.get("/install").get_data(as_text=True)
    assert token in before
    assert f"posthog.init(&#34;{token}&#34;" in before
    assert 'api_host: &#34;http://localhost&#34;' in before and "enable_heatmaps: true" in before
    assert "/static/array.js" in before
    assert '<dd id="install-last-seen">Not yet</dd>' in before
    assert '<dd id="install-last-contact">Not yet</dd>' in before

    client.get(f"/array/{token}/config.js")
    send(client, logged_in, heatmap_event([click(10, 10)], url="https://shop.example/"))
    after = client.get("/install").get_data(as_text=True)
    assert '<dd id="install-last-seen"><time' in after and "just now" in after
    assert '<dd id="install-last-contact"><time' in after
    assert "<code>https://shop.example/</code>" in after


def test_the_install_page_needs_a_login(client: FlaskClient) -> None:
    assert client.get("/install").status_code == 302


def test_the_snippet_is_posthogs_loader_with_our_host() -> None:
    snippet = install_snippet("https://heatmaps.example/", "phc_abc")
    assert snippet.startswith("<script>") and snippet.endswith("</script>")
    assert 'p.src=s.api_host.replace(".i.posthog.com","-assets.i.posthog.com")+"/static/array.js"' in snippet
    assert ('posthog.init("phc_abc", {\n    api_host: "https://heatmaps.example",\n    enable_heatmaps: true,\n  });'
            in snippet)


def test_the_overlay_data_is_the_heatmaps_data_url_near_the_screenshot_width(
    client: FlaskClient, logged_in: User, make_heatmap: Any, complete: Any
) -> None:
    heatmap: SavedHeatmap = complete(make_heatmap(widths=[1440], data_url="https://shop.example/blog/*"))
    send(client, logged_in,
         heatmap_event([click(720, 400)], url="https://shop.example/blog/one"),
         heatmap_event([click(720, 400)], url="https://shop.example/blog/two", width=1500),
         heatmap_event([click(720, 400)], url="https://shop.example/blog/two", width=1700),  # past +10 %
         heatmap_event([click(720, 400)], url="https://shop.example/pricing"))

    data = client.get(f"/heatmaps/{heatmap.short_id}/overlay.json?width=1440").get_json()
    assert data["points"] == [  # 720 px of 1440 and of 1500 (94 × 16)
        {"pointer_target_fixed": False, "pointer_relative_x": 0.48, "pointer_y": 400, "count": 1},
        {"pointer_target_fixed": False, "pointer_relative_x": 0.5, "pointer_y": 400, "count": 1}]
    assert (data["viewport_width_min"], data["viewport_width_max"], data["total"]) == (1296, 1584, 2)
    assert data["data_url"] == "https://shop.example/blog/*"
    wider = client.get(f"/heatmaps/{heatmap.short_id}/overlay.json?width=1440&width_tolerance=20").get_json()
    assert wider["total"] == 3

    bad = client.get(f"/heatmaps/{heatmap.short_id}/overlay.json?type=hover")
    assert bad.status_code == 400 and bad.get_json()["attr"] == "type"
    assert client.get(f"/heatmaps/{heatmap.short_id}/overlay.png?opacity=9").status_code == 400


def test_the_overlay_needs_the_owner(
    client: FlaskClient, auth: Any, logged_in: User, other_user: User, make_heatmap: Any, complete: Any
) -> None:
    heatmap = complete(make_heatmap(widths=[1440]))
    auth.logout()
    assert client.get(f"/heatmaps/{heatmap.short_id}/overlay.json").status_code == 302
    auth.login(other_user.email)
    assert client.get(f"/heatmaps/{heatmap.short_id}/overlay.json").status_code == 404
    assert client.get(f"/heatmaps/{heatmap.short_id}/overlay.png").status_code == 404


def test_the_detail_page_keeps_the_overlay_choices_of_the_query_string(
    client: FlaskClient, logged_in: User, make_heatmap: Any, complete: Any
) -> None:
    heatmap = complete(make_heatmap(widths=[1440]))
    page = client.get(f"/heatmaps/{heatmap.short_id}?type=scrolldepth&date_from=2026-01-02&date_to=2026-01-09"
                      "&width_tolerance=20").get_data(as_text=True)

    assert '<option value="scrolldepth" selected>' in page
    assert '<option value="custom" selected>' in page
    assert 'name="custom_from" value="2026-01-02"' in page and 'name="custom_to" value="2026-01-09"' in page
    assert '<option value="20" selected>' in page
    assert "/static/js/overlay.js" in page
