"""PostHog's tests of saved/capture/, saved/prewarm/ and saved/preflight/ (test_heatmap_screenshots.py),
translated: real HTTP, the real capture queue, real Pillow; plus our own for hostile images."""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from flask.testing import FlaskClient
from PIL import Image
from rq import Queue

from heatmap_app import storage, uploads
from heatmap_app.extensions import db
from heatmap_app.models import SavedHeatmap
from tests.api.conftest import PAGE_URL, queued_captures

PAGE = "https://app.example.com/dashboard"


def jpeg(width: int = 12, height: int = 12, colour: tuple[int, int, int] = (200, 30, 30), **save: Any) -> bytes:
    output = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(output, format="JPEG", **save)
    return output.getvalue()


def image_of(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


def capture(client: FlaskClient, saved_url: Any, headers: dict[str, str], **fields: Any) -> Any:
    data: dict[str, Any] = {"image": (io.BytesIO(jpeg()), "heatmap.jpg", "image/jpeg"), "url": PAGE, "width": "1440",
                            "name": "Dashboard"}
    data.update(fields)
    return client.post(saved_url("capture/"), data=data, headers=headers, content_type="multipart/form-data")


def heatmap_rows() -> list[SavedHeatmap]:
    return list(db.session.query(SavedHeatmap))


# --- capture ---------------------------------------------------------------------------------------


def test_capture_creates_completed_toolbar_heatmap_and_serves_bytes(
    client: FlaskClient, saved_url: Any, write_headers: dict[str, str], capture_queue: Queue, project: Any
) -> None:
    response = capture(client, saved_url, write_headers)

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert (body["source"], body["status"], body["type"]) == ("toolbar", "completed", "screenshot")
    saved = db.session.get(SavedHeatmap, body["id"])
    assert saved.data_url == PAGE and saved.target_widths == [1440] and saved.created_by is not None
    assert [snapshot.width for snapshot in saved.snapshots] == [1440]
    assert queued_captures(capture_queue) == [], "nothing is rendered on the server"
    content = client.get(f"/api/environments/{project.id}/heatmap_screenshots/{saved.id}/content?width=1440",
                         headers=write_headers)
    assert content.status_code == 200 and content.mimetype == "image/jpeg"
    served = image_of(content.data)
    # Re-encoded, not the bytes sent: the same pixels.
    assert served.size == (12, 12) and all(abs(a - b) < 12 for a, b in zip(served.convert("RGB").getpixel((6, 6)), (200, 30, 30)))


def test_capture_defaults_name_to_url(client: FlaskClient, saved_url: Any, write_headers: dict[str, str]) -> None:
    response = capture(client, saved_url, write_headers, name="")

    assert response.status_code == 201 and response.get_json()["name"] == PAGE


@pytest.mark.parametrize(
    ("url", "content"),
    [("https://app.example.com/*", jpeg()), ("https://app.example.com/x", b"<html>not a jpeg</html>")],
    ids=["wildcard_url", "not_an_image"],
)
def test_capture_rejects_invalid_input(
    client: FlaskClient, saved_url: Any, write_headers: dict[str, str], url: str, content: bytes
) -> None:
    response = capture(client, saved_url, write_headers, url=url, image=(io.BytesIO(content), "h.jpg", "image/jpeg"))

    assert response.status_code == 400
    assert heatmap_rows() == []


@pytest.mark.parametrize("shape", ["single", "multi"])
def test_capture_rejects_oversized_image(
    client: FlaskClient, saved_url: Any, write_headers: dict[str, str], monkeypatch: pytest.MonkeyPatch, shape: str
) -> None:
    monkeypatch.setattr(uploads, "MAX_IMAGE_BYTES", 10)
    if shape == "single":
        payload: dict[str, Any] = {"image": (io.BytesIO(jpeg()), "h.jpg", "image/jpeg"), "width": "1440"}
    else:
        payload = {"images": [(io.BytesIO(jpeg()), "h.jpg", "image/jpeg") for _ in range(3)], "widths": ["320", "768", "1440"]}
    response = client.post(saved_url("capture/"), data={"url": PAGE, **payload}, headers=write_headers,
                           content_type="multipart/form-data")

    assert response.status_code == 400 and response.get_json()["code"] == "file_too_large"
    assert heatmap_rows() == []


def test_capture_rejects_oversized_dimensions(
    client: FlaskClient, saved_url: Any, write_headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(uploads, "MAX_IMAGE_PIXELS", 100)

    response = capture(client, saved_url, write_headers)

    assert response.status_code == 400 and response.get_json()["code"] == "image_too_large"
    assert heatmap_rows() == []


def test_capture_rejects_oversized_total_bytes(
    client: FlaskClient, saved_url: Any, write_headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(uploads, "MAX_TOTAL_BYTES", 1)

    response = capture(client, saved_url, write_headers)

    assert response.status_code == 400 and response.get_json()["code"] == "request_too_large"
    assert heatmap_rows() == []


def test_capture_multi_width_creates_one_heatmap_with_all_widths(
    client: FlaskClient, saved_url: Any, write_headers: dict[str, str], project: Any
) -> None:
    widths = [320, 768, 1440]
    response = client.post(saved_url("capture/"), data={
        "images": [(io.BytesIO(jpeg(width=w // 100, height=6)), f"heatmap-{w}.jpg", "image/jpeg") for w in widths],
        "widths": [str(w) for w in widths], "url": PAGE, "name": "Dashboard",
    }, headers=write_headers, content_type="multipart/form-data")

    assert response.status_code == 201, response.get_json()
    saved = db.session.get(SavedHeatmap, response.get_json()["id"])
    assert saved.source == "toolbar" and saved.target_widths == widths
    assert sorted(snapshot.width for snapshot in saved.snapshots) == widths
    for width in widths:
        content = client.get(f"/api/environments/{project.id}/heatmap_screenshots/{saved.id}/content?width={width}",
                             headers=write_headers)
        assert content.status_code == 200 and image_of(content.data).size == (width // 100, 6)


def test_regenerate_blocked_for_toolbar_capture(
    client: FlaskClient, saved_url: Any, write_headers: dict[str, str], capture_queue: Queue
) -> None:
    short_id = capture(client, saved_url, write_headers).get_json()["short_id"]

    response = client.post(saved_url(f"{short_id}/regenerate/"), headers=write_headers)

    assert response.status_code == 400
    assert queued_captures(capture_queue) == []


def test_partial_update_blocks_render_input_change_for_toolbar_but_allows_rename(
    client: FlaskClient, saved_url: Any, write_headers: dict[str, str], capture_queue: Queue
) -> None:
    body = capture(client, saved_url, write_headers).get_json()
    detail = saved_url(f"{body['short_id']}/")

    blocked = client.patch(detail, json={"block_consent_modals": True}, headers=write_headers)

    assert blocked.status_code == 400
    saved = db.session.get(SavedHeatmap, body["id"])
    assert (saved.block_consent_modals, saved.status, len(saved.snapshots)) == (False, "completed", 1)
    assert queued_captures(capture_queue) == []
    renamed = client.patch(detail, json={"name": "Renamed"}, headers=write_headers)
    assert renamed.status_code == 200 and renamed.get_json()["name"] == "Renamed"


@pytest.mark.parametrize("url", ["https://app.example.com/*", "javascript:alert", "ftp://app.example.com/x", "app.example.com/x"])
def test_capture_rejects_an_invalid_url(client: FlaskClient, saved_url: Any, write_headers: dict[str, str], url: str) -> None:
    response = capture(client, saved_url, write_headers, url=url)

    assert response.status_code == 400 and response.get_json()["attr"] == "url"


@pytest.mark.parametrize(
    ("widths", "images", "add_single"),
    [(["320", "768", "1440"], 2, False), (["320", "768"], 2, True), (["1440", "1440"], 2, False)],
    ids=["mismatched_lengths", "both_single_and_multi", "duplicate_widths"],
)
def test_capture_rejects_a_bad_multi_width_shape(
    client: FlaskClient, saved_url: Any, write_headers: dict[str, str], widths: list[str], images: int, add_single: bool
) -> None:
    data: dict[str, Any] = {"url": PAGE, "widths": widths,
                            "images": [(io.BytesIO(jpeg()), "h.jpg", "image/jpeg") for _ in range(images)]}
    if add_single:
        data.update(image=(io.BytesIO(jpeg()), "single.jpg", "image/jpeg"), width="1024")

    response = client.post(saved_url("capture/"), data=data, headers=write_headers, content_type="multipart/form-data")

    assert response.status_code == 400
    assert heatmap_rows() == []


def test_capture_needs_the_write_scope(client: FlaskClient, saved_url: Any, read_headers: dict[str, str]) -> None:
    assert capture(client, saved_url, read_headers).status_code == 403


# --- hostile images (ours) -------------------------------------------------------------------------


def png(width: int, height: int, mode: str = "RGB") -> bytes:
    output = io.BytesIO()
    Image.new(mode, (width, height), 0).save(output, format="PNG", optimize=True)
    return output.getvalue()


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (png(10_000, 10_000, "1"), "image_too_large"),  # a decompression bomb: 100 Mpx in a few kB
        (png(64, 64)[:-40], "invalid_image"),  # cut short
        (b"GIF89a" + b"\0" * 64, "invalid_image"),  # a format we do not take
        (b"\xff\xd8\xff" + b"\0" * 200, "invalid_image"),  # a JPEG header and nothing else
    ],
    ids=["bomb", "truncated", "gif", "garbage_jpeg"],
)
def test_malformed_and_bomb_images_get_a_clear_400(
    client: FlaskClient, saved_url: Any, write_headers: dict[str, str], content: bytes, code: str
) -> None:
    assert len(content) < 200_000
    response = capture(client, saved_url, write_headers, image=(io.BytesIO(content), "h.png", "image/png"))

    assert response.status_code == 400
    assert response.get_json()["code"] == code and response.get_json()["detail"]
    assert heatmap_rows() == []


def test_uploads_are_re_encoded_without_their_metadata(
    client: FlaskClient, saved_url: Any, write_headers: dict[str, str]
) -> None:
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x8825] = {2: (51.0, 30.0, 0.0)}  # GPS
    tagged = jpeg(40, 30, exif=exif.tobytes(), comment=b"private comment") + b"trailing-bytes-after-the-image"
    webp = io.BytesIO()
    Image.new("RGBA", (20, 10), (0, 0, 0, 0)).save(webp, format="WEBP", lossless=True)

    response = client.post(saved_url("capture/"), data={
        "images": [(io.BytesIO(tagged), "a.jpg", "image/jpeg"), (io.BytesIO(webp.getvalue()), "b.webp", "image/webp")],
        "widths": ["400", "200"], "url": PAGE,
    }, headers=write_headers, content_type="multipart/form-data")

    assert response.status_code == 201, response.get_json()
    snapshots = {s.width: s for s in db.session.get(SavedHeatmap, response.get_json()["id"]).snapshots}
    stored = storage.snapshot_file_path(snapshots[400]).read_bytes()
    assert b"SecretCam" not in stored and b"private comment" not in stored and b"trailing-bytes" not in stored
    assert not image_of(stored).getexif()
    transparent = Image.open(storage.snapshot_file_path(snapshots[200])).convert("RGB")
    assert transparent.getpixel((5, 5)) == (255, 255, 255), "transparency is shown over white"
    assert snapshots[200].height == 100, "a 20 px wide image for 200 px is 10x: heights are in CSS px"


# --- prewarm ---------------------------------------------------------------------------------------


def test_prewarm_starts_single_width_render_hidden_from_list(
    client: FlaskClient, saved_url: Any, write_headers: dict[str, str], capture_queue: Queue
) -> None:
    response = client.post(saved_url("prewarm/"), json={"url": PAGE_URL}, headers=write_headers)

    assert response.status_code == 201
    saved = db.session.get(SavedHeatmap, response.get_json()["id"])
    assert saved.is_prewarm and saved.status == "processing" and saved.target_widths == [1024]
    assert queued_captures(capture_queue) == [("jobs.capture.capture_heatmap", saved.id, 1)]
    listed = client.get(saved_url(), headers=write_headers).get_json()
    assert listed["count"] == 0, "speculative rows never surface in the list"


def test_prewarm_is_idempotent_within_window(
    client: FlaskClient, saved_url: Any, write_headers: dict[str, str], capture_queue: Queue
) -> None:
    first = client.post(saved_url("prewarm/"), json={"url": PAGE_URL}, headers=write_headers)
    second = client.post(saved_url("prewarm/"), json={"url": PAGE_URL}, headers=write_headers)

    assert (first.status_code, second.status_code) == (201, 200)
    assert second.get_json()["id"] == first.get_json()["id"]
    assert len(queued_captures(capture_queue)) == 1
    assert db.session.query(SavedHeatmap).filter_by(is_prewarm=True).count() == 1


def test_create_promotes_matching_prewarm_and_keeps_snapshots(
    client: FlaskClient, saved_url: Any, write_headers: dict[str, str], capture_queue: Queue
) -> None:
    prewarm_id = client.post(saved_url("prewarm/"), json={"url": PAGE_URL}, headers=write_headers).get_json()["id"]
    prewarm = db.session.get(SavedHeatmap, prewarm_id)
    storage.store_snapshot(prewarm, 1024, jpeg(1024, 600), 600, generation=1)
    prewarm.status = "completed"
    db.session.commit()

    created = client.post(saved_url(), json={"url": PAGE_URL, "name": "My heatmap", "widths": [768, 1024]},
                          headers=write_headers)

    assert created.status_code == 201 and created.get_json()["id"] == prewarm_id, "promoted in place"
    db.session.expire_all()
    prewarm = db.session.get(SavedHeatmap, prewarm_id)
    assert (prewarm.is_prewarm, prewarm.name, prewarm.target_widths) == (False, "My heatmap", [768, 1024])
    assert [s.width for s in prewarm.snapshots] == [1024], "the preview snapshot survives promotion"
    assert db.session.query(SavedHeatmap).filter_by(is_prewarm=False).count() == 1
    assert queued_captures(capture_queue)[-1] == ("jobs.capture.capture_heatmap", prewarm_id, 2)


def test_create_reuses_in_flight_prewarm(
    client: FlaskClient, saved_url: Any, write_headers: dict[str, str], capture_queue: Queue
) -> None:
    prewarm_id = client.post(saved_url("prewarm/"), json={"url": PAGE_URL}, headers=write_headers).get_json()["id"]

    created = client.post(saved_url(), json={"url": PAGE_URL, "name": "My heatmap"}, headers=write_headers)

    assert created.status_code == 201 and created.get_json()["id"] == prewarm_id
    prewarm = db.session.get(SavedHeatmap, prewarm_id)
    assert not prewarm.is_prewarm and prewarm.name == "My heatmap"
    # Unlike PostHog, the create starts a capture of every width as a new generation; the prewarm's own
    # one-width job, still queued, then finds itself superseded and captures nothing.
    assert prewarm.capture_generation == 2


# --- preflight -------------------------------------------------------------------------------------


class HeaderSite:
    """A loopback page answering with the headers (and status) a test sets."""

    def __init__(self) -> None:
        self.status, self.headers, self.body = 200, {}, b"<!doctype html><title>page</title>"
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(site.status)
                for name, value in site.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(site.body)))
                self.end_headers()
                self.wfile.write(site.body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.host_port = f"127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def header_site() -> Iterator[HeaderSite]:
    site = HeaderSite()
    threading.Thread(target=site.server.serve_forever, daemon=True).start()
    yield site
    site.server.shutdown()
    site.server.server_close()


@pytest.fixture
def preflight_client(make_app: Any, header_site: HeaderSite, user: Any) -> FlaskClient:
    app = make_app(CAPTURE_ALLOW_HOSTS=header_site.host_port, HEATMAP_PREFLIGHT_RATE_LIMIT="2/minute")
    return app.test_client()


@pytest.mark.parametrize(
    ("headers", "framing", "blocked_by"),
    [
        ({"Content-Security-Policy": "frame-ancestors 'none'"}, "blocked", "frame_ancestors"),
        ({"X-Frame-Options": "DENY"}, "blocked", "x_frame_options"),
        ({"Content-Security-Policy": "frame-ancestors *", "X-Frame-Options": "DENY"}, "allowed", None),
        ({}, "allowed", None),
    ],
)
def test_preflight_returns_the_verdict_for_the_requested_url(
    preflight_client: FlaskClient, header_site: HeaderSite, saved_url: Any, read_headers: dict[str, str],
    headers: dict[str, str], framing: str, blocked_by: str | None,
) -> None:
    header_site.headers = headers

    response = preflight_client.post(saved_url("preflight/"), json={"url": f"http://{header_site.host_port}/page"},
                                     headers=read_headers)

    assert response.status_code == 200
    assert response.get_json() == {"framing": framing, "blocked_by": blocked_by, "http_status": 200, "body_excerpt": None}


def test_preflight_reports_an_error_answer_with_an_excerpt(
    preflight_client: FlaskClient, header_site: HeaderSite, saved_url: Any, read_headers: dict[str, str]
) -> None:
    header_site.status, header_site.body = 403, b"<h1>Forbidden</h1>\n\n   by the   CDN"

    response = preflight_client.post(saved_url("preflight/"), json={"url": f"http://{header_site.host_port}/"},
                                     headers=read_headers)

    assert response.get_json() == {"framing": "unknown", "blocked_by": None, "http_status": 403,
                                   "body_excerpt": "<h1>Forbidden</h1> by the CDN"}


@pytest.mark.parametrize("url", ["https://example.com/*", "http://10.0.0.8/admin", "http://127.0.0.1:1/"])
def test_preflight_rejects_a_wildcard_or_internal_url(
    preflight_client: FlaskClient, saved_url: Any, read_headers: dict[str, str], url: str
) -> None:
    assert preflight_client.post(saved_url("preflight/"), json={"url": url}, headers=read_headers).status_code == 400


def test_preflight_budget_is_shared_across_personal_api_keys(
    preflight_client: FlaskClient, header_site: HeaderSite, saved_url: Any, bearer: Any
) -> None:
    def post_with_a_fresh_key() -> Any:
        return preflight_client.post(saved_url("preflight/"), json={"url": f"http://{header_site.host_port}/"},
                                     headers=bearer("heatmap:read"))

    assert post_with_a_fresh_key().status_code == 200
    assert post_with_a_fresh_key().status_code == 200
    assert post_with_a_fresh_key().status_code == 429


def noise_png(width: int, height: int) -> bytes:
    output = io.BytesIO()
    Image.frombytes("RGB", (width, height), os.urandom(width * height * 3)).save(output, format="PNG")
    return output.getvalue()


def test_a_screenshot_larger_than_the_apps_body_limit_is_accepted(
    app: Any, client: FlaskClient, saved_url: Any, write_headers: dict[str, str]
) -> None:
    big = noise_png(1200, 1000)
    assert len(big) > app.config["MAX_CONTENT_LENGTH"] * 2

    response = capture(client, saved_url, write_headers, image=(io.BytesIO(big), "big.png", "image/png"))

    assert response.status_code == 201, response.get_json()
    assert client.post(saved_url(), data=b"x" * (app.config["MAX_CONTENT_LENGTH"] + 1), headers=write_headers,
                       content_type="application/json").status_code == 413, "other endpoints keep the usual limit"
