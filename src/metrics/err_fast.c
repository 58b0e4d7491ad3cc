/* Fast error decomposition over sorted values: each quantization level is a run of the sorted array. */
#include "err_fast.h"

#include <assert.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../tensor/tensor.h"
#include "../util/qs_alloc.h"
#include "../util/qs_error.h"
#include "../util/qs_threads.h"

#define B QS_ERR_BLOCK

/* ---- double-double arithmetic (needs FLT_EVAL_METHOD == 0 and no FP contraction: ISO C mode, SSE2) ------------ */

static inline struct qs_dd two_sum(double a, double b)
{
	double s = a + b;
	double bb = s - a;
	return (struct qs_dd){ s, (a - (s - bb)) + (b - bb) };
}

static struct qs_dd quick_two_sum(double a, double b) /* |a| >= |b| */
{
	double s = a + b;
	return (struct qs_dd){ s, b - (s - a) };
}

/* Dekker's exact product a b = hi + lo (Veltkamp split; inlined, unlike a call to libm's fma). Exact while
 * |a|, |b| < 2^995, |a b| < 2^1023 and the error term does not underflow. */
static inline struct qs_dd two_prod(double a, double b)
{
	const double split = 134217729.0; /* 2^27 + 1 */
	double t = split * a, ah = t - (t - a), al = a - ah;
	t = split * b;
	double bh = t - (t - b), bl = b - bh;
	double p = a * b;
	return (struct qs_dd){ p, ((ah * bh - p) + ah * bl + al * bh) + al * bl };
}

static struct qs_dd dd_add(struct qs_dd a, struct qs_dd b)
{
	struct qs_dd s = two_sum(a.hi, b.hi);
	struct qs_dd t = two_sum(a.lo, b.lo);
	s.lo += t.hi;
	s = quick_two_sum(s.hi, s.lo);
	s.lo += t.lo;
	return quick_two_sum(s.hi, s.lo);
}

static struct qs_dd dd_neg(struct qs_dd a)
{
	return (struct qs_dd){ -a.hi, -a.lo };
}

static struct qs_dd dd_sub(struct qs_dd a, struct qs_dd b)
{
	return dd_add(a, dd_neg(b));
}

static struct qs_dd dd_mul_d(struct qs_dd a, double b)
{
	struct qs_dd p = two_prod(a.hi, b);
	p.lo += a.lo * b;
	return quick_two_sum(p.hi, p.lo);
}

/* ---- sorting ---------------------------------------------------------------------------------------------------- */

/* Unsigned integer with the order of the (non-NaN) double: flip all bits of negatives, the sign bit of the rest. */
static uint64_t sort_key(double x)
{
	uint64_t u;
	memcpy(&u, &x, sizeof u);
	return (u >> 63) ? ~u : u | (UINT64_C(1) << 63);
}

/* The same for a float32; qs_err_prepared_at inverts it. */
static uint32_t float_key(float f)
{
	uint32_t u;
	memcpy(&u, &f, sizeof u);
	return (u >> 31) ? ~u : u | (UINT32_C(1) << 31);
}

/* The key of x, which must be a float32 exactly. */
static uint32_t sort_key32(double x)
{
	return float_key((float)x);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

#define RADIX_BITS 11
#define RADIX_PASSES 6 /* 6 * 11 >= 64 */
#define RADIX_SIZE (1 << RADIX_BITS)
#define RADIX_MIN_N 4096 /* below: qsort */

/* LSD radix sort of a[0..n) by sort_key, 11 bits a pass; tmp holds n doubles, count RADIX_PASSES * RADIX_SIZE
 * zeroed entries. Passes whose digit is the same for all values are skipped. */
static void radix_sort(double *a, double *tmp, size_t *count, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t k = sort_key(a[i]);
		for (int d = 0; d < RADIX_PASSES; d++)
			count[d * RADIX_SIZE + ((k >> (RADIX_BITS * d)) & (RADIX_SIZE - 1))]++;
	}
	uint64_t k0 = sort_key(a[0]);
	double *src = a, *dst = tmp;
	for (int d = 0; d < RADIX_PASSES; d++) {
		size_t *off = count + d * RADIX_SIZE, sum = 0;
		if (off[(k0 >> (RADIX_BITS * d)) & (RADIX_SIZE - 1)] == n)
			continue;
		for (int j = 0; j < RADIX_SIZE; j++) {
			size_t c = off[j];
			off[j] = sum;
			sum += c;
		}
		for (size_t i = 0; i < n; i++)
			dst[off[(sort_key(src[i]) >> (RADIX_BITS * d)) & (RADIX_SIZE - 1)]++] = src[i];
		double *t = src;
		src = dst;
		dst = t;
	}
	if (src != a)
		memcpy(a, src, n * sizeof *a);
}

