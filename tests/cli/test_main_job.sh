#!/bin/bash
# Runs the README's main job (scripts/main-job.sh) on the bundled data and checks the CSV it writes.
set -u
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
fail=0
total=0
check() { total=$((total + 1)); if eval "$2"; then echo "ok: $1"; else echo "FAIL: $1"; fail=$((fail + 1)); fi; }
"$QS_SOURCE_ROOT/scripts/main-job.sh" "$out/ppocr" >"$out/stdout" 2>"$out/stderr"
rc=$?
check "main job exits 0" '[ $rc -eq 0 ]'
csv="$out/ppocr/sweep.csv"
check "sweep.csv exists" '[ -s "$csv" ]'
want="tensor,shape,n,bits,signed,range,scheme,granularity,calib,multiplier,scale,zero_point,sse_clip,sse_round,sse,signal,rel,rel_clip,rel_round,sqnr_db,clip_frac,n_clipped,max_abs,worst_group_rel,eff_bits,profile,rounding"
check "header starts with the documented columns" '[ "$(head -1 "$csv" | cut -d, -f1-27)" = "$want" ]'
# the model's conv and fc weights/biases: the tensors data/ppocr_cls holds as .npy
ntensors=$(ls "$QS_SOURCE_ROOT"/data/ppocr_cls/*.npy | wc -l)
# per tensor: 2 bit widths x 2 granularities x 111 multipliers
check "one row per tensor x config x multiplier" '[ $(($(wc -l <"$csv") - 1)) -eq $((ntensors * 2 * 2 * 111)) ]'
check "every bundled tensor appears" '[ $(tail -n +2 "$csv" | cut -d, -f1 | sort -u | wc -l) -eq $ntensors ]'
check "recommend.csv has one recommended row per tensor" \
	'[ $(tail -n +2 "$out/ppocr/recommend.csv" | awk -F, "\$26 == 1" | wc -l) -eq $ntensors ]'
check "only the CSVs, chart data, charts and report are left (no staging folder)" \
	'[ "$(ls -A "$out/ppocr" | tr "\n" " ")" = "channels.csv clip_lines.csv histogram.csv plots recommend.csv report.html report.md sweep.csv " ]'
if command -v gnuplot >/dev/null; then
	check "charts rendered: a PNG per .gp" \
		'[ "$(ls "$out/ppocr/plots"/*.png | wc -l)" -eq "$(ls "$out/ppocr/plots"/*.gp | wc -l)" ]'
else
	echo "skip: gnuplot not installed, charts not rendered"
fi
echo "$((total - fail)) passed, $fail failed"
[ $fail -eq 0 ]
