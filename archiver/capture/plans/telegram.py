"""Telegram post plan: t.me/<channel>/<id> (and telegram.me).

Captured as the post page, its embed widget (`?embed=1&mode=tme`, as the Internet
Archive's Zeno fetches it) and the channel preview `t.me/s/<channel>/<id>`. The post
text comes from the embed widget; a deleted post's widget says "Post not found".
The widget is the post page's iframe (telegram-widget.js puts it there), so it loads
within the post's page visit; the channel preview is another page, a visit of its own.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from bs4 import BeautifulSoup

HOSTS = {"t.me", "telegram.me", "www.t.me", "www.telegram.me"}
_POST = re.compile(r"^/(?!s/)([A-Za-z0-9_]{3,64})/(\d+)/?$")


def post_text(html: str) -> tuple[str, str] | None:
    """(title, text) of an embed widget, or None for a deleted post ("Post not found")."""
    soup = BeautifulSoup(html, "lxml")
    if soup.find(class_="tgme_widget_message_error"):
        return None
    body = soup.find(class_="tgme_widget_message_text")
    if body is None:
        return None
    author = soup.find(class_="tgme_widget_message_owner_name")
    text = re.sub(r"\s+", " ", body.get_text(" ")).strip()
    title = re.sub(r"\s+", " ", author.get_text(" ")).strip() if author else ""
    return (f"{title}: {text[:80]}" if title else text[:100]), text


def match(url: str) -> dict | None:
    parts = urlsplit(url)
    if (parts.hostname or "").lower() not in HOSTS:
        return None
    m = _POST.match(parts.path)
    if not m:
        return None
    channel, post = m.group(1), m.group(2)
    embed = f"https://t.me/{channel}/{post}?embed=1&mode=tme"
    return {
        "name": "telegram",
        "primary": url,
        "frames": [embed],
        "extra": [f"https://t.me/s/{channel}/{post}"],
        "text_from": embed,
        "text_parser": post_text,
    }