/* Float32 keys: groups of at least BUCKET_MIN_N values are first distributed by their top BUCKET_BITS bits (sign,
 * exponent, 7 mantissa bits: one counting pass fused with the check of the values, one scatter pass, no copy of the
 * data), then each bucket is sorted on its low 16 bits in cache. Smaller groups are sorted byte by byte. */
#define BUCKET_BITS 16
#define BUCKET_COUNT ((size_t)1 << BUCKET_BITS)
#define BUCKET_MIN_N 65536
#define INSERTION_MAX 24
/* From this many values a group's own preparation uses the OpenMP threads (when not already inside a parallel
 * region, e.g. the sweep preparing many groups at once); the result does not depend on the thread count. */
#define PARALLEL_PREPARE_N ((size_t)1 << 20)
#define MAX_SLICES 64 /* bucket counts kept for at most this many slices of x (512 KiB each) */

/* LSD radix sort of the keys a[0..n) on their bytes [0, bytes), tmp holds n keys. Passes whose byte is the same for
 * all keys are skipped; short arrays get an insertion sort. */
static void radix_sort32(uint32_t *a, uint32_t *tmp, size_t n, int bytes)
{
	if (n <= INSERTION_MAX) {
		for (size_t i = 1; i < n; i++) {
			uint32_t k = a[i];
			size_t j = i;
			for (; j > 0 && a[j - 1] > k; j--)
				a[j] = a[j - 1];
			a[j] = k;
		}
		return;
	}
	size_t count[4][256] = { { 0 } };
	for (size_t i = 0; i < n; i++)
		for (int d = 0; d < bytes; d++)
			count[d][(a[i] >> (8 * d)) & 255]++;
	uint32_t *src = a, *dst = tmp;
	for (int d = 0; d < bytes; d++) {
		size_t *off = count[d], sum = 0;
		if (off[(a[0] >> (8 * d)) & 255] == n)
			continue;
		for (int j = 0; j < 256; j++) {
			size_t c = off[j];
			off[j] = sum;
			sum += c;
		}
		for (size_t i = 0; i < n; i++)
			dst[off[(src[i] >> (8 * d)) & 255]++] = src[i];
		uint32_t *t = src;
		src = dst;
		dst = t;
	}
	if (src != a)
		memcpy(a, src, n * sizeof *a);
}

/* The number of slices of x counted and scattered separately (one a thread) for a group of n values. */
static size_t scatter_slices(size_t n)
{
	size_t slices = n >= PARALLEL_PREPARE_N && !qs_in_parallel() ? (size_t)qs_max_threads() : 1;
	return slices < 1 ? 1 : slices > MAX_SLICES ? MAX_SLICES : slices;
}

/* Slice j of x[0..n) cut into `slices`: [slice_start(j), slice_start(j + 1)). */
static size_t slice_start(size_t n, size_t slices, size_t j)
{
	return n / slices * j + (j < n % slices ? j : n % slices);
}

/* Block k's Σx and Σx² by Ogita-Rump-Oishi Sum2: the sum of B terms to O(B eps²) of Σ|term|, i.e. double-double
 * quality. */
static struct qs_err_prefix block_sums(const struct qs_err_prepared *d, size_t k)
{
	double h1 = 0.0, l1 = 0.0, h2 = 0.0, l2 = 0.0;
	for (size_t i = k * B; i < (k + 1) * B; i++) {
		double v = qs_err_prepared_at(d, i);
		struct qs_dd t1 = two_sum(h1, v), sq = two_prod(v, v), t2 = two_sum(h2, sq.hi);
		h1 = t1.hi;
		l1 += t1.lo;
		h2 = t2.hi;
		l2 += t2.lo + sq.lo;
	}
	return (struct qs_err_prefix){ two_sum(h1, l1), two_sum(h2, l2) };
}

