"""HTTP chunks over `codings.BIG_CHUNK`: read in pieces, giving warcio's bytes.

warcio's `ChunkedDataReader` reads a whole chunk (up to 2 GiB) into memory before it
decodes it; one chunk of zeros that size is a few MB in a .warc.gz, so a hostile WARC
could take `archive verify` or `archive import` down, and a server sending one huge
chunk the capture's document digest. The oracle is warcio's own
``record.content_stream()`` on bodies small enough for it.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import hashlib
import io
import random
import subprocess
import sys
import tracemalloc
import zlib
from pathlib import Path

import pytest
from warcio.bufferedreaders import BufferedReader
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from archiver import codings
from archiver.interop import importer
from archiver.manifest.warcscan import scan_warc
from archiver.net import recorded

from .warc_tools import read_all, response_record

MB = 1 << 20
BIG = codings.BIG_CHUNK + MB  # a chunk this big is read in pieces
END = b"\r\n0\r\n\r\n"


def _noise(n: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(n)


def _text(n: int) -> bytes:
    """Compressible markup, so a coded chunk over BIG decodes to many pieces."""
    rng = random.Random(1)
    words = [b"<p>", b"</p>\n", b"lorem ", b"ipsum ", b"dolor ", b'<a href="/x">']
    out = bytearray()
    while len(out) < n:
        out += rng.choice(words)
    return bytes(out[:n])


def _gzip(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def _raw_deflate(data: bytes) -> bytes:
    c = zlib.compressobj(wbits=-15)
    return c.compress(data) + c.flush()


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n" % len(data) + data


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes(b ^ 0xFF for b in data[at : at + 64]) + data[at + 64 :]


def _cases() -> dict[str, tuple[bytes, str | None]]:
    coded = _gzip(_noise(BIG))  # over BIG on the wire, as noise does not compress
    big_text = _gzip(_text(40 * MB))
    return {
        "plain": (_chunk(_noise(BIG)) + END, None),
        "plain, small chunks around": (
            _chunk(b"a" * 100) + b"\r\n" + _chunk(_noise(BIG)) + b"\r\n" + _chunk(b"z" * 9) + END,
            None,
        ),
        "gzip": (_chunk(coded) + END, "gzip"),
        # many chunks' worth of output from one: each zlib call is bounded
        "gzip of markup, one chunk": (_chunk(_gzip(_text(40 * MB)) + _noise(BIG)) + END, "gzip"),
        "gzip of markup after a small chunk": (
            _chunk(big_text[:1000]) + b"\r\n" + _chunk(big_text[1000:] + _noise(BIG)) + END,
            "gzip",
        ),
        # a first block that fails is kept as sent; a later one is dropped whole
        "gzip, garbage": (_chunk(_noise(BIG, 2)) + END, "gzip"),
        "gzip, broken in the big chunk": (
            _chunk(coded[:2000]) + b"\r\n" + _chunk(_flip(coded[2000:], 3 * MB)) + END,
            "gzip",
        ),
        "deflate sent raw": (_chunk(_raw_deflate(_noise(BIG))) + END, "deflate"),
        "deflate, garbage": (_chunk(_noise(BIG, 3)) + END, "deflate"),
        # the chunk is not followed by CRLF: warcio reads on as not chunked
        "no terminator": (_chunk(_noise(BIG)) + b"XY" + b"the rest, as is" * 100, None),
        "no terminator, gzip": (_chunk(coded) + b"XY" + b"junk" * 100, "gzip"),
        # a gzip stream decoding to more than one zlib call's STEP, then another member
        # in the same chunk (the decoder's end left the rest in its unconsumed_tail)
        "gzip over STEP, then a second member": (
            _chunk(_gzip(_noise(5 * MB) + bytes(12 * MB)) + _gzip(b"second member")) + END,
            "gzip",
        ),
        "gzip, then zeros after its end": (_chunk(_gzip(b"hello") + bytes(16 * MB)) + END, "gzip"),
        "cut short": (_chunk(_noise(BIG))[:-MB], None),
        "cut short, gzip": (_chunk(coded)[:-MB], "gzip"),
    }


CASES = _cases()


def _record(body: bytes, coding: str | None):
    headers = [("Content-Type", "text/plain"), ("Transfer-Encoding", "chunked")]
    if coding:
        headers.append(("Content-Encoding", coding))
    return response_record(body, headers)


def _read_all(stream) -> bytes:
    return read_all(stream, 70_000)


def _warcio(body: bytes, coding: str | None) -> bytes:
    with contextlib.redirect_stderr(io.StringIO()):
        return _read_all(_record(body, coding).content_stream())


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_big_chunk_reads_as_warcio_reads_it(name):
    body, coding = CASES[name]
    want = _warcio(body, coding)
    stream = codings.content_stream(_record(body, coding), recorded.DOCUMENT_LIMIT)
    got = _read_all(stream)
    assert len(got) == len(want) and got == want
    # and cut at a reader's limit, as the callers that read a prefix ask
    stream = codings.content_stream(_record(body, coding), 3 * MB + 17)
    assert _read_all(stream)[: 3 * MB + 17] == want[: 3 * MB + 17]


def test_the_cases_take_the_paths_they_claim():
    def out(name):
        return _warcio(*CASES[name])

    assert out("gzip") == _noise(BIG)
    assert out("gzip, garbage") == _noise(BIG, 2)  # kept as sent
    assert out("gzip of markup after a small chunk").startswith(b"<")
    assert out("gzip, broken in the big chunk") != _noise(BIG)  # dropped
    assert len(out("gzip, broken in the big chunk")) < MB
    assert out("deflate sent raw") == _noise(BIG)
    assert out("deflate, garbage") == _noise(BIG, 3)
    assert out("no terminator").endswith(b"the rest, as is")


def _stock_brotli():
    """warcio's brotli decompressor as `try_brotli_init` registers it, where brotlipy is
    the binding (None otherwise)."""
    if not codings.available():
        return None

    def stock():
        decomp = codings.brotli.Decompressor()
        decomp.unused_data = None
        return decomp

    return stock


@pytest.mark.parametrize("cut", [None, 1, 13, 200])
def test_a_brotli_big_chunk_reads_as_warcio_reads_it(cut, monkeypatch):
    """Whole, and cut short so that the chunk ends ``cut`` bytes into a 1 MiB piece: what
    brotli gives for a cut stream depends on where its input ran out, so the chunk is
    decoded in one call on its mapped temp file, as warcio's one call does."""
    stock = _stock_brotli()
    if stock is None:
        pytest.skip("brotlipy is not the binding")
    rng = random.Random(1)
    coded = codings.brotli.compress(rng.randbytes(5 * MB - 300_000) + _text(4 * MB), quality=5)
    if cut is not None:
        coded = coded[: 5 * codings.PIECE + cut]
    body = _chunk(coded) + END
    with monkeypatch.context() as m:
        m.setitem(BufferedReader.DECOMPRESSORS, codings.BR, stock)
        want = _warcio(body, codings.BR)
    assert len(want) > 5 * MB
    stream = codings.content_stream(_record(body, codings.BR), recorded.DOCUMENT_LIMIT)
    assert _read_all(stream) == want


