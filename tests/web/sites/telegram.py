"""t.me (and telegram.me): a channel post, its embed widget and the channel preview.

The markup copies Telegram's: the post page carries the text only in ``og:description``
and loads the post through the ``?embed=1`` widget; ``/s/<channel>`` lists recent posts.
Later the post is deleted, and Telegram still answers 200 everywhere: the post page turns
into the channel page, and the widget says "Post not found".
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from tests.web.assets import JS, asset, publisher_assets
from tests.web.pages import simple_page
from tests.web.replies import Reply, html
from tests.web.routing import Request, Site
from tests.web.sites import texts_ru
from tests.web.sites.common import NOT_FOUND_TEXT

CHANNEL = "PlushevChannel"
TITLE = "Плюшев"
POST_ID = 2850  # the post the demo article cites; deleted in the "later" world
STATIC = "https://telegram.org"


@dataclass(frozen=True, kw_only=True)
class Post:
    id: int
    text: str
    date: str  # ISO 8601, as Telegram puts it in <time datetime>
    views: str


POSTS = (
    Post(
        id=2847,
        text=texts_ru.TELEGRAM_OTHER_POSTS[0],
        date="2018-08-13T15:30:00+00:00",
        views="14.1K",
    ),
    Post(
        id=2848,
        text=texts_ru.TELEGRAM_OTHER_POSTS[1],
        date="2018-08-13T19:02:00+00:00",
        views="15.8K",
    ),
    Post(
        id=2849,
        text=texts_ru.TELEGRAM_OTHER_POSTS[2],
        date="2018-08-14T08:45:00+00:00",
        views="11.2K",
    ),
    Post(id=POST_ID, text=texts_ru.TELEGRAM_POST, date="2018-08-14T12:00:00+00:00", views="23.4K"),
    Post(
        id=2851,
        text=texts_ru.TELEGRAM_OTHER_POSTS[3],
        date="2018-08-14T17:10:00+00:00",
        views="12.9K",
    ),
)


def _posts(state: str) -> dict[int, Post]:
    return {p.id: p for p in POSTS if state == "now" or p.id != POST_ID}


def _head(*, description: str, canonical: str) -> str:
    return (
        f'<meta property="og:title" content="{escape(TITLE)}">\n'
        f'<meta property="og:image" content="{STATIC}/img/lead.png">\n'
        '<meta property="og:site_name" content="Telegram">\n'
        f'<meta property="og:description" content="{escape(description)}">\n'
        f'<meta property="twitter:title" content="{escape(TITLE)}">\n'
        f'<meta property="twitter:description" content="{escape(description)}">\n'
        '<meta name="twitter:card" content="summary">\n'
        f'<meta name="description" content="{escape(description)}">\n'
        f'<link rel="canonical" href="{canonical}">\n'
        f'<link rel="icon" href="{STATIC}/favicon.ico">\n'
        f'<link href="{STATIC}/css/main.css" rel="stylesheet">\n'
        f'<script src="{STATIC}/js/app.js" async></script>\n'
    )


def _page(*, title: str, description: str, canonical: str, body: str) -> Reply:
    head = _head(description=description, canonical=canonical)
    page = simple_page(title=title, head=head, lang="ru", body=body)
    return html(page.replace("<body>", '<body class="no_transition">', 1))


def _photo() -> str:
    return f'<img src="{STATIC}/img/lead.png" srcset="{STATIC}/img/lead-2x.png 2x" alt="">'


def post_page(post: Post) -> Reply:
    url = f"https://t.me/{CHANNEL}/{post.id}"
    body = f"""<div class="tgme_page_wrap">
<div class="tgme_head_wrap"><div class="tgme_head"><a href="https://telegram.org/"
 class="tgme_head_brand"><i class="tgme_logo"></i></a></div></div>
<div class="tgme_body_wrap">
<div class="tgme_page tgme_page_post">
<div class="tgme_page_widget">
<script async src="{STATIC}/js/telegram-widget.js?22" data-telegram-post="{CHANNEL}/{post.id}"
 data-width="100%"></script>
</div>
<div class="tgme_page_context_link_wrap"><a class="tgme_page_context_link"
 href="/s/{CHANNEL}/{post.id}">Context</a></div>
<div class="tgme_page_action"><a class="tgme_action_button_new"
 href="tg://resolve?domain={CHANNEL}&amp;post={post.id}">View in Telegram</a></div>
</div>
</div>
</div>"""
    title = f"Telegram: Contact @{CHANNEL}"
    return _page(title=title, description=post.text, canonical=url, body=body)


def channel_page() -> Reply:
    body = f"""<div class="tgme_page_wrap">
<div class="tgme_body_wrap">
<div class="tgme_page">
<div class="tgme_page_photo"><a href="tg://resolve?domain={CHANNEL}">{_photo()}</a></div>
<div class="tgme_page_title" dir="auto"><span dir="auto">{escape(TITLE)}</span></div>
<div class="tgme_page_extra">61 204 subscribers</div>
<div class="tgme_page_description" dir="auto">{escape(texts_ru.TELEGRAM_CHANNEL)}</div>
<div class="tgme_page_action"><a class="tgme_action_button_new"
 href="tg://resolve?domain={CHANNEL}">View in Telegram</a></div>
<div class="tgme_page_context_link_wrap"><a href="/s/{CHANNEL}"
 class="tgme_page_context_link">Preview channel</a></div>
