"""What a live answer says about a cited link: one `Rot` class, a similarity, a reason.

Pure: `classify` takes an `Observation` (plain values taken from the fetch chain, the page
analysis, the latest good snapshot and the sibling probe) and returns a `Verdict`. The
rules, first match wins, each with why:

1. **The fetch failed** (DNS, refused, reset, TLS, timeout, proxy, redirect loop, too many
   redirects, a hop refused by the SSRF guard) → `unreachable`. No answer ended the chain,
   so nothing can be said about the page; behind a proxy a DNS failure arrives as a proxy
   error (the proxy resolves names), so proxy errors belong here too.
2. **Status** of the final hop:
   - 429, or 503 with Retry-After → `rate-limited`: the server asked us to come back later
     (RFC 6585 §4, RFC 9110 §10.2.3); not a failure, and not a success either.
   - 451 → `blocked` (RFC 7725); 401/402/403 → `blocked` too: the page may exist, but
     access is refused (IABot calls these "subscription", not dead).
   - 404/410 → `gone`; any other 4xx → `gone` as well: the server refuses this URL.
   - 5xx (503 without Retry-After included) → `server-error`.
   - anything else that is not 2xx (a 3xx without Location, 304, 1xx) → `server-error`:
     the server ended the chain with no page.
3. **A 2xx body cut short** by a reset or a timeout → `unreachable`: the issue counts
   resets and timeouts as unreachable, and a half page cannot be compared. (A body cut at
   the check's size cap is normal and compared as far as it was read.)
4. **The page is a wall** (`archiver.judge`): a block page (e.g. Roskomnadzor's), a bot
   wall / CAPTCHA, a consent wall or a login/paywall → `blocked`: we are kept from the
   content, whatever the URL. A wall judged by its wording alone does not count while
   the page still matches its last good snapshot (words are weak evidence).
5. **The final URL says it is not the page** (IABot looks only at this):
   - the final URL is a site root (`/`, `/index.html`, `/home`, `/en/`, …) while the cited
     URL was not → `soft-404`: closed sites and removed articles redirect home;
   - the final URL contains `/404`, `notfound`, `not-found`, `error404` … while the cited
     one did not → `soft-404` (IABot's patterns);
   - the final URL is on the same site and its path is a strict prefix of the cited path
     (`/news/` for `/news/some-story-123`): a section front page, → `soft-404` unless its
     text still matches the snapshot.
6. **The page is not there** (`archiver.judge`: a not-found page by its markup or
   wording, Telegram's deleted-post widget, a parked domain) with a 2xx → `soft-404`;
   wording alone again yields to a matching snapshot.
7. **The sibling probe**: the page is ≥ 0.9 similar to (or has the same fingerprint or
   final URL as) what the site answers with 200 for a made-up sibling URL → `soft-404`,
   also when the snapshot matches the probe too: then the capture was a soft-404 as
   well, and the reasons say so (issue 17: a site answering every URL with one apology
   page was checked `ok` forever).
8. **Comparison with the latest good snapshot** (similarity below):
   - the final URL is the cited URL → `ok`, or `drifted` below `drift_threshold`;
   - the final URL is the snapshot's final URL (the redirect already happened at capture),
     or equivalent to the cited URL (scheme, a leading `www.`, a trailing slash ignored)
     → `redirected`, or `drifted` below the threshold: the same page, moved trivially;
   - any other final URL → `redirected` when the text still matches (a moved page),
     else `soft-404` (a redirect to some other page).
   With nothing to compare (no good snapshot, no text), the page gets the benefit of the
   doubt: `ok` / `redirected` with similarity None.

Every verdict carries machine-readable `reasons` (`archiver.judge.Reason`: rule, detail),
strongest first: the page judgement's evidence for a stand-in, else the rule that
decided (`http-404`, `redirect-home`, `sibling-probe`, `snapshot-match`, …).

**Similarity** is `archiver.pages.similarity`: Jaccard of the word 3-gram (shingle) sets of
the two main texts (trafilatura, bs4 text as fallback), 1.0 identical … 0.0 nothing
shared. Shingles see reordering and rewriting, not just vocabulary, and cost nothing to
explain. Pages without text (images, PDFs) compare by document digest: 1.0 when the bytes
are the same, 0.0 when not (only when the live body was read whole).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from archiver import pages, urls
from archiver.check.probe import ProbeAnswer, same_as_probe
from archiver.check.urlrules import equivalent, is_front_page_of, is_not_found_url, is_site_root
from archiver.judge import Kind, Reason
from archiver.pages import PageInfo
from archiver.states import Rot


@dataclass(frozen=True, kw_only=True)
class Verdict:
    rot: Rot
    similarity: float | None = None
    reason: str = ""
    reasons: tuple[Reason, ...] = ()  # machine-readable evidence, strongest first


@dataclass(frozen=True, kw_only=True)
class Observation:
    """Everything the classifier may look at, as plain values."""

    url: str  # the cited URL (the target)
    final_url: str | None = None  # None: no response ended the chain
    status: int | None = None
    hops: int = 1
    error: str | None = None  # the chain's FetchError message
    cut: str | None = None  # why a 2xx body stopped early (reset, timeout), if it did
    retry_after: float | None = None
    quality: str | None = None  # archiver.pages quality of the live page
    page_reasons: tuple[Reason, ...] = ()  # the page judgement's evidence
    label: str = ""  # who or what stands in ("Cloudflare challenge")
    by_words: bool = False  # the stand-in quality rests on wording alone
    article: bool | None = None  # has article structure (None: not known)
    text: str | None = None  # live main text (None: not analysed)
    fingerprint: str | None = None
    digest: str | None = None  # sha256 of the live document bytes read
    complete: bool = True  # the live body was read whole
    snapshot_text: str | None = None
    snapshot_final_url: str | None = None
    snapshot_digest: str | None = None
    probe: ProbeAnswer | None = None

    @classmethod
    def from_chain(
        cls,
        url: str,
        chain: Any,
        page: PageInfo | None,
        snapshot: Any = None,
        *,
        now: datetime | None = None,
        probe: ProbeAnswer | None = None,
    ) -> Observation:
        """From an `archiver.net.fetch.Chain`, its page analysis and a snapshot row."""
        final = chain.final
        snap = {
            "snapshot_text": getattr(snapshot, "text", None),
            "snapshot_final_url": getattr(snapshot, "final_url", None),
            "snapshot_digest": getattr(snapshot, "payload_digest", None),
        }
        if final is None or chain.error is not None:
            error = str(chain.error) if chain.error is not None else "no response"
            return cls(url=url, hops=len(chain.hops), error=error, probe=probe, **snap)
        cut = (
            (final.error or f"body cut short ({final.truncated})")
            if final.truncated
            in (
                "disconnect",
                "time",
            )
            else None
        )
        return cls(
            url=url,
            final_url=final.url,
            status=final.status,
            hops=len(chain.hops),
            cut=cut,
            retry_after=final.retry_after(now) if final.header("retry-after") else None,
            quality=page.quality if page else None,
            page_reasons=page.reasons if page else (),
            label=page.label if page else "",
            by_words=page.by_words if page else False,
            article=page.article if page else None,
            text=page.text if page else None,
            fingerprint=page.fingerprint if page else None,
            digest=final.doc_digest,
            complete=not final.truncated,
            probe=probe,
            **snap,
        )


# ---------------------------------------------------------------- comparisons


def text_similarity(obs: Observation) -> float | None:
    """Similarity of the live page to the latest good snapshot; None: nothing to compare."""
    if obs.snapshot_text and obs.text is not None:
        if obs.text == obs.snapshot_text:  # what similarity() gives, without the shingles
            return 1.0
        return round(pages.similarity(obs.text, obs.snapshot_text), 4)
    no_text = not obs.snapshot_text and not obs.text
    if no_text and obs.complete and obs.digest and obs.snapshot_digest:
        return 1.0 if obs.digest == obs.snapshot_digest else 0.0
    return None


def _matches(similarity: float | None, threshold: float) -> bool:
    """No evidence of a change counts as a match (the benefit of the doubt)."""
    return similarity is None or similarity >= threshold


def _describe_similarity(similarity: float | None) -> str:
    return "no snapshot text to compare" if similarity is None else f"similarity {similarity:.2f}"


# ---------------------------------------------------------------- the rules


_WALLS = frozenset({Kind.BLOCK_PAGE, Kind.BOT_WALL, Kind.CONSENT, Kind.PAYWALL})
_NOT_THERE = frozenset({Kind.NOT_FOUND, Kind.PARKED})


def _seen(obs: Observation) -> tuple[Reason, ...]:
    """The page judgement's evidence of a stand-in (not why it was the page)."""
    return tuple(r for r in obs.page_reasons if r.rule not in ("article-structure", "short-page"))


