"""`judge`: the page, or a stand-in, from evidence in order of strength.

1. **Protocol**: a challenge header (``cf-mitigated: challenge``, AWS WAF, Sucuri); 451
   and its ``Link: rel="blocked-by"`` (RFC 7725); a redirect to a block, consent, login
   or marketplace host; a refusing status (401/402/403/405/429) from a service whose
   headers or cookies are on the answer (DataDome, PerimeterX, Akamai, Imperva, …);
   404/410; other refusals and 5xx.
2. **Structure**: challenge and CAPTCHA markup (script hosts, iframes, element ids),
   parking scripts, consent and paywall platforms, Roskomnadzor links, WordPress's
   ``error404`` body class. Widgets that genuine pages also carry (CAPTCHA on a comment
   form, a consent banner, a paywall box) count only on a page without article structure.
3. **Words**: weak; only on a page without article structure, and only when two places
   agree, one of them the page's body (`archiver.judge.words`).

A page judged genuine carries a reason too: its article structure, or that nothing
stood in for it. Comparison with the snapshot and the sibling probe belong to the check.
"""

from __future__ import annotations

import re

from archiver.judge import signatures as sig
from archiver.judge.evidence import Judgement, Kind, Markup, Reason, Response, host_of, registrable
from archiver.judge.words import decisive, wording

PLATFORM_TEXT = 600  # a consent or paywall box alone has less main text than this
BARE_TEXT = 200  # a page of a dialog (and a noscript line) and nothing else
_REFUSING = frozenset({401, 402, 403, 405, 406, 429})
_BLOCKED_BY = re.compile(r'<([^>]*)>\s*;[^,]*rel="?blocked-by"?', re.IGNORECASE)
_AKAMAI_REFERENCE = re.compile(r"reference #\d+\.[0-9a-f]+", re.IGNORECASE)


def _status_detail(response: Response) -> str:
    return f"HTTP {response.status}" if response.status is not None else "no status"


# ---------------------------------------------------------------- 1. protocol


def _challenge_header(response: Response) -> Judgement | None:
    for name, value, label in sig.CHALLENGE_HEADERS:
        seen = response.header(name)
        if seen is not None and value in seen.lower():
            detail = f"{name}: {seen.strip()[:60]}, {_status_detail(response)}"
            return Judgement(kind=Kind.BOT_WALL, label=label, reasons=(Reason(name, detail),))
    return None


def _legal_block(response: Response) -> Judgement | None:
    if response.status != 451:
        return None
    reasons = [Reason("http-451", "HTTP 451 Unavailable For Legal Reasons")]
    link = response.header("link") or ""
    by = _BLOCKED_BY.search(link)
    if by:
        reasons.append(Reason("blocked-by", f"blocked by {by.group(1).strip()[:120]}"))
    return Judgement(kind=Kind.BLOCK_PAGE, label="blocked (HTTP 451)", reasons=tuple(reasons))


def _redirect_host(response: Response) -> Judgement | None:
    """The chain ended on a block, consent, login or marketplace host. (Only where it
    ended: a chain that passes a consent host and comes back to the page is the page.)"""
    start, host = host_of(response.url), host_of(response.final_url)
    if not host or host == start:
        return None
    judged = _host_kind(host, registrable(host) != registrable(start))
    if judged is None:
        return None
    kind, label = judged
    reason = Reason("redirect-host", f"redirected to {host}")
    return Judgement(kind=kind, label=label, reasons=(reason,))


def _host_kind(host: str, other_site: bool) -> tuple[Kind, str] | None:
    bare = host.removeprefix("www.")
    if host in sig.BLOCK_HOSTS:
        return Kind.BLOCK_PAGE, sig.BLOCK_HOSTS[host]
    if host in sig.CONSENT_HOSTS:
        return Kind.CONSENT, sig.CONSENT_HOSTS[host]
    if host.split(".")[0] in sig.CONSENT_LABELS:
        return Kind.CONSENT, f"consent host {host}"
    if host in sig.LOGIN_HOSTS:
        return Kind.PAYWALL, sig.LOGIN_HOSTS[host]
    if other_site and registrable(bare) in sig.MARKETPLACE_HOSTS:
        return Kind.PARKED, f"domain for sale ({sig.MARKETPLACE_HOSTS[registrable(bare)]})"
    return None


def _login_redirect(response: Response) -> Judgement | None:
    final = (response.final_url or "").lower()
    if not final or final == response.url.lower():
        return None
    path = final.split("://", 1)[-1].partition("/")[2]
    if any(("/" + path).startswith(p) for p in sig.LOGIN_PATHS):
        detail = f"redirected to a sign-in page {response.final_url[:120]}"
        return Judgement(
            kind=Kind.PAYWALL, label="login wall", reasons=(Reason("login-redirect", detail),)
        )
    return None


