"""Table-driven tests of check_url / parse_allow_hosts / address classification."""

from __future__ import annotations

import ipaddress

import pytest

from heatmap_app.urlsafety import (
    UnsafeURLError,
    address_block_reason,
    check_url,
    parse_allow_hosts,
)

PUBLIC_V4 = "93.184.216.34"
PUBLIC_V6 = "2606:2800:220:1:248:1893:25c8:1946"


def public_resolver(host: str, port: int) -> list[str]:
    return [PUBLIC_V4]


def no_resolver(host: str, port: int) -> list[str]:  # must never be called
    raise AssertionError(f"resolver called for {host}")


# (url, fragment of the reason)
REFUSED = [
    # loopback, every spelling
    ("http://127.0.0.1/", "loopback"),
    ("http://127.0.0.1:8080/x", "loopback"),
    ("http://127.1/", "loopback"),
    ("http://127.0.1/", "loopback"),
    ("http://2130706433/", "loopback"),
    ("http://0x7f000001/", "loopback"),
    ("http://0X7F000001/", "loopback"),
    ("http://0x7F.0x0.0x0.0x1/", "loopback"),
    ("http://0177.0.0.1/", "loopback"),
    ("http://0177.1/", "loopback"),
    ("http://017700000001/", "loopback"),
    ("http://0x7f.1/", "loopback"),
    ("http://127.0.0.1./", "loopback"),
    ("http://127.000.000.001/", "loopback"),
    ("http://127.255.255.254/", "loopback"),
    ("http://\uff11\uff12\uff17.\uff10.\uff10.\uff11/", "loopback"),  # full-width digits
    ("HTTP://127.0.0.1/", "loopback"),
    # unspecified
    ("http://0/", "unspecified"),
    ("http://0.0.0.0/", "unspecified"),
    ("http://0x0/", "unspecified"),
    ("http://00000/", "unspecified"),
    # IPv6
    ("http://[::1]/", "loopback"),
    ("http://[0:0:0:0:0:0:0:1]/", "loopback"),
    ("http://[::]/", "unspecified"),
    ("http://[::ffff:127.0.0.1]/", "loopback"),
    ("http://[::ffff:7f00:1]/", "loopback"),
    ("http://[0:0:0:0:0:ffff:7f00:0001]/", "loopback"),
    ("http://[::ffff:169.254.169.254]/", "cloud metadata"),
    ("http://[::ffff:10.0.0.1]/", "private"),
    ("http://[::ffff:0:10.0.0.1]/", "private"),  # SIIT translated
    ("http://[::127.0.0.1]/", "IPv4-compatible"),
    ("http://[::10.0.0.1]/", "IPv4-compatible"),
    ("http://[64:ff9b::7f00:1]/", "loopback"),  # NAT64
    ("http://[64:ff9b::a9fe:a9fe]/", "cloud metadata"),
    ("http://[64:ff9b:1::a00:1]/", "local-use NAT64"),
    ("http://[2002:7f00:1::]/", "6to4"),
    ("http://[2002:a00:1::1]/", "private"),
    ("http://[2002:a9fe:a9fe::]/", "cloud metadata"),
    ("http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/", "Teredo"),
    ("http://[2001:db8::1]/", "documentation"),
    ("http://[fc00::1]/", "unique local"),
    ("http://[fd12:3456:789a::1]/", "unique local"),
    ("http://[fe80::1]/", "link-local"),
    ("http://[fe80::1%25eth0]/", "zone"),
    ("http://[fec0::1]/", "site-local"),
    ("http://[ff02::1]/", "multicast"),
    ("http://[100::1]/", "discard"),
    # private / link-local / CGNAT / multicast / reserved
    ("http://10.0.0.1/", "private"),
    ("http://10.255.255.255/", "private"),
    ("http://012.0.0.1/", "private"),  # octal 012 == 10
    ("http://167772161/", "private"),  # 10.0.0.1
    ("http://172.16.0.1/", "private"),
    ("http://172.31.255.255/", "private"),
    ("http://192.168.0.1/", "private"),
    ("http://192.168.1/", "private"),
    ("http://0xc0a80001/", "private"),
    ("http://169.254.169.254/latest/meta-data/", "cloud metadata"),
    ("http://169.254.43518/", "cloud metadata"),
    ("http://2852039166/", "cloud metadata"),
    ("http://0xa9.0xfe.0xa9.0xfe/", "cloud metadata"),
    ("http://0251.0376.0251.0376/", "cloud metadata"),
    ("http://169.254.1.1/", "link-local"),
    ("http://100.64.0.1/", "carrier-grade NAT"),
    ("http://100.127.255.254/", "carrier-grade NAT"),
    ("http://224.0.0.1/", "multicast"),
    ("http://239.255.255.250/", "multicast"),
    ("http://240.0.0.1/", "reserved"),
    ("http://250.1.2.3/", "reserved"),
    ("http://255.255.255.255/", "broadcast"),
    ("http://192.0.0.1/", "reserved"),
    ("http://192.0.2.1/", "documentation"),
    ("http://198.18.0.1/", "benchmarking"),
    ("http://198.51.100.1/", "documentation"),
    ("http://203.0.113.1/", "documentation"),
    # names
    ("http://localhost/", "localhost"),
    ("http://localhost:8000/", "localhost"),
    ("http://LOCALHOST./", "localhost"),
    ("http://LocalHost/", "localhost"),
    ("http://foo.localhost/", "localhost"),
    ("http://a.b.localhost./", "localhost"),
    ("http://localhost.localdomain/", "internal name"),
    ("http://x.internal/", "internal name"),
    ("http://metadata.google.internal/", "internal name"),
    ("http://X.INTERNAL./", "internal name"),
    ("http://printer.local/", "internal name"),
    ("http://printer.local./", "internal name"),
    ("http://router.home.arpa/", "internal name"),
    ("http://1.0.0.127.in-addr.arpa/", "internal name"),
    ("http://metadata/", "single-label"),
    ("http://router./", "single-label"),
    # trailing-dot variants of a fine name that are still wrong
    ("http://example.com../", "not valid"),
    ("http://.example.com/", "not valid"),
    ("http://example..com/", "not valid"),
    # credentials, backslashes and other parser tricks
    ("http://user:pass@example.com/", "user name or password"),
    ("http://user@example.com/", "user name or password"),
    ("http://example.com@127.0.0.1/", "user name or password"),
    ("http://:@example.com/", "user name or password"),
    ("http://example.com\\@127.0.0.1/", "backslash"),
    ("http:\\\\127.0.0.1\\", "backslash"),
    ("http://example.com\\.127.0.0.1/", "backslash"),
    ("http:/127.0.0.1/", "followed by a host"),
    ("http:127.0.0.1/", "followed by a host"),
    ("http:///127.0.0.1/", "followed by a host"),
    ("http://%31%32%37.0.0.1/", "Percent-encoded"),
    ("http://exa mple.com/", "control"),
    ("http://example.com/\n", None),  # stripped trailing newline is fine -> see ACCEPTED
    ("http://exa\tmple.com/", "control"),
    ("http://example.com\x00.127.0.0.1/", "control"),
    ("http://1.2.3.4.5/", "not a valid"),
    ("http://256.0.0.1/", "not a valid"),
    ("http://example.123/", "not a valid"),
    ("http://0x/", "unspecified"),
    ("http://08.0.0.1/", "not a valid"),
    ("http://example.com:0/", "port"),
    ("http://example.com:65536/", "port"),
    ("http://example.com:80:80/", "brackets"),
    ("http://[::1/", "malformed"),
    ("http://::1/", "brackets"),
    ("http:///", "followed by a host"),
    ("http://", "no host"),
    ("", "empty"),
    # schemes
    ("file:///etc/passwd", "Only http and https"),
    ("FILE:///etc/passwd", "Only http and https"),
    ("file://localhost/etc/passwd", "Only http and https"),
    ("ftp://example.com/", "Only http and https"),
    ("javascript:alert(1)", "Only http and https"),
    ("data:text/html,<h1>x</h1>", "Only http and https"),
    ("gopher://example.com:70/", "Only http and https"),
    ("ws://example.com/", "Only http and https"),
    ("chrome://settings", "Only http and https"),
    ("view-source:http://example.com/", "Only http and https"),
    ("//example.com/", "must start with"),
    ("example.com", "must start with"),
    # length
    ("http://example.com/" + "a" * (2001 - len("http://example.com/")), "longer than 2000"),
]
REFUSED = [r for r in REFUSED if r[1] is not None]


