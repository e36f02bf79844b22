"""Reading a stored screenshot back: the PNG of a `resource` record in a WARC file.

The web app serves it from here. The location comes from the store, never from a
request; it must still be a file under the archive root, and the record there must be
the one recorded (record id) and a PNG, else nothing is served.
"""

from __future__ import annotations

from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from archiver.net import recorded
from archiver.screenshots.chromium import PNG_MAGIC

MAX_PNG = 64 << 20  # a 4096 x 16384 RGBA screenshot compresses far below this


def read_png(root: Path, shot: dict) -> bytes | None:
    """The PNG bytes of a snapshot's ``screenshot`` (its manifest entry), or None."""
    path = (root / shot["warc"]).resolve()
    if not path.is_relative_to(root.resolve()) or not path.is_file():
        return None
    with open(path, "rb") as f:
        f.seek(int(shot["offset"]))
        for record in ArchiveIterator(f):
            if record.rec_headers.get_header("WARC-Record-ID") != shot["record_id"]:
                return None
            data = recorded.document_stream(record, MAX_PNG + 1).read(MAX_PNG + 1)
            break
        else:
            return None
    return data if data.startswith(PNG_MAGIC) and len(data) <= MAX_PNG else None