def _service_refusal(response: Response, markup: Markup | None) -> Judgement | None:
    """A refusing status from a bot-protection service (its headers, cookies, server)."""
    if response.status not in _REFUSING:
        return None
    seen = [
        (f"{name} header", label) for name, label in sig.SERVICE_HEADERS if response.header(name)
    ]
    seen += [
        (f"{c} cookie", label)
        for prefix, label in sig.SERVICE_COOKIES
        for c in response.cookies
        if c.lower().startswith(prefix)
    ]
    server = (response.header("server") or "").lower()
    seen += [(f"server: {server}", label) for s, label in sig.SERVICE_SERVERS if s in server]
    lead = markup.lead if markup else ""
    akamai = _AKAMAI_REFERENCE.search(lead)
    if akamai:
        seen.append((akamai.group(0), "Akamai"))
    if not seen:
        return None
    label = seen[0][1]
    if label == "Cloudflare" and not akamai and len(seen) == 1:
        return None  # every Cloudflare answer says server: cloudflare; a 403 alone is no wall
    detail = ", ".join(dict.fromkeys(s for s, _ in seen[:3])) + f", {_status_detail(response)}"
    return Judgement(
        kind=Kind.BOT_WALL, label=f"{label} block", reasons=(Reason("service-refusal", detail),)
    )


def _by_status(response: Response) -> Judgement | None:
    status = response.status or 0
    detail = _status_detail(response)
    if status in (404, 410):
        return Judgement(
            kind=Kind.NOT_FOUND, label="not found", reasons=(Reason(f"http-{status}", detail),)
        )
    if status in (401, 402, 403, 407):
        return Judgement(
            kind=Kind.REFUSED, label="refused", reasons=(Reason(f"http-{status}", detail),)
        )
    if 400 <= status < 500:
        return Judgement(
            kind=Kind.NOT_FOUND, label="not found", reasons=(Reason(f"http-{status}", detail),)
        )
    if status >= 500:
        return Judgement(
            kind=Kind.ERROR, label="server error", reasons=(Reason(f"http-{status}", detail),)
        )
    return None


# ---------------------------------------------------------------- 2. structure


def _markers(markup: Markup, short: bool) -> Judgement | None:
    structure = markup.structure
    for marker in sig.MARKERS:
        if marker.needs_short and not short:
            continue
        if marker.needle in structure:
            reason = Reason("markup", f"{marker.label} markup ({marker.needle})")
            return Judgement(kind=marker.kind, label=marker.label, reasons=(reason,))
    if markup.meta("prerender-status-code") in ("404", "410") and short:
        reason = Reason("markup", f"prerender-status-code {markup.meta('prerender-status-code')}")
        return Judgement(kind=Kind.NOT_FOUND, label="not found", reasons=(reason,))
    return None


def _platform(
    markup: Markup, words: dict[Kind, list[Reason]], kind: Kind, table
) -> Judgement | None:
    """A consent or paywall platform on a page without article structure, with its wording."""
    if kind not in words or len(markup.text) >= PLATFORM_TEXT:
        return None  # a banner on a page with text of its own (a cookie policy) is no wall
    structure = markup.structure
    for label, needle in table:
        if needle in structure:
            reasons = (Reason("markup", f"{label} markup ({needle})"), *words[kind])
            return Judgement(kind=kind, label=label, reasons=reasons)
    return None


def _bare_dialog(markup: Markup) -> Judgement | None:
    """A consent dialog and next to no text besides: the dialog is the page."""
    if len(markup.text) >= BARE_TEXT:
        return None
    structure = markup.structure
    for label, needle in sig.CONSENT_CONTAINERS:
        if needle in structure:
            detail = f"{label} dialog ({needle}), {len(markup.text)} chars of text"
            return Judgement(kind=Kind.CONSENT, label=label, reasons=(Reason("markup", detail),))
    return None


def _login_form(markup: Markup, words: dict[Kind, list[Reason]]) -> Judgement | None:
    if "password" not in markup.inputs or Kind.PAYWALL not in words:
        return None
    reasons = (Reason("markup", "a password field"), *words[Kind.PAYWALL])
    return Judgement(kind=Kind.PAYWALL, label="login wall", reasons=reasons)


# ---------------------------------------------------------------- 3. words


def _by_words(words: dict[Kind, list[Reason]]) -> Judgement | None:
    for kind, hits in words.items():
        if decisive(hits):
            return Judgement(kind=kind, label=f"{kind.value} (by its wording)", reasons=tuple(hits))
    return None


def _genuine(markup: Markup | None, why: str | None) -> Judgement:
    if why:
        return Judgement(kind=Kind.PAGE, reasons=(Reason("article-structure", why),))
    detail = "no article structure, no stand-in evidence" if markup else "not a page to parse"
    return Judgement(kind=Kind.PAGE, reasons=(Reason("short-page", detail),))


def judge(response: Response, markup: Markup | None) -> Judgement:
    """The page, or what stands in for it, with the evidence (module docstring)."""
    found = (
        _challenge_header(response)
        or _legal_block(response)
        or _redirect_host(response)
        or _service_refusal(response, markup)
    )
    if found is not None:
        return found
    why = markup.article() if markup else None
    short = why is None
    if markup is not None:
        found = _markers(markup, short)
    found = found or _by_status(response) or _login_redirect(response)
    if found is not None or markup is None:
        return found or _genuine(markup, why)
    if not short:
        return _genuine(markup, why)
    words = wording(markup)
    return (
        _platform(markup, words, Kind.CONSENT, sig.CONSENT_PLATFORMS)
        or _bare_dialog(markup)
        or _platform(markup, words, Kind.PAYWALL, sig.PAYWALL_MARKERS)
        or _login_form(markup, words)
        or _by_words(words)
        or _genuine(markup, why)
    )
