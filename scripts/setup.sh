#!/bin/sh
# One-command set-up: install dependencies, build, run the main job on the bundled model (results in reports/).
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
[ -f build/build.ninja ] || meson setup build
ninja -C build
scripts/main-job.sh
