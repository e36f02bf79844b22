"""The pages of `archive serve`: sign-in, the article list, an article, reviews, snapshots.

Every page needs a signed-in user; reviewing needs an editor. Templates autoescape
everything (Jinja's HTML autoescaping, on for every .html template), and only http(s)
URLs ever become links (`manifest.view.safe_href`).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from archiver import users
from archiver.errors import UsageError
from archiver.manifest import view
from archiver.manifest.articles import article_doc
from archiver.manifest.review import review_citation
from archiver.manifest.robust import replay_prefix
from archiver.screenshots.stored import read_png
from archiver.states import ReviewState
from archiver.store.browse import ArticleFilter
from archiver.times import iso
from archiver.web import replay
from archiver.web.session import Identity, archive_of, sign_in
from archiver.web.textdiff import text_diff

bp = Blueprint("pages", __name__)

PAGE_SIZE = 50
NOTE_MAX = 2000
SEARCH_MAX = 200
FILTER_LABELS = {
    ArticleFilter.ALL: "All",
    ArticleFilter.NEEDS_REVIEW: "Needs review",
    ArticleFilter.FLAGGED: "Flagged",
    ArticleFilter.ROTTED: "Rotted",
    ArticleFilter.FAILED: "Failed",
    ArticleFilter.DEAD: "Dead",
    ArticleFilter.BLOCKED: "Blocked",
}
REVIEW_ACTIONS = {"approve": ReviewState.APPROVED, "flag": ReviewState.FLAGGED}


@bp.before_app_request
def _require_sign_in():
    if request.endpoint in ("pages.login", "pages.token_login", "static", None):
        return None
    if request.endpoint and request.endpoint.startswith("replay."):
        return None  # the replay checks its own capability (see archiver.web.replay)
    if g.identity is None:
        return redirect(url_for("pages.login"))
    return None


def _limiter():
    return current_app.extensions["archiver.limiter"]


@bp.route("/login", methods=["GET", "POST"])
def login():
    archive = archive_of(current_app)
    accounts = archive.store.user_count()
    error, status = None, 200
    if request.method == "POST":
        name = request.form.get("name", "")[: users.NAME_MAX + 1]
        password = request.form.get("password", "")
        keys = (f"addr:{request.remote_addr}", f"name:{name}")
        if _limiter().blocked(*keys):
            error, status = "Too many failed sign-ins; wait a few minutes and try again.", 429
        elif (account := users.authenticate(archive.store, name, password)) is None:
            _limiter().failed(*keys)
            error, status = "Wrong name or password.", 401
        else:
            _limiter().forget(f"name:{name}")
            identity = Identity(name=account.name, role=account.role)
            sign_in(identity, kind="account", epoch=account.epoch)
            return redirect(url_for("pages.articles"))
    return render_template("login.html", accounts=accounts, error=error), status


@bp.get("/login/token")
def token_login():
    token = current_app.extensions["archiver.token"]
    if token is None or not token.redeem(request.args.get("token")):
        return render_template(
            "login.html", accounts=1, error="That login link is used up or wrong."
        ), 403
    name = current_app.extensions["archiver.serve"].local_name
    sign_in(Identity(name=name, role=users.Role.EDITOR), kind="token")
    return redirect(url_for("pages.articles"))


@bp.post("/logout")
def logout():
    session.clear()
    return redirect(url_for("pages.login"))


@bp.get("/")
def home():
    return redirect(url_for("pages.articles"))


def _filter_arg() -> ArticleFilter:
    try:
        return ArticleFilter(request.args.get("filter", "all"))
    except ValueError:
        abort(400, description="Unknown filter.")


def _page_arg() -> int:
    value = request.args.get("page", "1")
    if not value.isdigit() or not 1 <= int(value) <= 10**6:
        abort(400, description="Bad page number.")
    return int(value)


@bp.get("/articles")
def articles():
    kind = _filter_arg()
    page = _page_arg()
    q = request.args.get("q", "").strip()[:SEARCH_MAX] or None
    result = archive_of(current_app).store.article_page(
        kind, q, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE
    )
    pages = max(1, math.ceil(result.total / PAGE_SIZE))
    rows = [{"row": r, "href": view.safe_href(r.source_url)} for r in result.rows]
    return render_template(
        "articles.html",
        rows=rows,
        total=result.total,
        page=page,
        pages=pages,
        kind=kind,
        q=q or "",
        filters=FILTER_LABELS,
    )


def _article_doc(article_id: str) -> dict:
    try:
        return article_doc(archive_of(current_app).store, article_id)
    except UsageError:
        abort(404, description="No such article.")


@bp.get("/articles/<article_id>")
def article(article_id: str):
    doc = _article_doc(article_id)
    now = iso(datetime.now(UTC))
    # the snippet as the manifest gives it: a replay URL when [replay] base_url is set
    prefix = replay_prefix(archive_of(current_app).settings.replay.base_url)
    page = view.article_view(doc, generated_at=now, replay_prefix=prefix)
    return render_template("article.html", page=page, when=view.when, size=view.human_size)


def _citation_numbers(doc: dict) -> list[int]:
    known = {c["id"] for c in doc["citations"]}
    try:
        given = {int(v) for v in request.form.getlist("citation")}
    except ValueError:
        abort(400, description="Bad citation number.")
    if not given or not given <= known:
        abort(400, description="Choose citations of this article.")
    return sorted(given)


@bp.post("/articles/<article_id>/review")
def review(article_id: str):
    """Approve or flag one citation or a selection, as `archive review` does for each."""
    if not g.identity.can_review:
        abort(403, description="Viewers cannot review; ask for an editor account.")
    state = REVIEW_ACTIONS.get(request.form.get("action", ""))
    if state is None:
        abort(400, description="Approve or flag?")
    note = request.form.get("note", "").strip() or None
    if note is not None and len(note) > NOTE_MAX:
        abort(400, description=f"A note is at most {NOTE_MAX} characters.")
    doc = _article_doc(article_id)
    archive = archive_of(current_app)
    for n in _citation_numbers(doc):
        review_citation(archive, f"{article_id}:{n}", state, note=note, by=g.identity.name)
    anchor = request.form.get("next", "")
    target = url_for("pages.article", article_id=article_id)
    return redirect(target + (f"#c{int(anchor)}" if anchor.isdigit() else ""))


def _snapshot_of(doc: dict, n: int, i: int) -> tuple[dict, dict]:
    """(citation, snapshot) of citation n's i-th snapshot; 404 when there is none."""
    cits = [c for c in doc["citations"] if c["id"] == n]
    if not cits or not 1 <= i <= len(cits[0]["snapshots"]):
        abort(404, description="No such snapshot.")
    return cits[0], cits[0]["snapshots"][i - 1]


