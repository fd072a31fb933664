#!/usr/bin/env bash
# Installs what a bare Debian machine with the .NET 10 SDK lacks: OpenCV's native library (OpenCvSharp's official
# linux-x64 runtime) needs GTK 3; with --browser (scripts/test.sh) also Debian's chromium, which the dashboard's browser
# tests drive (Playwright cannot download its own browsers here), and Redocly CLI, which lints the OpenAPI document
# (tests/Integration/Api/OpenApiDocumentTests), at the version pinned in tools/openapi/package-lock.json.
set -euo pipefail

missing=()
if ! ldconfig -p | grep -q 'libgtk-3\.so\.0'; then missing+=(libgtk-3-0); fi
if [ "${1:-}" = "--browser" ] && [ ! -x /usr/bin/chromium ]; then missing+=(chromium); fi
if [ "${1:-}" = "--browser" ] && ! command -v npm >/dev/null; then missing+=(nodejs npm); fi

if [ "${#missing[@]}" -gt 0 ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  echo "bootstrap: installing ${missing[*]} (OpenCV's native library needs GTK 3; the browser tests need chromium; the OpenAPI lint needs npm)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The lint tool, installed again whenever the lock file changes (the copy in node_modules records what is installed).
if [ "${1:-}" = "--browser" ]; then
  tools="$(dirname "$0")/../tools/openapi"
  if [ ! -x "$tools/node_modules/.bin/redocly" ] || ! cmp -s "$tools/package-lock.json" "$tools/node_modules/.installed-lock.json"; then
    echo "bootstrap: installing Redocly CLI into tools/openapi (npm ci)"
    npm ci --prefix "$tools" --no-audit --no-fund --loglevel=error
    cp "$tools/package-lock.json" "$tools/node_modules/.installed-lock.json"
  fi
fi
