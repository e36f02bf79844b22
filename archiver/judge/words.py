"""Stand-in wording: weak evidence, counted only in combination.

A title never decides alone, and wording never counts on a page with article structure
(see `decide`): the lead must say a stand-in sentence and the title or headline agree.
A *title segment* (the title split at " | ", " - ", " – ", " — ", " · ", " » ") or the
headline must BE a stand-in phrase ("Page not found", "Доступ ограничен", "Just a
moment..."), not merely contain one: "Missing hiker still not found" and "Error 404: the
history of …" are headlines about something. The lead (first visible text) must say a
stand-in *sentence* ("the page you are looking for …"), not a word.
"""

from __future__ import annotations

import re

from archiver.judge.evidence import Kind, Markup, Reason

_SEGMENTS = re.compile(r"\s+[|\-–—·»:]\s+|\s*[|·»]\s*")
_NOISE = re.compile(r"[^\w\s]+")

# whole-segment phrases, lower-cased, punctuation dropped, spaces collapsed
SEGMENT_PHRASES: dict[Kind, frozenset[str]] = {
    Kind.NOT_FOUND: frozenset(
        {
            "404",
            "error 404",
            "404 error",
            "404 not found",
            "not found",
            "page not found",
            "error 404 page not found",
            "404 page not found",
            "oops page not found",
            "post not found",
            "file not found",
            "nothing found",
            "page not found 404",
            "страница не найдена",
            "ошибка 404",
            "404 страница не найдена",
            "seite nicht gefunden",
            "fehler 404",
            "página no encontrada",
            "page introuvable",
            "pagina non trovata",
            "sorry we couldnt find that page",
            "oops that page cant be found",
            "the page you requested could not be found",
            "page not found error 404",
        }
    ),
    Kind.BOT_WALL: frozenset(
        {
            "just a moment",
            "attention required",
            "access denied",
            "are you a robot",
            "verify you are human",
            "security check",
            "one more step",
            "pardon our interruption",
            "access to this page has been denied",
            "please verify you are a human",
            "ddos-guard",
            "checking your browser",
            "robot or human",
            "доступ запрещен",
        }
    ),
    Kind.CONSENT: frozenset(
        {
            "before you continue",
            "we value your privacy",
            "cookie consent",
            "your privacy",
            "privacy settings",
            "cookie settings",
            "before you continue to google",
            "before you continue to youtube",
            "your privacy choices",
            "manage cookies",
        }
    ),
    Kind.BLOCK_PAGE: frozenset(
        {
            "доступ ограничен",
            "доступ к ресурсу ограничен",
            "ресурс заблокирован",
            "сайт заблокирован",
            "blocked",
            "this site is blocked",
            "access restricted",
            "unavailable for legal reasons",
            "доступ к информационному ресурсу ограничен",
        }
    ),
    Kind.PAYWALL: frozenset(
        {
            "sign in",
            "log in",
            "login",
            "subscribe",
            "subscribe to continue reading",
            "subscribers only",
            "subscriber exclusive",
            "create an account",
            "вход",
            "войти",
            "подписка",
        }
    ),
    Kind.PARKED: frozenset({"domain for sale", "this domain is for sale", "buy this domain"}),
}


def _either(*sentences: str) -> re.Pattern[str]:
    return re.compile("(" + "|".join(sentences) + ")")


