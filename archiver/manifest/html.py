"""Render the article pages and the index with Jinja2 (autoescape on: never by hand).

Pages are self-contained: inline CSS, inline SVG, no scripts, no fetched fonts or
images; a Content-Security-Policy meta tag forbids any request the page might make.
"""

from __future__ import annotations

import functools
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from archiver import SOFTWARE
from archiver.manifest import view
from archiver.manifest.chart import Chart


@functools.cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("archiver.manifest", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        when=view.when,
        size=view.human_size,
        href=view.safe_href,
        hexdigest=view.digest_hex,
        badge=view.badge,
    )
    env.globals.update(software=SOFTWARE, rot_classes=view.ROT_CLASSES, unchecked=view.UNCHECKED)
    return env


def render_article(article_view: dict[str, Any]) -> str:
    return environment().get_template("article.html").render(**article_view)


def render_index(
    *,
    articles: list[dict[str, Any]],
    totals: dict[str, Any],
    chart: Chart | None,
    generated_at: str,
) -> str:
    return (
        environment()
        .get_template("index.html")
        .render(articles=articles, totals=totals, chart=chart, generated_at=generated_at)
    )