@pytest.mark.parametrize("url,reason", REFUSED, ids=[repr(u)[:60] for u, _ in REFUSED])
def test_refused(url, reason):
    with pytest.raises(UnsafeURLError) as info:
        check_url(url, resolve=public_resolver)
    assert reason.lower() in info.value.reason.lower()
    assert str(info.value) == info.value.reason
    assert isinstance(info.value, ValueError)


ACCEPTED = [
    "http://example.com/",
    "https://example.com/",
    "HTTPS://EXAMPLE.COM/Path?q=1#frag",
    "http://example.com./",
    "http://example.com:8080/",
    "http://example.com:/",
    "https://sub.example.co.uk/a/b",
    "http://example.com/" + "a" * (2000 - len("http://example.com/")),
    " http://example.com/ ",
    "http://example.com/\n",
    "http://b\u00fccher.example/",
    "http://xn--bcher-kva.example/",
]


@pytest.mark.parametrize("url", ACCEPTED)
def test_accepted(url):
    assert check_url(url, resolve=public_resolver) == url.strip()


@pytest.mark.parametrize(
    "url",
    ["http://93.184.216.34/", "http://1572395042/", "http://[2606:2800:220:1:248:1893:25c8:1946]/",
     "http://[::ffff:93.184.216.34]/", "http://[2002:5db8:d822::1]/", "http://8.8.8.8:53/"],
)
def test_public_ip_literals_accepted_without_resolving(url):
    assert check_url(url, resolve=no_resolver) == url


