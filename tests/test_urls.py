"""URL normalisation and address safety: tables of cases + properties."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archiver import urls


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("HTTPS://WWW.Example.COM/Path", "https://www.example.com/Path"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("https://example.com:8443/a", "https://example.com:8443/a"),
        ("https://example.com", "https://example.com/"),
        ("https://example.com/a#frag", "https://example.com/a"),
        ("https://example.com/%7euser/%c3%a9", "https://example.com/~user/%C3%A9"),
        ("https://example.com/a%2Fb", "https://example.com/a%2Fb"),
        ("https://example.com/путь", "https://example.com/%D0%BF%D1%83%D1%82%D1%8C"),
        ("https://пример.рф/", "https://xn--e1afmkfd.xn--p1ai/"),
        ("https://example.com/a?b=1&utm_source=x&utm_medium=y", "https://example.com/a?b=1"),
        ("https://example.com/a?fbclid=abc", "https://example.com/a"),
        ("https://example.com/a?gclid=1&z=2&a=1", "https://example.com/a?z=2&a=1"),
        ("https://example.com/a?b=2&a=1", "https://example.com/a?b=2&a=1"),
        ("http://[::1]:80/", "http://[::1]/"),
        ("https://Example.com./x", "https://example.com/x"),
        # userinfo escaped like the path: no whitespace in a key (found by the 10k fuzz)
        ("http://example.org\x0c@0", "http://example.org%0C@0/"),
        ("http://a b:p%2fw@h.test/", "http://a%20b:p%2Fw@h.test/"),
        ("http://a!b:c;d@h.test", "http://a!b:c;d@h.test/"),
    ],
)
def test_normalise(given, expected):
    assert urls.normalise(given) == expected


@pytest.mark.parametrize(
    "bad",
    [
        "ftp://example.com/",
        "javascript:alert(1)",
        "mailto:a@b.c",
        "https://",
        "/relative",
        "http://example.com:99999/",
    ],
)
def test_normalise_rejects(bad):
    with pytest.raises(urls.BadURL):
        urls.normalise(bad)


@pytest.mark.parametrize(
    ("host", "refused"),
    [
        ("127.0.0.1", True),
        ("127.1", True),  # legacy short form getaddrinfo accepts
        ("2130706433", True),  # decimal form of 127.0.0.1
        ("0x7f.1", True),
        ("10.1.2.3", True),
        ("172.16.0.1", True),
        ("192.168.1.1", True),
        ("100.64.0.1", True),  # shared address space
        ("169.254.169.254", True),  # cloud metadata
        ("224.0.0.1", True),
        ("0.0.0.0", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),  # IPv4-mapped
        ("64:ff9b::a00:1", True),  # NAT64 of 10.0.0.1
        ("2002:c0a8:101::1", True),  # 6to4 of 192.168.1.1
        ("fe80::1", True),
        ("fc00::1", True),
        ("localhost", True),
        ("LOCALHOST.", True),
        ("app.localhost", True),
        ("metadata.google.internal", True),
        ("8.8.8.8", False),
        ("2606:4700::1111", False),
        ("www.bbc.com", False),
        ("t.me", False),
    ],
)
def test_name_refusal(host, refused):
    assert (urls.name_refusal(host) is not None) is refused


def test_url_refusal_allows_private_when_configured():
    assert urls.url_refusal("http://127.0.0.1/", allow_private=True) is None
    assert "loopback" in urls.url_refusal("http://127.0.0.1/", allow_private=False)
    assert "not an http(s) URL" in urls.url_refusal("file:///etc/passwd", allow_private=True)


@given(st.ip_addresses())
def test_every_non_global_address_is_refused(ip):
    reason = urls.address_refusal(ip)
    if not ip.is_global or ip.is_multicast:
        assert reason is not None
    mapped = getattr(ip, "ipv4_mapped", None)
    if mapped is not None and not mapped.is_global:
        assert reason is not None


def test_public_address_passes():
    assert urls.address_refusal(ipaddress.ip_address("93.184.216.34")) is None


_url_chars = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    max_size=40,
)


@settings(max_examples=300)
@given(
    host=st.from_regex(r"[a-z][a-z0-9-]{0,10}\.(com|ru|org)", fullmatch=True),
    path=_url_chars,
    query=_url_chars,
)
def test_normalise_is_idempotent(host, path, query):
    url = f"https://{host}/{path}?{query}"
    try:
        once = urls.normalise(url)
    except urls.BadURL:
        return
    assert urls.normalise(once) == once