/* Block k's sums for float32 keys. When the block's values share sign and exponent (nearly every block of a large
 * group: they are sorted), each is ±m 2^e with one e and an integer m < 2^24 (e = -149 for zeros and subnormals):
 * Σm < 2^29 and Σm² < 2^53 are summed exactly as integers and scaled exactly by 2^e and 2^2e. Other blocks (the
 * few where the exponent changes): block_sums. */
static struct qs_err_prefix block_sums_f32(const struct qs_err_prepared *d, size_t k)
{
	const uint32_t *key = d->keys32 + k * B;
	uint32_t top = key[0] >> 23; /* sign and exponent, as the key holds them */
	if (top != key[B - 1] >> 23)
		return block_sums(d, k);
	bool negative = !(top >> 8);
	uint32_t biased = negative ? ~top & 0xff : top & 0xff; /* the float's exponent field */
	uint32_t implicit = biased ? UINT32_C(1) << 23 : 0;
	uint64_t sum = 0, sum2 = 0;
	for (size_t i = 0; i < B; i++) {
		uint64_t m = ((negative ? ~key[i] : key[i]) & UINT32_C(0x7fffff)) | implicit;
		sum += m;
		sum2 += m * m;
	}
	int e = (biased ? (int)biased : 1) - 150;
	double s1 = ldexp((double)sum, e);
	return (struct qs_err_prefix){ { negative ? -s1 : s1, 0.0 }, { ldexp((double)sum2, 2 * e), 0.0 } };
}

/* Where a prepare puts block k's sums: the prefix array, in which (see struct qs_err_prepared) they wait at k + 1
 * for k >= origin, at k below, until accumulated; and, for float32 keys, where the block's first key goes. */
struct block_out {
	struct qs_err_prefix *pre;
	size_t origin;
	uint32_t *starts; /* NULL for doubles */
};

/* Block k's sums, computed from the sorted values in d (float32 keys or doubles), to their place. */
static void put_block(const struct block_out *o, const struct qs_err_prepared *d, size_t k)
{
	o->pre[k >= o->origin ? k + 1 : k] = d->keys32 ? block_sums_f32(d, k) : block_sums(d, k);
	if (o->starts)
		o->starts[k] = d->keys32[k * B];
}

/* keys[0..n) := the float32 keys of x[0..n) ascending. count: NULL (n < BUCKET_MIN_N), or `slices` arrays of
 * BUCKET_COUNT bucket sizes, one for each slice of x (scatter_slices), which this turns into scatter positions: the
 * slices are scattered in parallel, each into its own part of every bucket (the order inside a bucket does not
 * matter: the buckets are sorted next). With count, every whole block is also put (put_block), those inside a
 * bucket right after the bucket is sorted, while it is in cache. Returns QS_ENOMEM
 * if the scratch cannot be had. */