NO_PUBLIC_ADDRESS = "The host {} does not resolve to a public address, so it cannot be captured."


def test_name_that_does_not_resolve_is_refused():
    def nx(host, port):
        raise OSError("NXDOMAIN")

    with pytest.raises(UnsafeURLError) as raised:
        check_url("http://nowhere.example/", resolve=nx)
    assert raised.value.reason == NO_PUBLIC_ADDRESS.format("nowhere.example")
    with pytest.raises(UnsafeURLError, match="does not resolve"):
        check_url("http://nowhere.example/", resolve=lambda h, p: [])


@pytest.mark.parametrize("answer", ["10.1.2.3", "127.0.0.1", "169.254.169.254", "::1", "fd00::1",
                                    "::ffff:192.168.0.1", "100.64.0.1", "0.0.0.0"])
def test_a_name_resolving_to_an_internal_address_is_refused_without_telling_the_address(answer):
    """The reason is the one a name that does not resolve gets: it must not map the operator's DNS."""
    with pytest.raises(UnsafeURLError) as info:
        check_url("http://evil.example/", resolve=lambda h, p: [answer])
    assert info.value.reason == NO_PUBLIC_ADDRESS.format("evil.example")
    assert answer not in info.value.reason and "192.168" not in info.value.reason


def test_mixed_public_and_private_answers_are_refused():
    for public, internal in ((PUBLIC_V4, "10.0.0.5"), (PUBLIC_V6, "::1")):
        with pytest.raises(UnsafeURLError) as info:
            check_url("http://mixed.example/", resolve=lambda h, p: [public, internal])
        assert info.value.reason == NO_PUBLIC_ADDRESS.format("mixed.example")


@pytest.mark.parametrize(("url", "named"), [("http://10.1.2.3/", "10.1.2.3"), ("http://0x7f.1/", "127.0.0.1"),
                                            ("http://[::ffff:192.168.0.1]/", "192.168.0.1")])
def test_an_address_typed_in_the_url_is_named_with_its_kind(url, named):
    with pytest.raises(UnsafeURLError) as info:
        check_url(url, resolve=no_resolver)
    assert named in info.value.reason and "cannot be captured" in info.value.reason


def test_resolver_garbage_is_refused():
    with pytest.raises(UnsafeURLError, match="not an address"):
        check_url("http://odd.example/", resolve=lambda h, p: ["not-an-ip"])


def test_public_name_accepted_resolver_gets_canonical_name_and_port():
    seen = []

    def resolver(host, port):
        seen.append((host, port))
        return [PUBLIC_V4, PUBLIC_V6]

    assert check_url("https://WWW.Example.COM./x", resolve=resolver) == "https://WWW.Example.COM./x"
    assert seen == [("www.example.com", 443)]


def test_system_resolver_default_refuses_localhost_without_network():
    # localhost is refused by name before any lookup; 127.0.0.1 by address.  No connection made.
    with pytest.raises(UnsafeURLError):
        check_url("http://localhost/")
    with pytest.raises(UnsafeURLError):
        check_url("http://127.0.0.1/")


# ---------------------------------------------------------------------------- allow list

