#!/usr/bin/env bash
# The browser suite (tests/browser) drives Debian's Chromium through Playwright, which
# never downloads a browser of its own; DejaVu gives the pages' text a font. Installs
# them with apt when they are missing: as root, or through sudo when it needs no password.
set -euo pipefail

if [[ -x /usr/bin/chromium ]] && fc-list 2>/dev/null | grep -qi dejavu; then
    exit 0
fi
packages=(chromium fonts-dejavu-core fontconfig)
if ((EUID == 0)); then
    run=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    run=(sudo -n)
else
    echo "browser-deps: Chromium is missing; install it with: sudo apt-get install ${packages[*]}" >&2
    exit 1
fi
echo "browser-deps: installing ${packages[*]}"
export DEBIAN_FRONTEND=noninteractive
"${run[@]}" apt-get update -qq
"${run[@]}" apt-get install -y -qq --no-install-recommends "${packages[@]}" </dev/null
