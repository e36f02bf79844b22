"""The sources cited by the demo article (samples/seed-article.txt), now and later.

Each publisher's page URL, and what it answers in the "now" and "later" worlds:

- The Moscow Times article: the same in both (ok).
- tjournal.ru: the article now; later the site is closed and every path 301s home.
- themoscowtimes.com/2026/06/17/vkontakte-…: 200 now, 410 Gone later.
- themoscowtimes.com/news/vkontakte-…-62512: 301 to www in both.
- bbc.com/russian/news-45188838: gzip + chunked; later a different story (drift).
- themoscowtimes.com/news/russias-big-brother-…-62066: 404 in both.
- vedomosti.ru article: 200 now, 451 block page later.
"""

from __future__ import annotations

from tests.web.assets import asset, ico
from tests.web.pages import Publisher, Story, article_page, front_page, notice_page, summary
from tests.web.replies import Reply, gzip_chunked, html, redirect
from tests.web.routing import Site, by_state
from tests.web.sites import texts_en, texts_ru
from tests.web.sites.common import blocked, static_site

MT = Publisher(
    name="The Moscow Times",
    origin="https://www.themoscowtimes.com",
    static="https://static.themoscowtimes.com",
    lang="en",
    nav=(("News", "/news"), ("Business", "/business"), ("Opinion", "/opinion")),
    tagline="Independent news from Russia",
)
TJ = Publisher(
    name="TJ",
    origin="https://tjournal.ru",
    static="https://leonardo.osnova.io",
    lang="ru",
    nav=(("Новости", "/news"), ("Интернет", "/internet"), ("Технологии", "/tech")),
    tagline="Интернет, технологии и общество",
)
BBC = Publisher(
    name="BBC News Русская служба",
    origin="https://www.bbc.com",
    static="https://static.files.bbci.co.uk",
    lang="ru",
    nav=(("Главная", "/russian"), ("Россия", "/russian/topics/russia"), ("Мир", "/russian/world")),
    tagline="Новости, аналитика и репортажи Русской службы Би-би-си",
)
VEDOMOSTI = Publisher(
    name="Ведомости",
    origin="https://www.vedomosti.ru",
    static="https://cdn.vedomosti.ru",
    lang="ru",
    nav=(("Политика", "/politics"), ("Бизнес", "/business"), ("Технологии", "/technology")),
    tagline="Деловое издание",
)

MAILRU_PATH = "/2018/08/15/mail-ru-asks-government-to-stop-prosecuting-social-media-posts-a62532"
VK_2026_PATH = (
    "/2026/06/17/vkontakte-announces-privacy-reforms-after-spate-of-extremism-prosecutions"
)
VK_NEWS_PATH = (
    "/news/vkontakte-announces-privacy-reforms-after-spate-of-extremism-prosecutions-62512"
)
BIG_BROTHER_PATH = "/news/russias-big-brother-law-enters-into-force-62066"
TJ_PATH = (
    "/75077-mail-ru-group-obratilas-v-gosdumu-s-prosboy-vnesti-zakonoproekt-o-"
    "dekriminalizacii-repostov-i-amnistii-osuzhdennyh"
)
BBC_PATH = "/russian/news-45188838"
VEDOMOSTI_PATH = "/politics/articles/2018/08/14/778045-ne-otsenili-v-kontakte"

# Front pages and "read more" boxes: (headline, path on the publisher's origin).
HEADLINES = {
    MT: (
        ("Mail.ru Asks Government to Stop Prosecuting Social Media Posts", MAILRU_PATH),
        ("Vkontakte Announces Privacy Reforms", VK_NEWS_PATH),
        ("Russia’s ‘Big Brother’ Law Enters Into Force", BIG_BROTHER_PATH),
    ),
    TJ: (("Mail.ru Group обратилась в Госдуму", TJ_PATH),),
    BBC: (("Mail.ru просит амнистировать осужденных", BBC_PATH),),
    VEDOMOSTI: (("Не оценили «В контакте»", VEDOMOSTI_PATH),),
}


def _story(pub: Publisher, path: str, title: str, paragraphs: tuple[str, ...], **kw: str) -> Story:
    return Story(
        url=pub.origin + path,
        title=title,
        description=kw.get("description", summary(paragraphs)),
        author=kw.get("author", "Staff writer"),
        published=kw.get("published", "2018-08-15T10:00:00+03:00"),
        paragraphs=paragraphs,
        caption=kw.get("caption", ""),
    )


def _article(pub: Publisher, story: Story) -> Reply:
    # Related links never point at the article itself (nor its old title, after a drift).
    related = tuple((t, pub.origin + p) for t, p in _headlines(pub) if pub.origin + p != story.url)
    return html(article_page(pub, story, related=related))


def _notice(pub: Publisher, status: int, title: str, message: str, path: str = "/") -> Reply:
    return html(
        notice_page(pub, title=title, message=message, canonical=pub.origin + path), status=status
    )


def _not_found(pub: Publisher) -> Reply:
    if pub.lang == "ru":
        return _notice(pub, 404, "Страница не найдена", "Такой страницы нет. Возможно, её удалили.")
    return _notice(pub, 404, "Page not found", "Sorry, the page you are looking for is not here.")


def _headlines(pub: Publisher) -> tuple[tuple[str, str], ...]:
    return HEADLINES[pub]


