/* The entropy calibrator: TensorRT-style KL-divergence threshold on a 2048-bin histogram of |x|. */
#include "calib.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
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
 *   i*     = the i with the smallest KL; ties go to the largest i (the least clipping) — "ties" up to rounding,
 *            see the evaluation below.
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
 * Evaluation (O(n) for the histogram, then O(L) per candidate instead of O(i)): prefix sums over the bins give, for
 * any run of bins [j, e), its mass, its number of non-empty bins and its Σ P log P (over the non-empty bins) as
 * differences. Per level, with q = mass / nonempty the value Q gives each of its non-empty bins,
 *   Σ_{P_k>0} P_k log(P_k / q) = Σ P_k log P_k - mass·log(mass / nonempty),
 * one log per level; the last level [j, i) gets the outliers n - count[i] added to its mass and P[i-1] replaced
 * by P[i-1] + outliers in its Σ P log P (and counted as non-empty). KL = (Σ over levels) / n, as p/q = P/Q.
 * Exactness of the comparisons:
 *   - the Σ P log P prefix sums are kept in 64-bit fixed point (each bin's P log P rounded once to a grid of
 *     2^-61·n·log n), so a level's sum is exact and depends only on its bins, not on where the prefix starts;
 *   - a level with at most one non-empty bin contributes exactly 0 (Q = P there) and is not evaluated;
 *   - a level's term depends only on its first bin and width, and neighbouring candidates share most levels, so
 *     terms are cached by (first bin, width) — a lookup returns exactly what recomputing would;
 *   - KLs that are equal in exact arithmetic (common in sparse or discrete data: small groups, repeated values)
 *     can still come out a few ulps apart (a level split differently, terms summed in another order), which
 *     would break the tie rule at random. So i* is the largest i whose KL is within tol = 64·DBL_EPSILON·(1 + log n)
 *     of the smallest KL: above the rounding error of a KL (a few DBL_EPSILON·log n: every level term is at most
 *     mass·log n), far below the KL differences of distinct candidates in practice. (The former O(i)-per-candidate
 *     evaluation broke such ties by rounding in up to ~0.5% of small float groups, more on discrete data; see
 *     test_entropy_ties.)
 * The level split: bin j is in level floor(j·L/i), i.e. level lev holds bins [ceil(lev·i/L), ceil((lev+1)·i/L)).
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

/* The histogram, its prefix sums (entry k of a prefix array sums bins [0, k)) and the per-candidate work space. */
struct entropy_hist {
	double hist[QS_ENTROPY_BINS];
	double count[QS_ENTROPY_BINS + 1];      /* Σ hist: whole numbers, exact */
	double nonempty[QS_ENTROPY_BINS + 1];   /* number of bins with hist > 0: exact */
	int64_t plogp[QS_ENTROPY_BINS + 1];     /* Σ hist·log(hist) (0 for an empty bin), in units of 1 / scale */
	double scale;                           /* a power of two */
	/* Level terms by first bin j and width w: term[w % 2][j] holds the level [j, j + w) when term_w[w % 2][j]
	 * == w (0: nothing; levels are at least one bin wide). A candidate's levels are floor(i/L) or floor(i/L) + 1
	 * bins wide, one width of each parity, so the two slots do not evict each other. */
	double term[2][QS_ENTROPY_BINS];
	size_t term_w[2][QS_ENTROPY_BINS];
	double kl[QS_ENTROPY_BINS + 1];         /* KL of candidate i */
};

/* v in fixed point: one rounding; every v here is at most n·log(n), which scale keeps below 2^61 units. */
static int64_t to_fixed(const struct entropy_hist *h, double v)
{
	return (int64_t)llround(v * h->scale);
}

/* The term Σ_{P_k>0} P_k log(P_k / q) = Σ P_k log P_k - mass·log q, q = mass / nonempty, of a level with the given
 * mass, number of non-empty bins and Σ P log P (fixed point). Exactly 0 with at most one non-empty bin. */
static double level_term(const struct entropy_hist *h, double mass, double nonempty, int64_t plogp)
{
	if (nonempty <= 1.0)
		return 0.0;
	return (double)plogp / h->scale - mass * log(mass / nonempty);
}

