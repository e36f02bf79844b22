#!/usr/bin/env bash
# make demo: archive samples/seed-article.txt into this repository's own archive
# (config.toml, archive.db, warcs/, manifests/) against the bundled offline web.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
mkdir -p .demo
rm -f .demo/web.json

# the project's own offline web: origin servers + a forward proxy on loopback
$BIN/python -m tests.web serve --ready-file .demo/web.json > .demo/web.log 2>&1 &
WEB_PID=$!
trap 'kill $WEB_PID 2>/dev/null || true; wait $WEB_PID 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do [ -s .demo/web.json ] && break; sleep 0.1; done
[ -s .demo/web.json ] || { echo "demo: the offline web did not start (see .demo/web.log)" >&2; exit 1; }
PROXY=$($BIN/python -c 'import json;print(json.load(open(".demo/web.json"))["proxy_url"])')
CA=$($BIN/python -c 'import json;print(json.load(open(".demo/web.json"))["ca_path"])')

# the archiver honours the standard variables, exactly as behind a real proxy
export HTTP_PROXY=$PROXY HTTPS_PROXY=$PROXY REQUESTS_CA_BUNDLE=$CA NO_PROXY=
export ARCHIVER_CONFIG=$PWD/config.toml

echo "== archive init (the repository root is the archive)"
$BIN/archive init .
echo
echo "== archive add samples/seed-article.txt"
$BIN/archive add samples/seed-article.txt
ID=$($BIN/archive status --json | $BIN/python -c 'import json,sys;print(json.load(sys.stdin)[0]["id"])')
if $BIN/archive check --help >/dev/null 2>&1; then
  echo
  echo "== months later: the offline web switches to its 'later' state; archive check --all"
  curl -s -x "$PROXY" http://fixture.control/state?set=later >/dev/null
  $BIN/archive check --all
fi
echo
$BIN/archive status "$ID"
if $BIN/archive verify --help >/dev/null 2>&1; then
  echo
  echo "== archive verify"
  $BIN/archive verify
fi
echo
echo "WARC files:  $(ls warcs/*/*/*.warc.gz 2>/dev/null | wc -l) under $PWD/warcs/"
echo "Manifest:    $PWD/manifests/$ID.html  (also $ID.json, $ID.csv, index.html, ledger.jsonl)"
