"""Page requisites: tiny but valid images, a font, stylesheets and a script.

Each image is a distinct 1×1 PNG (colour taken from its name), so every requisite has
its own digest and a test can tell which one it got.
"""

from __future__ import annotations

import base64
import hashlib
import struct
import zlib

from tests.web.replies import Reply

# A 1×1 lossless WebP (RIFF container, VP8L bitstream).
WEBP = base64.b64decode("UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==")
# An MP4 that is only its "ftyp" box: enough for a type sniffer, not for a player.
MP4 = struct.pack(">I", 24) + b"ftypisom" + struct.pack(">I", 512) + b"isomiso2"
# WOFF2 signature and a few bytes: a font by type and magic number, not a usable one.
WOFF2 = b"wOF2\x00\x01\x00\x00fixture-font"
CACHE = ("Cache-Control", "public, max-age=31536000, immutable")


def png(name: str) -> bytes:
    """A valid 1×1 RGB PNG whose colour is derived from ``name``."""
    rgb = hashlib.sha256(name.encode()).digest()[:3]

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)  # 1×1, 8-bit, truecolour
    pixels = zlib.compress(b"\x00" + rgb)  # one scanline: filter byte, then RGB
    signature = b"\x89PNG\r\n\x1a\n"
    return signature + chunk(b"IHDR", ihdr) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def ico(name: str) -> bytes:
    """A favicon: an ICO directory holding one PNG image (allowed since Windows Vista)."""
    image = png(name)
    header = struct.pack("<HHH", 0, 1, 1)
    entry = struct.pack("<BBBBHHII", 1, 1, 0, 0, 1, 32, len(image), 6 + 16)
    return header + entry + image


def asset(body: bytes | str, content_type: str) -> Reply:
    data = body.encode() if isinstance(body, str) else body
    return Reply(headers=(("Content-Type", content_type), CACHE), body=data)


def image(name: str) -> Reply:
    return asset(png(name), "image/png")


CSS = "text/css; charset=utf-8"
JS = "text/javascript; charset=utf-8"  # RFC 9239

PUBLISHER_CSS = """\
@import url("print.css");
@font-face {
  font-family: "Site Serif";
  src: url("../fonts/body.woff2") format("woff2");
  font-display: swap;
}
body { margin: 0; font: 18px/1.6 "Site Serif", Georgia, serif; color: #1a1a1a; }
.site-header { background: #fff url("../img/bg.png") repeat-x; border-bottom: 1px solid #ddd; }
.site-header nav a { margin-right: 1em; text-decoration: none; }
article { max-width: 42em; margin: 2em auto; }
article figure img { width: 100%; height: auto; }
footer { font-size: 14px; color: #666; padding: 2em; border-top: 1px solid #eee; }
"""

PRINT_CSS = """\
@media print {
  .site-header { background: none; }
  .site-header .logo { background: url(../img/print-logo.png) no-repeat; }
  nav, aside, footer { display: none; }
}
"""

PUBLISHER_JS = """\
// Reading-progress bar and lazy comments: what a news site ships, minus the trackers.
document.addEventListener("DOMContentLoaded", function () {
  var bar = document.createElement("div");
  bar.className = "progress";
  document.body.appendChild(bar);
  window.addEventListener("scroll", function () {
    var h = document.documentElement;
    bar.style.width = (100 * h.scrollTop / (h.scrollHeight - h.clientHeight)) + "%";
  });
});
"""


def publisher_assets(site: str) -> dict[str, Reply]:
    """The requisites every publisher page links to, for that publisher's static host."""
    return {
        "/css/main.css": asset(PUBLISHER_CSS, CSS),
        "/css/print.css": asset(PRINT_CSS, CSS),
        "/js/app.js": asset(PUBLISHER_JS, JS),
        "/fonts/body.woff2": asset(WOFF2, "font/woff2"),
        "/favicon.ico": asset(ico(site), "image/x-icon"),
        **{
            f"/img/{name}.png": image(f"{site}/{name}")
            for name in ("lead", "lead-2x", "photo", "bg", "print-logo")
        },
    }
