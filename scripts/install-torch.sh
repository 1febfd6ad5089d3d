#!/usr/bin/env bash
# Install PyTorch for the export tests: Debian's own python3-torch (1.13 on bookworm, CPU
# only), which runs as /usr/bin/python3. `mdlc export --target pytorch` writes code for
# PyTorch 1.13 and newer; the tests run it with this interpreter (or $MDLC_PYTHON).
# Idempotent: safe to run again. Needs root (or sudo). Prints the version it finds.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
PY=${MDLC_PYTHON:-/usr/bin/python3}

if "$PY" -c 'import torch' >/dev/null 2>&1; then
  echo "torch: already installed"
else
  export DEBIAN_FRONTEND=noninteractive
  t0=$SECONDS
  $SUDO apt-get update -qq
  # --no-install-recommends: the recommended packages (a CUDA-less BLAS variant, docs) are not needed.
  $SUDO apt-get install -y -qq --no-install-recommends python3-torch >/dev/null
  echo "torch: installed python3-torch $(dpkg-query -W -f='${Version}' python3-torch) in $((SECONDS - t0))s"
fi

"$PY" -c 'import sys, torch; print(f"torch {torch.__version__} on Python {sys.version.split()[0]} ({sys.executable}), {torch.get_num_threads()} threads")'
