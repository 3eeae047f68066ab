"""Capture benchmark: our engine against the floor and the naive way, on the Start Bootstrap "Creative" page.

    .venv/bin/python bench/capture.py [--rounds 5]

Serves bench/sites/creative on a loopback port, from a process of its own, and captures it at the seven
default widths, as shipped (its third-party tags cannot be reached here) and without those tags
(index-local.html). Rounds are
interleaved, the order of the methods rotating each round; the table shows medians. Every method
starts its own Chrome and that start (and its end) is counted in its time, except "ours, warm", a
BrowserPool whose Chrome was started and used once before the first round, and "the worker's path",
the same warm browser with every request going through the URL-safety guard proxy, as `flask worker`
runs it (heatmap_app.screenshots.WarmCapturer). Two methods are whole commands, timed from their start to
their exit: the `capture` CLI (`flask --app wsgi capture`) and the floor as a command (bench/floor.py), both
paying an interpreter's start and Selenium's import. The JPEGs of our last round land in bench/results/.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from functools import partial
from pathlib import Path

from floor import WIDTHS, PlainChrome, floor
from servers import free_port, listening

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from heatmap_app.capture import BrowserPool, CaptureRequest, CaptureSettings, capture  # noqa: E402
from heatmap_app.capture.chrome import CHROME_ARGUMENTS  # noqa: E402
from heatmap_app.capture.run import write_atomically  # noqa: E402
from heatmap_app.config import config_from_environment  # noqa: E402
from heatmap_app.screenshots import WarmCapturer  # noqa: E402

SITE = ROOT / "bench" / "sites" / "creative"
RESULTS = ROOT / "bench" / "results"
PAGES = {
    "as shipped (7 third-party tags, unreachable)": "index.html",
    "third-party tags removed": "index-local.html",
}
SETTINGS = CaptureSettings()
PLAIN_CHROME = PlainChrome(SETTINGS.resolved_chrome_binary(), SETTINGS.resolved_chromedriver_path(), CHROME_ARGUMENTS)
MEMORY_SAMPLE_SECONDS = 0.02
MEMORY_ROUNDS = 3


@contextmanager
def serve_site() -> Iterator[str]:
    """The site from a process of its own, as a real site is: served from a thread of this process, it would
    contend for this process's interpreter lock with the guard proxy of the worker's path (bench/README.md)."""
    port = free_port()
    with ExitStack() as stack:
        server = subprocess.Popen(
            [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(SITE)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        listening(stack, server, port, "the site's http.server")
        yield f"http://127.0.0.1:{port}"


def floor_command(url: str) -> None:
    arguments = [f"--argument={argument}" for argument in PLAIN_CHROME.arguments]
    subprocess.run(
        [sys.executable, str(ROOT / "bench" / "floor.py"), url, "--chrome", PLAIN_CHROME.binary,
         "--chromedriver", PLAIN_CHROME.chromedriver, *arguments],
        check=True,
    )


def service_environment(base_url: str) -> dict[str, str]:
    """The settings the worker's path and the CLI both capture with: the site's loopback address allowed."""
    return {"SECRET_KEY": "bench-" * 8, "CAPTURE_ALLOW_HOSTS": base_url.removeprefix("http://")}


def capture_cli(url: str, base_url: str) -> None:
    """`flask --app wsgi capture` as a user runs it, writing into bench/results/cli/."""
    environment = {**os.environ, **service_environment(base_url)}
    subprocess.run(
        [str(Path(sys.executable).with_name("flask")), "--app", "wsgi", "capture", url,
         "--widths", ",".join(map(str, WIDTHS)), "--out", str(RESULTS / "cli")],
        cwd=ROOT, env=environment, check=True, stdout=subprocess.DEVNULL,
    )


def naive(url: str) -> None:
    """A new Chrome per width, the window resized to the page height, then a screenshot."""
    for width in WIDTHS:
        with PLAIN_CHROME.driver() as driver:
            driver.set_window_size(width, 800)
            driver.get(url)
            height = driver.execute_script("return document.documentElement.scrollHeight")
            driver.set_window_size(width, height)
            driver.get_screenshot_as_png()


class PeakMemory:
    """Samples RSS and PSS of this process plus every chromedriver it started and that driver's Chrome.

    RSS counts the pages Chrome processes share once per process; PSS splits them among them.
    """

    def __init__(self, ignored_process_groups: set[int]) -> None:
        self.ignored_process_groups = ignored_process_groups
        self.peak_rss = 0
        self.peak_pss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(MEMORY_SAMPLE_SECONDS):
            processes = _processes()
            groups = {
                group
                for pid, (parent, group, name) in processes.items()
                if parent == os.getpid() and name == "chromedriver" and group not in self.ignored_process_groups
            }
            measured = [os.getpid()] + [pid for pid, (_, group, _) in processes.items() if group in groups]
            rss = pss = 0
            for pid in measured:
                try:
                    rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
                except OSError:
                    continue
                rss += _kibibytes(rollup, "Rss") * 1024
                pss += _kibibytes(rollup, "Pss") * 1024
            self.peak_rss = max(self.peak_rss, rss)
            self.peak_pss = max(self.peak_pss, pss)


def _kibibytes(rollup: str, field: str) -> int:
    match = re.search(rf"^{field}:\s+(\d+) kB", rollup, re.MULTILINE)
    return int(match.group(1)) if match else 0


def _processes() -> dict[int, tuple[int, int, str]]:
    """pid → (parent pid, process group, name) of every process."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            name = stat[stat.index("(") + 1 : stat.rindex(")")]
            parent, group = stat[stat.rindex(")") + 2 :].split()[1:3]
            found[int(entry.name)] = (int(parent), int(group), name)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds

    peaks: dict[str, list[tuple[int, int]]] = {}
    seconds: dict[tuple[str, str], list[float]] = {}
    with serve_site() as base_url, BrowserPool(SETTINGS, max_jobs=1_000) as pool:
        pool.capture(CaptureRequest(f"{base_url}/{PAGES[next(iter(PAGES))]}", WIDTHS))
        worker_config = config_from_environment(
            RESULTS, environ={**service_environment(base_url), "CAPTURE_BROWSER_RECYCLE_AFTER": "1000"}
        )
        worker_capturer = WarmCapturer(worker_config)
        worker_capturer.capture(CaptureRequest(f"{base_url}/{PAGES[next(iter(PAGES))]}", WIDTHS))

        def ours_cold(url: str) -> None:
            shots = capture(CaptureRequest(url, WIDTHS), SETTINGS)
            for shot in shots:
                out = RESULTS / Path(url).stem
                out.mkdir(parents=True, exist_ok=True)
                write_atomically(out / f"{shot.width}.jpg", shot.jpeg)

        def ours_warm(url: str) -> None:
            pool.capture(CaptureRequest(url, WIDTHS))

        def ours_worker(url: str) -> None:
            worker_capturer.capture(CaptureRequest(url, WIDTHS))

        methods: dict[str, Callable[[str], None]] = {
            "ours (capture(), cold Chrome)": ours_cold,
            "ours, warm (BrowserPool)": ours_warm,
            "ours, the worker's path (warm, behind the URL guard proxy)": ours_worker,
            "the capture CLI (flask --app wsgi capture, a command)": partial(capture_cli, base_url=base_url),
            "floor": partial(floor, chrome=PLAIN_CHROME),
            "floor, as a command (bench/floor.py)": floor_command,
            "naive (Chrome per width, window resize)": naive,
        }
        for round_number in range(rounds):
            order = list(methods.items())
            order = order[round_number % len(order) :] + order[: round_number % len(order)]
            for page_name, page in PAGES.items():
                for method_name, method in order:
                    started = time.monotonic()
                    method(f"{base_url}/{page}")
                    elapsed = time.monotonic() - started
                    seconds.setdefault((page_name, method_name), []).append(elapsed)
                    print(f"round {round_number + 1}/{rounds}  {page_name:45}  {method_name:40} {elapsed:6.2f} s")
        # Sampled in captures of their own: the sampler's reads of /proc hold this process's interpreter lock,
        # which the guard proxy of the worker's path needs, and would slow the timed ones.
        for _ in range(MEMORY_ROUNDS):
            for page in PAGES.values():
                url = f"{base_url}/{page}"
                # This process plays the worker: its memory and its warm Chrome's are what a worker costs.
                with PeakMemory({pool.process_group_id}) as memory:
                    ours_worker(url)
                peaks.setdefault(url, []).append((memory.peak_rss, memory.peak_pss))
        worker_capturer.close()

    print(f"\n{rounds} rounds, {os.cpu_count()} cores, widths {WIDTHS}\n")
    print("| page | method | median s | min s | max s | × floor | × floor, as a command |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for page_name in PAGES:
        floor_median = statistics.median(seconds[(page_name, "floor")])
        floor_command_median = statistics.median(seconds[(page_name, "floor, as a command (bench/floor.py)")])
        for method_name in methods:
            runs = seconds[(page_name, method_name)]
            median = statistics.median(runs)
            print(
                f"| {page_name} | {method_name} | {median:.2f} | {min(runs):.2f} | {max(runs):.2f} "
                f"| {median / floor_median:.2f} | {median / floor_command_median:.2f} |"
            )
    print(f"\nPeak memory of the worker's path (this process + its chromedriver and Chrome), median of "
          f"{MEMORY_ROUNDS} untimed captures:")
    for page_name, page in PAGES.items():
        samples = peaks[f"{base_url}/{page}"]
        rss = statistics.median(rss for rss, _ in samples) / 2**20
        pss = statistics.median(pss for _, pss in samples) / 2**20
        print(f"- {page_name}: RSS sum {rss:.0f} MiB, PSS sum {pss:.0f} MiB")


if __name__ == "__main__":
    main()
