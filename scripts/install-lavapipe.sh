#!/usr/bin/env bash
# Install Mesa's lavapipe (software Vulkan) from Debian bookworm-backports so that Dawn
# (the `webgpu` npm package) finds a WebGPU adapter on a Linux machine without a GPU.
# Bookworm's own Mesa 22 is too old for Dawn; backports carries Mesa 25.
# Idempotent: safe to run again. Needs root (or sudo). Prints the adapter Dawn then finds
# when node_modules/webgpu is installed.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

have_lavapipe() {
  # lavapipe's ICD manifest, shipped by mesa-vulkan-drivers
  ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1 || return 1
  local v
  v=$(dpkg-query -W -f='${db:Status-Status} ${Version}' mesa-vulkan-drivers 2>/dev/null || true)
  case "$v" in installed\ *) v=${v#installed } ;; *) return 1 ;; esac
  v=${v#*:} # drop an epoch ("1:25.0.7-...")
  # Mesa major version must be >= 24 for Dawn
  [ -n "$v" ] && [ "${v%%.*}" -ge 24 ] 2>/dev/null
}

if have_lavapipe; then
  echo "lavapipe: mesa-vulkan-drivers $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers) already installed"
else
  if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
    # Reuse the Debian mirror (URI and key) that apt is already configured with.
    uri=""; key=""
    if [ -f /etc/apt/sources.list.d/debian.sources ]; then
      uri=$(awk '/^URIs:/ && /debian\/?$/ && !/security/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
      key=$(awk '/^Signed-By:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
    fi
    if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
      uri=$(awk '$1=="deb" && $3 ~ /^bookworm$/ {print $2; exit}' /etc/apt/sources.list)
    fi
    uri=${uri:-http://deb.debian.org/debian}
    key=${key:-/usr/share/keyrings/debian-archive-keyring.gpg}
    echo "lavapipe: adding bookworm-backports from $uri"
    $SUDO tee /etc/apt/sources.list.d/bookworm-backports.sources >/dev/null <<SRC
Types: deb
URIs: $uri
Suites: bookworm-backports
Components: main
Signed-By: $key
SRC
  fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers >/dev/null
  echo "lavapipe: installed mesa-vulkan-drivers $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers)"
fi

export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}
here=$(cd "$(dirname "$0")/.." && pwd)
if [ -d "$here/node_modules/webgpu" ]; then
  node "$here/scripts/print-adapter.mjs" || { echo "lavapipe: Dawn found no adapter" >&2; exit 1; }
else
  echo "lavapipe: run 'npm ci' then 'node scripts/print-adapter.mjs' to see the adapter"
fi