def _failure(obs: Observation) -> Verdict | None:
    if obs.final_url is None or obs.error is not None:
        why = obs.error or "no response"
        return Verdict(rot=Rot.UNREACHABLE, reason=why, reasons=(Reason("fetch-failed", why),))
    return None


def _status_verdict(obs: Observation, rot: Rot, told: str) -> Verdict:
    """A verdict by status, with what the page judgement saw beyond the status."""
    seen = _seen(obs)
    status_reason = Reason(f"http-{obs.status}", told)
    more = [r for r in seen if not r.rule.startswith("http-")]
    if more and obs.label:
        told = f"{told}: {obs.label} ({', '.join(r.detail for r in more[:2])})"
    reasons = (*more, status_reason) if more else (*seen, status_reason)
    return Verdict(rot=rot, reason=told, reasons=tuple(dict.fromkeys(reasons)))


def _by_status(obs: Observation) -> Verdict | None:
    status = obs.status or 0
    if 200 <= status < 300:
        return None
    if status == 429 or (status == 503 and obs.retry_after is not None):
        wait = f", retry after {obs.retry_after:.0f}s" if obs.retry_after is not None else ""
        return _status_verdict(obs, Rot.RATE_LIMITED, f"HTTP {status}{wait}")
    if status in (401, 402, 403, 451):
        return _status_verdict(obs, Rot.BLOCKED, f"HTTP {status}")
    if 400 <= status < 500:
        return _status_verdict(obs, Rot.GONE, f"HTTP {status}")
    if status >= 500:
        return _status_verdict(obs, Rot.SERVER_ERROR, f"HTTP {status}")
    return _status_verdict(obs, Rot.SERVER_ERROR, f"HTTP {status}: no page at the end")


