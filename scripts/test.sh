#!/usr/bin/env bash
# Quickstart 2: set up, then run the whole test suite against real TensorFlow and real data.
# HYPOTHESIS_PROFILE=thorough draws many more examples; CI=true selects the fast 'ci' profile.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export SCRATCHNET_REQUIRE_TF=1 SCRATCHNET_REQUIRE_DATA=1
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
