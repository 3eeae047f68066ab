"""How the engine's Chrome is started: every switch and preference, and the profile folder it runs in.

A capture opens a stranger's page inside the operator's network, so the browser may reach the network
only through the proxy it is given (the URL-safety guard): no UDP of its own (WebRTC, QUIC,
WebTransport, mDNS), no downloads, no popups, and no traffic of its own (updates, sign-in, safe
browsing, search, translation): switched off where Chrome has a switch for it, and sent to a proxy
address that refuses it where it has none.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

from selenium import webdriver

CHROME_ARGUMENTS = (
    "--headless",
    "--no-sandbox",  # the service runs as root in its containers
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--mute-audio",
)
# Chrome's own traffic: updates, sign-in, sync, safe browsing, autofill, translation, search
# preconnects, network time, domain reliability, hyperlink pings.
BACKGROUND_TRAFFIC_ARGUMENTS = (
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-component-extensions-with-background-pages",
    "--disable-domain-reliability",
    "--disable-breakpad",
    "--disable-search-engine-choice-screen",
    "--no-pings",
)
DISABLED_FEATURES = (
    # Host candidates hidden behind mDNS names, and the multicast lookups of a page's `.local` candidates.
    "WebRtcHideLocalIpsWithMdns",
    "OptimizationHints",
    "Translate",
    "MediaRouter",
    "DialMediaRouteProvider",
    "AutofillServerCommunication",
    "NetworkTimeServiceQuerying",
    "PreconnectToSearch",
    "SearchPrefetchServicePrefetching",
    # Each new window would also start the omnibox's popup pages: a renderer or two for nothing.
    "WebUIOmniboxPopup",
    "WebUIOmniboxAimPopup",
    "WebUIOmniboxFullPopup",
)
PREFERENCES = {
    # WebRTC may use UDP only through the proxy, which carries none: no STUN, TURN or ICE datagrams.
    "webrtc.ip_handling_policy": "disable_non_proxied_udp",
    "signin.allowed": False,
    "safebrowsing.enabled": False,
    "search.suggest_enabled": False,
    "translate.enabled": False,
    "net.network_prediction_options": 2,  # never preconnect or prefetch on its own
    "dns_over_https.mode": "off",
}
# chromedriver adds --disable-popup-blocking: a page's window.open() would then open windows at will.
EXCLUDED_CHROMEDRIVER_SWITCHES = ("disable-popup-blocking",)
PROFILE_PREFIX = "heatmap-chrome-"
PROXY_BYPASS_LIST = "<-loopback>"


def host_resolver_rules(*proxies: str) -> str:
    """Chrome resolves no host but its proxies': through a proxy it never needs to (the proxy resolves), and a
    page whose proxy is missing or bypassed fails closed instead of having its hosts looked up. The rules
    match address literals too, so the proxies' own hosts are the exceptions."""
    hosts = sorted({urlsplit(proxy).hostname or "" for proxy in proxies} - {""})
    return ", ".join(["MAP * ~NOTFOUND", *(f"EXCLUDE {host}" for host in hosts)])


def network_arguments(default_proxy: str, page_proxy: str | None) -> list[str]:
    """The switches that keep the browser's traffic inside the proxies it is given: the one place they are defined.

    `default_proxy` serves the browser's own traffic and its start tab, which no page runs in; every
    page load gets a browser context of its own, with its own proxy, `page_proxy` (see context_proxy); without
    one (the engine's own tests) pages load directly and resolve names as any browser does.
    """
    guarded = [f"--host-resolver-rules={host_resolver_rules(default_proxy, page_proxy)}"] if page_proxy else []
    return [
        f"--proxy-server={default_proxy}",
        # Chrome bypasses proxies for loopback unless told not to; the URL guard must see it all.
        f"--proxy-bypass-list={PROXY_BYPASS_LIST}",
        *guarded,
        "--webrtc-ip-handling-policy=disable_non_proxied_udp",
        "--disable-quic",
        "--disable-blink-features=WebTransport",
        f"--disable-features={','.join(DISABLED_FEATURES)}",
    ]


def context_proxy(proxy_server: str | None) -> dict[str, str]:
    """Target.createBrowserContext's proxy parameters for a page load behind `proxy_server` (None: direct)."""
    return {"proxyServer": proxy_server or "direct://", "proxyBypassList": PROXY_BYPASS_LIST}


def chrome_options(default_proxy: str, page_proxy: str | None, *, command_timeout: float) -> webdriver.ChromeOptions:
    options = webdriver.ChromeOptions()
    # Our own bounded readiness wait replaces chromedriver's, which answers no command while a
    # navigation is pending.
    options.page_load_strategy = "none"
    for argument in (*CHROME_ARGUMENTS, *BACKGROUND_TRAFFIC_ARGUMENTS, *network_arguments(default_proxy, page_proxy)):
        options.add_argument(argument)
    options.add_experimental_option("prefs", PREFERENCES)
    options.add_experimental_option("excludeSwitches", list(EXCLUDED_CHROMEDRIVER_SWITCHES))
    # A dialog the page opens is dismissed by chromedriver before the next command, which then runs.
    options.unhandled_prompt_behavior = "dismiss"
    options.timeouts = {"script": int(command_timeout * 1000)}
    return options


def new_profile_directory() -> str:
    """A fresh profile folder whose name says which process owns it (see remove_stale_profiles)."""
    return tempfile.mkdtemp(prefix=f"{PROFILE_PREFIX}{_process_identity(os.getpid())}-")


def remove_stale_profiles() -> None:
    """Remove the profile folders of owners that are gone, say a worker killed with SIGKILL."""
    for directory in Path(tempfile.gettempdir()).glob(f"{PROFILE_PREFIX}*-*-*"):
        pid, _, start_time = directory.name.removeprefix(PROFILE_PREFIX).rpartition("-")[0].partition("-")
        if pid.isdigit() and _process_identity(int(pid)) != f"{pid}-{start_time}":
            shutil.rmtree(directory, ignore_errors=True)


def _process_identity(pid: int) -> str | None:
    """`pid-starttime` of a live process, None once it is gone: pids are reused, start times are not."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    # Fields after the command name start at field 3 (state); the start time is field 22.
    return None if fields[0] == "Z" else f"{pid}-{fields[19]}"
