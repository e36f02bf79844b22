"""Issue 20: `archive serve`'s pages at 10 000 articles / 100 000 citations (SQLite).

    .venv/bin/python -m bench.serve [--citations N] [--repeat N] [--keep]

The store is filled as `bench.store` fills it (one article per 10 citations, two
snapshots and a check per target, a review per citation); then each page is requested
``repeat`` times through Flask's test client (routing, the store's queries, Jinja, no
network) signed in as an editor, and the median and slowest times are printed. The
issue's goal: the article list and an article page in < 200 ms.
"""

from __future__ import annotations

import argparse
import statistics
import time

from archiver import users
from archiver.app import App
from archiver.config import load_settings
from archiver.web.app import ServeSettings, create_app
from bench.common import init_archive, text_table, workdir
from bench.store import fill

GOAL_S = 0.200


def pages(article: str) -> list[tuple[str, str]]:
    return [
        ("article list, page 1", "/articles"),
        ("article list, page 100", "/articles?page=100"),
        ("needs review, page 1", "/articles?filter=needs-review"),
        ("dead, page 1", "/articles?filter=dead"),
        ("search a host", "/articles?q=news7.example"),
        ("search a cited URL", "/articles?q=site42.example/path/4242"),
        ("an article (10 citations)", f"/articles/{article}"),
    ]


def _timed(client, path: str, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        response = client.get(path)
        times.append(time.perf_counter() - start)
        assert response.status_code == 200, (path, response.status_code)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--citations", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    with workdir("serve", args.keep) as root:
        cfg = init_archive(root, None)
        archive = App(settings=load_settings(cfg))
        counts = fill(archive.store, args.citations)
        users.add_user(archive.store, "bench", "bench password")
        client = create_app(archive, ServeSettings()).test_client()
        client.get("/login")
        with client.session_transaction() as session:
            token = session["csrf"]
        login = {"name": "bench", "password": "bench password", "csrf_token": token}
        assert client.post("/login", data=login).status_code == 302
        rows = []
        for label, path in pages("article-004242"):
            times = _timed(client, path, args.repeat)
            median = statistics.median(times)
            verdict = "ok" if median < GOAL_S else "SLOW"
            rows.append([label, f"{median * 1000:.0f} ms", f"{max(times) * 1000:.0f} ms", verdict])
        archive.close()
    print(f"{counts.get('article', 0)} articles, {counts.get('citation', 0)} citations (SQLite)")
    print(text_table(rows, ["page", "median", "slowest", f"< {GOAL_S * 1000:.0f} ms"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
