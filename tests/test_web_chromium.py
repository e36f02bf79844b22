"""`archive serve` end to end in a real headless Chromium (Debian's chromium + chromedriver).

Sign in, filter to "needs review", open the seed article, open a snapshot (the replayed
page shows its archived text and image; a screenshot loads beside it and is a real
PNG of the right size, not blank), approve one citation with a note and flag
another with the keyboard, then read the manifest JSON and the ledger; a viewer's
approve is refused; the hostile article renders as text. Skipped, saying why, without
chromium, chromedriver or selenium.
"""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
import threading
from urllib.parse import quote, urlsplit

import pytest
import waitress

from archiver import users
from archiver.interop.pywbserver import free_port
from archiver.ledger import ledger_for
from archiver.manifest.articles import article_doc
from archiver.runs.capture import make_sink
from archiver.runs.screenshots import take_screenshots
from archiver.warcfiles.records import http_record
from archiver.web.app import ServeSettings, create_app
from archiver.web.replay import ReplayServer, replay_app
from tests.conftest import make_archive
from tests.png_tools import decode, distinct_colours
from tests.test_interop import captured_sample, needs_pywb
from tests.test_manifest import HOSTILE, T0, add_article, add_snapshot, target_of

pytestmark = [pytest.mark.chromium, needs_pywb]

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium not installed")
from selenium.common.exceptions import NoAlertPresentException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")


@pytest.fixture
def browser():
    if CHROMIUM is None or DRIVER is None:
        pytest.skip(
            "headless Chromium not installed (Debian: apt-get install chromium chromium-driver)"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",  # tests run as root in CI
        "--disable-dev-shm-usage",
        "--proxy-server=http://127.0.0.1:9",  # nothing but loopback may load: no live web
        "--window-size=1280,1000",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(DRIVER))
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


@pytest.fixture
def served(tmp_path, web, sample_article):
    # one screenshot (the first good snapshot's) keeps the e2e time small
    app = make_archive(tmp_path / "a", web, screenshots={"batch": 1, "width": 800, "height": 600})
    aid = captured_sample(app, sample_article)
    assert take_screenshots(app, aid).taken == 1
    users.add_user(app.store, "maria", "correct horse", users.Role.EDITOR)
    users.add_user(app.store, "olga", "viewer password", users.Role.VIEWER)
    hostile = _hostile_snapshot(app)
    replay = ReplayServer(app).start()
    # as `archive serve` runs them: the app on one port, the replay on its own
    app_port, replay_port = free_port(), free_port()
    flask_app = create_app(app, ServeSettings(replay_port=replay_port), replay_server=replay)
    servers = [
        waitress.create_server(flask_app, host="127.0.0.1", port=app_port, threads=4),
        waitress.create_server(
            replay_app(replay, app_port=app_port), host="127.0.0.1", port=replay_port, threads=4
        ),
    ]
    for server in servers:
        threading.Thread(target=server.run, daemon=True).start()
    yield app, aid, f"http://127.0.0.1:{app_port}", hostile
    for server in servers:
        server.close()
    replay.stop()
    app.close()


HOSTILE_URL = "https://evil.example/archived-attack"
# What an archived page's script could try against the editor's session. It runs
# unrewritten (the test loads it in id_ mode, as a script that navigates its frame
# there would), so pywb's rewriting does not stand between it and the app.
HOSTILE_SCRIPT = """<!doctype html><html><head><title>archived attack</title></head><body>
<pre id="out">pending</pre>
<script>
const [app, aid] = decodeURIComponent(location.hash.slice(1)).split('|');
const out = {};
try { out.cookie = document.cookie; } catch (e) { out.cookie = 'error:' + e.name; }
try { out.parent = parent.document.body.innerHTML.length; }
catch (e) { out.parent = 'error:' + e.name; }
const body = new URLSearchParams({citation: '1', action: 'approve', note: 'by archived script'});
Promise.allSettled([
  fetch(app + '/articles/' + aid, {credentials: 'include'}).then(r => r.text()),
  fetch(app + '/articles/' + aid + '/review',
        {method: 'POST', credentials: 'include', mode: 'no-cors', body}),
]).then(([read, post]) => {
  out.read = read.status === 'fulfilled' ? 'read:' + read.value.includes('csrf_token') : 'blocked';
  out.post = post.status;
  document.getElementById('out').textContent = JSON.stringify(out);
});
</script></body></html>"""


