"""Issue 9 item 5: ``archive verify`` over ~2 GB of WARC files vs ``warcio check``.

    .venv/bin/python -m bench.verify [--quick] [--repeat N] [--keep]

An archive is filled with the archiver's own WARC writer (`make_sink`: one gzip member
per record, level 6, files rotated at 1 GB, each closed file's size and sha256 in the
store and the ledger): captures of a 60 KB HTML page (a snapshot row and its ledger
line each) with eight images of 60–300 KB (incompressible, like JPEGs), request
records, every tenth capture's images repeated as revisit records, and a few 20–60 MB
downloads — ~2 GB of WARC (quick: ~200 MB). Then, on the same files:

- ``archive verify`` (the CLI): every gzip member inflated strictly, every record's
  block and payload digests, each snapshot's document digest, each closed file's
  sha256 against the store and the ledger, the ledger's hash chain;
- ``warcio check`` on every file: block and payload digests of each record.

Reported: MB of WARC per wall second for both, CPU seconds, peak RSS (medians).
The files sit in the page cache for both tools (the machine has the memory).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import random
import time
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.common import (
    BIN,
    MB,
    Result,
    archive_cmd,
    fmt_s,
    init_archive,
    median,
    ratio,
    run_timed,
    total_size,
    warc_paths,
    workdir,
)

FULL = {"bytes": 2_000_000_000, "repeat": 3}
QUICK = {"bytes": 200_000_000, "repeat": 1}
POOL = random.Random(99).randbytes(16 * 2**20)
WORDS = b"court ruling appeal post channel editor source archive report law evidence ".split()


def _opaque(name: str, size: int) -> bytes:
    start = zlib.crc32(name.encode()) % (len(POOL) - size)
    head = b"\xff\xd8\xff\xe0" + name.encode() + b"\x00"
    return head + POOL[start : start + size - len(head)]


def _html(n: int) -> bytes:
    rnd = random.Random(n)
    words = b" ".join(rnd.choice(WORDS) for _ in range(9000))
    return (
        b"<!DOCTYPE html><html><head><title>Page %d</title></head><body><p>%s</p></body>"
        % (
            n,
            words,
        )
        + b"</html>\n"
    )


def _response(body: bytes, ctype: str) -> bytes:
    head = (
        f"HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
        "Server: fixture\r\n\r\n"
    ).encode()
    return head + body


def _request(url: str) -> bytes:
    host = url.split("/")[2]
    path = "/" + url.split("/", 3)[3]
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: bench\r\n\r\n".encode()


class Filler:
    """Writes captures through the archiver's sink; rows and ledger lines as capture does."""

    def __init__(self, app) -> None:
        from archiver.ledger import ledger_for
        from archiver.runs.capture import make_sink

        self.app = app
        self.sink = make_sink(app)
        self.ledger = ledger_for(app.settings)
        self.when = datetime(2025, 3, 1, tzinfo=UTC)
        self.originals: dict[str, tuple[str, str, str]] = {}

    def _pair(self, url: str, raw: bytes) -> tuple[list, str, str]:
        from archiver.warcfiles import records as rec

        self.when += timedelta(seconds=1)
        rid = rec.make_record_id()
        resp = rec.http_record(
            "response", url, io.BytesIO(raw), len(raw), date=self.when, record_id=rid, extra={}
        )
        req_raw = _request(url)
        req = rec.http_record(
            "request",
            url,
            io.BytesIO(req_raw),
            len(req_raw),
            date=self.when,
            record_id=rec.make_record_id(),
            extra={"WARC-Concurrent-To": rid},
        )
        return [resp, req], rid, resp.rec_headers.get_header("WARC-Payload-Digest")

    def _revisit(self, url: str, raw: bytes) -> list:
        from archiver.warcfiles import records as rec

        refers_to, warc_digest, date = self.originals[url]
        self.when += timedelta(seconds=1)
        head = raw[: raw.index(b"\r\n\r\n") + 4]
        return [
            rec.revisit_record(
                url,
                head,
                date=self.when,
                record_id=rec.make_record_id(),
                refers_to=refers_to,
                refers_to_uri=url,
                refers_to_date=date,
                payload_digest=warc_digest,
                extra={},
            )
        ]

    def page(self, n: int) -> int:
        """One capture: the page (a snapshot) and its images; returns bytes of bodies."""
        from archiver.store import schema as t
        from archiver.warcfiles import records as rec

        url = f"https://site{n % 97}.example/story/{n}"
        body = _html(n)
        records, rid, warc_digest = self._pair(url, _response(body, "text/html"))
        loc = self.sink.write(records)[0]
        self._snapshot(t, rec, url, body, rid, warc_digest, loc)
        total = len(body)
        for k in range(8):
            img = f"https://site{n % 97}.example/img/{n // 10}-{k}.jpg"  # shared by 10 pages
            data = _opaque(img, 60_000 + zlib.crc32(img.encode()) % 240_000)
            raw = _response(data, "image/jpeg")
            if img in self.originals:
                self.sink.write(self._revisit(img, raw))
                continue
            records, irid, idigest = self._pair(img, raw)
            self.sink.write(records)
            self.originals[img] = (irid, idigest, rec.warc_date(self.when))
            total += len(data)
        return total

    def download(self, n: int, size: int) -> int:
        url = f"https://files.example/big/{n}.bin"
        records, _, _ = self._pair(url, _response(_opaque(url, size), "application/octet-stream"))
        self.sink.write(records)
        return size

    def _snapshot(self, t, rec, url, body, rid, warc_digest, loc) -> None:
        from archiver.ledger.events import Paired
        from archiver.ledger.pairs import write_paired

        digest = "sha256:" + hashlib.sha256(body).hexdigest()

        def commit(seqs: list[int]) -> list:
            with self.app.store.tx() as conn:
                target_id = conn.execute(
                    t.target.insert().values(
                        url=url,
                        host=url.split("/")[2],
                        capture_state="archived",
                        attempts=1,
                        dead=False,
                        consecutive_failures=0,
                        recapture=False,
                        created_at=self.when,
                    )
                ).inserted_primary_key[0]
                conn.execute(
                    t.snapshot.insert().values(
                        target_id=target_id,
                        captured_at=self.when,
                        warc=loc.warc,
                        offset=loc.offset,
                        length=loc.length,
                        record_id=rid,
                        record_type="response",
                        status=200,
                        final_url=url,
                        redirects=[url],
                        content_type="text/html",
                        payload_digest=digest,
                        warc_payload_digest=warc_digest,
                        size=len(body),
                        resources=8,
                        truncated=False,
                        good=True,
                        ledger_seq=seqs[0],
                    )
                )
                return self.app.store.paired_rows(conn, Paired.SNAPSHOT, seqs)

        # the row and its line as a capture writes them (`archiver.ledger.pairs`)
        write_paired(self.ledger, self.app.store, Paired.SNAPSHOT, 1, commit)

    def close(self) -> None:
        self.sink.close()


