"""How the real services and sites mark their walls: hosts, headers, cookies, markup.

Each table entry names the service (shown to editors) and what it is recognised by, as
the services publish or as their pages are observed:

- Cloudflare: a challenge answers with ``cf-mitigated: challenge`` (Cloudflare docs,
  "Detect a Challenge Page response"); its page loads
  ``/cdn-cgi/challenge-platform/h/…/orchestrate/…`` and sets ``window._cf_chl_opt``
  (the ``cf-chl`` markers). The ``/cdn-cgi/challenge-platform/scripts/jsd/main.js``
  script that Bot Management adds to *every* page is not a challenge. A firewall block
  (error 1020) is a 403 page with ``cf-error-details``.
- DataDome: ``x-datadome``/``x-dd-b`` headers and a ``datadome`` cookie on every
  protected answer; a block is a 403 whose page loads ``geo.captcha-delivery.com`` (or
  ``ct.captcha-delivery.com``) and sets ``var dd={…}``.
- PerimeterX/HUMAN: ``_px…`` cookies on every answer; the block is a 403 with a
  ``px-captcha`` element and ``captcha.px-cdn.net`` / ``/captcha.js`` scripts.
- Akamai: ``akamai-grn`` / ``server: AkamaiGHost``; the block is a 403 "Access Denied"
  page with "Reference #…"; Bot Manager's challenge uses ``sec-if-cpt`` / ``_sec/cp_challenge``.
- Imperva/Incapsula: ``x-iinfo`` and ``incap_ses_…``/``visid_incap_…`` cookies on every
  answer; the block page is an iframe of ``/_Incapsula_Resource?…``.
- AWS WAF: ``x-amzn-waf-action: captcha|challenge``; Sucuri: ``x-sucuri-id`` and
  ``server: Sucuri/Cloudproxy`` on a 403; DDoS-Guard: ``/.well-known/ddos-guard/`` scripts.
- CAPTCHA widgets (hCaptcha, reCAPTCHA, Turnstile) also sit on login and comment forms of
  genuine pages, so they count only on a page without article structure.
- Consent hosts (Google, YouTube, Yahoo/AOL "guce", DPG Media) and consent platforms
  (OneTrust, Didomi, Quantcast Choice, Sourcepoint, Cookiebot, TrustArc, Usercentrics).
- Block hosts of Russian ISPs and the register (Rostelecom ``warning.rt.ru``, TTK,
  ``blocklist.rkn.gov.ru``, ``eais.rkn.gov.ru``); RFC 7725's 451 and ``rel="blocked-by"``.
- Parking and marketplaces: Sedo (``sedoparking.com``), GoDaddy (``parking-lander``,
  ``afternic.com``), Dan.com, ParkingCrew, Bodis, HugeDomains.
"""

from __future__ import annotations

from dataclasses import dataclass

from archiver.judge.evidence import Kind


@dataclass(frozen=True, kw_only=True)
class Marker:
    """A substring of a page's structure (targets, ids, classes, inline scripts)."""

    kind: Kind
    label: str
    needle: str
    needs_short: bool = False  # only on a page without article structure


