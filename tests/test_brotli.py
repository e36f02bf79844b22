"""Brotli bodies: decoded exactly as warcio decodes them, in bounded memory (a bomb).

The oracle is warcio's own ``record.content_stream()`` with brotlipy's stock
``Decompressor`` (what `try_brotli_init` registers), on inputs small enough for it.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import io
import random
import resource
import tracemalloc
from pathlib import Path

import pytest

brotli = pytest.importorskip("brotli")

from warcio.bufferedreaders import BufferedReader  # noqa: E402
from warcio.recordloader import ArcWarcRecord  # noqa: E402

from archiver import codings  # noqa: E402
from archiver.manifest.verify import verify  # noqa: E402
from archiver.net import fetch, recorded  # noqa: E402
from archiver.runs.add import add_sources  # noqa: E402

from .test_capture import article, snapshots  # noqa: E402
from .test_net_security import proxied  # noqa: E402
from .test_verify import _chunked  # noqa: E402
from .warc_tools import read_all, response_record  # noqa: E402
from .web.sites.cases_wire import br_body, noise  # noqa: E402

pytestmark = pytest.mark.skipif(not codings.available(), reason="brotlipy is not the binding")

MB = 1 << 20
BOMB_MB = 320  # ~16 KB on the wire; its first 16 KB block decodes to 320 MiB in one call
GROWTH = 200 * MB  # what a bomb capture or verify may add to the process's peak memory


def _stock():
    """warcio's brotli decompressor as `try_brotli_init` registers it."""
    decomp = brotli.Decompressor()
    decomp.unused_data = None
    return decomp


def _record(body: bytes, chunked: bool) -> ArcWarcRecord:
    headers = [("Content-Type", "text/plain"), ("Content-Encoding", "br")]
    if chunked:
        headers.append(("Transfer-Encoding", "chunked"))
        body = _chunked(body, 5000)
    return response_record(body, headers)


_read_all = read_all


def _warcio(body: bytes, chunked: bool, monkeypatch) -> bytes:
    with monkeypatch.context() as m:
        m.setitem(BufferedReader.DECOMPRESSORS, "br", _stock)
        with contextlib.redirect_stderr(io.StringIO()):
            return _read_all(_record(body, chunked).content_stream())


def _html(items: int = 200_000) -> bytes:
    """Markup that compresses ~10:1, as real pages do (``noise`` only ~2:1): brotli then
    holds decoded bytes back when a call's input runs out, and how many depends on the
    output buffer the decoder is offered, so cut and broken streams tell readers apart."""
    rng = random.Random(0)
    words = (b'<div class="item">', b"</div>\n", b'<a href="/page/%d">', b"lorem", b"ipsum")
    picks = (rng.choice(words) for _ in range(items))
    return b"".join(w % rng.randrange(999) if b"%d" in w else w for w in picks)


HTML = brotli.compress(_html())

BODIES = {
    "small": brotli.compress(b"hello"),
    "page": br_body("page"),
    "garbage": br_body("garbage"),  # broken from the first byte: passed through raw
    "late": br_body("late"),  # broken after the first block: later blocks dropped
    "trailing": brotli.compress(noise(50000)) + b"after the end" * 100,
    "cut": brotli.compress(noise(100000))[:30000],  # ends mid-stream
    "empty": noise(40000, b"garbage"),  # reads as an empty stream, the rest ignored
    # one block that decodes to MBs, then breaks: warcio passes the block through raw,
    # so the bytes decoded before the break (and past any limit) must not be kept
    "bomb-broken": br_body("bomb", 8)[:300] + noise(1000, b"garbage"),
    # compressible markup cut mid-stream (a capture cut by time or a reset), and with
    # one bad byte mid-stream (warcio drops the block that fails)
    **{f"html-cut-{n}": HTML[:n] for n in (1997, 5003, 9001)},
    "html-bad-byte": HTML[:3000] + bytes([HTML[3000] ^ 0xFF]) + HTML[3001:],
}


@pytest.mark.parametrize("chunked", [False, True])
@pytest.mark.parametrize("name", sorted(BODIES))
def test_the_bounded_reader_gives_warcio_s_bytes(name, chunked, monkeypatch):
    body = BODIES[name]
    want = _warcio(body, chunked, monkeypatch)
    # once a stream breaks, warcio calls brotlipy's failed decoder again for each later
    # block (what it gives then is from a corrupt state, or a crash); ours stops there
    stops = name == "late" and not chunked
    with contextlib.redirect_stderr(io.StringIO()):
        got = _read_all(recorded.document_stream(_record(body, chunked)))
        assert want.startswith(got) and len(got) < len(want) if stops else got == want
        for limit in (1, 16384, 50000, MB):  # cut at a limit: warcio's bytes, cut there
            cut = recorded.document_stream(_record(body, chunked), limit)
            assert _read_all(cut, 1000) == (got if stops else want)[:limit]
    if name in ("garbage", "bomb-broken"):
        assert got == body
    if name == "late":
        assert 0 < len(got) < len(noise(200000))


