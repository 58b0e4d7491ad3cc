/* What the histogram and per-channel charts need from a tensor's values, which sweep.csv does not hold: measured by
 * the sweep while the tensor is in memory, staged as OUT/histogram.csv, OUT/clip_lines.csv and OUT/channels.csv,
 * and read back by `qscope plot`.
 *
 * For tensor T with recommended configuration R (bits, scheme, range, signedness, pow2, profile, rounding):
 *   histogram   QS_CHART_BINS equal bins of T's finite values over [min, max] (empty bins are not stored);
 *   clip lines  per calibrator c of the sweep (at most 64), the range R's quantizer represents,
 *               [(qmin − z)·s, (qmax − z)·s], for c's per-tensor clip range of T at multiplier 1 (so a symmetric
 *               int8 minmax line sits at −128·s and 127·s = max|x|); then "optimum": the same for the best point
 *               (calibrator, m) of R's per-tensor configuration (R itself, or the tensor-granularity
 *               configuration of the same quantizer) when the sweep has one;
 *   channels    (rank >= 2) per channel k along the channel axis (R's when R is per-channel, else the sweep's first
 *               channel granularity's, else the consumer's, else 0): n, max|x|, Σx², and clipping/rounding error
 *               sums under two quantizations with R's quantizer: [0] per-tensor, [1] per-channel, each at the best
 *               calibrator and multiplier of that granularity's configuration in the sweep (R's when the sweep has
 *               no such configuration). Errors come from qs_err_ref (stochastic rounding: its own seeded stream,
 *               so the sums differ from the sweep's rows by the rounding draws). */
#ifndef QS_CHART_DATA_H
#define QS_CHART_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "../recommend/recommend.h"
#include "../sweep/sweep.h"
#include "stage.h"

#define QS_CHART_BINS 256

struct qs_chart_bin {
	double lo, hi;
	size_t count;
};

struct qs_chart_clip {
	char label[64];      /* the calibrator's label, or "optimum CALIB m=M" */
	double lo, hi;
	bool optimum;
};

struct qs_chart_channel {
	size_t n;
	double absmax, signal;
	double sse_clip[2], sse_round[2];   /* [0] per-tensor quantization, [1] per-channel */
	size_t n_clipped[2];
};

struct qs_chart_tensor {
	char *name;                         /* owned */
	char quant[96];                     /* R's quantizer, e.g. "8-bit sym" */
	struct qs_chart_bin *bins;
	size_t n_bins;
	struct qs_chart_clip *clips;
	size_t n_clips;
	int axis;                           /* channel axis, -1 when there are no channel data */
	char how[2][96];                    /* how each quantization was calibrated: "minmax m=0.87" */
	struct qs_chart_channel *channels;
	size_t n_channels;
};

struct qs_chart_data {
	struct qs_chart_tensor *t;
	size_t n, cap;
};

/* Measures tensor t, just swept with spec into pts->p[first .. pts->n), and appends it; R is the recommendation
 * for target over those points alone (the same as the model's: a tensor's choice depends on its points only). */
int qs_chart_data_add(struct qs_chart_data *cd, const struct qs_sweep_spec *spec, const struct qs_tensor *t,
		      const struct qs_rec_points *pts, size_t first, const struct qs_target *target);
void qs_chart_data_free(struct qs_chart_data *cd);

/* The tensor named `name`, or NULL. */
const struct qs_chart_tensor *qs_chart_data_find(const struct qs_chart_data *cd, const char *name);

/* Stages histogram.csv, clip_lines.csv and channels.csv. */
int qs_chart_data_write(struct qs_stage *st, const struct qs_chart_data *cd);

/* Reads the three files from outdir; a missing file is no data (a folder from an older sweep), a malformed one an
 * error naming the file and line. */
int qs_chart_data_read(const char *outdir, struct qs_chart_data *cd);

/* Totals over the channels of quantization k (0 per-tensor, 1 per-channel). */
struct qs_chart_totals {
	double signal, sse_clip, sse_round;
	size_t n_clipped_channels;          /* channels with at least one clipped value */
};
void qs_chart_totals(const struct qs_chart_tensor *t, int k, struct qs_chart_totals *out);

#endif