def _fuzz_body(rng: random.Random, coding: str, big: int) -> bytes:
    """A random coded body (maybe broken or cut), in chunks of mixed sizes around
    ``big``, some with a bad terminator, the whole maybe cut short."""
    data = _text(rng.randrange(0, 4000)) if rng.random() < 0.7 else rng.randbytes(300)
    if coding == "gzip":
        coded = _gzip(data) + (_gzip(b"more") if rng.random() < 0.2 else b"")
    elif coding == "deflate":
        coded = zlib.compress(data) if rng.random() < 0.5 else _raw_deflate(data)
    elif coding == codings.BR:
        coded = codings.brotli.compress(data, quality=rng.choice([0, 5, 11]))
    else:
        coded = data
    r = rng.random()
    if r < 0.15:
        coded = rng.randbytes(len(coded))
    elif r < 0.3 and coded:
        coded = _flip(coded, rng.randrange(len(coded)))
    elif r < 0.45:
        coded = coded[: rng.randrange(len(coded) + 1)]
    parts, i = [], 0
    while i < len(coded):
        n = rng.randrange(big + 1, 6 * big) if rng.random() < 0.5 else rng.randrange(1, big + 1)
        parts.append(_chunk(coded[i : i + n]))
        parts.append(b"\r\n" if rng.random() < 0.95 else b"XY")
        i += n
    body = b"".join(parts) + b"0\r\n\r\n"
    return body[: rng.randrange(len(body) + 1)] if rng.random() < 0.2 else body


