/* The entropy calibrator: TensorRT-style KL-divergence threshold on a 2048-bin histogram of |x|. */
#include "calib.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../util/qs_error.h"

/*
 * The algorithm (SPEC §5; NVIDIA, "8-bit Inference with TensorRT", GTC 2017):
 *   hist   = QS_ENTROPY_BINS-bin histogram of |x| over [0, A], A = max|x|, width w = A / QS_ENTROPY_BINS; bin of
 *            |x| is floor(|x| / w), the value A itself in the last bin.
 *   L      = 2^(b-1) quantized levels (symmetric signed and unsigned alike: under SPEC §3 both put 2^(b-1) - 1
 *            steps on each side of zero).
 *   for every candidate i = L .. QS_ENTROPY_BINS (i bins kept, threshold i·w):
 *     P    = hist[0..i), with the outliers Σ hist[i..) added to P[i-1];
 *     Q    = P merged into L levels, bin j in level floor(j·L / i) (so levels hold i/L bins, rounded evenly),
 *            each level's mass spread uniformly over the level's bins where P is non-zero, zero elsewhere;
 *     KL   = Σ_{P_j > 0} p_j log(p_j / q_j) with p = P / n, q = Q / n (P and Q both hold all n values).
 *   i*     = the i with the smallest KL; exact ties go to the largest i (the least clipping).
 *   T      = i*·w: the upper edge of the last kept bin — exactly the range P models; i* = QS_ENTROPY_BINS gives
 *            T = A, so entropy never widens the range beyond minmax.
 * No smoothing is needed: Q is built from P itself, so q_j > 0 wherever p_j > 0 and every KL is finite.
 * When L >= QS_ENTROPY_BINS (b >= 12) the only candidate is i = QS_ENTROPY_BINS, i.e. T = A: with 2048 bins the
 * histogram cannot resolve a narrower clip for that many levels.
 * Symmetric quantizers get [-T, T]. Asymmetric ones get the same T on both sides, clipped to the data:
 * [max(-T, min x), min(T, max x)] (the histogram is of |x|, so it carries no information to move the two ends
 * apart; clipping to the data keeps a one-sided tensor from wasting half its levels on values that never occur).
 * A group whose |x| are all 0 gives [0, 0].
 *
 * Where this differs from TensorRT (the GTC 2017 slides' pseudo-code, and its open implementation
 * pytorch-quantization's calib/histogram.py _compute_amax_entropy):
 *   - Q: TensorRT quantizes the un-clipped bins hist[0..i) (without the outliers) and lets the normalisation of
 *     Q against P (with the outliers) carry the clipping cost; here Q is built from P (outliers included), as
 *     qscope's SPEC/brief define it, so the clipping cost is the outlier spike being spread over its level.
 *   - threshold: the slides use (i* + 0.5)·w, half a bin above the kept range; pytorch-quantization uses the
 *     edge bin_edges[i*] = i*·w, like here.
 *   - pytorch-quantization first overwrites hist[0] with hist[1] (to damp the zeros of ReLU outputs); not done.
 *   - pytorch-quantization's levels: 1 << (b - 1 + unsigned) and the first candidate is a fixed start_bin = 128;
 *     here L = 2^(b-1) for both and the first candidate is L (the same at b = 8 signed).
 *   - level of bin j: pytorch-quantization uses np.digitize against linspace(0, i, L + 1) (the same split up to
 *     floating point); ties in KL also go to the largest i there (last argmin).
 * Where it differs from ONNX Runtime (onnxruntime/python/tools/quantization/calibrate.py,
 * HistogramCalibrater.get_entropy_threshold, CalibrationMethod.Entropy):
 *   - ORT histograms signed x over [-A, A] (default num_bins = 128, num_quantized_bins = 128, so by default it has
 *     exactly one candidate and returns minmax) and grows a window symmetrically around the zero bin, outliers
 *     of each side added to that side's end bin; here |x| with 2048 bins and 2^(b-1) levels tied to b.
 *   - ORT merges floor(i / L) bins per level and adds the remainder to the last level; Q is built from the
 *     un-clipped slice; the expanded q is cast to int64 (truncated) and both P and Q are smoothed with
 *     eps = 1e-4 (smooth_distribution) before scipy's entropy; here exact doubles, no smoothing.
 *   - ORT's threshold is the pair of bin edges (hist_edges[start], hist_edges[end]) (an edge, like here); its
 *     ties go to the first (smallest) window.
 */

