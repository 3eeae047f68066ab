"""Fidelity checker: our JPEGs (and PostHog's recipe's) against what a patient plain Chrome shows a visitor.

    .venv/bin/python bench/fidelity.py [--widths 320,375,768,1024,1440] [--no-posthog]

The reference is plain Chrome driven by Selenium with none of our engine: per width a fresh load with
the same device metrics (a phone below 500 px: mobile viewport, touch, a phone user agent), 2 s to
settle, then a slow scroll (300 px steps, 300 ms each, 800 ms more where something new is in view)
during which it notes, when each one is well in view, the pixels of every image and of every element that became visible while scrolled to
(animate-on-scroll), and finally the page's height and its first screen at the top. For pages with a
consent banner, the reference removes the banner's element itself (found by its own rule: a fixed
element whose text mentions cookies) before its first-screen shot, as blocking it should leave.

Checks per page and width, for ours and for PostHog's recipe (../shared/bench/peers.py `posthog`, the
same steps, reproduced here to keep its JPEGs):
- height: the captured page height within 3 % of the reference's;
- first screen: the top viewport of the JPEG matches the reference's (mean difference of 16×16 thumbnails);
- each image and each revealed element: its box in the JPEG matches its pixels in view in the reference.
Prints every failure, then `N passed, M failed` per engine.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image, ImageChops, ImageStat
from selenium import webdriver

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from heatmap_app.capture import Browser, CaptureRequest, CaptureSettings  # noqa: E402
from tests.support.site import serve_site  # noqa: E402

CHROME = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
VIEWPORT_HEIGHT = 800
PHONE_BELOW = 500
MOBILE_UA = ("Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
             "Chrome/156.0.0.0 Mobile Safari/537.36")
FIXTURES = ROOT / "tests" / "fixtures" / "pages"
CREATIVE = ROOT / "bench" / "sites" / "creative"
# (site folder, path, block consent banners)
PAGES = [
    (FIXTURES, "fidelity/failing-import.html", False),
    (FIXTURES, "fidelity/wide-on-phones.html", False),
    (FIXTURES, "fidelity/animate-on-scroll.html", False),
    (FIXTURES, "fidelity/vanilla-lazyload.html", False),
    (FIXTURES, "fidelity/lazysizes.html", False),
    (FIXTURES, "fidelity/cookieconsent-v3.html", True),
    (FIXTURES, "fidelity/fixed-background.html", False),
    (FIXTURES, "fidelity/masonry-grid.html", False),
    (FIXTURES, "fidelity/jquery-fade.html", False),
    (FIXTURES, "fidelity/fonts.html", False),
    (CREATIVE, "index-local.html", False),
    (CREATIVE, "index.html", False),
]
THUMB = (16, 16)
MAX_MEAN_DIFFERENCE = 24  # of 255, on thumbnails: JPEG noise and anti-aliasing stay far below
MIN_REGION_PX = 40
MAX_REGIONS = 40

REGIONS_JS = """
const [seen, revealedOnly] = arguments;
const out = [];
const visible = (el) => { const s = getComputedStyle(el);
  return s.visibility !== 'hidden' && parseFloat(s.opacity) > 0.9 && el.getClientRects().length > 0; };
