#!/usr/bin/env bash
# Installs what a bare Debian machine with the .NET 10 SDK lacks: OpenCV's native library (OpenCvSharp's official
# linux-x64 runtime) needs GTK 3; with --browser also Debian's chromium, which the dashboard's browser tests drive
# (Playwright cannot download its own browsers here). Nothing else is needed from the system.
set -euo pipefail

missing=()
if ! ldconfig -p | grep -q 'libgtk-3\.so\.0'; then missing+=(libgtk-3-0); fi
if [ "${1:-}" = "--browser" ] && [ ! -x /usr/bin/chromium ]; then missing+=(chromium); fi

if [ "${#missing[@]}" -gt 0 ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  echo "bootstrap: installing ${missing[*]} (OpenCV's native library needs GTK 3; the browser tests need chromium)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
