#!/bin/sh
# The main job: sweep the bundled real weights (PaddleOCR text-direction classifier) at the default settings.
# Usage: scripts/main-job.sh [OUTDIR]   (default reports/ppocr_cls; QSCOPE overrides the binary, default build/qscope)
set -eu
cd "$(dirname "$0")/.."
exec "${QSCOPE:-build/qscope}" sweep data/ppocr_cls -o "${1:-reports/ppocr_cls}" --bits 4,8 --granularity tensor,channel