static int sort_floats(const double *x, size_t n, size_t *count, size_t slices, uint32_t *keys,
		       const struct block_out *blocks)
{
	if (!count) {
		uint32_t *tmp = malloc((n ? n : 1) * sizeof *tmp);
		if (!tmp)
			return QS_ENOMEM;
		for (size_t i = 0; i < n; i++)
			keys[i] = sort_key32(x[i]);
		radix_sort32(keys, tmp, n, 4);
		free(tmp);
		return QS_OK;
	}
	size_t sum = 0, largest = 0;
	for (size_t b = 0; b < BUCKET_COUNT; b++) {
		size_t start = sum;
		for (size_t j = 0; j < slices; j++) {
			size_t c = count[j * BUCKET_COUNT + b];
			count[j * BUCKET_COUNT + b] = sum;
			sum += c;
		}
		largest = sum - start > largest ? sum - start : largest;
	}
	#pragma omp parallel for schedule(static, 1) if (slices > 1)
	for (size_t j = 0; j < slices; j++) {
		size_t *pos = count + j * BUCKET_COUNT;
		for (size_t i = slice_start(n, slices, j); i < slice_start(n, slices, j + 1); i++) {
			uint32_t k = sort_key32(x[i]);
			keys[pos[k >> BUCKET_BITS]++] = k;
		}
	}
	/* the last slice's count[b] is now the end of bucket b */
	count += (slices - 1) * BUCKET_COUNT;
	const struct qs_err_prepared view = { .keys32 = keys };
	/* the buckets are sorted independently (in parallel for large groups) */
	bool nomem = false;
	#pragma omp parallel reduction(|| : nomem) if (n >= PARALLEL_PREPARE_N)
	{
		uint32_t *tmp = qs_alloc_large(largest * sizeof *tmp); /* only the pages a bucket uses are touched */
		nomem = !tmp;
		#pragma omp for schedule(dynamic, 256)
		for (size_t b = 0; b < BUCKET_COUNT; b++) {
			size_t start = b ? count[b - 1] : 0;
			if (!tmp)
				continue;
			radix_sort32(keys + start, tmp, count[b] - start, 2);
			for (size_t k = (start + B - 1) / B; (k + 1) * B <= count[b]; k++)
				put_block(blocks, &view, k);
		}
		free(tmp);
	}
	/* the blocks that span buckets: those holding a bucket's start anywhere but at their own start */
	for (size_t b = 1; b < BUCKET_COUNT && !nomem; b++) {
		size_t k = count[b - 1] / B;
		if (count[b - 1] % B && k < n / B)
			put_block(blocks, &view, k);
	}
	return nomem ? QS_ENOMEM : QS_OK;
}

/* ---- prepare ---------------------------------------------------------------------------------------------------- */

void qs_err_prepared_free(struct qs_err_prepared *d)
{
	if (!d)
		return;
	free(d->keys_buf);
	free(d->sorted_buf);
	free(d->starts_buf);
	free(d->prefix);
	memset(d, 0, sizeof *d);
}

void qs_err_prepared_copy(const struct qs_err_prepared *d, double *out)
{
	if (!d->keys32) {
		if (d->n)
			memcpy(out, d->sorted64, d->n * sizeof *out);
		return;
	}
	for (size_t i = 0; i < d->n; i++)
		out[i] = qs_err_prepared_at(d, i);
}

/* Grows *buf to hold n elements of size `size` (contents not kept). */
static int grow(void **buf, size_t *cap, size_t n, size_t size)
{
	if (n <= *cap)
		return QS_OK;
	if (n > SIZE_MAX / size)
		return QS_ENOMEM;
	void *p = qs_alloc_large(n * size);
	if (!p)
		return QS_ENOMEM;
	free(*buf);
	*buf = p;
	*cap = n;
	return QS_OK;
}

/* out->sorted_buf[0..n) := x ascending (doubles). */
static int sort_doubles(const double *x, size_t n, struct qs_err_prepared *out)
{
	void *buf = out->sorted_buf;
	int rc = grow(&buf, &out->cap64, n, sizeof(double));
	out->sorted_buf = buf;
	if (rc)
		return rc;
	double *tmp = NULL;
	size_t *count = NULL;
	if (n >= RADIX_MIN_N) {
		tmp = qs_alloc_large(n * sizeof *tmp);
		count = calloc(RADIX_PASSES * RADIX_SIZE, sizeof *count);
		if (!tmp || !count) {
			free(tmp);
			free(count);
			return QS_ENOMEM;
		}
	}
	double *s = out->sorted_buf;
	if (n)
		memcpy(s, x, n * sizeof *s);
	if (tmp)
		radix_sort(s, tmp, count, n);
	else if (n > 1)
		qsort(s, n, sizeof *s, cmp_double);
	free(tmp);
	free(count);
	return QS_OK;
}

/* Counts the buckets of x[lo, hi) into c (c NULL: only checks); returns whether every value is a finite float32
 * (the counts are meaningless otherwise). No early exit: the branch-free check costs next to nothing. */
