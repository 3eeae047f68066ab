"""URL safety (SSRF) for the heatmap service: one module for the API, the UI, the worker and
the browser guard.

* :func:`check_url` - syntactic and address checks of a submitted URL (resolves, never connects).
* :func:`parse_allow_hosts` - ``CAPTURE_ALLOW_HOSTS`` ("host:port,host:port") to a frozenset.
* :func:`parse_guard_clients` - ``CAPTURE_GUARD_CLIENTS`` to the networks that may use the guard.
* :class:`GuardProxy` - forward proxy that Chrome is pointed at; it checks every request the
  browser makes (redirects, frames, subresources, fetch, beacons, WebSockets) and connects only to
  the address it checked, which defeats DNS rebinding.

See ``check_endpoint`` for exactly how allow-list entries match.  No Flask import here.
"""

from .core import (
    MAX_URL_LENGTH,
    IPAddress,
    Resolver,
    UnsafeURLError,
    address_block_reason,
    canonical_host,
    check_endpoint,
    check_url,
    name_block_reason,
    parse_allow_hosts,
    parse_guard_clients,
    split_url,
    system_resolver,
)
from .proxy import GuardProxy

__all__ = [
    "MAX_URL_LENGTH",
    "GuardProxy",
    "IPAddress",
    "Resolver",
    "UnsafeURLError",
    "address_block_reason",
    "canonical_host",
    "check_endpoint",
    "check_url",
    "name_block_reason",
    "parse_allow_hosts",
    "parse_guard_clients",
    "split_url",
    "system_resolver",
]