def fill(root: Path, target_bytes: int) -> tuple[Path, dict[str, int]]:
    from archiver import config
    from archiver.app import App

    cfg = init_archive(root, None)
    app = App(settings=config.load_settings(cfg))
    filler = Filler(app)
    written, pages, downloads = 0, 0, 0
    try:
        while total_size(warc_paths(root / "warcs") + _open_files(root)) < target_bytes:
            for _ in range(50):
                filler.page(pages)
                pages += 1
            if pages % 200 == 0:
                written += filler.download(downloads, (20 + downloads % 3 * 20) * 2**20)
                downloads += 1
    finally:
        filler.close()
        app.close()
    return cfg, {"pages": pages, "downloads": downloads}


def _workers() -> int:
    from archiver.manifest.verify import MAX_WORKERS, _cpus

    return min(_cpus(), MAX_WORKERS)


def _open_files(root: Path) -> list[Path]:
    return sorted((root / "warcs").rglob("*.warc.gz.open"))


def run(args: argparse.Namespace) -> Result:
    size = QUICK if args.quick else FULL
    repeat = args.repeat or size["repeat"]
    result = Result(
        name="verify",
        title="archive verify vs warcio check on the same WARC files",
        command="python -m bench.verify" + (" --quick" if args.quick else ""),
    )
    with workdir("verify", keep=args.keep) as tmp:
        started = time.perf_counter()
        cfg, made = fill(tmp / "archive", size["bytes"])
        paths = warc_paths(tmp / "archive" / "warcs")
        mb = total_size(paths) / MB
        print(
            f"  wrote {mb:.0f} MB in {len(paths)} WARC files ({made['pages']} captures, "
            f"{made['downloads']} downloads) in {time.perf_counter() - started:.0f} s",
            flush=True,
        )
        ours, peers = [], []
        for i in range(repeat):
            for tool in ("archiver", "warcio") if i % 2 == 0 else ("warcio", "archiver"):
                if tool == "archiver":
                    r = run_timed(archive_cmd(cfg, "verify"), timeout=7200)
                    if r.rc != 0:
                        raise RuntimeError(f"archive verify found problems:\n{r.stdout[-3000:]}")
                    ours.append(r)
                    summary = r.stdout.strip().splitlines()[-1]
                else:
                    r = run_timed([BIN / "warcio", "check", *paths], timeout=7200).check("warcio")
                    peers.append(r)
                print(
                    f"  {tool:8s} run {i + 1}/{repeat}: {r.wall:6.1f} s wall, {mb / r.wall:6.1f} "
                    f"MB/s, {r.cpu:6.1f} s CPU, {r.rss_mb:5.0f} MB RSS",
                    flush=True,
                )
    wall_a, wall_w = median([r.wall for r in ours]), median([r.wall for r in peers])
    speed = ratio(mb / wall_a, mb / wall_w)
    result.settings = [
        f"{mb:.0f} MB of WARC in {len(paths)} files: {made['pages']} captures (HTML page + 8 "
        f"images, 1 in 10 pages' images as revisits), {made['downloads']} downloads of "
        "20–60 MB; written with the archiver's sink (gzip level 6)",
        f"{repeat} run(s) each, alternating; medians; files in the page cache",
        f"archive verify reads with {_workers()} worker processes (one per CPU; parts of "
        "~64 MiB cut at snapshot offsets); warcio check is one process",
    ]
    result.add(
        "throughput (MB of WARC / s)",
        f"{mb / wall_a:.1f}",
        f"{mb / wall_w:.1f}",
        f"{speed:.2f}",
        "≥ warcio check",
        speed >= 1,
    )
    result.add("wall time", fmt_s(wall_a), fmt_s(wall_w), f"{ratio(wall_a, wall_w):.2f}")
    cpu_a, cpu_w = median([r.cpu for r in ours]), median([r.cpu for r in peers])
    result.add("CPU seconds", f"{cpu_a:.1f}", f"{cpu_w:.1f}", f"{ratio(cpu_a, cpu_w):.2f}")
    rss_a, rss_w = median([r.rss_mb for r in ours]), median([r.rss_mb for r in peers])
    result.add("peak RSS", f"{rss_a:.0f} MB", f"{rss_w:.0f} MB", f"{ratio(rss_a, rss_w):.1f}")
    result.notes.append(f"archive verify said: {summary}")
    result.notes.append(
        "archive verify does more than warcio check: strict gzip members, document digests "
        "of the snapshots, whole-file sha256 against store and ledger, the ledger chain"
    )
    return result


def main(argv: list[str] | None = None) -> int:
    from bench.__main__ import parse_args, present, timed_run

    args = parse_args(argv, only="verify")
    present([timed_run(run, args)], args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
