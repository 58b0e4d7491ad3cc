/* Charts of a sweep as gnuplot data (.dat) and scripts (.gp) under OUT/plots/, and rendering them with gnuplot.
 *
 * Per tensor T (file stem: the name made file-safe by qs_name_file_safe, "model" as "_model", plus "-RANK" when two
 * names come out alike):
 *   T.err_vs_scale   rel, rel_clip, rel_round against the multiplier m, one panel per bit width, for the tensor's
 *                    recommended granularity/scheme/range/profile/rounding; every calibrator a colour, its best
 *                    point marked, the optimum over calibrators starred; scale s = m·s_minmax on the top axis
 *   T.err_vs_bits    the best rel (over calibrators and multipliers) against bits, one line per granularity/scheme
 *   T.pareto         the best rel of every configuration against its effective bits per value, frontier as a line
 *   T.histogram      the values (log counts) with every calibrator's per-tensor clip range at multiplier 1 and the
 *                    per-tensor optimum as vertical lines, for the recommended quantizer (needs chart data)
 *   T.channels       per channel: max|x| (and the per-tensor optimum's clip threshold), and rel under per-tensor
 *                    vs per-channel quantization (needs chart data; tensors of rank >= 2)
 * Per model:
 *   model.ranked_error   tensors ranked by rel at their recommended setting, worst first, top 40
 *   model.sqnr_by_layer  SQNR (dB) at the recommended setting, tensors in input order
 * Each chart is STEM.gp (+ STEM.dat, and STEM.best.dat for err_vs_scale); plots/charts.txt lists the stems.
 * A script reads its data by relative path and writes STEM.<fmt>: run it inside plots/ as
 * `gnuplot -e "fmt='svg'" STEM.gp` (fmt: png (default), svg, pdf). */
#ifndef QS_PLOTS_H
#define QS_PLOTS_H

#include <stddef.h>

#include "../recommend/recommend.h"
#include "chart_data.h"
#include "stage.h"

/* Most tensors in model.ranked_error. */
#define QS_PLOTS_RANKED_MAX 40

/* Stages plots/ *.dat, *.gp and plots/charts.txt. rec must come from qs_recommend(pts, ...); cd (NULL: none) gives
 * the histogram and per-channel charts of the tensors it holds. */
int qs_plots_write(struct qs_stage *st, const struct qs_rec_points *pts, const struct qs_recommendation *rec,
		   const struct qs_chart_data *cd);

/* After the stage is committed: removes chart files (.gp .dat .best.dat .png .svg .pdf) in plots_dir that belong to
 * no stem of plots_dir/charts.txt (left by an earlier run on other tensors). */
int qs_plots_prune(const char *plots_dir);

/* Runs gnuplot (found on PATH, started without a shell, cwd = plots_dir) on every .gp in plots_dir for each format
 * ("png", "svg" or "pdf"). gnuplot missing: QS_OK with `warning` set ("" otherwise); a failing script: QS_EIO whose
 * message names the script and carries gnuplot's stderr. */
int qs_plots_render(const char *plots_dir, const char *const *formats, size_t n_formats, char *warning, size_t len);

/* The chart stems of plots_dir/charts.txt (NULL-free array of owned strings; free with qs_plots_stems_free). */
int qs_plots_stems(const char *plots_dir, char ***stems, size_t *n);
void qs_plots_stems_free(char **stems, size_t n);

/* The file stem of tensor r's charts (plots/STEM.err_vs_scale.png, ...): its name with every character outside
 * [A-Za-z0-9._-] turned into '_', '_' in front of "model", "" or a leading '.', and "-r" appended when an earlier
 * tensor has the same stem. */
void qs_plots_tensor_stem(const struct qs_recommendation *rec, size_t r, char *stem, size_t len);

#endif