_CANNOT = r"(could not|cannot|can't|can’t|couldn't|couldn’t|can not)"
LEAD_SENTENCES: dict[Kind, re.Pattern[str]] = {
    Kind.NOT_FOUND: _either(
        r"page (you|you're|you are) (were )?(looking|searching) for",
        rf"(page|post|article|content|url) {_CANNOT} be found",
        r"couldn.t find (that|the|this) page",
        r"can.t find (that|the|this) page",
        r"(page|article) (does not|doesn't|doesn’t) exist",
        r"nothing was found at this location",
        r"was not found on this server",
        r"requested (page|url|resource) .{0,60}(not found|could not be found)",
        r"страница не найдена",
        r"страница,? которую вы ищете",
        r"запрашиваемая страница не",
        r"seite wurde nicht gefunden",
        r"page (demandée )?(est )?introuvable",
        r"página no (existe|encontrada)",
        r"page (may have been|has been) (moved|removed|deleted)",
    ),
    Kind.BOT_WALL: _either(
        r"checking (if the site connection is secure|your browser)",
        r"verify(ing)? you are (a )?human",
        r"are you a robot",
        r"complete the security check",
        r"enable javascript and cookies to continue",
        r"unusual traffic from your (computer|network)",
        r"press (&|and) hold",
        r"access to this page has been denied",
        r"you (don't|do not) have permission to access",
        r"request unsuccessful",
        r"pardon our interruption",
        r"why have i been blocked",
        r"please complete the captcha",
        r"reference #\d",
        r"needs to review the security of your connection",
        r"подтвердите, что вы не робот",
    ),
    Kind.CONSENT: _either(
        r"we (and our (\d+ )?partners )?(use|store) cookies",
        r"store and/or access information on a device",
        r"store and access information on your device",
        r"accept all",
        r"reject all",
        r"manage (your )?(options|choices|preferences|cookie)",
        r"consent to (the use of )?cookies",
        r"before you continue to",
        r"your privacy choices",
        r"legitimate interest",
    ),
    Kind.BLOCK_PAGE: _either(
        r"доступ (к (информационному )?ресурсу |к сайту |к странице )?ограничен",
        r"единый реестр",
        r"149-фз",
        r"реестр запрещ",
        r"blocked (by|in accordance with|on the basis of)",
        r"this (page|site|website|content) (is|has been) blocked",
        r"restricted by (the )?(court|order)",
    ),
    Kind.PAYWALL: _either(
        r"sign in to (continue|read)",
        r"log ?in to (continue|read)",
        r"subscribe (now )?to (continue|read)",
        r"this (article|content|story) is (for|available to|reserved for) (subscribers|members)",
        r"create a free account to (continue|read)",
        r"already a subscriber",
        r"доступно (только )?(для )?подписчик",
        r"оформите подписку",
    ),
    Kind.PARKED: _either(
        r"this domain (name )?(is|may be) for sale",
        r"buy this domain",
        r"domain (is )?parked",
        r"make an offer on this domain",
        r"related searches",
        r"the domain owner",
    ),
}


def segments(title: str) -> list[str]:
    return [s for s in (_normal(p) for p in _SEGMENTS.split(title)) if s]


def _normal(phrase: str) -> str:
    return re.sub(r"\s+", " ", _NOISE.sub(" ", phrase.lower())).strip()


def wording(markup: Markup) -> dict[Kind, list[Reason]]:
    """Each stand-in kind's word evidence (weak reasons), by where it was found."""
    found: dict[Kind, list[Reason]] = {}
    title_parts = segments(markup.title)
    headline = _normal(markup.h1)
    for kind, phrases in SEGMENT_PHRASES.items():
        hits = []
        if any(p in phrases for p in title_parts):
            hits.append(Reason("title-words", f"title “{markup.title[:80]}”"))
        if headline in phrases:
            hits.append(Reason("headline-words", f"headline “{markup.h1[:80]}”"))
        lead = LEAD_SENTENCES[kind].search(markup.lead)
        if lead:
            hits.append(Reason("lead-words", f"text says “{lead.group(0)}”"))
        if hits:
            found[kind] = hits
    return found


def decisive(hits: list[Reason]) -> bool:
    """The page's text says a stand-in sentence, and its title or headline agrees:
    never a title alone, nor a title and headline alone (a page named "Not Found")."""
    rules = {r.rule for r in hits}
    return "lead-words" in rules and len(rules) >= 2
