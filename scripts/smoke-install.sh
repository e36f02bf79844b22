#!/usr/bin/env bash
# make smoke-install: the package as a user gets it. Build a wheel, install it with NO
# extras into a fresh virtual environment, `pip check`, then drive the README's "Real
# use" commands and the command reference against the bundled offline web. A missing
# runtime dependency shows up here as a traceback or exit 70, and either fails the run.
#
# The fixture web is test code (it needs trustme): it runs with the project's dev venv
# ($DEV_PYTHON, default .venv/bin/python), the `archive` under test from the fresh venv.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
PYTHON=${PYTHON:-python3}
DEV_PYTHON=${DEV_PYTHON:-.venv/bin/python}
case $DEV_PYTHON in /*) ;; *) DEV_PYTHON=$REPO/$DEV_PYTHON ;; esac  # not resolved: a venv's link
START=$(date +%s%N)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/archiver-smoke.XXXXXX")
WEB_PID=

cleanup() {
  if [ -n "$WEB_PID" ]; then kill "$WEB_PID" 2>/dev/null || true; wait "$WEB_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

say() { printf '== %s\n' "$*"; }
fail() { printf 'smoke-install: FAILED: %s\n' "$*" >&2; exit 1; }

VENV="$WORK/venv"
if [ -n "${SMOKE_VENV:-}" ]; then
  # working on this script: reuse a plain install made by an earlier run's steps
  VENV=$SMOKE_VENV
  say "reusing $VENV (SMOKE_VENV): no wheel built"
else
  say "wheel (pip wheel --no-deps) from a copy of the sources"
  mkdir -p "$WORK/src"
  cp -r pyproject.toml README.md archiver "$WORK/src/"
  find "$WORK/src" -name __pycache__ -prune -exec rm -rf {} +
  # pip's own chatter goes to a log, shown when a step fails
  quietly() { "$@" >>"$WORK/pip.log" 2>&1 || { cat "$WORK/pip.log" >&2; fail "$*"; }; }
  quietly "$PYTHON" -m pip wheel --no-deps --wheel-dir "$WORK/dist" "$WORK/src"
  WHEEL=$(ls "$WORK"/dist/archiver-*.whl)
  say "fresh venv, pip install $(basename "$WHEEL") (no extras), pip check"
  quietly "$PYTHON" -m venv "$VENV"
  quietly "$VENV/bin/pip" install "$WHEEL"
fi
"$VENV/bin/pip" check
ARCHIVE="$VENV/bin/archive"
for extra in pytest trustme pywb wacz flask; do
  if "$VENV/bin/python" -c "import $extra" 2>/dev/null; then
    fail "$extra is importable in the plain install: the smoke test would prove nothing"
  fi
done

say "the offline web (tests.web, with $DEV_PYTHON)"
(cd "$REPO" && exec "$DEV_PYTHON" -m tests.web serve --ready-file "$WORK/web.json") >"$WORK/web.log" 2>&1 &
WEB_PID=$!
for _ in $(seq 1 100); do [ -s "$WORK/web.json" ] && break; sleep 0.1; done
[ -s "$WORK/web.json" ] || { cat "$WORK/web.log" >&2; fail "the offline web did not start"; }
PROXY=$("$DEV_PYTHON" -c 'import json,sys;print(json.load(open(sys.argv[1]))["proxy_url"])' "$WORK/web.json")
CA=$("$DEV_PYTHON" -c 'import json,sys;print(json.load(open(sys.argv[1]))["ca_path"])' "$WORK/web.json")
# exactly as behind a real proxy; nothing of this shell's archiver settings leaks in
export HTTP_PROXY=$PROXY HTTPS_PROXY=$PROXY REQUESTS_CA_BUNDLE=$CA NO_PROXY=
unset ARCHIVER_CONFIG ARCHIVER_DATABASE

STEPS=0
# run EXPECTED_EXIT COMMAND...: the exit code must match; no traceback, no exit 70
run() {
  local want=$1 code=0
  shift
  STEPS=$((STEPS + 1))
  "$@" >"$WORK/out" 2>"$WORK/err" <"${RUN_STDIN:-/dev/null}" || code=$?
  printf '   %-3s %s\n' "$code" "${*/#$ARCHIVE/archive}"
  if grep -q "Traceback (most recent call last)" "$WORK/out" "$WORK/err" || [ "$code" = 70 ] \
    || [ "$code" != "$want" ]; then
    cat "$WORK/out"; cat "$WORK/err" >&2
    fail "exit $code (expected $want): $*"
  fi
}