static bool count_floats(const double *x, size_t lo, size_t hi, size_t *c)
{
	int ok = 1;
	for (size_t i = lo; i < hi; i++) {
		float f = (float)x[i];
		ok &= ((double)f == x[i]) & (fabsf(f) <= FLT_MAX);
		if (c)
			c[float_key(f) >> BUCKET_BITS]++;
	}
	return ok;
}

int qs_err_prepare(const double *x, size_t n, struct qs_err_prepared *out)
{
	out->n = 0;
	out->signal = 0.0;
	out->nblk = 0;
	out->origin = 0;
	out->keys32 = NULL;
	out->sorted64 = NULL;
	out->starts = NULL;
	size_t slices = scatter_slices(n);
	size_t *count = n >= BUCKET_MIN_N ? calloc(slices * BUCKET_COUNT, sizeof *count) : NULL;
	if (n >= BUCKET_MIN_N && !count)
		return qs_error_set(QS_ENOMEM, "out of memory preparing %zu values", n);
	/* One pass (each slice of x on its own thread for large groups): the check of the values, the test for float32
	 * values and their bucket counts. */
	size_t bad = n; /* the first value the fast path refuses */
	bool f32 = true; /* every value exactly a float32 (then each one's bucket is counted) */
	#pragma omp parallel for schedule(static, 1) reduction(min : bad) reduction(&& : f32) if (slices > 1)
	for (size_t j = 0; j < slices; j++) {
		size_t start = slice_start(n, slices, j), end = slice_start(n, slices, j + 1);
		bool slice_f32 = count_floats(x, start, end, count ? count + j * BUCKET_COUNT : NULL);
		f32 = f32 && slice_f32;
		for (size_t i = start; i < end && !slice_f32; i++) {
			if (!(fabs(x[i]) < QS_VALUE_LIMIT)) {
				bad = i < bad ? i : bad;
				break;
			}
		}
	}
	if (bad < n) {
		free(count);
		return qs_error_set(QS_ENONFINITE, "value %g at index %zu: the fast error path needs finite |x| < 2^400",
				    x[bad], bad);
	}
	/* Origin: the block holding the first value whose sign bit is clear (from the bucket counts when there are any:
	 * the sort then sums the blocks as it goes); prefix sums run outward from it. */
	size_t i0 = 0;
	for (size_t b = 0; f32 && count && b < BUCKET_COUNT / 2; b++)
		for (size_t j = 0; j < slices; j++)
			i0 += count[j * BUCKET_COUNT + b];
	size_t nblk = n / B + 1;
	void *prefix = out->prefix;
	int rc = grow(&prefix, &out->cap_blk, nblk, sizeof *out->prefix);
	out->prefix = prefix;
	size_t origin = i0 / B;
	bool summed = f32 && count; /* the block sums come with the bucket sort */
	if (rc == QS_OK && f32) {
		void *keys = out->keys_buf;
		rc = grow(&keys, &out->cap32, n, sizeof(uint32_t));
		out->keys_buf = keys;
		void *starts = out->starts_buf;
		if (rc == QS_OK)
			rc = grow(&starts, &out->cap_starts, n / B + 1, sizeof(uint32_t));
		out->starts_buf = starts;
		const struct block_out blocks = { out->prefix, origin, out->starts_buf };
		if (rc == QS_OK)
			rc = sort_floats(x, n, count, slices, out->keys_buf, &blocks);
	} else if (rc == QS_OK) {
		rc = sort_doubles(x, n, out);
	}
	free(count);
	if (rc != QS_OK)
		return qs_error_set(QS_ENOMEM, "out of memory preparing %zu values", n);
	/* n stays 0 until the sums are in, so a failed prepare leaves no group (see the header) */
	struct qs_err_prepared view = *out;
	view.n = n;
	view.keys32 = f32 ? out->keys_buf : NULL;
	view.sorted64 = f32 ? NULL : out->sorted_buf;
	view.starts = f32 ? out->starts_buf : NULL;

	struct qs_err_prefix *pre = out->prefix;
	if (!summed) {
		while (i0 < n && signbit(qs_err_prepared_at(&view, i0)))
			i0++;
		origin = i0 / B;
		const struct block_out blocks = { pre, origin, view.starts };
		#pragma omp parallel for schedule(static) if (n >= PARALLEL_PREPARE_N)
		for (size_t k = 0; k < nblk - 1; k++)
			put_block(&blocks, &view, k);
	}
	pre[origin] = (struct qs_err_prefix){ { 0.0, 0.0 }, { 0.0, 0.0 } };
	#pragma omp parallel sections if (n >= PARALLEL_PREPARE_N)
	{
		#pragma omp section
		for (size_t k = origin + 1; k < nblk; k++) {
			pre[k].x = dd_add(pre[k - 1].x, pre[k].x);
			pre[k].x2 = dd_add(pre[k - 1].x2, pre[k].x2);
		}
		#pragma omp section
		for (size_t k = origin; k-- > 0;) {
			pre[k].x = dd_sub(pre[k + 1].x, pre[k].x);
			pre[k].x2 = dd_sub(pre[k + 1].x2, pre[k].x2);
		}
	}
	/* Σx² from the sums (the same for any thread count; a sum as good as double-double, where qs_err_ref's plain
	 * loop in input order is within n ulp of it) */
	struct qs_dd signal = dd_sub(pre[nblk - 1].x2, pre[0].x2);
	for (size_t i = (nblk - 1) * B; i < n; i++) {
		double v = qs_err_prepared_at(&view, i);
		signal = dd_add(signal, two_prod(v, v));
	}
	view.signal = signal.hi + signal.lo;
	view.nblk = nblk;
	view.origin = origin;
	*out = view;
	return QS_OK;
}

