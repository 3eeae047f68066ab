"""The local store behind nginx: the app checks access and hands the file to nginx with X-Accel-Redirect
(bench/content.py runs the same through a real nginx and checks the bytes and the ETag it sends)."""

from __future__ import annotations

from typing import Any

from heatmap_app import storage
from heatmap_app.accounts import create_api_key, create_user
from heatmap_app.extensions import db
from heatmap_app.models import SavedHeatmap
from tests.test_storage import jpeg


def test_with_an_accel_prefix_the_answer_names_the_file_for_nginx_and_carries_no_bytes(make_app: Any) -> None:
    app = make_app(MEDIA_ACCEL_REDIRECT_PREFIX="/_media/")
    with app.app_context():
        owner = create_user("accel@example.com", "correct horse battery")
        heatmap = SavedHeatmap(project=owner.current_project, created_by=owner, short_id="accel001",
                               url="https://93.184.216.34/", target_widths=[1024], status="completed",
                               capture_generation=1)
        db.session.add(heatmap)
        db.session.commit()
        snapshot = storage.store_snapshot(heatmap, 1024, jpeg(1024, 600), page_height=600)
        key = create_api_key(owner, "accel", ["heatmap:read"], None)[1]
        path = f"/api/projects/{owner.current_project_id}/heatmap_screenshots/{heatmap.id}/content"

        response = app.test_client().get(path, headers={"Authorization": f"Bearer {key}"})
        refused = app.test_client().get(path, headers={"Authorization": "Bearer phx_wrong"})

    assert response.status_code == 200 and response.data == b""
    assert response.headers["X-Accel-Redirect"] == f"/_media/{snapshot.file_path}"
    assert response.headers["ETag"] == f'"{snapshot.content_hash}"'
    assert response.headers["Content-Type"] == "image/jpeg"
    assert response.headers["Content-Disposition"] == f'inline; filename="screenshot-{heatmap.id}-1024.jpg"'
    assert refused.status_code == 401 and "X-Accel-Redirect" not in refused.headers