</div>
</div>
</div>"""
    return _page(
        title=f"Telegram: Contact @{CHANNEL}",
        description=texts_ru.TELEGRAM_CHANNEL,
        canonical=f"https://t.me/{CHANNEL}",
        body=body,
    )


def message(post: Post) -> str:
    """One ``tgme_widget_message`` block, as in the widget and the channel preview."""
    text = escape(post.text).replace("\n", "<br/>")
    time = post.date[11:16]
    return f"""<div class="tgme_widget_message_wrap js-widget_message_wrap">
<div class="tgme_widget_message text_not_supported_wrap js-widget_message"
 data-post="{CHANNEL}/{post.id}">
<div class="tgme_widget_message_user"><a href="https://t.me/{CHANNEL}"><i
 class="tgme_widget_message_user_photo bgcolor0" data-content="П">{_photo()}</i></a></div>
<div class="tgme_widget_message_bubble">
<div class="tgme_widget_message_author accent_color"><a class="tgme_widget_message_owner_name"
 href="https://t.me/{CHANNEL}"><span dir="auto">{escape(TITLE)}</span></a></div>
<div class="tgme_widget_message_text js-message_text" dir="auto">{text}</div>
<div class="tgme_widget_message_footer compact js-message_footer">
<div class="tgme_widget_message_info short js-message_info">
<span class="tgme_widget_message_views">{post.views}</span><span class="copyonly"> views</span>
<span class="tgme_widget_message_meta"><a class="tgme_widget_message_date"
 href="https://t.me/{CHANNEL}/{post.id}"><time datetime="{post.date}"
 class="time">{time}</time></a></span>
</div>
</div>
</div>
</div>
</div>"""


def _not_found_message(post_id: int) -> str:
    return f"""<div class="tgme_widget_message_wrap js-widget_message_wrap">
<div class="tgme_widget_message js-widget_message" data-post="{CHANNEL}/{post_id}">
<div class="tgme_widget_message_bubble">
<div class="tgme_widget_message_error">Post not found</div>
</div>
</div>
</div>"""


def widget(post: Post | None, post_id: int) -> Reply:
    inner = message(post) if post is not None else _not_found_message(post_id)
    head = (
        '<meta name="robots" content="noindex, nofollow">\n'
        f'<link href="{STATIC}/css/main.css" rel="stylesheet">\n'
        f'<script src="{STATIC}/js/app.js"></script>\n'
    )
    page = simple_page(title="Telegram Widget", head=head, lang="ru", body=inner)
    return html(page.replace("<body>", '<body class="body_widget_post emoji_image nodark">', 1))


def preview(state: str) -> Reply:
    history = "\n".join(message(p) for p in _posts(state).values())
    body = f"""<header class="tgme_header search_collapsed">
<div class="tgme_header_title">{escape(TITLE)}</div></header>
<main class="tgme_main">
<section class="tgme_channel_history js-message_history">
{history}
</section>
</main>
<div class="tgme_channel_info">
<div class="tgme_channel_info_header_title"><span dir="auto">{escape(TITLE)}</span></div>
<div class="tgme_channel_info_description">{escape(texts_ru.TELEGRAM_CHANNEL)}</div>
</div>"""
    return _page(
        title=f"{TITLE} – Telegram",
        description=texts_ru.TELEGRAM_CHANNEL,
        canonical=f"https://t.me/s/{CHANNEL}",
        body=body,
    )


def channel_route(request: Request) -> Reply:
    """``/<channel>/<id>`` (post page or ``?embed=1`` widget) and ``/s/<channel>[/<id>]``."""
    parts = request.path.strip("/").split("/")
    if parts[0] == "s":
        return preview(request.state)
    if len(parts) < 2 or not parts[1].isdigit():
        return channel_page()
    post = _posts(request.state).get(int(parts[1]))
    if request.query.get("embed") == "1":
        return widget(post, int(parts[1]))
    return post_page(post) if post is not None else channel_page()


def contact_page(request: Request) -> Reply:
    """t.me answers 200 with a contact page for any name, existing or not."""
    name = escape(request.path.strip("/").split("/")[0] or "telegram")
    body = f"""<div class="tgme_page">
<div class="tgme_page_title">Telegram: Contact @{name}</div>
<div class="tgme_page_description">If you have <strong>Telegram</strong>, you can contact
 <a class="tgme_username_link" href="tg://resolve?domain={name}">@{name}</a> right away.</div>
</div>"""
    return _page(
        title=f"Telegram: Contact @{name}",
        description="",
        canonical=f"https://t.me/{name}",
        body=body,
    )


TELEGRAM = Site(
    hosts=("t.me", "telegram.me"),
    routes={
        f"/{CHANNEL}": channel_page(),
        "/favicon.ico": publisher_assets("telegram")["/favicon.ico"],
    },
    prefixes=((f"/{CHANNEL}/", channel_route), (f"/s/{CHANNEL}", channel_route)),
    fallback=contact_page,
)

TELEGRAM_STATIC = Site(
    hosts=("telegram.org",),
    routes={
        **publisher_assets("telegram"),
        "/js/telegram-widget.js": asset("/* Telegram post widget (fixture) */\n", JS),
    },
    fallback=NOT_FOUND_TEXT,
)

SITES = (TELEGRAM, TELEGRAM_STATIC)