/* ---- evaluate --------------------------------------------------------------------------------------------------- */

/* The level of x exactly as qs_quant_fake computes it (v = round(x / s) + z), with all clipped-low values merged
 * into qmin - 1 and all clipped-high ones into qmax + 1. Monotone non-decreasing in x. */
struct level {
	double s, z, qmin, qmax;
	enum qs_rounding mode;
};

static double level_of(const struct level *lv, double x)
{
	double v = qs_quant_round(x / lv->s, lv->mode, NULL) + lv->z;
	if (v < lv->qmin)
		return lv->qmin - 1.0;
	if (v > lv->qmax)
		return lv->qmax + 1.0;
	return v;
}

static double at(const struct qs_err_prepared *d, size_t i)
{
	return qs_err_prepared_at(d, i);
}

/* The sequences the searches run on, all non-decreasing in i: the values, the block starts (block i's first value)
 * and the values' levels (lv: only for level_at). */
static double value_at(const struct qs_err_prepared *d, const struct level *lv, size_t i)
{
	(void)lv;
	return at(d, i);
}

static double start_at(const struct qs_err_prepared *d, const struct level *lv, size_t i)
{
	(void)lv;
	const struct qs_err_prepared starts = { .keys32 = d->starts };
	return qs_err_prepared_at(&starts, i);
}

static double level_at(const struct qs_err_prepared *d, const struct level *lv, size_t i)
{
	return level_of(lv, at(d, i));
}

/* First index i in (lo, hi] with seq(i) > t, given seq(lo) <= t and (hi is the end or seq(hi) > t): galloping from
 * lo, then bisection. */
static size_t gallop(const struct qs_err_prepared *d, const struct level *lv,
		     double (*seq)(const struct qs_err_prepared *, const struct level *, size_t), size_t lo, size_t hi,
		     double t)
{
	size_t step = 1;
	while (hi - lo > step) {
		size_t probe = lo + step;
		if (seq(d, lv, probe) > t) {
			hi = probe;
			break;
		}
		lo = probe;
		step *= 2;
	}
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (seq(d, lv, mid) > t)
			hi = mid;
		else
			lo = mid;
	}
	return hi;
}

/* First index i in [from, n] with x[i] > t (plain comparisons). A short run (the answer within B values) is searched
 * on the values themselves; a longer one, with block starts, is first narrowed to one block on them: a small array,
 * so most of its probes hit the cache. */
