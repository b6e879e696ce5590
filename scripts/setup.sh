#!/usr/bin/env bash
# Sets up a fresh machine for scratchnet: a virtual environment in .venv with the package
# and its extras; MNIST, Fashion-MNIST and the image folders in the cache. Safe to run
# again (it only adds what is missing). Used by scripts/demo.sh, scripts/test.sh and .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
EXTRAS=${SCRATCHNET_EXTRAS:-test,bench}
export PIP_DISABLE_PIP_VERSION_CHECK=1

if [ ! -x .venv/bin/python ]; then
  echo "== creating .venv with $($PYTHON --version)"
  "$PYTHON" -m venv .venv
fi
echo "== installing scratchnet[$EXTRAS] into .venv"
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[$EXTRAS]"

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

# Fashion-MNIST ships as a Debian package; with internet the loader can also download it.
FASHION_DIR=/usr/share/datasets/fashion-mnist
if [ ! -f "$FASHION_DIR/train-images-idx3-ubyte.gz" ] && command -v apt-get >/dev/null 2>&1; then
  echo "== installing Debian's dataset-fashion-mnist"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq dataset-fashion-mnist >/dev/null \
    || echo "   (could not install it: the loader will try the official download instead)"
fi

# Offline, the horse-or-human and rps image folders are rebuilt from the drawings of Debian's
# openclipart-png, which `scratchnet data fetch` fetches with `apt-get download` (into a temp
# directory; nothing is installed). That needs apt's package lists.
if command -v apt-get >/dev/null 2>&1 && [ ! -d /usr/share/openclipart/png ] \
    && ! apt-cache policy openclipart-png 2>/dev/null | grep -q "Candidate: [0-9]"; then
  echo "== apt-get update (to find Debian's openclipart-png)"
  $SUDO apt-get update -qq || echo "   (apt-get update failed: online, the official archives are used)"
fi

echo "== preparing MNIST, Fashion-MNIST and the horse-or-human / rps image folders"
.venv/bin/scratchnet data fetch
