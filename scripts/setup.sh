#!/usr/bin/env bash
# Sets up a fresh machine for scratchnet: a virtual environment in .venv with the package
# and its extras, and both data sets in the cache. Safe to run again (it only adds what is
# missing). Used by scripts/demo.sh, scripts/test.sh and .ci/run.
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

# Fashion-MNIST ships as a Debian package; with internet the loader can also download it.
FASHION_DIR=/usr/share/datasets/fashion-mnist
if [ ! -f "$FASHION_DIR/train-images-idx3-ubyte.gz" ] && command -v apt-get >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  echo "== installing Debian's dataset-fashion-mnist"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq dataset-fashion-mnist >/dev/null \
    || echo "   (could not install it: the loader will try the official download instead)"
fi

echo "== preparing MNIST and Fashion-MNIST"
.venv/bin/scratchnet data fetch
