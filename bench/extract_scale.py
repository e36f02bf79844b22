"""Citation extraction time against the number of URLs (issue 23, #7).

    .venv/bin/python -m bench.extract_scale 5000 10000

One synthetic article per kind: plain text with every URL in one long paragraph, plain
text with each URL alone on its line, Markdown links in one paragraph, HTML links in
one <p>. Linear extraction roughly doubles its time when the URLs double.
"""

from __future__ import annotations

import sys
import time

from archiver.extract import extract

WORDS = "Officials said the court had ruled on the appeal"


def articles(n: int) -> dict[str, tuple[str, str]]:
    """name → (kind, text) with n distinct URLs."""
    prose = " ".join(
        f"{WORDS} (see https://site{i % 50}.example.org/news/story-{i}) today." for i in range(n)
    )
    alone = "\n".join(f"https://site{i % 50}.example.org/news/story-{i}" for i in range(n))
    md = " ".join(f"{WORDS} [story](https://s{i % 50}.example.org/n/{i})." for i in range(n))
    links = " ".join(
        f'{WORDS} <a href="https://s{i % 50}.example.org/n/{i}">story</a>.' for i in range(n)
    )
    return {
        "text": ("text", f"Title of the piece\n\n{prose}\n"),
        "text-alone": ("text", f"Title of the piece\n\n{alone}\n"),
        "markdown": ("markdown", f"# Title\n\n{md}\n"),
        "html": ("html", f"<html><body><p>{links}</p></body></html>"),
    }


def main(counts: list[int]) -> None:
    for n in counts:
        for name, (kind, text) in articles(n).items():
            start = time.perf_counter()
            ex = extract(text, kind, max_citations=n)
            took = time.perf_counter() - start
            print(
                f"{name:11} {len(text) / 1024:7.0f} KiB {len(ex.citations):6} citations"
                f" {took:7.2f} s",
                flush=True,
            )


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [5000, 10000])