/* The term of the level [j, end) without outliers, from prefix-sum differences, through the cache. */
static double plain_level_term(struct entropy_hist *h, size_t j, size_t end)
{
	size_t w = end - j, slot = w % 2;
	if (h->term_w[slot][j] != w) {
		h->term[slot][j] = level_term(h, h->count[end] - h->count[j], h->nonempty[end] - h->nonempty[j],
					      h->plogp[end] - h->plogp[j]);
		h->term_w[slot][j] = w;
	}
	return h->term[slot][j];
}

/* KL(P || Q) of candidate i over `levels` levels (see the header). */
static double kl_at(struct entropy_hist *h, size_t i, size_t levels)
{
	double outliers = h->count[QS_ENTROPY_BINS] - h->count[i];
	double kl = 0.0;
	/* this level is bins [j, end) with end = ceil((lev + 1)·i / levels), so that bin k is in level
	 * floor(k·levels / i); stepped without a division: fl = floor((lev + 1)·i / levels) = (lev + 1)·width +
	 * floor((lev + 1)·rem / levels), frac = (lev + 1)·rem mod levels, and the ceiling adds one when frac != 0 */
	size_t j = 0, fl = 0, width = i / levels, rem = i % levels, frac = 0;
	for (size_t lev = 0; lev < levels; lev++) {
		fl += width;
		frac += rem;
		if (frac >= levels) {
			frac -= levels;
			fl++;
		}
		size_t end = fl + (frac != 0);
		if (end == i && outliers > 0.0) { /* the last kept bin P[i-1] also holds the outliers */
			double p = h->hist[i - 1] + outliers;
			int64_t last = h->plogp[i] - h->plogp[i - 1]; /* P[i-1] log P[i-1], replaced by p log p */
			int64_t plogp = h->plogp[end] - h->plogp[j] - last + to_fixed(h, p * log(p));
			kl += level_term(h, h->count[end] - h->count[j] + outliers,
					 h->nonempty[end] - h->nonempty[j] + (h->hist[i - 1] == 0.0), plogp);
		} else {
			kl += plain_level_term(h, j, end);
		}
		j = end;
	}
	return kl / h->count[QS_ENTROPY_BINS];
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

	struct entropy_hist *h = calloc(1, sizeof *h);
	if (!h)
		return qs_error_set(QS_ENOMEM, "out of memory (entropy histogram)");
	for (size_t k = 0; k < n; k++) {
		double pos = fabs(x[k]) / amax * QS_ENTROPY_BINS;
		size_t bin = pos >= QS_ENTROPY_BINS ? QS_ENTROPY_BINS - 1 : (size_t)pos;
		h->hist[bin] += 1.0;
	}
	/* Any level's Σ P log P is at most n·log(n) (x log x is superadditive): with n·log(n) < 2^ex, 2^(61 - ex) units
	 * per 1 keep every fixed-point sum below 2^61 (plus the roundings) and resolve 2^-61 of n·log(n). */
	double nlogn = fmax((double)n * log((double)n), 1.0);
	int ex;
	frexp(nlogn, &ex);
	h->scale = ldexp(1.0, 61 - ex);
	for (size_t k = 0; k < QS_ENTROPY_BINS; k++) {
		double c = h->hist[k];
		h->count[k + 1] = h->count[k] + c;
		h->nonempty[k + 1] = h->nonempty[k] + (c > 0.0);
		h->plogp[k + 1] = h->plogp[k] + (c > 0.0 ? to_fixed(h, c * log(c)) : 0);
	}

	size_t levels = (size_t)1 << (q->bits - 1);
	size_t first = levels < QS_ENTROPY_BINS ? levels : QS_ENTROPY_BINS;
	double min_kl = INFINITY;
	for (size_t i = first; i <= QS_ENTROPY_BINS; i++) {
		h->kl[i] = kl_at(h, i, i < levels ? i : levels);
		min_kl = fmin(min_kl, h->kl[i]);
	}
	/* the largest i tied with the smallest KL up to rounding (see the header) */
	double tol = 64.0 * DBL_EPSILON * (1.0 + log((double)n));
	size_t best_i = QS_ENTROPY_BINS;
	while (h->kl[best_i] > min_kl + tol)
		best_i--;
	free(h);

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
