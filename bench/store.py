"""Issue 9 item 4: the store and the manifests at scale, and how each step grows.

    .venv/bin/python -m bench.store [--quick] [--repeat N] [--keep]

For 1k, 10k and 100k citations (quick: 1k and 10k) a fresh archive's SQLite store is
filled directly with SQLAlchemy Core bulk inserts into the `archiver.store.schema`
tables, in the proportions of issue 9's largest case (10 000 articles / 100 000
citations / 200 000 snapshots): one article per 10 citations, one target per 1.25
citations (some URLs are cited by several articles), two snapshots (~2 KB of main
text each) and one check per target... per citation for snapshots, one review per
citation, one resource row per snapshot. Then, timed:

- ``archive status`` — the CLI, as a subprocess (interpreter start-up included), and
  `Store.status_rows()` in-process (the query alone);
- ``archive manifest`` — rewriting every article's JSON, CSV and HTML and index.html;
- ``Store.save_article`` — the store's share of ``archive add`` for one new article of
  10 citations (5 of them URLs already in the store), median of 20 articles.

The growth table puts each step's time beside the data's growth (×10 per row): a
linear step grows ~×10 per row, a step that should not depend on the archive's size
(status's query aside, add) stays ~×1; anything near ×100 would be quadratic.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.common import (
    Result,
    archive_cmd,
    fmt_s,
    init_archive,
    median,
    run_timed,
    text_table,
    workdir,
)

FULL = (1_000, 10_000, 100_000)
QUICK = (1_000, 10_000)
CHUNK = 5_000
CLASSES = ("ok", "ok", "ok", "ok", "redirected", "drifted", "gone", "soft-404", "unreachable")
WORDS = ("court", "ruling", "appeal", "post", "channel", "editor", "source", "archive", "law")


def _text(i: int) -> str:
    return " ".join(WORDS[(i * 7 + k) % len(WORDS)] for k in range(330))[:2000]


def fill(store, citations: int) -> dict[str, int]:
    """Bulk-insert an archive of ``citations`` citations; returns the row counts."""
    from archiver.store import schema as t

    articles, targets = citations // 10, citations * 4 // 5
    now = datetime(2025, 1, 1, tzinfo=UTC)
    counts: dict[str, int] = {}

    def insert(table, rows) -> None:
        rows = list(rows)
        counts[table.name] = len(rows)
        with store.tx() as conn:
            for i in range(0, len(rows), CHUNK):
                conn.execute(table.insert(), rows[i : i + CHUNK])

    insert(
        t.article,
        (
            dict(
                id=f"article-{a:06d}",
                source=f"/articles/{a}.txt",
                source_url=f"https://news{a % 97}.example/story/{a}",
                kind="text",
                title=f"Article number {a} about prosecutions for posts",
                added_at=now + timedelta(minutes=a),
                updated_at=now + timedelta(minutes=a),
                sha256=f"{a:064x}",
                manifest_dirty=False,
            )
            for a in range(articles)
        ),
    )
    insert(
        t.target,
        (
            dict(
                id=i + 1,
                url=f"https://site{i % 499}.example/path/{i}/page.html",
                host=f"site{i % 499}.example",
                capture_state="archived" if i % 23 else "failed",
                attempts=1,
                rot=CLASSES[i % len(CLASSES)],
                dead=i % 101 == 0,
                consecutive_failures=0,
                recapture=False,
                next_check_at=now + timedelta(days=7),
                created_at=now,
            )
            for i in range(targets)
        ),
    )
    insert(
        t.citation,
        (
            dict(
                id=c + 1,
                article_id=f"article-{c // 10:06d}",
                n=c % 10 + 1,
                target_id=c % targets + 1,
                url_as_written=f"https://site{(c % targets) % 499}.example/path/{c % targets}",
                position=100 * (c % 10),
                context="As reported in the cited source, the court ruled on the post.",
                role="source" if c % 10 == 0 else "cited",
            )
            for c in range(citations)
        ),
    )
    insert(t.review, (dict(citation_id=c + 1, state="pending") for c in range(citations)))
    snapshots = 2 * citations
    insert(
        t.snapshot,
        (
            dict(
                id=s + 1,
                target_id=s % targets + 1,
                captured_at=now + timedelta(hours=s // targets),
                warc=f"warcs/2025/01/archive-20250101000000-{s // 5000:05d}.warc.gz",
                offset=(s % 5000) * 40_000,
                length=39_000,
                record_id=f"<urn:uuid:{s:08x}-0000-4000-8000-000000000000>",
                record_type="response",
                status=200,
                final_url=f"https://site{(s % targets) % 499}.example/path/{s % targets}",
                redirects=[f"https://site{(s % targets) % 499}.example/path/{s % targets}"],
                content_type="text/html",
                payload_digest=f"sha256:{s:064x}",
                warc_payload_digest=f"sha256:{s + 1:064x}",
                size=38_000,
                title=f"Cited page {s % targets}",
                text=_text(s),
                text_fingerprint=f"sha256:{s % targets:064x}",
                resources=12,
                truncated=False,
                good=True,
            )
            for s in range(snapshots)
        ),
    )
    insert(
        t.check,
        (
            dict(
                target_id=i + 1,
                checked_at=now + timedelta(days=7, minutes=i % 1440),
                status=200,
                final_url=f"https://site{i % 499}.example/path/{i}/page.html",
                redirects=[],
                classification=CLASSES[i % len(CLASSES)],
                similarity=0.97,
            )
            for i in range(targets)
        ),
    )
    insert(
        t.resource,
        (
            dict(
                url=f"https://site{(s % targets) % 499}.example/path/{s % targets}",
                payload_digest=f"sha256:{s:064x}",
                warc_payload_digest=f"sha256:{s + 1:064x}",
                record_id=f"<urn:uuid:{s:08x}-0000-4000-8000-000000000000>",
                warc_date="2025-01-01T00:00:00.000000Z",
                warc=f"warcs/2025/01/archive-20250101000000-{s // 5000:05d}.warc.gz",
                offset=(s % 5000) * 40_000,
            )
            for s in range(snapshots)
        ),
    )
    with store.tx() as conn:
        conn.exec_driver_sql("ANALYZE")
    return counts


def _extraction(n: int, known: int):
    """A new article of 10 citations: 5 new URLs, 5 already in the store."""
    from archiver.extract.common import Citation, Extraction

    cites = [
        Citation(url=f"https://fresh{n}.example/new/{k}", url_as_written="", position=k, context="")
        for k in range(5)
    ]
    cites += [
        Citation(
            url=f"https://site{(n * 31 + k) % known % 499}.example/path/{(n * 31 + k) % known}"
            "/page.html",
            url_as_written="",
            position=5 + k,
            context="",
        )
        for k in range(5)
    ]
    return Extraction(
        kind="text",
        title=f"Benchmark article {n}",
        source_url=f"https://bench.example/new-article/{n}",
        sha256=f"{n:064x}",
        citations=cites,
    )


def time_add(store, targets: int, count: int = 20) -> list[float]:
    times = []
    for n in range(count):
        ex = _extraction(n, targets)
        started = time.perf_counter()
        store.save_article(ex, source=f"bench-{n}.txt")
        times.append(time.perf_counter() - started)
    return times


def measure(root: Path, citations: int, repeat: int) -> dict:
    from archiver import config
    from archiver.store import open_store

    cfg = init_archive(root, None)
    settings = config.load_settings(cfg)
    store = open_store(settings.database_url)
    started = time.perf_counter()
    counts = fill(store, citations)
    fill_s = time.perf_counter() - started
    status_q = []
    for _ in range(max(3, repeat)):
        t0 = time.perf_counter()
        rows = store.status_rows()
        status_q.append(time.perf_counter() - t0)
    assert len(rows) == counts["article"]
    status_cli = [
        run_timed(archive_cmd(cfg, "status"), timeout=600).check("archive status").wall
        for _ in range(max(3, repeat))
    ]
    manifest = run_timed(archive_cmd(cfg, "manifest"), timeout=3600).check("archive manifest")
    adds = time_add(store, counts["target"])
    store.close()
    db_mb = sum(p.stat().st_size for p in root.glob("archive.db*")) / 1e6
    print(
        f"  {citations:>7} citations: fill {fill_s:.1f} s, status {median(status_cli):.2f} s "
        f"(query {median(status_q):.3f} s), manifests {manifest.wall:.1f} s, "
        f"add {1000 * median(adds):.1f} ms, db {db_mb:.0f} MB",
        flush=True,
    )
    return {
        "counts": counts,
        "status_cli": median(status_cli),
        "status_q": median(status_q),
        "manifest": manifest.wall,
        "manifest_cpu": manifest.cpu,
        "manifest_rss": manifest.rss_mb,
        "add": median(adds),
        "add_p90": statistics.quantiles(adds, n=10)[-1],
        "db_mb": db_mb,
        "fill": fill_s,
    }


def run(args: argparse.Namespace) -> Result:
    sizes = QUICK if args.quick else FULL
    repeat = args.repeat or 3
    result = Result(
        name="store",
        title="Store and manifests at scale (SQLite)",
        command="python -m bench.store" + (" --quick" if args.quick else ""),
    )
    result.settings = [
        "per size: articles = citations / 10, targets = 0.8 × citations, snapshots = 2 × "
        "citations (~2 KB main text each), one check per target, one review per citation",
        f"status: median of {max(3, repeat)} CLI runs; add: median of 20 articles "
        "(10 citations, 5 new URLs)",
    ]
    data: dict[int, dict] = {}
    with workdir("store", keep=args.keep) as tmp:
        for citations in sizes:
            data[citations] = measure(tmp / f"c{citations}", citations, repeat)
    top = data[sizes[-1]]
    c = top["counts"]
    label = f"{c['article']:,} art. / {c['citation']:,} cit. / {c['snapshot']:,} snap."
    result.add(
        f"archive status ({label})",
        fmt_s(top["status_cli"]),
        goal="< 1 s",
        met=top["status_cli"] < 1 if sizes[-1] == FULL[-1] else None,
    )
    result.add(
        f"rewrite all manifests ({c['article']:,} articles)",
        fmt_s(top["manifest"]),
        goal="< 30 s",
        met=top["manifest"] < 30 if sizes[-1] == FULL[-1] else None,
    )
    result.add(
        "add one article: store time (save_article)",
        f"{1000 * top['add']:.1f} ms",
        goal="< 100 ms",
        met=top["add"] < 0.1 if sizes[-1] == FULL[-1] else None,
    )
    rows = []
    prev = None
    for citations in sizes:
        d = data[citations]

        def grow(key: str, d: dict = d, prev: dict | None = prev) -> str:
            return f"×{d[key] / prev[key]:.1f}" if prev and prev[key] else ""

        rows.append(
            [
                f"{citations:,}",
                f"{d['status_cli']:.2f} s",
                f"{1000 * d['status_q']:.1f} ms {grow('status_q')}",
                f"{d['manifest']:.1f} s {grow('manifest')}",
                f"{1000 * d['add']:.1f} ms {grow('add')}",
                f"{d['db_mb']:.0f} MB",
            ]
        )
        prev = d
        result.add(
            f"growth @ {citations:,} citations: status query / manifests / add",
            f"{1000 * d['status_q']:.1f} ms / {d['manifest']:.1f} s / {1000 * d['add']:.1f} ms",
            ratio=(
                f"{grow('status_q')} / {grow('manifest')} / {grow('add')}"
                if len(rows) > 1
                else "(base)"
            ),
        )
    table = text_table(
        rows,
        ["citations", "status (CLI)", "status query", "all manifests", "add (store)", "db size"],
    )
    print(table)
    result.notes.append(
        "growth per ×10 of data (×N after each figure): "
        + "; ".join(
            f"{r[0]} citations: status query {r[2]}, manifests {r[3]}, add {r[4]}" for r in rows
        )
    )
    result.notes.append(
        f"at the largest size the CLI's `archive manifest` used {top['manifest_cpu']:.1f} s "
        f"CPU, peak RSS {top['manifest_rss']:.0f} MB; `archive status` includes ~0.4 s of "
        "interpreter start-up and imports"
    )
    return result


def main(argv: list[str] | None = None) -> int:
    from bench.__main__ import parse_args, present, timed_run

    args = parse_args(argv, only="store")
    present([timed_run(run, args)], args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
