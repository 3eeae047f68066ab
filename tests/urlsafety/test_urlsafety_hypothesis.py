"""Property tests: generated spellings of addresses from blocked networks are never accepted."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heatmap_app.urlsafety import UnsafeURLError, canonical_host, check_url, parse_allow_hosts

BLOCKED_V4 = [
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
    "192.0.0.0/24", "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24",
    "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4", "255.255.255.255/32", "169.254.169.254/32",
]
BLOCKED_V6 = ["::1/128", "::/128", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8", "2001:db8::/32",
              "2001::/32", "64:ff9b:1::/48", "100::/64"]

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def never_resolve(host, port):
    raise AssertionError(f"IP literal {host!r} must not be resolved")


@st.composite
def addr_in(draw, nets, version):
    net = ipaddress.ip_network(draw(st.sampled_from(nets)))
    offset = draw(st.integers(0, net.num_addresses - 1))
    cls = ipaddress.IPv4Address if version == 4 else ipaddress.IPv6Address
    return cls(int(net.network_address) + offset)


blocked_v4 = addr_in(BLOCKED_V4, 4)
blocked_v6 = addr_in(BLOCKED_V6, 6)


@st.composite
def encode_number(draw, n: int) -> str:
    style = draw(st.sampled_from(["dec", "hex", "oct"]))
    if style == "dec":
        return str(n)
    if style == "hex":
        digits = format(n, "x")
        digits = "".join(c.upper() if draw(st.booleans()) else c for c in digits)
        pad = "0" * draw(st.integers(0, 3))
        return draw(st.sampled_from(["0x", "0X"])) + pad + digits
    return "0" * draw(st.integers(1, 3)) + format(n, "o")


@st.composite
def encode_v4(draw, ip: ipaddress.IPv4Address) -> str:
    """WHATWG-valid spelling: 1-4 parts, last part fills the remaining bytes, each part
    decimal / hex (any case, zero padded) / octal (zero padded); maybe a trailing dot; maybe
    full-width digits."""
    b = ip.packed
    nparts = draw(st.integers(1, 4))
    parts = list(b[: nparts - 1])
    parts.append(int.from_bytes(b[nparts - 1 :], "big"))
    text = ".".join(draw(encode_number(p)) for p in parts)
    if draw(st.booleans()):
        text += "."
    if draw(st.integers(0, 9)) == 0:  # full-width digits and dots, which IDNA maps back
        table = {c: chr(0xFF10 + int(c)) for c in "0123456789"}
        text = "".join(table.get(c, c) for c in text)
        if draw(st.booleans()):
            text = text.replace(".", "\u3002")
    return text


@st.composite
def encode_v6(draw, ip: ipaddress.IPv6Address) -> str:
    style = draw(st.sampled_from(["compressed", "exploded", "nozeros", "upper"]))
    if style == "compressed":
        text = ip.compressed
    elif style == "exploded":
        text = ip.exploded
    elif style == "nozeros":
        text = ":".join(format(int(h, 16), "x") for h in ip.exploded.split(":"))
    else:
        text = ip.compressed.upper()
    return f"[{text}]"


@st.composite
def v6_embedding(draw, ip4: ipaddress.IPv4Address) -> str:
    """IPv6 forms that carry an IPv4 address: mapped (dotted or hex), SIIT, NAT64, 6to4, compat."""
    n = int(ip4)
    kind = draw(st.sampled_from(["mapped_dotted", "mapped_hex", "mapped_full", "siit", "nat64", "6to4", "compat"]))
    if kind == "mapped_dotted":
        return f"[::ffff:{ip4}]"
    if kind == "mapped_full":
        return f"[0:0:0:0:0:{draw(st.sampled_from(['ffff', 'FFFF', '0ffff'[1:]]))}:{ip4}]"
    if kind == "mapped_hex":
        return draw(encode_v6(ipaddress.IPv6Address((0xFFFF << 32) | n)))
    if kind == "siit":
        return draw(encode_v6(ipaddress.IPv6Address((0xFFFF << 48) | n)))
    if kind == "nat64":
        return draw(encode_v6(ipaddress.IPv6Address((0x0064FF9B << 96) | n)))
    if kind == "6to4":
        low = draw(st.integers(0, 2**80 - 1))
        return draw(encode_v6(ipaddress.IPv6Address((0x2002 << 112) | (n << 80) | low)))
    return f"[::{ip4}]"


def wrap(draw, host: str) -> str:
    scheme = draw(st.sampled_from(["http", "https", "HTTP", "HtTpS"]))
    port = draw(st.sampled_from(["", ":80", ":443", ":8080", ":"]))
    path = draw(st.sampled_from(["", "/", "/latest/meta-data/", "/?a=1", "#x"]))
    return f"{scheme}://{host}{port}{path}"


@SETTINGS
@given(st.data())
def test_encoded_blocked_ipv4_never_accepted(data):
    ip = data.draw(blocked_v4)
    host = data.draw(encode_v4(ip))
    # the generator is meaningful: our parser reads the spelling back as the same address
    assert canonical_host(host) == ip, host
    url = wrap(data.draw, host)
    with pytest.raises(UnsafeURLError):
        check_url(url, resolve=never_resolve)


@SETTINGS
@given(st.data())
def test_blocked_ipv6_never_accepted(data):
    ip = data.draw(blocked_v6)
    url = wrap(data.draw, data.draw(encode_v6(ip)))
    with pytest.raises(UnsafeURLError):
        check_url(url, resolve=never_resolve)


@SETTINGS
@given(st.data())
def test_ipv4_embedded_in_ipv6_never_accepted(data):
    ip4 = data.draw(blocked_v4)
    url = wrap(data.draw, data.draw(v6_embedding(ip4)))
    with pytest.raises(UnsafeURLError):
        check_url(url, resolve=never_resolve)


@SETTINGS
@given(st.data())
def test_names_resolving_to_blocked_addresses_never_accepted(data):
    label = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=12).filter(
        lambda s: not s.startswith("-") and not s.endswith("-")
    )
    name = ".".join(data.draw(st.lists(label, min_size=1, max_size=3))) + "." + data.draw(
        st.sampled_from(["com", "net", "org", "io", "example"])
    )
    if data.draw(st.booleans()):
        name = name.upper()
    if data.draw(st.booleans()):
        name += "."
    bad = data.draw(st.one_of(blocked_v4, blocked_v6))
    answers = [str(bad)]
    if data.draw(st.booleans()):  # a public answer alongside must not launder it
        answers.insert(data.draw(st.integers(0, 1)), "93.184.216.34")
    url = wrap(data.draw, name)
    with pytest.raises(UnsafeURLError):
        check_url(url, resolve=lambda h, p: answers)


@SETTINGS
@given(st.data())
def test_allow_entry_exempts_only_its_exact_address_and_port(data):
    allowed = data.draw(blocked_v4)
    port = data.draw(st.integers(1, 65535))
    allow = parse_allow_hosts(f"{allowed}:{port}")
    other_ip = data.draw(blocked_v4.filter(lambda a: a != allowed))
    other_port = data.draw(st.integers(1, 65535).filter(lambda p: p != port))
    # the exact pair, in any spelling, passes
    check_url(f"http://{data.draw(encode_v4(allowed))}:{port}/", allow, resolve=never_resolve)
    for host, p in [(allowed, other_port), (other_ip, port)]:
        url = f"http://{data.draw(encode_v4(host))}:{p}/"
        try:
            check_url(url, allow, resolve=never_resolve)
        except UnsafeURLError:
            continue
        raise AssertionError(f"allow {sorted(allow)} let {url!r} through")
