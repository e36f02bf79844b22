"""The least a Python capture on our required libraries costs: requests + warcio, nothing else.

    python -m bench.pyfloor LIST OUT.warc.gz     (proxy and CA from the environment)

A reference peer for bench.cdn's CPU figures (issue 18: "CPU s per MB written ≤ 1.5×
wget's"), not a tool: it fetches every URL of LIST one at a time, as wget does, with one
``requests.Session``; each page's requisites (``src``/``href`` of img, script, link, and
``url()`` in stylesheets) once per run, as ``wget -p -H`` does; and writes each
exchange as warcio request and response records (``WARCWriter``: gzip, digests) into
one WARC. (warcio's ``capture_http`` would be shorter, but here it failed on the second
request through the fixture proxy: "I/O operation on closed file".) No page analysis, no
store, no evidence, no politeness, no index: what is left of the archiver's work once
everything that makes it more than wget is taken out.
Its CPU per MB is what the required libraries (requests, urllib3, warcio) and the
interpreter cost by themselves.
"""

from __future__ import annotations

import re
import sys
from io import BytesIO
from urllib.parse import urljoin, urlsplit

import requests
from lxml import html
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

CSS_URL = re.compile(rb"""url\(\s*['"]?([^'")\s]+)""")
REQUISITE = {"img": "src", "script": "src", "link": "href"}


def requisites(url: str, body: bytes, content_type: str) -> list[str]:
    if "css" in content_type:
        return [urljoin(url, m.decode("utf-8", "replace")) for m in CSS_URL.findall(body)]
    if "html" not in content_type or not body:
        return []
    found = []
    for el in html.fromstring(body).iter(*REQUISITE):
        ref = el.get(REQUISITE[el.tag])
        if ref and (el.tag != "link" or "stylesheet" in (el.get("rel") or "")):
            found.append(urljoin(url, ref))
    return found


def record(writer: WARCWriter, resp: requests.Response, body: bytes) -> None:
    """The exchange as a response record and a request record."""
    raw = resp.raw
    version = {10: "HTTP/1.0"}.get(raw.version, "HTTP/1.1")
    headers = StatusAndHeaders(
        f"{resp.status_code} {resp.reason}", list(raw.headers.items()), protocol=version
    )
    response = writer.create_warc_record(
        resp.url, "response", payload=BytesIO(body), http_headers=headers
    )
    req = resp.request
    path = urlsplit(req.url)
    target = path.path + ("?" + path.query if path.query else "")
    req_headers = StatusAndHeaders(
        f"{req.method} {target or '/'} {version}",
        [("Host", path.netloc), *req.headers.items()],
        is_http_request=True,
    )
    request = writer.create_warc_record(
        resp.url, "request", payload=BytesIO(b""), http_headers=req_headers
    )
    writer.write_request_response_pair(request, response)


def main(argv: list[str]) -> int:
    listing, out = argv
    with open(listing, encoding="utf-8") as f:
        pages = [u.strip() for u in f if u.strip()]
    seen: set[str] = set()
    session = requests.Session()
    with open(out, "wb") as f:
        writer = WARCWriter(f, gzip=True)
        for page in pages:
            queue = [page]
            while queue:
                url = queue.pop(0)
                if url in seen:
                    continue
                seen.add(url)
                try:
                    resp = session.get(url, timeout=30, stream=True)
                    body = resp.raw.read(decode_content=False)
                except requests.RequestException as exc:
                    print(f"{url}: {exc}", file=sys.stderr)
                    continue
                record(writer, resp, body)
                ctype = resp.headers.get("Content-Type", "")
                if "gzip" not in resp.headers.get("Content-Encoding", ""):
                    queue += requisites(resp.url, body, ctype)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