static size_t first_above(const struct qs_err_prepared *d, size_t from, double t)
{
	size_t n = d->n;
	if (from >= n || at(d, from) > t)
		return from;
	size_t near = n - from > B ? from + B : n;
	if (near == n || at(d, near) > t)
		return gallop(d, NULL, value_at, from, near, t);
	size_t lo = near, hi = n; /* x[lo] <= t, hi = n or x[hi] > t */
	size_t whole = n / B;      /* blocks with a start */
	if (d->starts && lo / B + 1 < whole) {
		/* start[lo / B] <= x[lo] <= t: the last block k whose start is <= t, then x[kB] <= t < x[(k+1)B] */
		size_t k1 = gallop(d, NULL, start_at, lo / B, whole, t);
		lo = (k1 - 1) * B > lo ? (k1 - 1) * B : lo;
		hi = k1 < whole ? k1 * B : n;
	}
	return gallop(d, NULL, value_at, lo, hi, t);
}

/* First index r in (l, n] with level_of(x[r]) > k, where k = level_of(x[l]) (r = n if none). The run's end is near
 * the value t = (k - z + 1/2) s where round(x / s) + z passes k: values clearly below t (by far more than the
 * rounding of x / s) are in the run, values clearly above are not, so comparisons find a bracket [a, b] and level_of
 * is evaluated only at its two ends (checks: the bracket is used only when they confirm it) and inside it. *next:
 * level_of(x[r]) when it was evaluated on the way (the usual case), else NAN. */
static size_t run_end(const struct level *lv, const struct qs_err_prepared *d, size_t l, double k, double *next)
{
	size_t n = d->n;
	*next = NAN;
	if (k > lv->qmax) /* clipped high: the last run */
		return n;
	double t = (k - lv->z + 0.5) * lv->s;
	double margin = fabs(t) * 0x1p-40 + 0x1p-1000;
	size_t a = first_above(d, l + 1, t - margin);
	size_t b = first_above(d, a, t + margin);
	double kb = b < n ? level_of(lv, at(d, b)) : INFINITY;
	if ((a > l + 1 && level_of(lv, at(d, a - 1)) > k) || !(kb > k))
		return gallop(d, lv, level_at, l, n, k); /* not a bracket (extreme scales): search by level_of alone */
	size_t r = gallop(d, lv, level_at, a - 1, b, k);
	if (r == b && b < n)
		*next = kb;
	return r;
}

/* fmax for values that are never NaN (a compare, where fmax is a libm call). */
static double larger(double a, double b)
{
	return a > b ? a : b;
}

static double sse_direct(const struct qs_err_prepared *d, size_t l, size_t r, double c)
{
	double sse = 0.0;
	for (size_t i = l; i < r; i++) {
		double dx = at(d, i) - c;
		sse += dx * dx;
	}
	return sse;
}

/* Σ (x[i] - c)² over the run [l, r): whole blocks from the prefix sums in double-double, the rest directly. */
static double sse_run(const struct qs_err_prepared *d, size_t l, size_t r, double c)
{
	double xl = at(d, l);
	if (xl == at(d, r - 1)) { /* constant run (e.g. data already on the grid): exact, 0 when x == c */
		double dx = xl - c;
		return (double)(r - l) * (dx * dx);
	}
	size_t kl = (l + B - 1) / B, kr = r / B;
	if (kl >= kr)
		return sse_direct(d, l, r, c);
	double sse = sse_direct(d, l, kl * B, c) + sse_direct(d, kr * B, r, c);
	struct qs_dd s1 = dd_sub(d->prefix[kr].x, d->prefix[kl].x);
	struct qs_dd s2 = dd_sub(d->prefix[kr].x2, d->prefix[kl].x2);
	struct qs_dd blk = dd_add(s2, dd_mul_d(s1, -2.0 * c));
	blk = dd_add(blk, dd_mul_d(two_prod(c, c), (double)((kr - kl) * B)));
	return sse + larger(blk.hi + blk.lo, 0.0);
}

double qs_err_fast_outside(const struct qs_err_prepared *d, double lo, double hi)
{
	size_t n = d->n;
	if (n == 0)
		return 0.0;
	size_t below = first_above(d, 0, nextafter(lo, -INFINITY)); /* [0, below): x < lo */
	size_t above = first_above(d, below, hi);                     /* [above, n): x > hi */
	return (below > 0 ? sse_run(d, 0, below, lo) : 0.0) + (above < n ? sse_run(d, above, n, hi) : 0.0);
}

