"""Render the article pages and the index with Jinja2 (autoescape on: never by hand).

Pages are self-contained: inline CSS, inline SVG, no scripts, no fetched fonts or
images; a Content-Security-Policy meta tag forbids any request the page might make.
"""

from __future__ import annotations

import functools
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup, escape

from archiver import SOFTWARE
from archiver.manifest import view
from archiver.manifest.chart import Chart


class _Environment(Environment):
    """Looks ``x.key`` up as ``x["key"]`` first when ``x`` is a plain dict.

    Jinja tries the attribute first and the item only after an AttributeError; the
    pages look up ~1 000 dict keys each, so the failed attribute lookups were a large
    part of rendering. Same result unless a key were also a dict method's name
    (``items``, ``get``, …), which no template uses.
    """

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict:
            try:
                return obj[attribute]
            except KeyError:
                pass
        return super().getattr(obj, attribute)


@functools.cache
def environment() -> Environment:
    env = _Environment(
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
        pill=pill,
        cell=cell,
    )
    env.globals.update(software=SOFTWARE, rot_classes=view.ROT_CLASSES, unchecked=view.UNCHECKED)
    return env


def pill(b: view.Badge) -> Markup:
    """A badge as a pill; the template macro it replaces cost ~10 µs a call."""
    return Markup(f'<span class="badge {escape(b.tone)}">{escape(b.label)}</span>')


def cell(n: int, tone: str = "") -> Markup:
    """A count in the index table: '·' and grey when zero, else coloured by ``tone``."""
    cls = " zero" if not n else f" {escape(tone)}" if tone else ""
    return Markup(f'<td class="num{cls}">{escape(n) if n else "·"}</td>')


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
