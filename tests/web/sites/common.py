"""Pieces several site modules share: static hosts, block pages, plain 404s."""

from __future__ import annotations

from tests.web.assets import publisher_assets
from tests.web.pages import simple_page
from tests.web.replies import Reply, html, text
from tests.web.routing import Site

NOT_FOUND_TEXT = text("Not Found\n", status=404)

# What a Russian ISP serves in place of a page on the register (RFC 7725 status 451).
BLOCK_PAGE = simple_page(
    title="Доступ ограничен",
    lang="ru",
    body="""<div class="blocked">
<h1>Доступ ограничен по требованию Роскомнадзора</h1>
<p>Доступ к информационному ресурсу ограничен на основании Федерального закона
от 27.07.2006 № 149-ФЗ «Об информации, информационных технологиях и о защите информации».</p>
<p lang="en">This page is blocked. Access to this resource is restricted by the decision
of a Russian state authority.</p>
<p><a href="https://blocklist.rkn.gov.ru/">Проверить ограничение доступа</a></p>
</div>""",
)


def blocked() -> Reply:
    # RFC 7725 §3: a 451 should say who blocks, in a Link with rel="blocked-by".
    return html(
        BLOCK_PAGE,
        status=451,
        headers=(("Link", '<https://rkn.gov.ru/>; rel="blocked-by"'),),
    )


def static_site(host: str, name: str) -> Site:
    """A publisher's static host: its requisites, and a bare 404 for anything else."""
    return Site(hosts=(host,), routes=publisher_assets(name), fallback=NOT_FOUND_TEXT)