def test_the_cases_break_where_they_claim(monkeypatch):
    """The broken bodies do fail as the test above needs (else it proves little)."""
    monkeypatch.setitem(BufferedReader.DECOMPRESSORS, "br", _stock)
    with contextlib.redirect_stderr(io.StringIO()) as err:
        late = _read_all(_record(BODIES["late"], False).content_stream())
    assert late[:16384] == noise(200000)[:16384] and "Decompression error" in err.getvalue()
    assert _warcio(BODIES["garbage"], False, monkeypatch) == BODIES["garbage"]


def test_a_decoding_step_stays_small():
    bomb = br_body("bomb", 64)
    steps = codings.BrotliSteps()
    sizes = [len(piece) for piece in steps.steps(bomb)]
    assert sum(sizes) == 64 * MB and max(sizes) <= codings.STEP


def test_warcio_s_own_brotli_decompressor_refuses_a_bomb():
    """A reader that is not ours (pywb, cdxj-indexer) sees a broken coding, not GBs."""
    decomp = BufferedReader.DECOMPRESSORS["br"]()
    assert decomp.decompress(BODIES["small"]) == b"hello"
    with pytest.raises(brotli.error):
        BufferedReader.DECOMPRESSORS["br"]().decompress(br_body("bomb", 128))
    assert "br" in BufferedReader.get_supported_decompressors() and recorded.decodes("br")


def test_every_content_stream_goes_through_the_helper():
    """No ``x.content_stream()`` in archiver but `recorded.document_stream`'s (and the
    one in `codings.content_stream` for a record without HTTP headers: nothing decoded)."""
    root = Path(recorded.__file__).resolve().parents[1]
    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr == "content_stream":
                found.append(f"{path.relative_to(root)}:{ast.unparse(node.value)}")
    assert found == ["codings.py:record", "net/recorded.py:codings"]


# ---------------------------------------------------------------- over the wire


def _warcio_document(response: io.BytesIO, monkeypatch) -> str:
    """sha256 of the recorded response's document as stock warcio decodes it."""
    with monkeypatch.context() as m:
        m.setitem(BufferedReader.DECOMPRESSORS, "br", _stock)
        m.setattr(codings, "content_stream", lambda record, limit, **_: record.content_stream())
        return recorded.document_of(response, 16)[0]


@pytest.mark.parametrize("chunked", [False, True])
@pytest.mark.parametrize("kind", ["page", "garbage", "late"])
def test_br_capture_is_warcio_s_document(web, kind, chunked, monkeypatch):
    url = f"https://cases.test/br?body={kind}" + ("&chunked=1" if chunked else "")
    client = fetch.Client(proxied(web))
    chain = client.fetch_chain(url, record=True)
    hop = chain.final
    assert hop is not None and hop.status == 200 and not hop.truncated
    warcio_s = _warcio_document(hop.exchange.response, monkeypatch)
    if kind == "late" and not chunked:  # warcio decodes on past the break (test above)
        assert hop.doc_digest != warcio_s and hop.doc_size < 200000
    else:
        assert hop.doc_digest == warcio_s
    assert bool(hop.error) == (kind != "page")
    if kind == "page":
        assert hop.doc_size == 200000 and hop.head == noise(200000)[: len(hop.head)]
    chain.close()
    chain = client.fetch_chain(url, record=False)  # decoded as it streams
    hop = chain.final
    assert hop is not None and hop.status == 200
    if kind == "page":
        want = hashlib.sha256(noise(200000)).hexdigest()
        assert hop.doc_digest == "sha256:" + want and not hop.error
    else:
        assert hop.error == "content coding broken: body kept as received"
    chain.close()


def test_a_br_bomb_without_recording_stops_at_the_size_cap(web):
    br_body("bomb", BOMB_MB)  # built before measuring
    client = fetch.Client(proxied(web))
    tracemalloc.start()
    try:
        chain = client.fetch_chain(
            f"https://cases.test/br?body=bomb&mb={BOMB_MB}", record=False, max_bytes=8 * MB
        )
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    hop = chain.final
    assert hop is not None and hop.truncated == "length"
    assert 8 * MB <= hop.doc_size <= 8 * MB + codings.STEP
    assert peak < GROWTH
    chain.close()


def _peak() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def test_a_br_bomb_is_captured_cut_at_the_limit_and_verifies_in_bounded_memory(
    archive, tmp_path, monkeypatch
):
    limit = 128 * MB
    monkeypatch.setattr(recorded, "DOCUMENT_LIMIT", limit)
    url = f"https://cases.test/br?body=bomb&mb={BOMB_MB}"
    br_body("bomb", BOMB_MB)  # built (BOMB_MB of zeros in memory once) before measuring
    before = _peak()
    tracemalloc.start()
    try:
        add_sources(archive, [str(article(tmp_path, url))], capture=True)
        capture_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        report = verify(archive)
        verify_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    (snap,) = snapshots(archive, url)
    assert snap.status == 200 and snap.truncated and snap.size == limit
    assert snap.payload_digest == "sha256:" + hashlib.sha256(bytes(limit)).hexdigest()
    assert report.problems == ()
    assert capture_peak < GROWTH and verify_peak < GROWTH
    assert _peak() - before < GROWTH