#define QS_ENTROPY_BINS 2048

static int entropy_parse(const char *arg, double *param)
{
	*param = 0.0;
	if (arg)
		return qs_error_set(QS_EUSAGE, "calibrator entropy takes no parameter (got ':%s')", arg);
	return QS_OK;
}

/* KL(P || Q) for candidate i (see above): hist has QS_ENTROPY_BINS bins, plogp[k] = hist[k]·log(hist[k]) (0 for an
 * empty bin), outliers = Σ hist[i..), total = n. Per level, Σ_{P_k>0} P_k log(P_k / q) = Σ P_k log P_k - mass·log q
 * with q = mass / nonzero, which needs one log per level instead of one per bin. */
static double kl_at(const double *hist, const double *plogp, size_t i, size_t levels, double outliers, double total)
{
	double kl = 0.0;
	size_t j = 0;
	for (size_t lev = 0; lev < levels; lev++) {
		size_t end = (lev + 1) * i / levels; /* bins [j, end) form this level: floor(k·L/i) == lev */
		double mass = 0.0, sum_plogp = 0.0;
		size_t nonzero = 0;
		for (size_t k = j; k < end; k++) {
			mass += hist[k];
			sum_plogp += plogp[k];
			nonzero += hist[k] > 0.0;
		}
		if (end == i && outliers > 0.0) { /* the last kept bin also holds the outliers */
			double p = hist[i - 1] + outliers;
			mass += outliers;
			sum_plogp += p * log(p) - plogp[i - 1];
			nonzero += hist[i - 1] == 0.0;
		}
		if (nonzero)
			kl += sum_plogp - mass * log(mass / (double)nonzero);
		j = end;
	}
	return kl / total;
}

static int entropy_clip_range(const struct qs_calib_group *g, const struct qs_quantizer *q, double param,
			      double *lo, double *hi)
{
	(void)param;
	const double *x = g->x;
	size_t n = g->n;
	double amax = 0.0, mn = x[0], mx = x[0];
	for (size_t k = 0; k < n; k++) {
		amax = fmax(amax, fabs(x[k]));
		mn = fmin(mn, x[k]);
		mx = fmax(mx, x[k]);
	}
	*lo = *hi = 0.0;
	if (amax == 0.0)
		return QS_OK;

	double *hist = calloc(2 * QS_ENTROPY_BINS, sizeof *hist);
	if (!hist)
		return qs_error_set(QS_ENOMEM, "out of memory (entropy histogram)");
	double *plogp = hist + QS_ENTROPY_BINS;
	for (size_t k = 0; k < n; k++) {
		double pos = fabs(x[k]) / amax * QS_ENTROPY_BINS;
		size_t bin = pos >= QS_ENTROPY_BINS ? QS_ENTROPY_BINS - 1 : (size_t)pos;
		hist[bin] += 1.0;
	}
	for (size_t k = 0; k < QS_ENTROPY_BINS; k++)
		plogp[k] = hist[k] > 0.0 ? hist[k] * log(hist[k]) : 0.0;

	size_t levels = (size_t)1 << (q->bits - 1);
	size_t first = levels < QS_ENTROPY_BINS ? levels : QS_ENTROPY_BINS;
	/* outliers for candidate i = Σ hist[i..): starts at Σ hist[first..), loses hist[i] as i grows (whole counts: exact) */
	double outliers = 0.0;
	for (size_t k = first; k < QS_ENTROPY_BINS; k++)
		outliers += hist[k];
	size_t best_i = QS_ENTROPY_BINS;
	double best_kl = INFINITY;
	for (size_t i = first; i <= QS_ENTROPY_BINS; i++) {
		double kl = kl_at(hist, plogp, i, i < levels ? i : levels, outliers, (double)n);
		if (kl <= best_kl) {
			best_kl = kl;
			best_i = i;
		}
		if (i < QS_ENTROPY_BINS)
			outliers -= hist[i];
	}
	free(hist);

	double t = (double)best_i / QS_ENTROPY_BINS * amax;
	if (q->asym) {
		*lo = fmax(-t, mn);
		*hi = fmin(t, mx);
	} else {
		*lo = -t;
		*hi = t;
	}
	return QS_OK;
}

const struct qs_calib_type qs_calib_entropy = {
	.name = "entropy",
	.parse_param = entropy_parse,
	.clip_range = entropy_clip_range,
};
