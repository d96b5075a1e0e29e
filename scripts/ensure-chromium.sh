#!/usr/bin/env bash
# The explorer's test drives a real browser: Debian's Chromium (playwright-core launches it; nothing is
# downloaded by npm). Installs it when it is missing and this user can (root with apt-get); otherwise says
# how, and the explorer test names what is missing. CHROMIUM_PATH points the test at another build.
set -uo pipefail
path="${CHROMIUM_PATH:-/usr/bin/chromium}"
[ -x "$path" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get > /dev/null; then
  echo "Installing Debian's chromium for the explorer test…" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends chromium > /dev/null 2>&1 ||
    { apt-get update > /dev/null 2>&1 && apt-get install -y --no-install-recommends chromium > /dev/null 2>&1; } ||
    echo "Could not install chromium; the explorer test will fail (apt-get install chromium)." >&2
else
  echo "No Chromium at $path: the explorer test needs one (apt-get install chromium, or set CHROMIUM_PATH)." >&2
fi
exit 0
