"""Screenshots of every page of the web UI at 1440 px and 375 px, from a real run, for docs/screenshots/.

A fresh install in a temporary folder (SQLite, its own media folder) is served on loopback; a headless
Chromium signs up, logs in, creates heatmaps through the forms, the real capture worker captures a
loopback page, and every page is saved as a full-page PNG.

    .venv/bin/python -m scripts.screenshots [--out docs/screenshots] [--redis-url redis://127.0.0.1:6379/12]

Needs Redis, and a Redis database no other worker listens on (15 by default): the capture queue is shared.
"""

from __future__ import annotations

import argparse
import base64
import logging
import secrets
import tempfile
import time
from pathlib import Path

from flask import Flask
from flask_migrate import upgrade
from redis import Redis
from rq import Worker
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.wait import WebDriverWait

from heatmap_app import create_app
from heatmap_app.accounts import PROJECT_TOKEN_PREFIX, find_user_by_email
from heatmap_app.config import config_from_environment
from heatmap_app.extensions import db
from heatmap_app.models import Project
from tests.support.site import Site, serve_site
from tests.web.browser import PROJECT_ROOT, BurstWorker, serve_app, start_chrome

PAGES = PROJECT_ROOT / "tests" / "web" / "pages"
WIDTHS = (1440, 375)
VIEWPORT_HEIGHT = 900
MAX_PAGE_HEIGHT = 3200
EMAIL = "maya@acme.example"
PASSWORD = "screenshots only"


def make_app(instance: Path, redis_url: str, capture_host: str) -> Flask:
    config = config_from_environment(instance, environ={
        "SECRET_KEY": secrets.token_urlsafe(32),
        "DATABASE_URL": f"sqlite:///{instance / 'screenshots.db'}",
        "REDIS_URL": redis_url,
        "MEDIA_ROOT": str(instance / "media"),
        "CAPTURE_ALLOW_HOSTS": capture_host,
    })
    config["RATELIMIT_KEY_PREFIX"] = f"screenshots-{secrets.token_hex(4)}"  # a fresh create limit every run
    app = create_app(config)
    with app.app_context():
        upgrade()
    return app


class Photographer:
    def __init__(self, driver: WebDriver, base_url: str, out: Path) -> None:
        self.driver = driver
        self.base_url = base_url
        self.out = out
        self.saved: list[Path] = []

    def open(self, path: str) -> None:
        self.driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        self.driver.get(self.base_url + path)

    def fill(self, values: dict[str, str]) -> None:
        for name, value in values.items():
            field = self.driver.find_element(By.NAME, name)
            field.clear()
            field.send_keys(value)

    def click(self, css: str) -> None:
        self.driver.find_element(By.CSS_SELECTOR, css).click()

    def wait_for(self, css: str, timeout: float = 60) -> None:
        WebDriverWait(self.driver, timeout).until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, css)))

    def shoot(self, name: str, *, full_page: bool = True) -> None:
        """Save the page as it is now (no reload, so a page shown once stays shown) at each width.

        A modal dialog's backdrop covers the viewport only, so a page with one open is shot without scrolling.
        """
        for width in WIDTHS:
            self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
                "width": width, "height": VIEWPORT_HEIGHT, "deviceScaleFactor": 1, "mobile": width < 500,
            })
            self.driver.execute_script("window.scrollTo(0, 0)")
            time.sleep(0.3)  # let the layout settle at the new width
            height = self.driver.execute_script("return document.documentElement.scrollHeight") if full_page else VIEWPORT_HEIGHT
            shot = self.driver.execute_cdp_cmd("Page.captureScreenshot", {
                "format": "png", "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": width, "height": min(height, MAX_PAGE_HEIGHT), "scale": 1},
            })
            path = self.out / f"{name}-{width}.png"
            path.write_bytes(base64.b64decode(shot["data"]))
            self.saved.append(path)
        self.driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def add_second_project(app: Flask) -> None:
    """So the project switcher shows; projects are made by admins outside the UI for now."""
    with app.app_context():
        user = find_user_by_email(EMAIL)
        organization = user.organizations[0]
        db.session.add(Project(organization=organization, name="Marketing site",
                               api_token=PROJECT_TOKEN_PREFIX + secrets.token_hex(16)))
        db.session.commit()


def create_heatmap(camera: Photographer, url: str, name: str, preset: str = "all") -> None:
    camera.open("/heatmaps/new")
    camera.fill({"url": url, "name": name})
    camera.click(f"label[for=preset-{preset}]")
    camera.click("main input[type=submit]")
    camera.wait_for(".viewer")


def run(out: Path, redis_url: str) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    if Worker.all(connection=Redis.from_url(redis_url)):
        raise SystemExit(f"Another RQ worker listens on {redis_url}; it would take our captures. Pick another --redis-url.")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as folder, serve_site(PAGES) as served:
        site = served.host
        app = make_app(Path(folder), redis_url, site)
        driver = start_chrome()
        try:
            with serve_app(app) as base_url:
                camera = Photographer(driver, base_url, out)
                shoot_every_page(camera, app, served)
                return camera.saved
        finally:
            driver.quit()