/* x̂ of the values at level k (level_of's value), by the very operations of qs_quant_fake: clamp, minus z, times s
 * (bit-identical to the ref's). */
static double level_value(const struct level *lv, double k)
{
	return ((k < lv->qmin ? lv->qmin : k > lv->qmax ? lv->qmax : k) - lv->z) * lv->s;
}

static bool level_clipped(const struct level *lv, double k)
{
	return k < lv->qmin || k > lv->qmax;
}

/* The fallback: one pass over the sorted values, each quantized as qs_err_ref does. */
static void err_sorted_pass(const struct qs_err_prepared *d, const struct level *lv, struct qs_err *out)
{
	for (size_t i = 0; i < d->n; i++) {
		double xi = at(d, i), k = level_of(lv, xi);
		double dx = xi - level_value(lv, k);
		if (level_clipped(lv, k)) {
			out->n_clipped++;
			out->sse_clip += dx * dx;
		} else {
			out->sse_round += dx * dx;
		}
		out->max_abs = larger(out->max_abs, fabs(dx));
	}
}

static void err_walk(const struct qs_err_prepared *d, const struct level *lv, struct qs_err *out)
{
	size_t n = d->n;
	double k = level_of(lv, at(d, 0)); /* the level of x[l] */
	for (size_t l = 0; l < n;) {
		double next;
		size_t r = run_end(lv, d, l, k, &next);
		double xl = at(d, l), xr = at(d, r - 1);
		double c = level_value(lv, k); /* x̂ of the whole run */
		double sse = sse_run(d, l, r, c);
		if (level_clipped(lv, k)) {
			out->n_clipped += r - l;
			out->sse_clip += sse;
		} else {
			out->sse_round += sse;
		}
		/* fl(x - c) is monotone in x, so the run's largest |x - x̂| is at one of its ends. */
		out->max_abs = larger(out->max_abs, larger(fabs(xl - c), fabs(xr - c)));
		l = r;
		if (l < n)
			k = isnan(next) ? level_of(lv, at(d, l)) : next;
	}
}

/* Shared set-up of qs_err_fast and qs_err_fast_walk; returns false when there is nothing to measure. */
static bool err_begin(const struct qs_err_prepared *d, const struct qs_quantizer *q, const struct qs_qparams *p,
		      struct level *lv, struct qs_err *out)
{
	assert(q->rounding != QS_ROUND_STOCHASTIC && "the fast path needs deterministic rounding: use qs_err_ref");
	memset(out, 0, sizeof *out);
	out->n = d->n;
	out->signal = d->signal;
	long qmin, qmax;
	qs_quant_range(q, &qmin, &qmax);
	*lv = (struct level){ p->scale, (double)p->zero_point, (double)qmin, (double)qmax, q->rounding };
	return d->n > 0;
}

void qs_err_fast(const struct qs_err_prepared *d, const struct qs_quantizer *q, const struct qs_qparams *p,
		 struct qs_err *out)
{
	struct level lv;
	if (!err_begin(d, q, p, &lv, out))
		return;
	/* The walk visits at most the levels spanned, each for ~2 log2(n) level_of probes plus up to 2 B cheap terms;
	 * a plain pass costs n quantizations. Measured (N(0,1), n = 300..10^6, b = 2..16): the walk is the faster
	 * while levels (2 log2 n + 8) < ~12 n; 8 n keeps a margin. */
	size_t n = d->n;
	double levels = level_of(&lv, at(d, n - 1)) - level_of(&lv, at(d, 0)) + 1.0;
	if (levels * (2.0 * log2((double)n) + 8.0) >= 8.0 * (double)n)
		err_sorted_pass(d, &lv, out);
	else
		err_walk(d, &lv, out);
}

void qs_err_fast_walk(const struct qs_err_prepared *d, const struct qs_quantizer *q, const struct qs_qparams *p,
		      struct qs_err *out)
{
	struct level lv;
	if (err_begin(d, q, p, &lv, out))
		err_walk(d, &lv, out);
}