def _vouched(obs: Observation, similarity: float | None, threshold: float) -> bool:
    """Words alone never outweigh a page that still matches its last good snapshot."""
    return obs.by_words and similarity is not None and similarity >= threshold


def _by_wall(obs: Observation, similarity: float | None, threshold: float) -> Verdict | None:
    if obs.cut:
        return Verdict(rot=Rot.UNREACHABLE, reason=obs.cut, reasons=(Reason("cut-short", obs.cut),))
    if obs.quality in _WALLS and not _vouched(obs, similarity, threshold):
        told = f"the page is a {obs.quality}" + (f" ({obs.label})" if obs.label else "")
        return Verdict(rot=Rot.BLOCKED, similarity=similarity, reason=told, reasons=_seen(obs))
    return None


def _by_not_found_page(
    obs: Observation, similarity: float | None, threshold: float
) -> Verdict | None:
    if obs.quality in _NOT_THERE and not _vouched(obs, similarity, threshold):
        told = "the page says not found" if obs.quality == Kind.NOT_FOUND else "a parked domain"
        if obs.label and not obs.by_words:
            told = f"{told}: {obs.label}"
        return Verdict(rot=Rot.SOFT_404, similarity=similarity, reason=told, reasons=_seen(obs))
    return None


def _url_verdict(rule: str, told: str, similarity: float | None) -> Verdict:
    return Verdict(
        rot=Rot.SOFT_404, similarity=similarity, reason=told, reasons=(Reason(rule, told),)
    )


