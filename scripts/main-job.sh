#!/bin/sh
# The main job: sweep the weights of the bundled real model (PaddleOCR text-direction classifier, ONNX) at 4 and 8
# bits, per tensor and per output channel; CSVs, recommendation and charts land in reports/ppocr_cls/.
# Usage: scripts/main-job.sh [OUTDIR]   (QSCOPE overrides the binary, default build/qscope)
set -eu
cd "$(dirname "$0")/.."
exec "${QSCOPE:-build/qscope}" sweep data/ppocr_mobile_v2.0_cls.onnx --tensor 'conv2d_*' --tensor 'fc_*' \
	-o "${1:-reports/ppocr_cls}" --bits 4,8 --granularity tensor,channel