def _front(pub: Publisher, title: str) -> Reply:
    links = tuple((t, pub.origin + p) for t, p in _headlines(pub))
    return html(front_page(pub, links, title=title))


def _favicon(site: str) -> Reply:
    return asset(ico(site), "image/x-icon")


MAILRU = _story(
    MT,
    MAILRU_PATH,
    "Mail.ru Asks Government to Stop Prosecuting Social Media Posts",
    texts_en.MAILRU_AMNESTY,
    author="The Moscow Times",
    caption="Mail.ru Group headquarters in Moscow",
)
VK_KW = {
    "author": "The Moscow Times",
    "published": "2018-08-13T16:20:00+03:00",
    "caption": "Vkontakte office in St. Petersburg",
}
VK_TITLE = "Vkontakte Announces Privacy Reforms After Spate of Extremism Prosecutions"

MOSCOW_TIMES = Site(
    hosts=("www.themoscowtimes.com",),
    routes={
        "/": _front(MT, "The Moscow Times"),
        "/favicon.ico": _favicon("themoscowtimes"),
        MAILRU_PATH: _article(MT, MAILRU),
        VK_2026_PATH: by_state(
            now=_article(MT, _story(MT, VK_2026_PATH, VK_TITLE, texts_en.VK_PRIVACY, **VK_KW)),
            later=_notice(MT, 410, "Gone", "This article has been removed.", VK_2026_PATH),
        ),
        VK_NEWS_PATH: _article(
            MT, _story(MT, VK_NEWS_PATH, VK_TITLE, texts_en.VK_PRIVACY, **VK_KW)
        ),
    },
    fallback=_not_found(MT),
)

# The bare domain: a few old /news/ URLs redirect to www, the rest is not found.
MOSCOW_TIMES_BARE = Site(
    hosts=("themoscowtimes.com",),
    routes={
        "/": _front(MT, "The Moscow Times"),
        VK_NEWS_PATH: redirect(MT.origin + VK_NEWS_PATH, status=301),
    },
    fallback=_not_found(MT),
)

TJ_HOME = redirect("https://tjournal.ru/", status=301)
TJOURNAL = Site(
    hosts=("tjournal.ru",),
    routes={
        "/": by_state(
            now=_front(TJ, "TJ"),
            later=_notice(TJ, 200, "TJ закрыт", " ".join(texts_ru.TJOURNAL_CLOSED)),
        ),
        "/favicon.ico": by_state(now=_favicon("tjournal"), later=TJ_HOME),
        TJ_PATH: by_state(
            now=_article(
                TJ,
                _story(
                    TJ,
                    TJ_PATH,
                    "Mail.ru Group обратилась в Госдуму с просьбой декриминализировать репосты",
                    texts_ru.TJOURNAL_MAILRU,
                    author="Редакция TJ",
                ),
            ),
            later=TJ_HOME,
        ),
    },
    fallback=by_state(now=_not_found(TJ), later=TJ_HOME),
)

BBC_KW = {"author": "Русская служба Би-би-си", "published": "2018-08-14T14:05:00+01:00"}
BBC_RUSSIAN = Site(
    hosts=("www.bbc.com",),
    routes={
        "/": _front(BBC, "BBC News"),
        "/russian": _front(BBC, "BBC News Русская служба"),
        "/favicon.ico": _favicon("bbc"),
        # Always gzip and chunked, whatever Accept-Encoding says: the WARC tests need it.
        BBC_PATH: by_state(
            now=gzip_chunked(
                _article(
                    BBC,
                    _story(
                        BBC,
                        BBC_PATH,
                        "Mail.ru Group попросила амнистировать осужденных за репосты",
                        texts_ru.BBC_MAILRU,
                        **BBC_KW,
                    ),
                )
            ),
            later=gzip_chunked(
                _article(
                    BBC,
                    _story(
                        BBC,
                        BBC_PATH,
                        "Ученые нашли на Марсе подледное озеро жидкой воды",
                        texts_ru.BBC_LATER,
                        **BBC_KW,
                    ),
                )
            ),
        ),
    },
    fallback=_not_found(BBC),
)

VEDOMOSTI_SITE = Site(
    hosts=("www.vedomosti.ru",),
    routes={
        "/": _front(VEDOMOSTI, "Ведомости"),
        "/favicon.ico": _favicon("vedomosti"),
        VEDOMOSTI_PATH: by_state(
            now=_article(
                VEDOMOSTI,
                _story(
                    VEDOMOSTI,
                    VEDOMOSTI_PATH,
                    "Не оценили «В контакте»",
                    texts_ru.VEDOMOSTI_VK,
                    author="Ведомости",
                    published="2018-08-14T23:15:00+03:00",
                ),
            ),
            later=blocked(),
        ),
    },
    fallback=_not_found(VEDOMOSTI),
)

SITES = (
    MOSCOW_TIMES,
    MOSCOW_TIMES_BARE,
    TJOURNAL,
    BBC_RUSSIAN,
    VEDOMOSTI_SITE,
    static_site("static.themoscowtimes.com", "themoscowtimes"),
    static_site("leonardo.osnova.io", "tjournal"),
    static_site("static.files.bbci.co.uk", "bbc"),
    static_site("cdn.vedomosti.ru", "vedomosti"),
)