@bp.get("/articles/<article_id>/<int:n>/snapshots/<int:i>/screenshot.png")
def screenshot(article_id: str, n: int, i: int):
    """The snapshot's screenshot, read from its WARC record (as every page: signed in)."""
    _, snap = _snapshot_of(_article_doc(article_id), n, i)
    shot = snap.get("screenshot")
    data = read_png(archive_of(current_app).settings.root, shot) if shot else None
    if data is None:
        abort(404, description="No screenshot of this snapshot.")
    return Response(data, mimetype="image/png")


@bp.get("/articles/<article_id>/<int:n>/snapshots/<int:i>")
def snapshot(article_id: str, n: int, i: int):
    doc = _article_doc(article_id)
    citation, snap = _snapshot_of(doc, n, i)
    frame = replay.frame_url(current_app, snap)
    changes = None
    if i > 1:
        texts = archive_of(current_app).store.snapshot_texts(article_id, n)
        before, after = texts[i - 2], texts[i - 1]
        if before and after and before != after:
            changes = text_diff(before, after)
    return render_template(
        "snapshot.html",
        article=doc["article"],
        citation=citation,
        snap=snap,
        i=i,
        frame=frame,
        install_hint=replay.INSTALL_HINT,
        changes=changes,
        when=view.when,
    )
