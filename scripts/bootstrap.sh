#!/usr/bin/env bash
# Installs what a bare Debian machine with the .NET 10 SDK lacks. OpenCV's native library (OpenCvSharp's official
# linux-x64 runtime) needs GTK 3; nothing else is needed from the system.
set -euo pipefail

if ! ldconfig -p | grep -q 'libgtk-3\.so\.0'; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  echo "bootstrap: installing libgtk-3-0 (needed by OpenCV's native library)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends libgtk-3-0 >/dev/null
fi