def _hostile_snapshot(app) -> str:
    """A snapshot of a page whose script goes after the app: a real WARC record, indexed."""
    aid = add_article(app, f"Attack\n\nIt was at {HOSTILE_URL} said the page.\n", "x.txt")
    body = HOSTILE_SCRIPT.encode()
    raw = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    sink = make_sink(app)
    rid = sink.ids()
    record = http_record(
        "response", HOSTILE_URL, io.BytesIO(raw), len(raw), date=T0, record_id=rid, extra={}
    )
    [loc] = sink.write([record])
    sink.close()
    add_snapshot(
        app,
        target_of(app, aid, 1),
        final_url=HOSTILE_URL,
        captured_at=T0,
        warc=loc.warc,
        offset=loc.offset,
        length=loc.length,
        record_id=rid,
    )
    return aid


def _sign_in(driver, base, name, password):
    driver.get(base + "/login")
    driver.find_element(By.NAME, "name").send_keys(name)
    driver.find_element(By.NAME, "password").send_keys(password + Keys.ENTER)
    WebDriverWait(driver, 20).until(lambda d: "/articles" in d.current_url)


def _no_alert(driver) -> bool:
    try:
        alert = driver.switch_to.alert
    except NoAlertPresentException:
        return True
    alert.dismiss()
    return False