say "the README's Real use and command reference (exit code, command)"
ARCH="$WORK/newsroom"
run 0 "$ARCHIVE" init "$ARCH"
cd "$ARCH"
run 0 "$ARCHIVE" init "$ARCH"
run 0 "$ARCHIVE" add "$REPO/samples/seed-article.txt"
ID=$("$ARCHIVE" status --json | "$DEV_PYTHON" -c 'import json,sys;print(json.load(sys.stdin)[0]["id"])')
run 0 "$ARCHIVE" add https://news.example.test/2024/05/01/court-upholds-fine.html
run 0 "$ARCHIVE" add --queue https://news.example.test/2024/05/02/blogger-detained.html
run 0 "$ARCHIVE" capture
run 0 "$ARCHIVE" status
run 0 "$ARCHIVE" status --all
run 0 "$ARCHIVE" status --json
run 0 "$ARCHIVE" status "$ID"
run 0 "$ARCHIVE" status "$ID" --json
curl -s -x "$PROXY" http://fixture.control/state?set=later >/dev/null
run 0 "$ARCHIVE" check --all
run 0 "$ARCHIVE" check "$ID"
run 0 "$ARCHIVE" review "$ID:1" --flag --note "page rewritten after publication"
run 0 "$ARCHIVE" review "$ID:2" --approve --by smoke
run 0 "$ARCHIVE" manifest
run 0 "$ARCHIVE" verify
run 0 "$ARCHIVE" verify --json
run 0 "$ARCHIVE" export "$ID" --csv
run 0 "$ARCHIVE" export "$ID" --json
run 0 "$ARCHIVE" export "$ID" --robust-links
run 0 "$ARCHIVE" export "$ID" --wacz "$WORK/one.wacz"
run 0 "$ARCHIVE" export --all --wacz "$WORK/all.wacz"
# issue 21: the signing key `init` made, and a signed WACZ checked from the file alone
run 0 "$ARCHIVE" key show
run 0 "$ARCHIVE" key show --json
run 0 "$ARCHIVE" key create
(cd / && run 0 "$ARCHIVE" verify --wacz "$WORK/one.wacz")
grep -q "signature holds" "$WORK/out" || fail "verify --wacz: the exported WACZ is not signed"
run 0 "$ARCHIVE" index
mkdir -p inbox
cp "$REPO/samples/seed-article.txt" inbox/
touch -d '-1 minute' inbox/seed-article.txt
sed -i -e 's|^folders = \[\]$|folders = ["inbox"]|' \
  -e 's|^feeds = \[\]$|feeds = ["https://news.example.test/rss.xml"]|' config.toml
run 0 "$ARCHIVE" intake --queue
run 0 "$ARCHIVE" daemon --once
run 0 "$ARCHIVE" migrate --to "sqlite:///$WORK/copy.db"
# the replay extra is not installed: one Error: line naming it, exit 3 (README)
run 3 "$ARCHIVE" replay --port 18080
grep -qx "Error: .*pip install 'archiver\[replay\]'.*" "$WORK/err" \
  || { cat "$WORK/err" >&2; fail "replay without pywb: no one-line error naming the extra"; }
[ "$(wc -l <"$WORK/err")" -eq 1 ] || { cat "$WORK/err" >&2; fail "replay: more than one line"; }
# screenshots render from the replay: without pywb, skipped with one line, exit 3 (README)
run 3 "$ARCHIVE" screenshots
grep -qx "Error: Screenshots skipped: .*pip install 'archiver\[replay\]'.*" "$WORK/err" \
  || { cat "$WORK/err" >&2; fail "screenshots without pywb: no one-line skip naming the extra"; }
