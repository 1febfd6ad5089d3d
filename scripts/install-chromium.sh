#!/usr/bin/env bash
# Install Debian's Chromium for the playground's end-to-end test (tests/browser/), which drives
# it headless through playwright-core with WebGPU on Mesa's lavapipe (scripts/install-lavapipe.sh).
# Debian's own package: a test tool's download of its own browser (`npx playwright install`)
# cannot reach its servers here. Idempotent: safe to run again. Needs root (or sudo).
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

if [ -x /usr/bin/chromium ] && dpkg-query -W chromium >/dev/null 2>&1; then
  echo "chromium: already installed"
else
  export DEBIAN_FRONTEND=noninteractive
  t0=$SECONDS
  $SUDO apt-get update -qq
  # Fonts come with it as a dependency; the recommended extras (chromium-sandbox, a driver) are not needed.
  $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
  echo "chromium: installed in $((SECONDS - t0))s"
fi
/usr/bin/chromium --version