MARKERS = (
    Marker(kind=Kind.BOT_WALL, label="Cloudflare challenge", needle="_cf_chl_opt"),
    Marker(kind=Kind.BOT_WALL, label="Cloudflare challenge", needle="/orchestrate/chl_page"),
    Marker(kind=Kind.BOT_WALL, label="Cloudflare challenge", needle="/orchestrate/managed/"),
    Marker(kind=Kind.BOT_WALL, label="Cloudflare challenge", needle="/orchestrate/jsch/"),
    Marker(kind=Kind.BOT_WALL, label="Cloudflare challenge", needle="cf-browser-verification"),
    Marker(kind=Kind.BOT_WALL, label="Cloudflare challenge", needle="challenge-error-text"),
    Marker(kind=Kind.BOT_WALL, label="Cloudflare block", needle="cf-error-details"),
    Marker(kind=Kind.BOT_WALL, label="DataDome CAPTCHA", needle="captcha-delivery.com"),
    Marker(kind=Kind.BOT_WALL, label="PerimeterX/HUMAN CAPTCHA", needle="px-captcha"),
    Marker(kind=Kind.BOT_WALL, label="PerimeterX/HUMAN CAPTCHA", needle="captcha.px-cdn.net"),
    Marker(kind=Kind.BOT_WALL, label="PerimeterX/HUMAN CAPTCHA", needle="captcha.px-cloud.net"),
    Marker(kind=Kind.BOT_WALL, label="Imperva/Incapsula block", needle="_incapsula_resource"),
    Marker(kind=Kind.BOT_WALL, label="Akamai Bot Manager challenge", needle="sec-if-cpt"),
    Marker(kind=Kind.BOT_WALL, label="Akamai Bot Manager challenge", needle="_sec/cp_challenge"),
    Marker(kind=Kind.BOT_WALL, label="DDoS-Guard check", needle="/.well-known/ddos-guard/"),
    Marker(kind=Kind.BOT_WALL, label="AWS WAF challenge", needle="awswafintegration"),
    Marker(kind=Kind.BOT_WALL, label="hCaptcha", needle="hcaptcha.com/1/api.js", needs_short=True),
    Marker(kind=Kind.BOT_WALL, label="hCaptcha", needle="h-captcha", needs_short=True),
    Marker(kind=Kind.BOT_WALL, label="reCAPTCHA", needle="/recaptcha/api.js", needs_short=True),
    Marker(kind=Kind.BOT_WALL, label="reCAPTCHA", needle="g-recaptcha", needs_short=True),
    Marker(
        kind=Kind.BOT_WALL,
        label="Cloudflare Turnstile",
        needle="challenges.cloudflare.com/turnstile",
        needs_short=True,
    ),
    Marker(
        kind=Kind.BOT_WALL, label="Cloudflare Turnstile", needle="cf-turnstile", needs_short=True
    ),
    Marker(kind=Kind.PARKED, label="Sedo parking", needle="sedoparking.com"),
    Marker(kind=Kind.PARKED, label="GoDaddy parking", needle="parking-lander"),
    Marker(kind=Kind.PARKED, label="ParkingCrew parking", needle="parkingcrew.net"),
    Marker(kind=Kind.PARKED, label="Bodis parking", needle="bodis.com"),
    Marker(
        kind=Kind.PARKED,
        label="domain for sale (Afternic)",
        needle="afternic.com",
        needs_short=True,
    ),
    Marker(
        kind=Kind.PARKED,
        label="domain for sale (Dan.com)",
        needle="dan.com/buy-domain",
        needs_short=True,
    ),
    Marker(
        kind=Kind.PARKED,
        label="domain for sale (Sedo)",
        needle="sedo.com/search/details",
        needs_short=True,
    ),
    Marker(
        kind=Kind.PARKED,
        label="domain for sale (HugeDomains)",
        needle="hugedomains.com",
        needs_short=True,
    ),
    Marker(
        kind=Kind.BLOCK_PAGE,
        label="Roskomnadzor register",
        needle="blocklist.rkn.gov.ru",
        needs_short=True,
    ),
    Marker(
        kind=Kind.BLOCK_PAGE,
        label="Roskomnadzor register",
        needle="eais.rkn.gov.ru",
        needs_short=True,
    ),
    Marker(
        kind=Kind.NOT_FOUND, label="WordPress not-found page", needle="error404", needs_short=True
    ),
)