def _by_final_url(obs: Observation, similarity: float | None, threshold: float) -> Verdict | None:
    final, cited = obs.final_url or obs.url, obs.url
    if is_site_root(final) and not is_site_root(cited):
        return _url_verdict("redirect-home", f"redirected home: {final}", similarity)
    if is_not_found_url(final, cited):
        return _url_verdict("not-found-url", f"redirected to a not-found URL: {final}", similarity)
    if is_front_page_of(final, cited) and not (similarity is not None and similarity >= threshold):
        return _url_verdict("front-page", f"redirected to a front page: {final}", similarity)
    return None


def _by_probe(obs: Observation, similarity: float | None) -> Verdict | None:
    """The page is what the site answers for a made-up sibling URL: not the page. When the
    snapshot matches that answer too, the capture was of a stand-in already: said so."""
    probe = obs.probe
    if probe is None or obs.final_url is None:
        return None
    if probe.final_url is not None and equivalent(probe.final_url, obs.url):
        return None  # the made-up URL led to the cited page itself: no evidence
    if not same_as_probe(obs.text or "", obs.fingerprint, obs.final_url, probe):
        return None
    told = f"same as the answer for a made-up URL ({probe.url})"
    reasons = [Reason("sibling-probe", told)]
    if obs.snapshot_text and same_as_probe(obs.snapshot_text, None, None, probe):
        also = "the snapshot is that answer too: the capture was a soft-404"
        told = f"{told}; {also}"
        reasons.append(Reason("snapshot-is-probe", also))
    return Verdict(rot=Rot.SOFT_404, similarity=similarity, reason=told, reasons=tuple(reasons))


def _compared(rot: Rot, similarity: float | None, told: str) -> Verdict:
    rule = "snapshot-match" if rot in (Rot.OK, Rot.REDIRECTED) else "snapshot-differs"
    if similarity is None:
        rule = "no-snapshot"
    return Verdict(rot=rot, similarity=similarity, reason=told, reasons=(Reason(rule, told),))


def _by_comparison(obs: Observation, similarity: float | None, threshold: float) -> Verdict:
    final, cited = obs.final_url or obs.url, obs.url
    same = _matches(similarity, threshold)
    told = _describe_similarity(similarity)
    if not same:
        told = f"main text changed: {told} < {threshold:g}"
    if urls.normalise(final) == urls.normalise(cited):
        return _compared(Rot.OK if same else Rot.DRIFTED, similarity, told)
    trivial = equivalent(final, cited) or (
        obs.snapshot_final_url is not None and equivalent(final, obs.snapshot_final_url)
    )
    if trivial:
        rot = Rot.REDIRECTED if same else Rot.DRIFTED
        return _compared(rot, similarity, f"at {final}; {told}")
    if same:
        return _compared(Rot.REDIRECTED, similarity, f"moved to {final}; {told}")
    return Verdict(
        rot=Rot.SOFT_404,
        similarity=similarity,
        reason=f"redirected to a different page: {final}; {told}",
        reasons=(Reason("redirect-elsewhere", f"redirected to a different page: {final}; {told}"),),
    )


def classify(obs: Observation, *, threshold: float) -> Verdict:
    """The rules of the module docstring, in order; ``threshold`` = check.drift_threshold."""
    verdict = _failure(obs) or _by_status(obs)
    if verdict is not None:
        return verdict
    similarity = text_similarity(obs)
    return (
        _by_wall(obs, similarity, threshold)
        or _by_final_url(obs, similarity, threshold)
        or _by_not_found_page(obs, similarity, threshold)
        or _by_probe(obs, similarity)
        or _by_comparison(obs, similarity, threshold)
    )


def wants_probe(obs: Observation, verdict: Verdict, *, threshold: float) -> bool:
    """Is the sibling probe worth a request for this page?

    A 2xx page with text that the snapshot does not vouch for (drifted, or nothing to
    compare with) can be unmasked by the probe; so can a page without article structure
    that still matches its snapshot (a site answering every URL with one apology page
    matched its snapshot forever). A failure or soft-404 is decided already.
    """
    if obs.probe is not None or not obs.text:
        return False
    if verdict.rot not in (Rot.OK, Rot.REDIRECTED, Rot.DRIFTED):
        return False
    return verdict.similarity is None or verdict.similarity < threshold or obs.article is False