def test_small_constants_differential(monkeypatch):
    """The piece-wise paths at tiny sizes (a big chunk is over 64 bytes, read 7 at a
    time, zlib gives at most 50 bytes a call) against warcio on random bodies. Brotli
    keeps its STEP: its output buffer is brotlipy's own size up to STEP, and a smaller
    one changes where a cut stream ends (the docstring of `codings.BrotliSteps`)."""
    stock = _stock_brotli()
    monkeypatch.setattr(codings, "BIG_CHUNK", 64)
    monkeypatch.setattr(codings, "PIECE", 7)
    kinds = ["none", "gzip", "deflate"] + ([codings.BR] if stock else [])
    if stock:
        monkeypatch.setitem(BufferedReader.DECOMPRESSORS, codings.BR, stock)
    differ = []
    step = codings.STEP
    for seed in range(1500):
        rng = random.Random(seed)
        coding = rng.choice(kinds)
        monkeypatch.setattr(codings, "STEP", step if coding == codings.BR else 50)
        body = _fuzz_body(rng, coding, 64)
        header = None if coding == "none" else coding
        want = _warcio(body, header)
        limit = rng.choice([recorded.DOCUMENT_LIMIT, rng.randrange(0, 500)])
        stream = codings.content_stream(_record(body, header), limit)
        got = _read_all(stream)
        if getattr(stream, "broken", False) and coding == codings.BR:
            # a failed brotli decoder is not called again (it can crash the process);
            # warcio calls it for every later block: ours stops where its output did
            same = want[:limit].startswith(got[:limit])
        else:
            same = got[:limit] == want[:limit]
        if not same:
            differ.append((seed, coding, len(want), len(got)))
    assert not differ, differ[:10]


ZEROS = 256 * MB  # one chunk of zeros: ~250 KB in the .warc.gz


class _ZeroChunk(io.RawIOBase):
    """A chunked HTTP body of one ZEROS-byte chunk of zeros, made as it is read."""

    def __init__(self) -> None:
        self.parts = [b"%x\r\n" % ZEROS, None, END]
        self.zeros = ZEROS

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        while self.parts:
            part = self.parts[0]
            if part is None:
                n = min(len(b), self.zeros)
                b[:n] = bytes(n)
                self.zeros -= n
                if not self.zeros:
                    self.parts.pop(0)
                return n
            if not part:
                self.parts.pop(0)
                continue
            n = min(len(b), len(part))
            b[:n] = part[:n]
            self.parts[0] = part[n:]
            return n
        return 0


def _zero_chunk_warc(path: Path) -> int:
    """A .warc.gz holding one response whose body is one ZEROS-byte chunk; its offset."""
    length = len(b"%x\r\n" % ZEROS) + ZEROS + len(END)
    http = StatusAndHeaders(
        "200 OK",
        [("Content-Type", "text/html"), ("Transfer-Encoding", "chunked")],
        protocol="HTTP/1.1",
    )
    with open(path, "wb") as f:
        writer = WARCWriter(f, gzip=True)
        record = writer.create_warc_record(
            "https://evil.example/zeros",
            "response",
            payload=io.BufferedReader(_ZeroChunk(), MB),
            length=length,
            http_headers=http,
        )
        offset = f.tell()
        writer.write_record(record)
    return offset


