#!/usr/bin/env bash
# Install the system tools some tests and benchmarks drive (Debian packages), if we can.
set -u
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)  # the `archive serve` e2e
command -v wget >/dev/null 2>&1 || need+=(wget)
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "note: ${need[*]} not installed and no root/apt-get: the tests that need them will skip" >&2
  exit 0
fi
echo "installing ${need[*]} (Debian packages) ..." >&2
(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}") \
  >/dev/null 2>&1 || echo "note: could not install ${need[*]}: those tests will skip" >&2
exit 0