# ------------------------------------------------- one archive, either install

BR_PAGE = "https://cases.test/br?body=page"


@contextlib.contextmanager
def _plain_install(monkeypatch):
    """What a plain `pip install .` reads with: no brotli binding, so neither warcio,
    urllib3 nor our readers decode br (the body is kept as sent)."""
    import urllib3.response as u3

    decoders = [c for c in u3.BaseHTTPResponse.CONTENT_DECODERS if c != codings.BR]
    with monkeypatch.context() as m:
        m.setattr(codings, "lib", None)
        m.delitem(BufferedReader.DECOMPRESSORS, codings.BR)
        m.setattr(u3, "brotli", None)
        m.setattr(u3.BaseHTTPResponse, "CONTENT_DECODERS", decoders)
        yield


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_a_br_page_captured_without_a_binding_verifies_where_one_is_installed(
    archive, tmp_path, monkeypatch
):
    with _plain_install(monkeypatch):
        add_sources(archive, [str(article(tmp_path, BR_PAGE))], capture=True)
        assert verify(archive).problems == ()
    (snap,) = snapshots(archive, BR_PAGE)
    assert snap.status == 200 and snap.payload_digest == _sha(br_body("page"))  # as sent
    report = verify(archive)  # decodes br now: the document read as sent is its own too
    assert report.problems == () and report.unchecked == ()


def test_a_br_page_captured_with_a_binding_is_said_unchecked_where_none_is(
    archive, tmp_path, monkeypatch
):
    add_sources(archive, [str(article(tmp_path, BR_PAGE))], capture=True)
    (snap,) = snapshots(archive, BR_PAGE)
    assert snap.payload_digest == _sha(noise(200000))  # decoded
    assert verify(archive).unchecked == ()
    with _plain_install(monkeypatch):
        report = verify(archive)
    assert report.problems == () and report.ok
    (note,) = report.unchecked
    assert snap.record_id in note.what and "no brotlipy" in note.what
    assert note.offset == snap.offset
    assert "1 snapshot document digest(s) not checked here" in report.summary()
    assert report.as_dict()["unchecked"] == [note.as_dict()]


def test_a_br_document_digest_that_is_neither_reading_is_still_a_problem(
    archive, tmp_path, monkeypatch
):
    from sqlalchemy import update

    from archiver.store import schema as t

    add_sources(archive, [str(article(tmp_path, BR_PAGE))], capture=True)
    (snap,) = snapshots(archive, BR_PAGE)
    with archive.store.tx() as conn:
        conn.execute(
            update(t.snapshot).where(t.snapshot.c.id == snap.id).values(payload_digest=_sha(b"x"))
        )
    found = [p.what for p in verify(archive).problems]
    assert any(w.startswith("document digest") and _sha(b"x") in w for w in found), found


class _GoogleDecompressor:
    """What warcio's br factory meets with Google's Brotli installed: no ``unused_data``."""

    __slots__ = ()


def _google_factory():
    decomp = _GoogleDecompressor()
    decomp.unused_data = None  # warcio's try_brotli_init does this: AttributeError
    return decomp


@pytest.mark.parametrize("chunked", [False, True])
def test_with_google_s_brotli_a_br_body_is_read_as_sent(chunked, monkeypatch):
    """warcio registers Google's Brotli as a br decoder it cannot drive; our readers then
    read br as sent, as a plain install does, instead of raising AttributeError."""
    body = br_body("page")
    with monkeypatch.context() as m:
        m.setattr(codings, "lib", None)
        m.setitem(BufferedReader.DECOMPRESSORS, codings.BR, _google_factory)
        with pytest.raises(AttributeError):
            _record(body, chunked).content_stream().read()  # warcio's own
        assert not recorded.decodes("br")
        assert _read_all(recorded.document_stream(_record(body, chunked))) == body


def test_a_broken_br_body_s_old_digest_is_said_unchecked(archive, tmp_path, monkeypatch):
    """Before errors stuck, a broken brotli body was decoded on past the break (or
    crashed): a digest stored then may be of neither reading now. verify says so."""
    from sqlalchemy import update

    from archiver.store import schema as t

    url = "https://cases.test/br?body=late&chunked=1"
    add_sources(archive, [str(article(tmp_path, url))], capture=True)
    (snap,) = snapshots(archive, url)
    assert verify(archive).problems == ()
    with archive.store.tx() as conn:
        conn.execute(
            update(t.snapshot).where(t.snapshot.c.id == snap.id).values(payload_digest=_sha(b"x"))
        )
    report = verify(archive)
    assert not [p for p in report.problems if p.what.startswith("document digest")]
    (note,) = report.unchecked
    assert "breaks mid-body" in note.what
    # the store no longer agrees with its ledger line: that still is a problem
    assert any("disagrees with the store" in p.what for p in report.problems)