@pytest.mark.slow
def test_one_huge_chunk_of_zeros_is_read_by_verify_and_import_in_bounded_memory(tmp_path):
    path = tmp_path / "zeros.warc.gz"
    offset = _zero_chunk_warc(path)
    assert path.stat().st_size < 2 * MB  # what a stranger hands over
    want = "sha256:" + hashlib.sha256(bytes(ZEROS)).hexdigest()
    tracemalloc.start()
    try:
        scan = scan_warc(path, wanted={offset})
        verify_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        digest, size, _ = importer.document_at(path, offset)
        import_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert not scan.problems and scan.records[offset].document_digest == want
    assert (digest, size) == (want, ZEROS)
    # warcio alone holds the chunk whole, and copies of it: peaks of 768 MB (verify) and
    # 527 MB (import) measured; what is left for import is warcio's gzip reader of the
    # file, whose 16 KB blocks of zeros inflate to ~16 MB a call
    assert verify_peak < 32 * MB and import_peak < 96 * MB, (verify_peak, import_peak)


# --------------------------------------------------- brotli: errors stick, held output

# a chunked br body (four chunks) whose stream breaks in the first: warcio, and our
# reader before errors stuck, called brotlipy's failed decoder again for the next
# chunk, and it crashed the process with SIGSEGV (found by a reviewer's fuzz)
SEGV_BODY = (
    "eNoBLATT+zQwNA0Kg/+BUhHEdhyCm3DUTOEFk93yeI8h3jj6bFWJUJC0mERCO7ZXvMLZDQQf9otdhO4H2Kii"
    "G7YP8Eh621/DdVt70lddnFySulpjyNOxhOf72txRuISnb7AJPJ6x+VxjgduOH8Sj09VJ4iZ2NxZ0ddxU3KJ4"
    "94TBELDzT6SoGqXMSK2fF0DRnfC9S4U4ERq/Vd9CoWdQRudSLtAdMEi12EDT6C6Lb9I8mjBTu1MCR4LaU0oe"
    "EZ1CAXoJ7WdejpaIQT0wqmbs0BfDwOb7g0eLMy69KTsO+ZQ+XYxBvhqcsXJBIUkOkTfqwzbKd5E+uGc3AnlI"
    "scSQQ+8qhIfKnweu21xTYo6rc9/l2YArrIYT7ZnlFShCrw/543uFsHfS6eS+hgxRrM3Kue5UGi5YXFPIw+RR"
    "vT1OlTQi8Ksnd9prpnjTWSVwo+aMCE8hOsPa136pU6PJetKHVV7EwkTrHyYyEeSyPmaQsjUTPN2MkjBCzroj"
    "kx4lp/W8+SoFf1v9BFjkOaIQFG3ROStuP/ThiHgtbTEMWFcqeUKnxk3ilUOjaDVUo1fGWX3XOsjcJ3jBmxX1"
    "4xqRf8O0wOCQFl873hNXrS+X3ORc6fpuxZFza6tKmfeTAKq+8Ep/LV2fTrvv4TpHZZJMiWmsF6LwhvWfa8k5"
    "zJOnrBYoAABPs1i7SnAV+DF0GswCNCNP6qCv3fxMyZoICqIyqZzKV3dDBTVR2eeqq8zvVGl3fW6pa7Lad9XQ"
    "Ld9NtFQav2xsdbDYTw8bpiS1Uf0f8GYXq3L9odHxzAHdxOa5ENrNzDfd8qC0r/We2XZlCX5izxtzw1IC/4QU"
    "k4WgxULV6+7VmoijBUYZfHfUuUwOstBSnTBv0TFTa2l3061QgHb3yrtiBnUFYhCPMP94MO+epH/YZMuNVXIL"
    "v5PGouM/iYUA2MTZcFMVpmkxSRH6mfjh6sBPmBr3gEMkGI5f5ke5x+jFKEfEVlRoO869kVq96NxCI4yZV8ru"
    "yuDpq92Q0flhz1fMYLB6GF8t4DsST2ADFb4vKu6qs6xC9zrXUtHco3exNreHzD2quVKpQ7S2vjDznun9DOIF"
    "QD4IbKMfjWIz1hwqUrbwF9wZO1C0WwsNo/9HQUcDAgUSytbOM/g5xnEYa+9LG5U9l7VbQ5ypVIuxi5cuiXCU"
    "jwFHrAUdOjnYPZChE9ZoYXIG0QS4zRz1hXBBwe7TJOpdKt5NRh31TrdA+Lt5iwAEyukMgAE16IW7aal4VpO9"
    "JfZvBhQg3xdZsVpe8Oy+m+IXB84adpe+uTBi75XnpshYhcIk1DhtkfjbfPGHVyOtkEIGiSWIhOX/n+5m8FMb"
    "0d2tKl3WayGBlrg85Vo8m2ALG62SRf4i8n3pKbhiN4ENCjcNCnk5QPwCqzQNCjQNCrFXQkYNCjINCkdDDQow"
    "DQoNCr2bDsc="
)


