"""A minimal PNG reader for tests (8-bit RGB/RGBA, non-interlaced: what Chromium writes)."""

from __future__ import annotations

import struct
import zlib


def _chunks(data: bytes):
    pos = 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        yield kind, data[pos + 8 : pos + 8 + length]
        pos += 12 + length


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else (b if pb <= pc else c)


def decode(data: bytes, *, max_rows: int | None = None) -> tuple[int, int, list[bytes]]:
    """(width, height, the first ``max_rows`` rows of pixel bytes: the top of the page;
    the rest is not unfiltered, pure Python being slow); only 8-bit RGB(A)."""
    assert data.startswith(b"\x89PNG\r\n\x1a\n"), "not a PNG"
    idat, header = b"", None
    for kind, body in _chunks(data):
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
    width, height, depth, color, _, _, interlace = header
    assert depth == 8 and color in (2, 6) and interlace == 0, header
    bpp = 3 if color == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(min(height, max_rows or height)):
        line = raw[y * (stride + 1) : (y + 1) * (stride + 1)]
        kind, cur = line[0], bytearray(line[1:])
        for x in range(stride):
            a = cur[x - bpp] if x >= bpp else 0
            b, c = prev[x], prev[x - bpp] if x >= bpp else 0
            cur[x] = (cur[x] + (0, a, b, (a + b) // 2, _paeth(a, b, c))[kind]) & 0xFF
        rows.append(bytes(cur))
        prev = cur
    return width, height, rows


def distinct_colours(data: bytes, *, rows: int = 240, every: int = 8) -> int:
    """How many distinct pixels a sample of the top of the image holds (1: blank)."""
    width, _, rows = decode(data, max_rows=rows)
    bpp = len(rows[0]) // width
    seen = set()
    for row in rows[::every]:
        for x in range(0, len(row), bpp * every):
            seen.add(row[x : x + bpp])
    return len(seen)