const candidates = [...document.images, ...document.querySelectorAll('body *')];
for (const el of new Set(candidates)) {
  const key = el.__fidelityKey || (el.__fidelityKey = Math.random().toString(36).slice(2));
  if (seen.includes(key)) continue;
  const box = el.getBoundingClientRect();
  // The visual viewport is what the screenshot shows (a phone's layout viewport can be larger).
  if (box.width < 40 || box.height < 40 || box.top < 80 || box.bottom > visualViewport.height - 20) continue;
  if (box.left < 0 || box.right > visualViewport.width) continue;
  const image = el.tagName === 'IMG' && el.complete && el.naturalWidth > 0;
  if (!image && !(el.__fidelityWasHidden && visible(el))) continue;
  if (!visible(el)) continue;
  out.push({key, scale: visualViewport.scale, x: box.left, y: box.top, pageY: box.top + scrollY, w: box.width, h: box.height,
            what: image ? 'image ' + el.currentSrc.split('/').pop() : 'revealed ' + el.tagName.toLowerCase()
              + (el.className ? '.' + String(el.className).split(' ')[0] : '')});
}
return out;
"""
MARK_HIDDEN_JS = """
for (const el of document.querySelectorAll('body *')) {
  const s = getComputedStyle(el);
  if (s.visibility === 'hidden' || parseFloat(s.opacity) < 0.1) el.__fidelityWasHidden = true;
}
"""
REMOVE_CONSENT_JS = """
for (const el of document.querySelectorAll('body *')) {
  const s = getComputedStyle(el);
  if (s.position === 'fixed' && /cookie/i.test(el.innerText || '')) el.remove();
}
"""


@dataclass
class Reference:
    page_height: int
    first_screen: Image.Image
    regions: list[tuple[dict[str, Any], Image.Image]] = field(default_factory=list)


@dataclass
class Capture:
    page_height: int
    image: Image.Image


@contextmanager
def plain_chrome() -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--hide-scrollbars", "--disable-blink-features=AutomationControlled", "--window-size=2000,1000"):
        options.add_argument(argument)
    options.binary_location = CHROME
    driver = webdriver.Chrome(service=webdriver.ChromeService(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def viewport_image(driver: webdriver.Chrome) -> Image.Image:
    return Image.open(io.BytesIO(driver.get_screenshot_as_png())).convert("RGB")


def reference(driver: webdriver.Chrome, url: str, width: int, block_consent: bool) -> Reference:
    phone = width < PHONE_BELOW
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": VIEWPORT_HEIGHT, "deviceScaleFactor": 1, "mobile": phone})
    driver.execute_cdp_cmd("Emulation.setTouchEmulationEnabled", {"enabled": phone, "maxTouchPoints": 5})
    driver.execute_cdp_cmd("Emulation.setUserAgentOverride",
                           {"userAgent": MOBILE_UA if phone else driver.execute_script("return navigator.userAgent")
                            .replace("HeadlessChrome/", "Chrome/")})
    driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
    driver.get("about:blank")
    try:
        driver.get(url)
    except Exception:  # a tag that never answers: take the page as it is, as a visitor would
        driver.execute_script("window.stop()")
    time.sleep(2)
    driver.execute_script(MARK_HIDDEN_JS)
    regions: list[tuple[dict[str, Any], Image.Image]] = []
    seen: list[str] = []
    y = 0
    while True:
        driver.execute_script(f"window.scrollTo(0, {y})")
        time.sleep(0.3)
        if driver.execute_script(REGIONS_JS, seen, False):
            time.sleep(0.8)  # what just appeared may still be moving into place (a transition, an animation)
        for region in driver.execute_script(REGIONS_JS, seen, False):
            if len(regions) >= MAX_REGIONS:
                break
            shot = viewport_image(driver)
            scale = shot.width / width * region["scale"]
            box = tuple(round(v * scale) for v in (region["x"], region["y"], region["x"] + region["w"],
                                                    region["y"] + region["h"]))
            regions.append((region, shot.crop(box)))
            seen.append(region["key"])
        height = driver.execute_script("return document.documentElement.scrollHeight")
        if y + VIEWPORT_HEIGHT >= height or y > 16_000:
            break
        y += 300
    driver.execute_script("window.scrollTo(0, 0)")
    time.sleep(1)
    if block_consent:
        driver.execute_script(REMOVE_CONSENT_JS)
        time.sleep(0.3)
    scale = driver.execute_script("return visualViewport.scale")
    page_height = round(driver.execute_script(
        "return Math.max(document.documentElement.scrollHeight, document.body.scrollHeight)") * scale)
    first = viewport_image(driver)
    return Reference(page_height=page_height, first_screen=first.resize((width, round(first.height * width / first.width))),
                     regions=regions)


def ours(browser: Browser, url: str, widths: list[int], block_consent: bool) -> dict[int, Capture]:
    shots = browser.capture(CaptureRequest(url, widths, block_consent_modals=block_consent))
    return {shot.width: Capture(shot.page_height, Image.open(io.BytesIO(shot.jpeg)).convert("RGB")) for shot in shots}


COOKIE_CLICKS = ['button:has-text("Accept")', 'button:has-text("I Agree")', 'button:has-text("I agree")',
                 'button:has-text("Got it")', 'button:has-text("OK")', 'button[aria-label*="accept" i]',
                 '[role="dialog"] button:has-text("Accept")', 'button[id*="accept" i], button[class*="accept" i]',
                 '#onetrust-accept-btn-handler', '.onetrust-accept-btn-handler',
                 '#CybotCookiebotDialogBodyButtonAccept', '#CybotCookiebotDialogBodyLevelButtonLevelOptinAllowAll']
POSTHOG_MOBILE_UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 15_0 like Mac OS X) AppleWebKit/605.1.15 "
                     "(KHTML, like Gecko) CriOS/115.0.0.0 Mobile/15E148 Safari/604.1")


def posthog(url: str, widths: list[int], block_consent: bool) -> dict[int, Capture]:
    """../shared/bench/peers.py's `posthog` recipe step for step, keeping the JPEGs (it clicks banners always)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    out: dict[int, Capture] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROME, headless=True, args=[
            "--force-device-scale-factor=1", "--disable-dev-shm-usage", "--no-sandbox", "--disable-gpu"])
        try:
            for width in widths:
                options: dict[str, Any] = dict(viewport={"width": width, "height": 800}, device_scale_factor=1,
                                               is_mobile=width < 500, has_touch=width < 500)
                if width < 500:
                    options["user_agent"] = POSTHOG_MOBILE_UA
                context = browser.new_context(**options)
                page = context.new_page()
                try:
                    page.goto(url, wait_until="domcontentloaded", timeout=5000)
                    page.wait_for_timeout(3000)
                except PlaywrightTimeout:
                    page.wait_for_timeout(1000)
                for selector in COOKIE_CLICKS:
                    try:
                        page.click(selector, timeout=500)
                        break
                    except Exception:
                        pass
                page.wait_for_timeout(500)
                page.evaluate("""async () => {
                  const sleep = ms => new Promise(r => setTimeout(r, ms));
                  for (let i = 0; i < 5; i++) { window.scrollBy(0, innerHeight * 0.7); await sleep(300);
                    if (innerHeight + scrollY >= document.documentElement.scrollHeight) break; }
                  window.scrollTo(0, document.documentElement.scrollHeight); await sleep(500);
                  window.scrollTo(0, 0); await sleep(500); }""")
                page.wait_for_timeout(500)
                jpeg = page.screenshot(full_page=True, type="jpeg", quality=70)
                image = Image.open(io.BytesIO(jpeg)).convert("RGB")
                out[width] = Capture(image.height, image)
                context.close()
        finally:
            browser.close()
    return out