def test_parse_allow_hosts():
    assert parse_allow_hosts(None) == frozenset()
    assert parse_allow_hosts("") == frozenset()
    assert parse_allow_hosts(" 127.0.0.1:8000 , Intranet.Example.:8080,,[::1]:9000,0x7f.1:81") == frozenset(
        {"127.0.0.1:8000", "intranet.example:8080", "[::1]:9000", "127.0.0.1:81"}
    )


@pytest.mark.parametrize("bad", ["127.0.0.1", "localhost", "*.example.com:80", "10.0.0.0/8:80",
                                 "example.com:0", "example.com:99999", "example.com:http", "::1:80",
                                 "user@example.com:80", "http://example.com:80"])
def test_parse_allow_hosts_rejects_anything_but_exact_pairs(bad):
    with pytest.raises(ValueError, match="CAPTURE_ALLOW_HOSTS"):
        parse_allow_hosts(bad)


def test_allow_exact_ip_port():
    allow = parse_allow_hosts("127.0.0.1:8000")
    assert check_url("http://127.0.0.1:8000/page", allow, resolve=no_resolver)
    # other spellings of the same address are the same endpoint (Chrome canonicalises them too)
    assert check_url("http://2130706433:8000/", allow, resolve=no_resolver)
    # a name resolving to exactly that address on that port is the same endpoint
    assert check_url("http://app.example:8000/", allow, resolve=lambda h, p: ["127.0.0.1"])
    for url in ["http://127.0.0.1:8001/", "http://127.0.0.1/", "https://127.0.0.1/",
                "http://127.0.0.2:8000/", "http://[::1]:8000/", "http://localhost:8000/"]:
        with pytest.raises(UnsafeURLError):
            check_url(url, allow, resolve=lambda h, p: ["127.0.0.1"])
    # a name with the allowed address *and* another internal one is refused
    with pytest.raises(UnsafeURLError, match="does not resolve to a public address"):
        check_url("http://app.example:8000/", allow, resolve=lambda h, p: ["127.0.0.1", "127.0.0.2"])


def test_allow_exact_name_port():
    allow = parse_allow_hosts("wiki.internal:8080")
    assert check_url("http://wiki.internal:8080/", allow, resolve=lambda h, p: ["10.0.0.7"])
    assert check_url("http://WIKI.internal.:8080/", allow, resolve=lambda h, p: ["10.0.0.7"])
    for url in ["http://wiki.internal/", "http://wiki.internal:8081/", "http://a.wiki.internal:8080/",
                "http://10.0.0.7:8080/"]:
        with pytest.raises(UnsafeURLError):
            check_url(url, allow, resolve=lambda h, p: ["10.0.0.7"])
    # still has to resolve
    with pytest.raises(UnsafeURLError, match="does not resolve"):
        check_url("http://wiki.internal:8080/", allow, resolve=lambda h, p: [])


def test_allow_default_ports_and_ipv6():
    allow = parse_allow_hosts("[fd00::5]:443,intranet.example:80")
    assert check_url("https://[fd00::5]/", allow, resolve=no_resolver)
    assert check_url("https://[FD00:0::5]:443/", allow, resolve=no_resolver)
    assert check_url("http://intranet.example/", allow, resolve=lambda h, p: ["10.0.0.1"])
    with pytest.raises(UnsafeURLError):
        check_url("http://[fd00::5]/", allow, resolve=no_resolver)
    with pytest.raises(UnsafeURLError):
        check_url("https://intranet.example/", allow, resolve=lambda h, p: ["10.0.0.1"])


# ---------------------------------------------------------------------------- classification

@pytest.mark.parametrize(
    "ip,blocked",
    [("8.8.8.8", False), ("1.1.1.1", False), ("100.63.255.255", False), ("100.128.0.0", False),
     ("172.15.255.255", False), ("172.32.0.0", False), ("192.169.0.0", False), ("223.255.255.255", False),
     ("2606:4700::1111", False), ("2a00:1450::1", False), ("2001:4860:4860::8888", False),
     ("::ffff:8.8.8.8", False), ("64:ff9b::808:808", False), ("2002:808:808::1", False),
     ("0.1.2.3", True), ("192.88.99.1", True), ("::1", True), ("::", True), ("::ffff:0.0.0.0", True)],
)
def test_address_block_reason_boundaries(ip, blocked):
    assert (address_block_reason(ipaddress.ip_address(ip)) is not None) is blocked