# Consent platforms: a wall only on a page without article structure, with consent wording
CONSENT_PLATFORMS = (
    ("OneTrust", "cdn.cookielaw.org"),
    ("OneTrust", "onetrust-banner-sdk"),
    ("Didomi", "sdk.privacy-center.org"),
    ("Didomi", "didomi-host"),
    ("Quantcast Choice", "quantcast.mgr.consensu.org"),
    ("Quantcast Choice", "qc-cmp2"),
    ("Sourcepoint", "sp_message_container"),
    ("Sourcepoint", "cdn.privacy-mgmt.com"),
    ("Cookiebot", "consent.cookiebot.com"),
    ("Cookiebot", "cybotcookiebotdialog"),
    ("TrustArc", "consent.trustarc.com"),
    ("Usercentrics", "app.usercentrics.eu"),
    ("consent dialog", "consent-wall"),
    ("consent dialog", "consent-banner"),
    ("consent dialog", "cookie-consent"),
)
# Consent dialogs rendered into the served page (not just the platform's script): on a
# page with next to no text of its own they are the page
CONSENT_CONTAINERS = (
    ("Sourcepoint", "sp_message_container"),
    ("Quantcast Choice", "qc-cmp2-ui"),
    ("Didomi", "didomi-popup-container"),
    ("OneTrust", "onetrust-policy-text"),
)
# Paywall and login-wall platforms (Piano, Poool, Zephr, Tinypass) and their containers
PAYWALL_MARKERS = (
    ("Piano paywall", "tinypass.com"),
    ("Piano paywall", "piano.io"),
    ("Poool paywall", "poool.fr"),
    ("Zephr paywall", "zephr"),
    ("paywall", "paywall"),
    ("subscription wall", "subscription-wall"),
    ("login form", "login-form"),
)

CONSENT_HOSTS = {
    "consent.google.com": "Google consent",
    "consent.youtube.com": "YouTube consent",
    "consent.yahoo.com": "Yahoo consent",
    "guce.yahoo.com": "Yahoo consent (GUCE)",
    "guce.oath.com": "Oath consent (GUCE)",
    "guce.aol.com": "AOL consent (GUCE)",
    "consent.aol.com": "AOL consent",
    "myprivacy.dpgmedia.nl": "DPG Media consent",
    "myprivacy.dpgmedia.be": "DPG Media consent",
    "consent.tiktok.com": "TikTok consent",
}
# hosts whose first label says consent (consent.<site>, guce.<site>)
CONSENT_LABELS = frozenset({"consent", "guce", "cmp", "privacy-consent"})

BLOCK_HOSTS = {
    "warning.rt.ru": "Rostelecom block page",
    "fz139.ttk.ru": "TTK block page",
    "blocklist.rkn.gov.ru": "Roskomnadzor register",
    "eais.rkn.gov.ru": "Roskomnadzor register",
    "zapret-info.gov.ru": "Roskomnadzor register",
}
LOGIN_HOSTS = {
    "accounts.google.com": "Google sign-in",
    "login.microsoftonline.com": "Microsoft sign-in",
    "www.facebook.com/login": "Facebook log-in",
    "login.yahoo.com": "Yahoo sign-in",
}
LOGIN_PATHS = (
    "/login",
    "/signin",
    "/sign-in",
    "/log-in",
    "/auth/",
    "/account/login",
    "/accounts/login",  # Instagram
    "/authwall",  # LinkedIn
    "/subscribe",
)
MARKETPLACE_HOSTS = {
    "afternic.com": "Afternic",
    "dan.com": "Dan.com",
    "sedo.com": "Sedo",
    "hugedomains.com": "HugeDomains",
    "godaddy.com": "GoDaddy",
    "atom.com": "Atom",
}

# Headers a protection service sets only on a challenge or block
CHALLENGE_HEADERS = (
    ("cf-mitigated", "challenge", "Cloudflare challenge"),
    ("x-amzn-waf-action", "captcha", "AWS WAF CAPTCHA"),
    ("x-amzn-waf-action", "challenge", "AWS WAF challenge"),
)
# Headers and cookies a service sets on every answer: a wall only with a refusing status
SERVICE_HEADERS = (
    ("x-datadome", "DataDome"),
    ("x-dd-b", "DataDome"),
    ("x-iinfo", "Imperva/Incapsula"),
    ("akamai-grn", "Akamai"),
    ("x-sucuri-id", "Sucuri"),
)
SERVICE_COOKIES = (
    ("datadome", "DataDome"),
    ("_px", "PerimeterX/HUMAN"),
    ("incap_ses", "Imperva/Incapsula"),
    ("visid_incap", "Imperva/Incapsula"),
    ("_abck", "Akamai"),
    ("ak_bmsc", "Akamai"),
    ("__ddg", "DDoS-Guard"),
)
SERVICE_SERVERS = (
    ("akamaighost", "Akamai"),
    ("ddos-guard", "DDoS-Guard"),
    ("cloudflare", "Cloudflare"),
)