[ "$(wc -l <"$WORK/err")" -eq 1 ] || { cat "$WORK/err" >&2; fail "screenshots: more than one line"; }
# accounts are core (argon2-cffi); `archive serve` needs the serve extra: one Error: line
printf 'correct horse battery\ncorrect horse battery\n' >"$WORK/pw"
RUN_STDIN="$WORK/pw" run 0 "$ARCHIVE" user add smoke-editor --role editor
run 0 "$ARCHIVE" user list --json
grep -q '"smoke-editor"' "$WORK/out" || fail "user list --json does not name the new account"
run 3 "$ARCHIVE" serve --port 18081
grep -qx "Error: .*pip install 'archiver\[serve\]'.*" "$WORK/err" \
  || { cat "$WORK/err" >&2; fail "serve without flask: no one-line error naming the extra"; }
run 0 "$ARCHIVE" verify

# one archive, both installs: a brotli body is decoded only where a brotli binding is
# installed (the dev venv has pywb's); each install's captures verify on the other
DEV_ARCHIVE=$(dirname "$DEV_PYTHON")/archive
if "$DEV_PYTHON" -c 'from archiver import codings; raise SystemExit(not codings.available())'; then
  say "a brotli body captured by each install, verified by the other"
  run 0 "$ARCHIVE" init "$WORK/both"
  cd "$WORK/both"
  printf 'Cited, brotli-coded\n\nhttps://cases.test/br?body=page&by=plain\n' >plain.txt
  printf 'Cited, brotli-coded\n\nhttps://cases.test/br?body=page&by=dev\n' >dev.txt
  run 0 "$ARCHIVE" add plain.txt
  run 0 "$DEV_ARCHIVE" verify
  grep -q "not checked" "$WORK/out" && fail "verify with a binding left a brotli body unchecked"
  run 0 "$DEV_ARCHIVE" add dev.txt
  run 0 "$ARCHIVE" verify
  grep -q "^not checked: warcs/.*: document digest of snapshot .*: its body is brotli-coded" "$WORK/out" \
    || { cat "$WORK/out"; fail "plain verify did not say which brotli document it could not check"; }
else
  say "skipped: the dev venv ($DEV_PYTHON) has no brotli binding to capture with"
fi

# Google's Brotli (many packages pull it in) is a `brotli` module that warcio registers
# but cannot drive, and with it urllib3's br decoder raised past urllib3's own error
# handling on a broken body (exit 70): br is then read as sent, as with no binding
say "the plain install plus Google's Brotli: brotli bodies, broken ones too"
"$VENV/bin/pip" install "Brotli>=1.1,<2" >>"$WORK/pip.log" 2>&1 \
  || { cat "$WORK/pip.log" >&2; fail "pip install Brotli"; }
"$VENV/bin/python" -c 'import brotli; from archiver import codings; raise SystemExit(codings.available())' \
  || fail "Brotli installed, yet archiver takes it for brotlipy"
run 0 "$ARCHIVE" init "$WORK/google"
cd "$WORK/google"
printf 'Cited, brotli-coded\n\n%s\n%s\n%s\n' "https://cases.test/br?body=page&by=google" \
  "https://cases.test/br?body=late&chunked=1" "https://cases.test/br?body=garbage" >br.txt
run 0 "$ARCHIVE" add br.txt
grep -q "3 archived" "$WORK/out" "$WORK/err" || { cat "$WORK/out" "$WORK/err"; fail "add: not 3 archived"; }
run 0 "$ARCHIVE" verify

MS=$((($(date +%s%N) - START) / 1000000))
printf 'smoke-install: ok: %d commands of the plain install (no extras) passed; wall time %d.%01ds\n' \
  "$STEPS" $((MS / 1000)) $((MS % 1000 / 100))
