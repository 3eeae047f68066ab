"""URL and address checks shared by the API, the UI, the worker and the guard proxy.

Everything here is pure Python (no Flask).  The one entry point most callers need is
:func:`check_url`; the guard proxy (``proxy.py``) uses the lower-level helpers
(:func:`canonical_host`, :func:`check_endpoint`) so that both apply exactly the same rules.

Host parsing follows the WHATWG URL standard that Chrome implements: a host whose last label is
a number is an IPv4 address written in any of the decimal / hex / octal / short forms
(``2130706433``, ``0x7f.1``, ``0177.0.0.1``, ``127.1`` ...), and is parsed into the address it
really means before it is classified.  Anything ambiguous is refused rather than guessed.
"""

from __future__ import annotations

import concurrent.futures
import ipaddress
import re
import socket
from collections.abc import Callable, Iterable
from typing import Union
from urllib.parse import urlsplit

IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]
#: ``resolve(host, port)`` returns the addresses (strings or ``ipaddress`` objects) the name
#: resolves to.  It may return an empty iterable or raise ``OSError`` when the name does not
#: resolve.  It is only called for DNS names, never for IP literals.
Resolver = Callable[[str, int], Iterable[Union[str, IPAddress]]]

MAX_URL_LENGTH = 2000
ALLOWED_SCHEMES = {"http": 80, "https": 443}
RESOLVE_TIMEOUT = 5.0