def test_a_failed_brotli_decoder_is_not_called_again(tmp_path):
    if _stock_brotli() is None:
        pytest.skip("brotlipy is not the binding")
    body = tmp_path / "body.bin"
    body.write_bytes(zlib.decompress(base64.b64decode("".join(SEGV_BODY))))
    script = (
        "import io, sys\n"
        "from warcio.recordloader import ArcWarcRecord\n"
        "from warcio.statusandheaders import StatusAndHeaders\n"
        "from archiver.net import recorded\n"
        "body = open(sys.argv[1], 'rb').read()\n"
        "headers = [('Transfer-Encoding', 'chunked'), ('Content-Encoding', 'br')]\n"
        "http = StatusAndHeaders('200 OK', headers, protocol='HTTP/1.1')\n"
        "record = ArcWarcRecord('warc', 'response', None, io.BytesIO(body), http, '', 0)\n"
        "stream = recorded.document_stream(record)\n"
        "print(len(stream.read()), stream.broken)\n"
    )
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-c", script, str(body)], cwd=root, capture_output=True, text=True
    )
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    assert done.stdout.split() == ["1024", "True"]  # the first chunk, kept as sent


@pytest.mark.parametrize("cut", [2 * MB + 60_000, -1000])
def test_a_cut_brotli_stream_holding_output_back_reads_as_warcio(cut, monkeypatch):
    """A stream cut where brotli holds over STEP (8 MiB) of output back: brotlipy's one
    buffer of 5 x the input takes it, so our steps ask the decoder again while that
    buffer would have room (they stopped at 16 MiB where warcio gave 21)."""
    stock = _stock_brotli()
    if stock is None:
        pytest.skip("brotlipy is not the binding")
    data = random.Random(7).randbytes(2 * MB) + bytes(24 * MB) + _text(8 * MB)
    coded = codings.brotli.compress(data, quality=5, lgwin=24)
    body = _chunk(coded[:cut]) + END
    with monkeypatch.context() as m:
        m.setitem(BufferedReader.DECOMPRESSORS, codings.BR, stock)
        want = _warcio(body, codings.BR)
    assert len(want) > 2 * codings.STEP
    assert _read_all(codings.content_stream(_record(body, codings.BR), 1 << 30)) == want


def test_a_gzip_bomb_in_a_small_chunk_inflates_in_bounded_steps(monkeypatch):
    """A chunk of 512 KB (under BIG_CHUNK) of gzip that inflates to 512 MiB: warcio's
    one zlib call returns it all at once; over ZLIB_WHOLE, a block inflates in STEP
    calls into a spooled file, cut at the reader's limit."""
    coded = _gzip(bytes(512 * MB))
    assert codings.ZLIB_WHOLE < len(coded) < codings.BIG_CHUNK
    body = _chunk(coded) + END
    limit = 64 * MB
    tracemalloc.start()
    try:
        got = hashlib.sha256()
        recorded.read_document(codings.content_stream(_record(body, "gzip"), limit), got.update)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert got.hexdigest() == hashlib.sha256(bytes(limit)).hexdigest()
    assert peak < 32 * MB, peak