def difference(a: Image.Image, b: Image.Image) -> float:
    a, b = a.resize(THUMB, Image.Resampling.BOX), b.resize(THUMB, Image.Resampling.BOX)
    return sum(ImageStat.Stat(ImageChops.difference(a, b)).mean) / 3


def check(ref: Reference, got: Capture, width: int) -> list[tuple[str, bool, str]]:
    results = []
    height_ok = abs(got.page_height - ref.page_height) <= 0.03 * ref.page_height
    results.append(("height", height_ok, f"{got.page_height} vs {ref.page_height}"))
    top = got.image.crop((0, 0, width, min(VIEWPORT_HEIGHT, got.image.height)))
    first = ref.first_screen.crop((0, 0, width, min(VIEWPORT_HEIGHT, ref.first_screen.height)))
    results.append(("first screen", difference(top, first) <= MAX_MEAN_DIFFERENCE, f"{difference(top, first):.0f}"))
    for region, pixels in ref.regions:
        zoom = region["scale"]
        box = (round(region["x"] * zoom), round(region["pageY"] * zoom), round((region["x"] + region["w"]) * zoom),
               round((region["pageY"] + region["h"]) * zoom))
        if box[3] > got.image.height:
            results.append((f"{region['what']} at y={box[1]}", False, "below the captured image"))
            continue
        score = difference(got.image.crop(box), pixels)
        results.append((f"{region['what']} at y={box[1]}", score <= MAX_MEAN_DIFFERENCE, f"{score:.0f}"))
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--widths", default="320,375,768,1024,1440")
    parser.add_argument("--no-posthog", action="store_true")
    args = parser.parse_args()
    widths = [int(width) for width in args.widths.split(",")]
    engines: dict[str, Callable[..., dict[int, Capture]]] = {}
    tallies: dict[str, list[int]] = {}
    with Browser(CaptureSettings()) as browser, plain_chrome() as driver:
        engines["ours"] = lambda url, block: ours(browser, url, widths, block)
        if not args.no_posthog:
            engines["posthog"] = lambda url, block: posthog(url, widths, block)
        for folder, path, block in PAGES:
            with serve_site(folder) as site:
                url = site.url(path)
                references = {width: reference(driver, url, width, block) for width in widths}
                for name, engine in engines.items():
                    captures = engine(url, block)
                    tally = tallies.setdefault(name, [0, 0])
                    for width in widths:
                        for what, ok, detail in check(references[width], captures[width], width):
                            tally[0 if ok else 1] += 1
                            if not ok:
                                print(f"FAIL {name:8} {path} @{width}: {what} ({detail})", flush=True)
                print(f"after {path}: " + "; ".join(
                    f"{name} {passed} passed, {failed} failed" for name, (passed, failed) in tallies.items()), flush=True)
    for name, (passed, failed) in tallies.items():
        print(f"{name}: {passed} passed, {failed} failed")


if __name__ == "__main__":
    main()
