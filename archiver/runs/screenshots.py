"""The screenshots run (`archive screenshots`, the daemon's screenshots job): render the
missing ones.

For each good snapshot in a closed WARC file that has no screenshot yet: pywb (started
beside us on loopback, over our own index and WARCs) replays it, headless Chromium
renders the replay (`screenshots.chromium`: no live web), and the PNG goes into a WARC
file of its own (``archive-<time>-screenshots-NNNNN.warc.gz``, through the same writer
as captures, so the file is recorded, indexed, verified and exported like any other) as
a ``resource`` record:

    WARC-Type: resource
    WARC-Target-URI: urn:screenshot:<the snapshot's final URL>
    Content-Type: image/png
    WARC-Refers-To: <the snapshot's response or revisit record>
    WARC-Refers-To-Target-URI / WARC-Refers-To-Date: that record's URI and date

``WARC-Refers-To``, not ``WARC-Concurrent-To``: the screenshot is made later, from the
archive, not in the same capture event (WARC 1.1 §5.7, §5.11). Once its record is
fsync'd, the `screenshot` row and a ``screenshot`` ledger line are written by the ledger
rule (`archiver.ledger.pairs`: the row, then its line, under the ledger's lock; a kill
between the two is completed by the next writer) and the article's manifest goes dirty.

Without the replay extra (pywb) or without Chromium nothing runs: the summary is one
line saying which is missing (`unavailable`).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass

from archiver.interop.pywbserver import ReplayServer
from archiver.interop.replay import INSTALL_HINT as PYWB_HINT
from archiver.interop.replay import pywb_installed
from archiver.ledger import ledger_for
from archiver.ledger.events import Paired
from archiver.ledger.pairs import write_paired
from archiver.runs.capture import index_new_warcs, make_sink
from archiver.screenshots.chromium import (
    INSTALL_HINT,
    Png,
    RenderError,
    chromium_version,
    find_chromium,
    render,
)
from archiver.store.screenshots import ShotRow, ShotWanted
from archiver.warcfiles.records import resource_record, warc_date
from archiver.warcfiles.writer import WarcSink

logger = logging.getLogger(__name__)

FILE_TAG = "screenshots"
URN_PREFIX = "urn:screenshot:"


@dataclass
class ShotSummary:
    taken: int = 0
    failed: int = 0
    skipped: str | None = None  # why nothing could run (no Chromium, no pywb)

    def line(self) -> str:
        if self.skipped:
            return self.skipped
        if not self.taken and not self.failed:
            return "No screenshots missing."
        failed = f"; {self.failed} failed (tried again next run)" if self.failed else ""
        plural = "" if self.taken == 1 else "s"
        return f"Took {self.taken} screenshot{plural}{failed}."


def unavailable(app) -> str | None:
    """Why screenshots cannot be made on this machine (one line), or None."""
    if not pywb_installed():
        return f"Screenshots skipped: the replay extra (pywb) is not installed: {PYWB_HINT}"
    if find_chromium(app.settings.screenshots.chromium) is None:
        wanted = app.settings.screenshots.chromium or "chromium"
        return f"Screenshots skipped: no Chromium ({wanted}) on this machine: {INSTALL_HINT}"
    return None


def take_screenshots(
    app, article_id: str | None = None, *, stop: threading.Event | None = None
) -> ShotSummary:
    """Render the missing screenshots (at most `screenshots.batch`), of one article or all."""
    why = unavailable(app)
    if why:
        return ShotSummary(skipped=why)
    wanted = app.store.screenshots_wanted(article_id, limit=app.settings.screenshots.batch)
    if not wanted:
        return ShotSummary()
    summary = ShotSummary()
    binary = find_chromium(app.settings.screenshots.chromium)
    renderer = chromium_version(binary)
    sink = make_sink(app, tag=FILE_TAG)
    try:
        with ReplayServer(app) as replay:
            for w in wanted:
                if stop is not None and stop.is_set():
                    break
                if _one(app, sink, replay, binary, renderer, w):
                    summary.taken += 1
                else:
                    summary.failed += 1
    finally:
        sink.close()  # recorded in the store and the ledger (warc-closed) as it closes
    index_new_warcs(app)
    return summary


def _one(app, sink: WarcSink, replay: ReplayServer, binary: str, renderer: str, w) -> bool:
    url = replay.origin + replay.path(w.captured_at, w.final_url)
    s = app.settings.screenshots
    try:
        png = render(
            binary,
            url,
            allow=f"127.0.0.1:{replay.port}",
            width=s.width,
            height=s.height,
            timeout=s.timeout,
        )
    except RenderError as exc:
        logger.warning("screenshot of %s failed: %s", w.final_url, exc)
        return False
    _record(app, sink, w, png, renderer)
    return True


def _record(app, sink: WarcSink, w: ShotWanted, png: Png, renderer: str) -> ShotRow:
    """Write the PNG's record (fsync'd), then its row and ledger line together."""
    taken_at = app.clock()
    record_id = sink.ids()
    record = resource_record(
        URN_PREFIX + w.final_url,
        png.data,
        content_type="image/png",
        date=taken_at,
        record_id=record_id,
        extra={
            "WARC-Refers-To": w.record_id,
            "WARC-Refers-To-Target-URI": w.final_url,
            "WARC-Refers-To-Date": warc_date(w.captured_at),
        },
    )
    [loc] = sink.write([record])
    row = ShotRow(
        snapshot_id=w.snapshot_id,
        taken_at=taken_at,
        warc=loc.warc,
        offset=loc.offset,
        length=loc.length,
        record_id=record_id,
        digest="sha256:" + hashlib.sha256(png.data).hexdigest(),
        width=png.width,
        height=png.height,
    )

    def commit(seqs: list[int]) -> list:
        if not app.store.add_screenshot(row, w.target_id, seq=seqs[0]):
            logger.info("snapshot %d got a screenshot from another run first", w.snapshot_id)
            return []
        return app.store.read_paired(Paired.SCREENSHOT, seqs)

    # the ledger rule (`archiver.ledger.pairs`): row, then its line, under the lock
    write_paired(
        ledger_for(app.settings, clock=app.clock),
        app.store,
        Paired.SCREENSHOT,
        1,
        commit,
        renderer=renderer,
    )
    return row