class UnsafeURLError(ValueError):
    """The URL must not be captured.  ``str(e)`` and ``e.reason`` are a readable reason."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.reason


# --------------------------------------------------------------------------------------------
# Address classification
# --------------------------------------------------------------------------------------------

_V4 = ipaddress.IPv4Network
_V6 = ipaddress.IPv6Network

# (network, description) - first match wins, so specific entries come first.
_BLOCKED_V4: list[tuple[ipaddress.IPv4Network, str]] = [
    (_V4("169.254.169.254/32"), "link-local (cloud metadata)"),
    (_V4("0.0.0.0/8"), "unspecified (\"this network\")"),
    (_V4("10.0.0.0/8"), "private"),
    (_V4("100.64.0.0/10"), "carrier-grade NAT (shared address space)"),
    (_V4("127.0.0.0/8"), "loopback"),
    (_V4("169.254.0.0/16"), "link-local"),
    (_V4("172.16.0.0/12"), "private"),
    (_V4("192.0.0.0/24"), "reserved (IETF protocol assignments)"),
    (_V4("192.0.2.0/24"), "reserved (documentation)"),
    (_V4("192.88.99.0/24"), "reserved (6to4 relay anycast)"),
    (_V4("192.168.0.0/16"), "private"),
    (_V4("198.18.0.0/15"), "reserved (benchmarking)"),
    (_V4("198.51.100.0/24"), "reserved (documentation)"),
    (_V4("203.0.113.0/24"), "reserved (documentation)"),
    (_V4("224.0.0.0/4"), "multicast"),
    (_V4("255.255.255.255/32"), "broadcast"),
    (_V4("240.0.0.0/4"), "reserved"),
]

_V4_MAPPED = _V6("::ffff:0:0/96")
_V4_TRANSLATED = _V6("::ffff:0:0:0/96")  # SIIT, RFC 2765
_V4_COMPAT = _V6("::/96")  # deprecated IPv4-compatible (also holds :: and ::1)
_NAT64 = _V6("64:ff9b::/96")
_6TO4 = _V6("2002::/16")
_TEREDO = _V6("2001::/32")

_BLOCKED_V6: list[tuple[ipaddress.IPv6Network, str]] = [
    (_V6("::/128"), "unspecified"),
    (_V6("::1/128"), "loopback"),
    (_V6("64:ff9b:1::/48"), "private (local-use NAT64)"),
    (_V6("100::/64"), "reserved (discard-only)"),
    (_TEREDO, "a Teredo tunnel address (can reach arbitrary IPv4 hosts)"),
    (_V6("2001::/23"), "reserved (IETF protocol assignments)"),
    (_V6("2001:db8::/32"), "reserved (documentation)"),
    (_V6("3fff::/20"), "reserved (documentation)"),
    (_V6("fc00::/7"), "private (unique local)"),
    (_V6("fe80::/10"), "link-local"),
    (_V6("fec0::/10"), "site-local (deprecated)"),
    (_V6("ff00::/8"), "multicast"),
]


def address_block_reason(ip: IPAddress | str) -> str | None:
    """Why this address must not be contacted (e.g. ``"loopback"``), or ``None`` if it is public.

    IPv6 forms that embed an IPv4 address (IPv4-mapped, SIIT, NAT64 ``64:ff9b::/96``, 6to4
    ``2002::/16``) are judged by the embedded address; IPv4-compatible (``::a.b.c.d``) and Teredo
    addresses are refused outright.  As a final safety net anything Python's ``ipaddress`` does
    not consider globally routable is refused as reserved.
    """
    if isinstance(ip, str):
        ip = ipaddress.ip_address(ip)
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id:
            return "an IPv6 address with a zone index"
        for net in (_V4_MAPPED, _V4_TRANSLATED, _NAT64):
            if ip in net:
                inner = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
                why = address_block_reason(inner)
                return None if why is None else f"{why} (IPv4 {inner} embedded in IPv6)"
        if ip in _6TO4:
            inner = ipaddress.IPv4Address((int(ip) >> 80) & 0xFFFFFFFF)
            why = address_block_reason(inner)
            return None if why is None else f"{why} (IPv4 {inner} embedded in a 6to4 address)"
        for net, why in _BLOCKED_V6:
            if ip in net:
                return why
        if ip in _V4_COMPAT:
            return "reserved (IPv4-compatible IPv6)"
        if not ip.is_global:
            return "reserved"
        return None
    for net, why in _BLOCKED_V4:
        if ip in net:
            return why
    if not ip.is_global or ip.is_multicast or ip.is_reserved:
        return "reserved"
    return None


# --------------------------------------------------------------------------------------------
# Host parsing
# --------------------------------------------------------------------------------------------

_NAME_RE = re.compile(r"^[a-z0-9_-]+(\.[a-z0-9_-]+)*$")
_HEXNUM_RE = re.compile(r"^0x[0-9a-f]*$")

# Names that only ever mean something inside the operator's network.
_INTERNAL_SUFFIXES = (
    "localhost",
    "localdomain",
    "local",
    "internal",
    "intranet",
    "lan",
    "home",
    "corp",
    "private",
    "home.arpa",
    "in-addr.arpa",
    "ip6.arpa",
)


def _parse_ipv4_part(part: str) -> int | None:
    if part == "":
        return None
    if part.startswith("0x"):
        digits = part[2:]
        if digits == "":
            return 0
        if not re.fullmatch(r"[0-9a-f]+", digits):
            return None
        return int(digits, 16)
    if len(part) > 1 and part.startswith("0"):
        if not re.fullmatch(r"[0-7]+", part):
            return None
        return int(part, 8)
    if not part.isdigit() or not part.isascii():
        return None
    return int(part)


def _ends_in_number(labels: list[str]) -> bool:
    last = labels[-1]
    return (last.isascii() and last.isdigit()) or bool(_HEXNUM_RE.match(last))


def _parse_whatwg_ipv4(labels: list[str]) -> ipaddress.IPv4Address | None:
    """WHATWG "IPv4 parser": 1-4 parts, each decimal/0x-hex/0-octal, the last fills the rest."""
    if len(labels) > 4:
        return None
    nums = []
    for part in labels:
        n = _parse_ipv4_part(part)
        if n is None:
            return None
        nums.append(n)
    if any(n > 255 for n in nums[:-1]):
        return None
    if nums[-1] >= 256 ** (5 - len(nums)):
        return None
    value = nums[-1]
    for i, n in enumerate(nums[:-1]):
        value += n << (8 * (3 - i))
    return ipaddress.IPv4Address(value)


def canonical_host(raw: str) -> str | IPAddress:
    """Turn a URL host into an ``ipaddress`` object (for IP literals in any spelling) or a
    lower-case ASCII DNS name without a trailing dot.  Raises :class:`UnsafeURLError` for hosts
    that are malformed, ambiguous, or written in a way we refuse (percent-encoding, zone ids,
    empty labels, several trailing dots ...)."""
    if raw.startswith("["):
        if not raw.endswith("]"):
            raise UnsafeURLError("The URL has a malformed IPv6 address.")
        inner = raw[1:-1]
        if "%" in inner:
            raise UnsafeURLError("IPv6 addresses with a zone index cannot be captured.")
        try:
            return ipaddress.IPv6Address(inner)
        except ValueError:
            raise UnsafeURLError("The URL has a malformed IPv6 address.") from None
    if raw == "":
        raise UnsafeURLError("The URL has no host.")
    if "%" in raw:
        raise UnsafeURLError("Percent-encoded host names cannot be captured.")
    host = raw
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except (UnicodeError, ValueError):
            raise UnsafeURLError("The host name is not a valid international domain name.") from None
    host = host.lower()
    if host.endswith("."):
        host = host[:-1]
    if not _NAME_RE.match(host):
        raise UnsafeURLError(f"The host name {raw!r} is not valid.")
    labels = host.split(".")
    if _ends_in_number(labels):
        ip = _parse_whatwg_ipv4(labels)
        if ip is None:
            raise UnsafeURLError(f"The host {raw!r} looks like an IP address but is not a valid one.")
        return ip
    if len(host) > 253 or any(len(label) > 63 for label in labels):
        raise UnsafeURLError("The host name is too long.")
    return host


def host_to_str(host: str | IPAddress) -> str:
    """Canonical text form used in allow entries and messages (IPv6 in brackets)."""
    if isinstance(host, ipaddress.IPv6Address):
        return f"[{host.compressed}]"
    return str(host)


def name_block_reason(name: str) -> str | None:
    """Why a DNS name is refused before resolving it, or ``None``."""
    for suffix in _INTERNAL_SUFFIXES:
        if name == suffix or name.endswith("." + suffix):
            return f"an internal name (.{suffix})" if suffix != "localhost" else "localhost"
    if "." not in name:
        return "a single-label (intranet) name"
    return None


# --------------------------------------------------------------------------------------------
# Allow list
# --------------------------------------------------------------------------------------------

def _split_host_port(hostport: str) -> tuple[str, str | None]:
    """Split ``host[:port]`` / ``[v6][:port]``; the port part is returned as text (maybe '')."""
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            raise UnsafeURLError("The URL has a malformed IPv6 address.")
        host, rest = hostport[: end + 1], hostport[end + 1 :]
        if rest == "":
            return host, None
        if not rest.startswith(":"):
            raise UnsafeURLError("The URL has a malformed IPv6 address.")
        return host, rest[1:]
    if ":" in hostport:
        host, _, port = hostport.rpartition(":")
        if ":" in host:
            raise UnsafeURLError("IPv6 addresses must be written in brackets.")
        return host, port
    return hostport, None


def _parse_port(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or len(text) > 5 or not 0 < int(text) < 65536:
        raise UnsafeURLError(f"The port {text!r} is not valid.")
    return int(text)


def allow_key(host: str | IPAddress, port: int) -> str:
    return f"{host_to_str(host)}:{port}"


def parse_allow_hosts(value: str | None) -> frozenset[str]:
    """Parse ``CAPTURE_ALLOW_HOSTS`` (``"a.example:8080,10.0.0.5:80,[fd00::1]:443"``).

    Every entry must be an exact ``host:port`` pair; hosts are canonicalised the same way URL
    hosts are (lower case, no trailing dot, IPv4 in dotted decimal, IPv6 compressed in
    brackets).  Wildcards, CIDR ranges and entries without a port raise ``ValueError`` so a
    misconfiguration is noticed at start-up instead of silently allowing too much or too little.
    """
    if not value:
        return frozenset()
    out = set()
    for entry in value.split(","):
        entry = entry.strip()
        if not entry:
            continue
        try:
            host, port = _split_host_port(entry)
            if port is None or port == "":
                raise UnsafeURLError("a port is required")
            canon = canonical_host(host)
            out.add(allow_key(canon, _parse_port(port)))
        except UnsafeURLError as exc:
            raise ValueError(
                f"CAPTURE_ALLOW_HOSTS entry {entry!r} is not an exact host:port pair ({exc.reason})"
            ) from None
    return frozenset(out)


# --------------------------------------------------------------------------------------------
# Resolution and the endpoint check shared with the proxy
# --------------------------------------------------------------------------------------------

_resolver_pool = concurrent.futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="urlsafety-dns")


def parse_guard_clients(value: str | None) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """Parse ``CAPTURE_GUARD_CLIENTS`` (``"10.0.0.7,10.0.1.0/28"``): who may use the guard, always with loopback
    (the worker's own Chrome). ``ValueError`` on an entry that is not an address or network."""
    networks = [ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128")]
    for entry in (value or "").split(","):
        if entry.strip():
            networks.append(ipaddress.ip_network(entry.strip(), strict=True))
    return tuple(networks)


def _getaddrinfo(host: str, port: int) -> list[str]:
    # The trailing dot makes the name absolute, so the resolver's search domains
    # (e.g. "svc.cluster.local", "google.internal") are never appended.
    infos = socket.getaddrinfo(host + ".", port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    seen: list[str] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        addr = sockaddr[0]
        if addr not in seen:
            seen.append(addr)
    return seen


def system_resolver(host: str, port: int) -> list[str]:
    """Resolve ``host`` with the operating system, bounded by ``RESOLVE_TIMEOUT`` seconds."""
    future = _resolver_pool.submit(_getaddrinfo, host, port)
    try:
        return future.result(timeout=RESOLVE_TIMEOUT)
    except concurrent.futures.TimeoutError:
        raise OSError(f"resolving {host} timed out") from None


def _resolve(resolve: Resolver, name: str, port: int) -> list[IPAddress]:
    """The addresses ``name`` resolves to, empty when it does not resolve."""
    try:
        answers = list(resolve(name, port))
    except (OSError, UnicodeError):
        answers = []
    out: list[IPAddress] = []
    for a in answers:
        try:
            ip = a if isinstance(a, (ipaddress.IPv4Address, ipaddress.IPv6Address)) else ipaddress.ip_address(str(a))
        except ValueError:
            raise UnsafeURLError(f"The host {name} resolves to something that is not an address.") from None
        if ip not in out:
            out.append(ip)
    return out


def _no_public_address(name: str) -> UnsafeURLError:
    # One message whether the name resolves to an internal address or not at all, and never the
    # address: the reason reaches API clients, the UI and screenshots of the guard's refusal page,
    # and telling more would let anyone who can submit a URL map the operator's internal DNS.
    return UnsafeURLError(f"The host {name} does not resolve to a public address, so it cannot be captured.")


def _literal_address_message(ip: IPAddress, why: str) -> str:
    # A literal address was written by whoever submitted the URL (or the page), so naming it tells nothing new.
    return f"The address {ip.compressed} is {why} and cannot be captured."


def check_endpoint(
    host: str | IPAddress,
    port: int,
    allow_hosts: frozenset[str] = frozenset(),
    *,
    resolve: Resolver = None,  # type: ignore[assignment]
) -> list[IPAddress]:
    """Check a canonical host (from :func:`canonical_host`) and port; return the addresses that
    may be connected to.  Raises :class:`UnsafeURLError`.

    Allow list semantics (``CAPTURE_ALLOW_HOSTS``):

    * an entry ``name:port`` exempts exactly that DNS name on exactly that port: its addresses
      are resolved but not classified (the operator vouches for the name);
    * an entry ``ip:port`` exempts exactly that address on exactly that port: the URL may spell
      the address in any form, or use a name whose answer is that address.  Each resolved
      address must be either public or exempted by such an entry.
    Nothing else is exempted: no other port, no other address of the same network, no other
    name, no other spelling of a name.
    """
    if resolve is None:
        resolve = system_resolver
    if isinstance(host, str):
        if allow_key(host, port) in allow_hosts:
            addresses = _resolve(resolve, host, port)
            if not addresses:
                raise UnsafeURLError(f"The host {host} does not resolve.")
            return addresses
        why = name_block_reason(host)
        if why is not None:
            raise UnsafeURLError(f"The host {host} is {why} and cannot be captured.")
        addresses = _resolve(resolve, host, port)
        if not addresses:
            raise _no_public_address(host)
    else:
        addresses = [host]
    for ip in addresses:
        if allow_key(ip, port) in allow_hosts:
            continue
        why = address_block_reason(ip)
        if why is not None:
            if isinstance(host, str):
                raise _no_public_address(host)
            raise UnsafeURLError(_literal_address_message(ip, why))
    return addresses


# --------------------------------------------------------------------------------------------
# URL check
# --------------------------------------------------------------------------------------------

_SCHEME_RE = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.\-]*):")
_CONTROL_RE = re.compile(r"[\x00-\x20\x7f]")


def split_url(url: str) -> tuple[str, str | IPAddress, int]:
    """Syntactic checks only: return ``(scheme, canonical host, port)`` or raise."""
    if not isinstance(url, str):
        raise UnsafeURLError("The URL must be text.")
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeURLError(f"The URL is longer than {MAX_URL_LENGTH} characters.")
    if url == "":
        raise UnsafeURLError("The URL is empty.")
    if _CONTROL_RE.search(url):
        raise UnsafeURLError("The URL contains spaces or control characters.")
    if "\\" in url:
        raise UnsafeURLError("The URL contains a backslash.")
    m = _SCHEME_RE.match(url)
    if not m:
        raise UnsafeURLError("The URL must start with http:// or https://.")
    scheme = m.group(1).lower()
    if scheme not in ALLOWED_SCHEMES:
        raise UnsafeURLError(f"Only http and https URLs can be captured (not {scheme}:).")
    if url[m.end() : m.end() + 2] != "//" or url[m.end() + 2 : m.end() + 3] == "/":
        raise UnsafeURLError("The URL must start with http:// or https:// followed by a host.")
    try:
        netloc = urlsplit(url).netloc
    except ValueError:
        raise UnsafeURLError("The URL is malformed.") from None
    if "@" in netloc:
        raise UnsafeURLError("URLs with a user name or password cannot be captured.")
    host_text, port_text = _split_host_port(netloc)
    host = canonical_host(host_text)
    port = ALLOWED_SCHEMES[scheme] if not port_text else _parse_port(port_text)
    return scheme, host, port


def check_url(
    url: str,
    allow_hosts: frozenset[str] = frozenset(),
    *,
    resolve: Resolver = system_resolver,
) -> str:
    """Return ``url`` (surrounding whitespace stripped) if it is safe to capture, else raise
    :class:`UnsafeURLError` with a readable reason.  Resolves the host (with ``resolve``) but
    never connects anywhere.  A later redirect or DNS change is handled by the guard proxy."""
    if isinstance(url, str):
        url = url.strip(" \t\r\n")
    _scheme, host, port = split_url(url)
    check_endpoint(host, port, allow_hosts, resolve=resolve)
    return url
