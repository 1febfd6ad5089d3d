#!/usr/bin/env bash
# Install PyTorch for the PyTorch export's tests: Debian's own python3-torch (1.13 on bookworm,
# CPU only), which runs as /usr/bin/python3, and OpenBLAS: Debian's torch does its matrix
# products through whatever libblas.so.3 the system has, and the reference BLAS it gets by
# default is ~25× slower (4 against 110 GFLOP/s for a 768×128·128×512 product on one core here).
# `mdlc export --target pytorch` writes code for PyTorch 1.13 and newer; the tests run it with
# this interpreter (or $MDLC_PYTHON). Idempotent: safe to run again. Needs root (or sudo).
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
PY=${MDLC_PYTHON:-/usr/bin/python3}
PACKAGES="python3-torch libopenblas0-pthread"

if dpkg-query -W $PACKAGES >/dev/null 2>&1 && "$PY" -c 'import torch' >/dev/null 2>&1; then
  echo "torch: already installed"
else
  export DEBIAN_FRONTEND=noninteractive
  t0=$SECONDS
  $SUDO apt-get update -qq
  # --no-install-recommends: the recommended extras (documentation, other BLAS builds) are not needed.
  $SUDO apt-get install -y -qq --no-install-recommends $PACKAGES >/dev/null
  echo "torch: installed python3-torch $(dpkg-query -W -f='${Version}' python3-torch) and OpenBLAS in $((SECONDS - t0))s"
fi

"$PY" -c 'import sys, torch; print(f"torch {torch.__version__} on Python {sys.version.split()[0]} ({sys.executable})")'
