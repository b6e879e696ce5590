#!/usr/bin/env bash
# Quickstart 1: set up, then train the lecture's Fashion-MNIST MLP in scratchnet and in its
# tf.keras twin side by side. Extra arguments go to `scratchnet demo` (see --help).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/scratchnet demo "$@"
