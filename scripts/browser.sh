#!/usr/bin/env bash
# make setup: Debian's chromium (driven by the browser tests through Playwright, which downloads
# no browser of its own) and the CJK fonts the inbox's Chinese is drawn with. Installs through
# apt-get only what is missing; the second time it takes no time. Without root or apt-get it
# only warns (the demo needs no browser); the browser test then fails saying what is missing.
set -euo pipefail
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
dpkg-query -W -f='${Status}' fonts-noto-cjk 2>/dev/null | grep -q "install ok installed" \
  || missing+=(fonts-noto-cjk)
if [ ${#missing[@]} -eq 0 ]; then
  echo "browser: chromium and fonts-noto-cjk already installed"
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "browser: ${missing[*]} missing and there is no apt-get: install them by hand" >&2
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "browser: installing ${missing[*]} needs root: sudo apt-get install -y ${missing[*]}" >&2
  exit 0
fi
echo "browser: installing Debian's ${missing[*]} with apt-get …"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
[ -x /usr/bin/chromium ] || { echo "browser: apt-get ran, but /usr/bin/chromium is missing" >&2; exit 1; }
echo "browser: $(/usr/bin/chromium --version 2>/dev/null || echo chromium) installed"