def test_an_editor_reviews_the_seed_article_in_chromium(browser, served):
    app, aid, base, _ = served
    _sign_in(browser, base, "maria", "correct horse")
    browser.find_element(By.LINK_TEXT, "Needs review").click()
    WebDriverWait(browser, 20).until(lambda d: "filter=needs-review" in d.current_url)
    browser.find_element(By.CSS_SELECTOR, f"a[href='/articles/{aid}']").click()
    WebDriverWait(browser, 20).until(lambda d: d.find_elements(By.CSS_SELECTOR, "article.cite"))

    # a snapshot, replayed from our WARC in the sandboxed frame: its text and its image
    doc = article_doc(app.store, aid)
    n = next(
        c["id"]
        for c in doc["citations"]
        if c["snapshots"] and "themoscowtimes" in c["snapshots"][0]["final_url"]
    )
    snap = next(c for c in doc["citations"] if c["id"] == n)["snapshots"][0]
    browser.get(f"{base}/articles/{aid}/{n}/snapshots/1")
    frame = browser.find_element(By.CSS_SELECTOR, "iframe.replay")
    assert frame.get_attribute("sandbox") == "allow-scripts"
    browser.switch_to.frame(frame)
    WebDriverWait(browser, 30).until(lambda d: d.find_elements(By.TAG_NAME, "img"))
    assert snap["title"][:20] in browser.execute_script("return document.title")
    assert len(browser.find_element(By.TAG_NAME, "body").text) > 200
    WebDriverWait(browser, 30).until(
        lambda d: d.execute_script(
            "return Array.from(document.images).some(i => i.complete && i.naturalWidth > 0)"
        )
    )
    browser.switch_to.default_content()

    # the screenshot beside a replay: it loads, and it is a real picture of the page
    shot_n, shot_i, shot = next(
        (c["id"], i, s["screenshot"])
        for c in doc["citations"]
        for i, s in enumerate(c["snapshots"], 1)
        if "screenshot" in s
    )
    browser.get(f"{base}/articles/{aid}/{shot_n}/snapshots/{shot_i}")
    img = browser.find_element(By.CSS_SELECTOR, "img.screenshot")
    WebDriverWait(browser, 20).until(
        lambda d: d.execute_script("return arguments[0].complete && arguments[0].naturalWidth", img)
    )
    assert browser.execute_script("return arguments[0].naturalWidth", img) == 800
    encoded = browser.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        fetch(arguments[0].src).then(r => r.arrayBuffer()).then(b => {
          let s = ''; for (const x of new Uint8Array(b)) s += String.fromCharCode(x);
          done(btoa(s));
        });
        """,
        img,
    )
    png = base64.b64decode(encoded)
    assert decode(png, max_rows=1)[:2] == (shot["width"], shot["height"]) == (800, 600)
    assert distinct_colours(png) > 4  # not a blank picture

    # approve citation 1 with a note; flag citation 2 with the keyboard (j, n, Esc, f)
    browser.get(f"{base}/articles/{aid}")
    first = browser.find_element(By.ID, "c1")
    first.find_element(By.NAME, "note").send_keys("archived copy checked")
    first.find_element(By.CSS_SELECTOR, "button.approve").click()
    WebDriverWait(browser, 20).until(lambda d: d.current_url.endswith("#c1"))
    body = browser.find_element(By.TAG_NAME, "body")
    body.send_keys("j")
    body.send_keys("n")
    browser.switch_to.active_element.send_keys("page rewritten", Keys.ESCAPE)
    browser.switch_to.active_element.send_keys("f")
    WebDriverWait(browser, 20).until(lambda d: d.current_url.endswith("#c2"))

    manifest = json.loads((app.settings.manifests_path / f"{aid}.json").read_text("utf-8"))
    reviews = {c["id"]: c["review"] for c in manifest["citations"]}
    assert (reviews[1]["state"], reviews[1]["note"], reviews[1]["by"]) == (
        "approved",
        "archived copy checked",
        "maria",
    )
    assert (reviews[2]["state"], reviews[2]["note"], reviews[2]["by"]) == (
        "flagged",
        "page rewritten",
        "maria",
    )
    ledger = ledger_for(app.settings).path.read_text("utf-8").splitlines()
    last = [json.loads(x) for x in ledger if '"review"' in x][-2:]
    assert [(x["citation"], x["state"], x["by"]) for x in last] == [
        (1, "approved", "maria"),
        (2, "flagged", "maria"),
    ]


def test_a_viewer_is_refused_and_hostile_titles_stay_text(browser, served):
    app, aid, base, _ = served
    hostile = add_article(
        app, f"{HOSTILE} & friends\n\nThey said {HOSTILE} at https://evil.example/p.\n", "h.txt"
    )
    _sign_in(browser, base, "olga", "viewer password")
    browser.get(f"{base}/articles/{aid}")
    assert browser.find_elements(By.CSS_SELECTOR, "form.review-form") == []
    # a hand-made approve with the viewer's own CSRF token: refused
    browser.execute_script(
        """
        const f = document.createElement('form');
        f.method = 'post'; f.action = arguments[0];
        for (const [k, v] of Object.entries(arguments[1])) {
          const i = document.createElement('input'); i.name = k; i.value = v; f.appendChild(i);
        }
        document.body.appendChild(f); f.submit();
        """,
        f"/articles/{aid}/review",
        {
            "citation": "1",
            "action": "approve",
            "csrf_token": browser.find_element(By.NAME, "csrf_token").get_attribute("value"),
        },
    )
    WebDriverWait(browser, 20).until(lambda d: "/review" in d.current_url)
    assert "Forbidden" in browser.page_source
    assert article_doc(app.store, aid)["citations"][0]["review"]["state"] == "pending"

    for path in ("/articles", f"/articles/{hostile}"):
        browser.get(base + path)
        assert _no_alert(browser), path
    assert browser.find_element(By.TAG_NAME, "h1").text == f"{HOSTILE} & friends"
    assert browser.execute_script("return document.querySelectorAll('script').length") == 1


def test_an_archived_script_cannot_reach_the_app(browser, served):
    app, _, base, aid = served
    _sign_in(browser, base, "maria", "correct horse")
    browser.add_cookie({"name": "probe", "value": "app-secret", "path": "/"})  # script-readable
    browser.get(f"{base}/articles/{aid}/1/snapshots/1")
    frame = browser.find_element(By.CSS_SELECTOR, "iframe.replay")
    src = frame.get_attribute("src")
    assert urlsplit(src).port != urlsplit(base).port  # the replay's own origin
    assert frame.get_attribute("sandbox") == "allow-scripts"
    raw = re.sub(r"/(\d{14})/", r"/\1id_/", src, count=1) + "#" + quote(f"{base}|{aid}")
    browser.execute_script("arguments[0].src = arguments[1]", frame, raw)
    browser.switch_to.frame(frame)
    WebDriverWait(browser, 30).until(lambda d: d.find_element(By.ID, "out").text.startswith("{"))
    out = json.loads(browser.find_element(By.ID, "out").text)
    browser.switch_to.default_content()
    assert "app-secret" not in str(out.get("cookie")) and "archiver_session" not in str(out)
    assert str(out["parent"]).startswith("error:")  # not the app's DOM
    assert out["read"] == "blocked"  # not the app's pages (no CSRF token to steal)
    review = article_doc(app.store, aid)["citations"][0]["review"]
    assert review["state"] == "pending" and review["note"] is None  # the POST did nothing

    # the control: the same probes run by a script of the app's own origin do get through
    control = browser.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        fetch(arguments[0], {credentials: 'include'}).then(r => r.text()).then(
          t => done({cookie: document.cookie, read: 'read:' + t.includes('csrf_token')}),
          e => done({cookie: document.cookie, read: 'blocked'}));
        """,
        f"{base}/articles/{aid}",
    )
    assert "app-secret" in control["cookie"] and control["read"] == "read:true"