def shoot_every_page(camera: Photographer, app: Flask, served: Site) -> None:
    site = served.host
    camera.open("/signup")
    camera.shoot("signup")
    camera.fill({"first_name": "Maya", "email": EMAIL, "password": PASSWORD, "organization_name": "Acme"})
    camera.click("main input[type=submit]")
    camera.wait_for(".empty")
    camera.shoot("heatmaps-empty")

    camera.click(".topbar form.inline-form button")
    camera.wait_for("#email")
    camera.shoot("login")
    camera.fill({"email": EMAIL, "password": PASSWORD})
    camera.click("main input[type=submit]")
    camera.wait_for(".page-header")
    add_second_project(app)

    camera.open("/heatmaps/new")
    camera.shoot("heatmap-new")
    camera.fill({"url": "http://10.0.0.8/admin", "name": "Intranet"})
    camera.click("main input[type=submit]")
    camera.wait_for(".field-error")
    camera.shoot("heatmap-new-refused")

    create_heatmap(camera, f"http://{site}/landing.html", "Landing page")
    create_heatmap(camera, f"http://{site}/landing.html#pricing", "Pricing (desktop)", preset="desktop")
    create_heatmap(camera, f"http://{site}/spring-sale.html", "Spring sale", preset="mobile")
    worker = BurstWorker(app)
    worker.start()
    worker.finish()
    create_heatmap(camera, f"http://{site}/landing.html?utm_source=newsletter", "Newsletter landing", preset="tablet")
    processing_detail = camera.driver.current_url

    camera.driver.get(processing_detail)
    camera.shoot("heatmap-processing")

    camera.open("/heatmaps/")
    camera.wait_for(".thumb img")
    camera.shoot("heatmaps")

    camera.open("/heatmaps/?search=landing&status=completed")
    camera.shoot("heatmaps-search")

    camera.open("/heatmaps/")
    camera.driver.find_element(By.LINK_TEXT, "Landing page").click()
    camera.wait_for("#screenshot")
    camera.shoot("heatmap-detail")
    camera.driver.find_element(By.PARTIAL_LINK_TEXT, "375 px").click()
    camera.wait_for("#screenshot")
    camera.shoot("heatmap-detail-375-tab")
    camera.click(".detail-actions .button.danger")
    camera.wait_for("#confirm-dialog[open]")
    camera.shoot("heatmap-delete-confirm", full_page=False)
    camera.click("#confirm-dialog button[value=cancel]")

    # A page that changed between two captures: its history and the three compare views.
    create_heatmap(camera, f"http://{site}/changing-page", "Campaign page", preset="desktop")
    worker = BurstWorker(app)
    worker.start()
    worker.finish()
    served.variant = "b"
    camera.driver.refresh()
    camera.click(".detail-actions form[action$=regenerate] button")
    worker = BurstWorker(app)
    worker.start()
    worker.finish()
    camera.click(".detail-actions a[href$=history]")
    camera.wait_for("#runs-title")
    camera.shoot("heatmap-history")
    camera.click(".compare-form button[type=submit]")
    camera.wait_for("#compare-side img")
    camera.shoot("heatmap-compare-side")
    camera.driver.find_element(By.LINK_TEXT, "Slider").click()
    camera.wait_for("#compare-slider")
    camera.driver.execute_script(
        "const s = document.getElementById('compare-slider'); s.value = 35; s.dispatchEvent(new Event('input'))")
    camera.shoot("heatmap-compare-slider")
    camera.driver.find_element(By.LINK_TEXT, "Differences").click()
    camera.wait_for("#compare-diff")
    camera.shoot("heatmap-compare-diff")

    camera.open("/heatmaps/?status=failed")
    camera.driver.find_element(By.LINK_TEXT, "Spring sale").click()
    camera.wait_for(".notice-error")
    camera.shoot("heatmap-failed")

    camera.open("/settings/api-keys")
    camera.shoot("api-keys-empty")
    camera.fill({"label": "Zapier", "password": PASSWORD})
    camera.click("#scope-2")
    camera.click("input[type=submit][value='Create key']")
    camera.wait_for("#new-key")
    camera.shoot("api-keys-created")

    camera.open("/settings/organization")
    camera.shoot("team")
    camera.fill({"target_email": "sam@acme.example"})
    camera.click("input[type=submit][value='Create invitation']")
    camera.wait_for("#new-link")
    camera.shoot("team-invited")

    camera.open("/heatmaps/does-not-exist")
    camera.shoot("not-found")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "docs" / "screenshots")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/15")
    arguments = parser.parse_args()
    for path in run(arguments.out, arguments.redis_url):
        print(path.relative_to(PROJECT_ROOT) if path.is_relative_to(PROJECT_ROOT) else path)


if __name__ == "__main__":
    main()
