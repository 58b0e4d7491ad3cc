/* Unit tests of the quantizer (SPEC §1, §3) against formulas re-derived in this file, never against program output. */
#include <check.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_rng.h>

#include "quant/quantizer.h"
#include "util/qs_error.h"

/* ---- independent oracles ------------------------------------------------------------------------------------ */

/* SPEC §1 integer range, written from the definition with powers of two computed by ldexp. */
static void ref_range(int bits, bool is_signed, bool narrow, long *qmin, long *qmax)
{
	if (is_signed) {
		*qmin = -(long)ldexp(1.0, bits - 1);
		*qmax = (long)ldexp(1.0, bits - 1) - 1;
	} else {
		*qmin = 0;
		*qmax = (long)ldexp(1.0, bits) - 1;
	}
	if (narrow)
		*qmin += 1;
}

/* Round half to even without rint(): floor plus an explicit look at the fraction (exact for |v| < 2^52). */
static double ref_round_even(double v)
{
	double f = floor(v);
	double d = v - f;
	if (d > 0.5)
		return f + 1.0;
	if (d < 0.5)
		return f;
	return fmod(f, 2.0) == 0.0 ? f : f + 1.0;
}

static double ref_round_away(double v)
{
	double a = fabs(v);
	double f = floor(a);
	return copysign(a - f >= 0.5 ? f + 1.0 : f, v);
}

static long ref_clamp(long v, long lo, long hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* 2^ceil(log2 s) through frexp (s = m 2^e, m in [0.5, 1)): an exact power of two (m = 0.5) stays. */
static double ref_pow2_up(double s)
{
	int e;
	double m = frexp(s, &e);
	return m == 0.5 ? s : ldexp(1.0, e);
}

static bool is_pow2(double s)
{
	int e;
	return s > 0 && frexp(s, &e) == 0.5;
}

/* SPEC §3 default profile, re-derived. */
static void ref_params_default(const struct qs_quantizer *q, double lo, double hi, double *s, long *z, bool *dead)
{
	long qmin, qmax;
	ref_range(q->bits, q->is_signed, q->narrow, &qmin, &qmax);
	*dead = false;
	if (!q->asym) {
		double t = fmax(fabs(lo), fabs(hi));
		if (t == 0.0) {
			*s = 1.0;
			*z = qmin > 0 ? qmin : 0; /* zero must stay representable (unsigned narrow: qmin = 1) */
			*dead = true;
			return;
		}
		*s = t / (ldexp(1.0, q->bits - 1) - 1.0);
		if (q->pow2)
			*s = ref_pow2_up(*s);
		*z = q->is_signed ? 0 : (long)ldexp(1.0, q->bits - 1);
		return;
	}
	double l = fmin(lo, 0.0), h = fmax(hi, 0.0);
	if (h - l == 0.0) {
		*s = 1.0;
		*z = qmin > 0 ? qmin : 0;
		*dead = true;
		return;
	}
	*s = (h - l) / (double)(qmax - qmin);
	if (q->pow2)
		*s = ref_pow2_up(*s);
	*z = ref_clamp((long)ref_round_even((double)qmin - l / *s), qmin, qmax);
}

/* torch.ao.quantization MinMaxObserver._calculate_qparams in float32, one cast per torch tensor operation. */
static void ref_params_torch(const struct qs_quantizer *q, double lo, double hi, double *s, long *z)
{
	const float eps = (float)QS_TORCH_EPS;
	long qmin, qmax;
	ref_range(q->bits, q->is_signed, q->narrow, &qmin, &qmax);
	float min_neg = fminf((float)lo, 0.0f);
	float max_pos = fmaxf((float)hi, 0.0f);
	float sc;
	if (!q->asym) {
		float t = fmaxf(-min_neg, max_pos);
		sc = (float)(t / (float)((double)(qmax - qmin) / 2.0));
		sc = fmaxf(sc, eps);
		*z = q->is_signed ? 0 : (long)ldexp(1.0, q->bits - 1);
	} else {
		sc = (float)((float)(max_pos - min_neg) / (float)(qmax - qmin));
		sc = fmaxf(sc, eps);
		float ratio = (float)(min_neg / sc);
		*z = ref_clamp(qmin - (long)ref_round_even((double)ratio), qmin, qmax);
	}
	*s = (double)sc;
}

static struct qs_quantizer mkq(int bits, bool is_signed, bool narrow, bool asym, bool pow2, enum qs_rounding r,
			       enum qs_profile prof)
{
	struct qs_quantizer q = {
		.bits = bits, .is_signed = is_signed, .narrow = narrow, .asym = asym, .pow2 = pow2,
		.rounding = r, .profile = prof,
	};
	return q;
}

/* ck_assert_msg marks a checkpoint (a pipe write) on every pass; hot loops use this instead. */
#define REQUIRE(cond, ...)                                                                                      \
	do {                                                                                                    \
		if (!(cond))                                                                                    \
			ck_abort_msg(__VA_ARGS__);                                                              \
	} while (0)

#define ASSERT_REL(got, want, tol)                                                                              \
	REQUIRE(fabs((got) - (want)) <= (tol) * fabs(want), "%s = %.17g, expected %.17g (rel tol %g)", #got, \
		      (double)(got), (double)(want), (double)(tol))

/* ---- qs_quant_range ---------------------------------------------------------------------------------------- */

/* Every (bits, signed, range) combination against the SPEC §1 formula. */
START_TEST(test_range_all)
{
	int bits = _i;
	for (int sg = 0; sg < 2; sg++)
		for (int nr = 0; nr < 2; nr++) {
			struct qs_quantizer q = mkq(bits, sg, nr, false, false, QS_ROUND_EVEN, QS_PROFILE_DEFAULT);
			long qmin = 12345, qmax = 12345, emin, emax;
			qs_quant_range(&q, &qmin, &qmax);
			ref_range(bits, sg, nr, &emin, &emax);
			REQUIRE(qmin == emin && qmax == emax, "b=%d signed=%d narrow=%d: [%ld, %ld], expected [%ld, %ld]",
				      bits, sg, nr, qmin, qmax, emin, emax);
		}
}
END_TEST

/* A few literal values anyone knows by heart (int8, uint8, int4 narrow, int16). */
START_TEST(test_range_literals)
{
	long lo, hi;
	struct qs_quantizer q = mkq(8, true, false, false, false, QS_ROUND_EVEN, QS_PROFILE_DEFAULT);
	qs_quant_range(&q, &lo, &hi);
	ck_assert(lo == -128 && hi == 127);
	q.narrow = true;
	qs_quant_range(&q, &lo, &hi);
	ck_assert(lo == -127 && hi == 127);
	q = mkq(8, false, false, false, false, QS_ROUND_EVEN, QS_PROFILE_DEFAULT);
	qs_quant_range(&q, &lo, &hi);
	ck_assert(lo == 0 && hi == 255);
	q = mkq(4, true, true, false, false, QS_ROUND_EVEN, QS_PROFILE_DEFAULT);
	qs_quant_range(&q, &lo, &hi);
	ck_assert(lo == -7 && hi == 7);
	q = mkq(16, false, true, false, false, QS_ROUND_EVEN, QS_PROFILE_DEFAULT);
	qs_quant_range(&q, &lo, &hi);
	ck_assert(lo == 1 && hi == 65535);
	q = mkq(2, true, false, false, false, QS_ROUND_EVEN, QS_PROFILE_DEFAULT);
	qs_quant_range(&q, &lo, &hi);
	ck_assert(lo == -2 && hi == 1);
}
END_TEST

/* ---- qs_quant_params, default profile ---------------------------------------------------------------------- */

static const double ranges[][2] = {
	{ -1.7, 2.55 }, { -3.1, 0.42 }, { 0.3, 2.385 }, { -2.385, -0.7 }, { -0.0123, 0.0456 }, { -5.125, 5.125 },
};
#define N_RANGES (sizeof ranges / sizeof ranges[0])

/* Every (bits, signed, range, scheme, pow2) combination: scale and zero-point against SPEC §3. */
START_TEST(test_params_default_all)
{
	int bits = _i;
	for (int sg = 0; sg < 2; sg++)
		for (int nr = 0; nr < 2; nr++)
			for (int as = 0; as < 2; as++)
				for (int p2 = 0; p2 < 2; p2++)
					for (size_t r = 0; r < N_RANGES; r++) {
						struct qs_quantizer q =
							mkq(bits, sg, nr, as, p2, QS_ROUND_EVEN, QS_PROFILE_DEFAULT);
						double lo = ranges[r][0], hi = ranges[r][1], es;
						long ez;
						bool edead;
						ref_params_default(&q, lo, hi, &es, &ez, &edead);
						struct qs_qparams p = { .scale = -1, .zero_point = 999999, .dead = true };
						qs_quant_params(&q, lo, hi, &p);
						REQUIRE(fabs(p.scale - es) <= 1e-14 * es && p.zero_point == ez &&
								      p.dead == edead,
							      "b=%d signed=%d narrow=%d asym=%d pow2=%d [%g, %g]: s=%.17g z=%ld "
							      "dead=%d, expected s=%.17g z=%ld dead=%d",
							      bits, sg, nr, as, p2, lo, hi, p.scale, p.zero_point, p.dead, es,
							      ez, edead);
					}
}
END_TEST

/* pow2: the scale is a power of two, >= the plain scale and < twice it; exact powers of two stay. */
START_TEST(test_params_pow2_bounds)
{
	int bits = _i;
	for (int sg = 0; sg < 2; sg++)
		for (int nr = 0; nr < 2; nr++)
			for (int as = 0; as < 2; as++)
				for (size_t r = 0; r < N_RANGES; r++) {
					struct qs_quantizer q = mkq(bits, sg, nr, as, false, QS_ROUND_EVEN,
								    QS_PROFILE_DEFAULT);
					struct qs_qparams plain, p2;
					qs_quant_params(&q, ranges[r][0], ranges[r][1], &plain);
					q.pow2 = true;
					qs_quant_params(&q, ranges[r][0], ranges[r][1], &p2);
					REQUIRE(is_pow2(p2.scale), "b=%d: pow2 scale %.17g is not a power of two",
						      bits, p2.scale);
					REQUIRE(p2.scale >= plain.scale && p2.scale < 2.0 * plain.scale,
						      "b=%d: pow2 scale %.17g not in [%.17g, 2x)", bits, p2.scale,
						      plain.scale);
				}
	/* T = 0.75 * (2^(b-1) - 1) gives the plain symmetric scale 0.75 -> 1; T = 2^-3 (2^(b-1) - 1) stays 0.125. */
	struct qs_quantizer q = mkq(bits, true, false, false, true, QS_ROUND_EVEN, QS_PROFILE_DEFAULT);
	struct qs_qparams p;
	double m = ldexp(1.0, bits - 1) - 1.0;
	qs_quant_params(&q, -0.75 * m, 0.5, &p);
	REQUIRE(p.scale == 1.0, "b=%d: pow2 of 0.75 gave %.17g", bits, p.scale);
	qs_quant_params(&q, -0.1, 0.125 * m, &p);
	REQUIRE(p.scale == 0.125, "b=%d: exact power of two 0.125 became %.17g", bits, p.scale);
}
END_TEST

/* SPEC §3 "never adds clipping": the clip range's ends (and zero) are not clipped (but see the tie below) and lie
 * within s/2 of their reconstruction; zero is exact. */
START_TEST(test_params_no_clipping_at_ends)
{
	int bits = _i;
	for (int sg = 0; sg < 2; sg++)
		for (int nr = 0; nr < 2; nr++)
			for (int as = 0; as < 2; as++)
				for (int p2 = 0; p2 < 2; p2++)
					for (size_t r = 0; r < N_RANGES; r++) {
						struct qs_quantizer q =
							mkq(bits, sg, nr, as, p2, QS_ROUND_EVEN, QS_PROFILE_DEFAULT);
						double lo = ranges[r][0], hi = ranges[r][1];
						struct qs_qparams p;
						qs_quant_params(&q, lo, hi, &p);
						double t = fmax(fabs(lo), fabs(hi));
						double ends[3] = { as ? fmin(lo, 0) : -t, as ? fmax(hi, 0) : t, 0.0 };
						/* A tie in z = round(qmin - lo/s) (e.g. [-5.125, 5.125] unsigned:
						 * 127.5 -> 128) shifts the grid half a step: one end may then clip
						 * by up to s/2, as SPEC's formula (and torch) do. */
						long qmin, qmax;
						ref_range(bits, sg, nr, &qmin, &qmax);
						double zr = (double)qmin - ends[0] / p.scale;
						bool tie = as && fabs(zr - floor(zr) - 0.5) < 1e-9;
						for (int k = 0; k < 3; k++) {
							bool clipped = true;
							double xh = qs_quant_fake(&q, &p, ends[k], NULL, &clipped);
							REQUIRE(fabs(xh - ends[k]) <= 0.5 * p.scale * (1 + 1e-9),
								"b=%d asym=%d: end %g reconstructs as %.17g (s=%g)", bits, as,
								ends[k], xh, p.scale);
							REQUIRE(!clipped || (tie && k < 2),
								      "b=%d signed=%d narrow=%d asym=%d pow2=%d [%g, %g]: "
								      "%g clipped (s=%.17g z=%ld)",
								      bits, sg, nr, as, p2, lo, hi, ends[k], p.scale,
								      p.zero_point);
							if (k == 2)
								REQUIRE(xh == 0.0, "zero reconstructs as %g", xh);
						}
					}
}
END_TEST

/* Hand-derived int8 / uint8 values. */
START_TEST(test_params_default_literals)
{
	struct qs_qparams p;
	/* int8 symmetric, [-1.7, 2.55]: s = 2.55 / 127, z = 0. */
	struct qs_quantizer q = mkq(8, true, false, false, false, QS_ROUND_EVEN, QS_PROFILE_DEFAULT);
	qs_quant_params(&q, -1.7, 2.55, &p);
	ASSERT_REL(p.scale, 2.55 / 127.0, 1e-15);
	ck_assert_int_eq(p.zero_point, 0);
	/* uint8 symmetric: same s, z = 128. */
	q.is_signed = false;
	qs_quant_params(&q, -1.7, 2.55, &p);
	ASSERT_REL(p.scale, 2.55 / 127.0, 1e-15);
	ck_assert_int_eq(p.zero_point, 128);
	/* int8 asymmetric: s = 4.25 / 255 = 1/60, z = round(-128 + 1.7 * 60) = round(-26) = -26. */
	q = mkq(8, true, false, true, false, QS_ROUND_EVEN, QS_PROFILE_DEFAULT);
	qs_quant_params(&q, -1.7, 2.55, &p);
	ASSERT_REL(p.scale, 1.0 / 60.0, 1e-14);
	ck_assert_int_eq(p.zero_point, -26);
	/* uint8 asymmetric of a positive range: zero joins the range, lo = 0, s = 2.385 / 255, z = 0. */
	q.is_signed = false;
	qs_quant_params(&q, 0.3, 2.385, &p);
	ASSERT_REL(p.scale, 2.385 / 255.0, 1e-15);
	ck_assert_int_eq(p.zero_point, 0);
	/* uint8 asymmetric of a negative range: hi = 0, s = 2.385 / 255, z = round(0 + 255) = 255. */
	qs_quant_params(&q, -2.385, -0.7, &p);
	ASSERT_REL(p.scale, 2.385 / 255.0, 1e-15);
	ck_assert_int_eq(p.zero_point, 255);
	/* int8 asymmetric pow2: s = 2^ceil(log2(1/60)) = 2^-5, z = round(-128 + 1.7 * 32) = round(-73.6) = -74. */
	q = mkq(8, true, false, true, true, QS_ROUND_EVEN, QS_PROFILE_DEFAULT);
	qs_quant_params(&q, -1.7, 2.55, &p);
	ck_assert(p.scale == 0.03125);
	ck_assert_int_eq(p.zero_point, -74);
	ck_assert(!p.dead);
}
END_TEST

/* Degenerate range: s = 1, z = 0, dead, for every combination -- except unsigned narrow, whose range [1, qmax]
 * has no 0: there z = qmin = 1 so that zeros still reconstruct as 0 (and the error of a dead group is 0). */
START_TEST(test_params_dead)
{
	int bits = _i;
	for (int sg = 0; sg < 2; sg++)
		for (int nr = 0; nr < 2; nr++)
			for (int as = 0; as < 2; as++)
				for (int p2 = 0; p2 < 2; p2++) {
					struct qs_quantizer q =
						mkq(bits, sg, nr, as, p2, QS_ROUND_EVEN, QS_PROFILE_DEFAULT);
					struct qs_qparams p = { .scale = -1, .zero_point = 77, .dead = false };
					qs_quant_params(&q, 0.0, 0.0, &p);
					long want_z = (!sg && nr) ? 1 : 0;
					bool clipped = true;
					double xhat = qs_quant_fake(&q, &p, 0.0, NULL, &clipped);
					REQUIRE(p.scale == 1.0 && p.zero_point == want_z && p.dead && xhat == 0.0 && !clipped,
						      "b=%d signed=%d narrow=%d asym=%d pow2=%d: s=%g z=%ld dead=%d", bits,
						      sg, nr, as, p2, p.scale, p.zero_point, p.dead);
				}
}
END_TEST

/* ---- qs_quant_params, torch profile ------------------------------------------------------------------------ */

/* Hand derivations from MinMaxObserver._calculate_qparams (float32; round = half to even):
 *   lo = -1.7, hi = 2.55.
 *   qint8 affine  (qmin -128, qmax 127): s = (2.55 + 1.7) / 255 = 0.0166667 (float32), z = -128 - round(-1.7 / s)
 *                                        = -128 - round(-102.0) = -26.
 *   quint8 affine (0, 255):              same s, z = 0 - (-102) = 102.
 *   qint8 symmetric:                     s = max(1.7, 2.55) / ((127 + 128) / 2) = 2.55 / 127.5 = 0.02, z = 0.
 *   qint8 symmetric narrow (-127, 127):  s = 2.55 / 127 = 0.0200787, z = 0.
 *   quint8 symmetric:                    s = 2.55 / 127.5 = 0.02, z = 128.
 * The float32 values are recomputed below with one cast per tensor operation. */
START_TEST(test_params_torch_literals)
{
	struct qs_qparams p;
	double es;
	long ez;
	struct qs_quantizer q = mkq(8, true, false, true, false, QS_ROUND_EVEN, QS_PROFILE_TORCH);
	qs_quant_params(&q, -1.7, 2.55, &p);
	ref_params_torch(&q, -1.7, 2.55, &es, &ez);
	REQUIRE(fabs(es - 1.0 / 60.0) < 1e-9 && ez == -26, "oracle itself off: %.17g %ld", es, ez);
	REQUIRE(p.scale == es, "qint8 affine s=%.17g, expected float32 %.17g", p.scale, es);
	ck_assert_int_eq(p.zero_point, -26);
	ck_assert(!p.dead);

	q.is_signed = false;
	qs_quant_params(&q, -1.7, 2.55, &p);
	REQUIRE(p.scale == es, "quint8 affine s=%.17g, expected %.17g", p.scale, es);
	ck_assert_int_eq(p.zero_point, 102);

	q = mkq(8, true, false, false, false, QS_ROUND_EVEN, QS_PROFILE_TORCH);
	qs_quant_params(&q, -1.7, 2.55, &p);
	REQUIRE(p.scale == (double)(2.55f / 127.5f), "qint8 sym s=%.17g", p.scale);
	ck_assert(fabs(p.scale - 0.02) < 1e-9);
	ck_assert_int_eq(p.zero_point, 0);

	q.narrow = true;
	qs_quant_params(&q, -1.7, 2.55, &p);
	REQUIRE(p.scale == (double)(2.55f / 127.0f), "qint8 sym narrow s=%.17g", p.scale);
	ck_assert_int_eq(p.zero_point, 0);

	q = mkq(8, false, false, false, false, QS_ROUND_EVEN, QS_PROFILE_TORCH);
	qs_quant_params(&q, -1.7, 2.55, &p);
	REQUIRE(p.scale == (double)(2.55f / 127.5f), "quint8 sym s=%.17g", p.scale);
	ck_assert_int_eq(p.zero_point, 128);

	/* A range thinner than eps: s is floored at eps, z = -128 - round(-1e-9 / eps) = -128 - round(-0.0084) = -128. */
	q = mkq(8, true, false, true, false, QS_ROUND_EVEN, QS_PROFILE_TORCH);
	qs_quant_params(&q, -1e-9, 2e-9, &p);
	ck_assert(p.scale == QS_TORCH_EPS);
	ck_assert_int_eq(p.zero_point, -128);
	ck_assert(!p.dead);
	/* symmetric likewise: 2e-9 / 127.5 < eps. */
	q.asym = false;
	qs_quant_params(&q, -1e-9, 2e-9, &p);
	ck_assert(p.scale == QS_TORCH_EPS);
	ck_assert_int_eq(p.zero_point, 0);
}
END_TEST

/* Every (bits, signed, range, scheme) against the float32 re-derivation; scale bit-exact. */
START_TEST(test_params_torch_all)
{
	int bits = _i;
	for (int sg = 0; sg < 2; sg++)
		for (int nr = 0; nr < 2; nr++)
			for (int as = 0; as < 2; as++)
				for (size_t r = 0; r < N_RANGES; r++) {
					struct qs_quantizer q =
						mkq(bits, sg, nr, as, false, QS_ROUND_EVEN, QS_PROFILE_TORCH);
					double lo = ranges[r][0], hi = ranges[r][1], es;
					long ez;
					ref_params_torch(&q, lo, hi, &es, &ez);
					struct qs_qparams p;
					qs_quant_params(&q, lo, hi, &p);
					REQUIRE(p.scale == es && p.zero_point == ez && !p.dead,
						      "torch b=%d signed=%d narrow=%d asym=%d [%g, %g]: s=%.17g z=%ld dead=%d, "
						      "expected s=%.17g z=%ld",
						      bits, sg, nr, as, lo, hi, p.scale, p.zero_point, p.dead, es, ez);
				}
}
END_TEST

/* All-zero range under torch: s = eps and the zero-point torch would give (qmin - round(0) for affine), dead. */
START_TEST(test_params_torch_dead)
{
	int bits = _i;
	for (int sg = 0; sg < 2; sg++)
		for (int nr = 0; nr < 2; nr++)
			for (int as = 0; as < 2; as++) {
				struct qs_quantizer q = mkq(bits, sg, nr, as, false, QS_ROUND_EVEN, QS_PROFILE_TORCH);
				double es;
				long ez;
				ref_params_torch(&q, 0.0, 0.0, &es, &ez);
				ck_assert(es == QS_TORCH_EPS);
				struct qs_qparams p;
				qs_quant_params(&q, 0.0, 0.0, &p);
				REQUIRE(p.scale == QS_TORCH_EPS && p.dead, "b=%d signed=%d narrow=%d asym=%d: s=%g dead=%d",
					      bits, sg, nr, as, p.scale, p.dead);
				REQUIRE(p.zero_point == ez, "b=%d signed=%d narrow=%d asym=%d: z=%ld, torch gives %ld",
					      bits, sg, nr, as, p.zero_point, ez);
			}
}
END_TEST

/* ---- qs_quant_round ---------------------------------------------------------------------------------------- */

START_TEST(test_round_deterministic)
{
	static const struct {
		double v, even, away;
	} cases[] = {
		{ 2.5, 2, 3 },     { 3.5, 4, 4 },     { -2.5, -2, -3 },   { -3.5, -4, -4 },  { 0.5, 0, 1 },
		{ -0.5, 0, -1 },   { 1.5, 2, 2 },     { -1.5, -2, -2 },   { 2.385, 2, 2 },   { -2.385, -2, -2 },
		{ 2.615, 3, 3 },   { -2.615, -3, -3 }, { 7.0, 7, 7 },     { -7.0, -7, -7 },  { 0.0, 0, 0 },
		{ 0.49999999999999994, 0, 0 },          { -0.49999999999999994, 0, 0 },
		{ 4503599627370497.0, 4503599627370497.0, 4503599627370497.0 },
		{ 1048576.5, 1048576, 1048577 },       { -1048577.5, -1048578, -1048578 },
		{ 2.4999999999999996, 2, 2 },          { 2.5000000000000004, 3, 3 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		double e = qs_quant_round(cases[i].v, QS_ROUND_EVEN, NULL);
		double a = qs_quant_round(cases[i].v, QS_ROUND_AWAY, NULL);
		REQUIRE(e == cases[i].even, "even(%.17g) = %.17g, expected %.17g", cases[i].v, e, cases[i].even);
		REQUIRE(a == cases[i].away, "away(%.17g) = %.17g, expected %.17g", cases[i].v, a, cases[i].away);
		ck_assert(e == ref_round_even(cases[i].v) && a == ref_round_away(cases[i].v));
	}
}
END_TEST

/* Against the independent floor-based rounders on many random values, including exact half-integers. */
START_TEST(test_round_random_vs_ref)
{
	gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
	gsl_rng_set(rng, 20240611);
	for (int i = 0; i < 200000; i++) {
		double v = (gsl_rng_uniform(rng) - 0.5) * 600.0;
		if (i % 3 == 0)
			v = floor(v) + 0.5;
		double e = qs_quant_round(v, QS_ROUND_EVEN, NULL), a = qs_quant_round(v, QS_ROUND_AWAY, NULL);
		REQUIRE(e == ref_round_even(v), "even(%.17g) = %.17g", v, e);
		REQUIRE(a == ref_round_away(v), "away(%.17g) = %.17g", v, a);
	}
	gsl_rng_free(rng);
}
END_TEST

/* Stochastic rounding is unbiased: mean of round(v) - v over 10^6 draws within 5 standard errors of 0
 * (standard error sqrt(p (1 - p) / N), p = frac(v)), and every draw is floor(v) or floor(v) + 1. */
START_TEST(test_round_stochastic_unbiased)
{
	static const double vs[] = { 2.385, -2.385, 0.1, -7.75, 0.5, 1e-3 + 41.0 };
	const int n = 1000000;
	gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
	gsl_rng_set(rng, 977);
	for (size_t k = 0; k < sizeof vs / sizeof vs[0]; k++) {
		double v = vs[k], f = floor(v), p = v - f, sum = 0;
		for (int i = 0; i < n; i++) {
			double r = qs_quant_round(v, QS_ROUND_STOCHASTIC, rng);
			REQUIRE(r == f || r == f + 1.0, "stochastic(%g) = %.17g", v, r);
			sum += r - v;
		}
		double mean = sum / n, se = sqrt(p * (1 - p) / n);
		REQUIRE(fabs(mean) < 5.0 * se, "stochastic(%g): mean error %.3g, standard error %.3g", v, mean, se);
	}
	gsl_rng_free(rng);
}
END_TEST

/* Same seed -> same sequence, another seed -> another sequence, integers stay, and the rule is exactly
 * floor(v) + (u < frac(v)) with u = gsl_rng_uniform() (the [0, 1) uniform of GSL). */
START_TEST(test_round_stochastic_reproducible)
{
	gsl_rng *a = gsl_rng_alloc(gsl_rng_mt19937), *b = gsl_rng_alloc(gsl_rng_mt19937),
		*c = gsl_rng_alloc(gsl_rng_mt19937), *u = gsl_rng_alloc(gsl_rng_mt19937);
	gsl_rng_set(a, 4242);
	gsl_rng_set(b, 4242);
	gsl_rng_set(c, 4243);
	gsl_rng_set(u, 4242);
	int differ = 0;
	for (int i = 0; i < 1000; i++) {
		double v = 2.385 + 0.01 * i;
		double ra = qs_quant_round(v, QS_ROUND_STOCHASTIC, a);
		double rb = qs_quant_round(v, QS_ROUND_STOCHASTIC, b);
		double rc = qs_quant_round(v, QS_ROUND_STOCHASTIC, c);
		double f = floor(v);
		double want = f + (gsl_rng_uniform(u) < v - f ? 1.0 : 0.0);
		REQUIRE(ra == rb, "same seed differs at %d", i);
		REQUIRE(ra == want, "draw %d: stochastic(%.17g) = %g, floor + (u < frac) gives %g", i, v, ra, want);
		differ += ra != rc;
	}
	REQUIRE(differ > 100, "different seeds agree too often (%d of 1000 differ)", 1000 - differ);
	for (int i = -5; i <= 5; i++)
		ck_assert(qs_quant_round((double)i * 3.0, QS_ROUND_STOCHASTIC, a) == (double)i * 3.0);
	gsl_rng_free(a);
	gsl_rng_free(b);
	gsl_rng_free(c);
	gsl_rng_free(u);
}
END_TEST

/* ---- qs_quant_fake ----------------------------------------------------------------------------------------- */

struct fake_case {
	double k;          /* x = k * s, exact in double */
	long q_even, q_away;
	bool clip_even, clip_away;
};

/* int4 signed full [-8, 7], s = 0.375 (so k * s and (k * s) / s are exact): ties in the middle and at both
 * ends. At the low end -8.5 rounds (even) to -8 = qmin, which is NOT clipped; away it is -9, clipped. A value
 * that rounds exactly to qmax (7.4, 7.0) is not clipped; 7.5 rounds to 8 either way and is. */
START_TEST(test_fake_ties_int4)
{
	static const struct fake_case cases[] = {
		{ 2.5, 2, 3, false, false },   { -2.5, -2, -3, false, false }, { 6.5, 6, 7, false, false },
		{ 7.0, 7, 7, false, false },   { 7.4, 7, 7, false, false },    { 7.5, 7, 7, true, true },
		{ 9.25, 7, 7, true, true },    { -8.0, -8, -8, false, false }, { -8.5, -8, -8, false, true },
		{ -9.5, -8, -8, true, true },  { -7.5, -8, -8, false, false }, { 0.5, 0, 1, false, false },
		{ -0.5, 0, -1, false, false }, { 0.0, 0, 0, false, false },
	};
	const double s = 0.375;
	struct qs_quantizer q = mkq(4, true, false, false, false, QS_ROUND_EVEN, QS_PROFILE_DEFAULT);
	struct qs_qparams p = { .scale = s, .zero_point = 0, .dead = false };
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		double x = cases[i].k * s;
		bool clipped;
		q.rounding = QS_ROUND_EVEN;
		double xh = qs_quant_fake(&q, &p, x, NULL, &clipped);
		REQUIRE(xh == (double)cases[i].q_even * s && clipped == cases[i].clip_even,
			      "even: x=%g*s -> %.17g clipped=%d, expected %g clipped=%d", cases[i].k, xh, clipped,
			      (double)cases[i].q_even * s, cases[i].clip_even);
		q.rounding = QS_ROUND_AWAY;
		xh = qs_quant_fake(&q, &p, x, NULL, &clipped);
		REQUIRE(xh == (double)cases[i].q_away * s && clipped == cases[i].clip_away,
			      "away: x=%g*s -> %.17g clipped=%d, expected %g clipped=%d", cases[i].k, xh, clipped,
			      (double)cases[i].q_away * s, cases[i].clip_away);
	}
}
END_TEST

/* int4 narrow [-7, 7]: -7.5 rounds to -8 either way, below qmin: clipped to -7. */
START_TEST(test_fake_ties_narrow)
{
	static const struct fake_case cases[] = {
		{ -7.5, -7, -7, true, true }, { -6.5, -6, -7, false, false }, { -7.0, -7, -7, false, false },
		{ 7.5, 7, 7, true, true },    { 6.5, 6, 7, false, false },
	};
	const double s = 0.375;
	struct qs_quantizer q = mkq(4, true, true, false, false, QS_ROUND_EVEN, QS_PROFILE_DEFAULT);
	struct qs_qparams p = { .scale = s, .zero_point = 0, .dead = false };
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		bool clipped;
		q.rounding = QS_ROUND_EVEN;
		double xh = qs_quant_fake(&q, &p, cases[i].k * s, NULL, &clipped);
		REQUIRE(xh == (double)cases[i].q_even * s && clipped == cases[i].clip_even,
			      "narrow even: %g*s -> %g clipped=%d", cases[i].k, xh, clipped);
		q.rounding = QS_ROUND_AWAY;
		xh = qs_quant_fake(&q, &p, cases[i].k * s, NULL, &clipped);
		REQUIRE(xh == (double)cases[i].q_away * s && clipped == cases[i].clip_away,
			      "narrow away: %g*s -> %g clipped=%d", cases[i].k, xh, clipped);
	}
}
END_TEST

/* With a zero-point the tie is decided on x/s, before z is added: uint8, odd z = 101, s = 0.25.
 * x = 2.5 s: even -> round(2.5) + 101 = 103 -> x̂ = 2 s (rounding x/s + z = 103.5 instead would give 104 -> 3 s). */
START_TEST(test_fake_ties_zero_point)
{
	struct qs_quantizer q = mkq(8, false, false, true, false, QS_ROUND_EVEN, QS_PROFILE_DEFAULT);
	struct qs_qparams p = { .scale = 0.25, .zero_point = 101, .dead = false };
	bool clipped;
	double xh = qs_quant_fake(&q, &p, 2.5 * 0.25, NULL, &clipped);
	REQUIRE(xh == 2.0 * 0.25 && !clipped, "z=101 even: %g", xh);
	xh = qs_quant_fake(&q, &p, -3.5 * 0.25, NULL, &clipped);
	REQUIRE(xh == -4.0 * 0.25 && !clipped, "z=101 even: %g", xh);
	q.rounding = QS_ROUND_AWAY;
	xh = qs_quant_fake(&q, &p, 2.5 * 0.25, NULL, &clipped);
	REQUIRE(xh == 3.0 * 0.25 && !clipped, "z=101 away: %g", xh);
	/* Ends: 154 s is qmax - z exactly (not clipped), 154.5 s rounds (even) to 154: not clipped; away 155: clipped.
	 * -101 s reaches qmin; -101.5 s: even -> -102 (clipped), away -> -102 (clipped). */
	q.rounding = QS_ROUND_EVEN;
	xh = qs_quant_fake(&q, &p, 154.5 * 0.25, NULL, &clipped);
	REQUIRE(xh == 154 * 0.25 && !clipped, "154.5 even: %g %d", xh, clipped);
	xh = qs_quant_fake(&q, &p, -101.5 * 0.25, NULL, &clipped);
	REQUIRE(xh == -101 * 0.25 && clipped, "-101.5 even: %g %d", xh, clipped);
	q.rounding = QS_ROUND_AWAY;
	xh = qs_quant_fake(&q, &p, 154.5 * 0.25, NULL, &clipped);
	REQUIRE(xh == 154 * 0.25 && clipped, "154.5 away: %g %d", xh, clipped);
}
END_TEST

/* Random values through every quantizer combination against v = round(x / s) + z, clamp, (q - z) s. */
START_TEST(test_fake_vs_formula)
{
	int bits = _i;
	gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
	gsl_rng_set(rng, 31337u + (unsigned long)bits);
	for (int sg = 0; sg < 2; sg++)
		for (int nr = 0; nr < 2; nr++)
			for (int as = 0; as < 2; as++)
				for (int p2 = 0; p2 < 2; p2++)
					for (int rd = 0; rd < 2; rd++) {
						enum qs_rounding mode = rd ? QS_ROUND_AWAY : QS_ROUND_EVEN;
						struct qs_quantizer q = mkq(bits, sg, nr, as, p2, mode, QS_PROFILE_DEFAULT);
						struct qs_qparams p;
						qs_quant_params(&q, -1.7, 2.55, &p);
						long qmin, qmax;
						ref_range(bits, sg, nr, &qmin, &qmax);
						for (int i = 0; i < 500; i++) {
							double x = (gsl_rng_uniform(rng) - 0.45) * 7.0;
							double r = x / p.scale;
							double v = (rd ? ref_round_away(r) : ref_round_even(r)) +
								   (double)p.zero_point;
							double qq = v < (double)qmin ? (double)qmin : v > (double)qmax ? (double)qmax : v;
							double want = (qq - (double)p.zero_point) * p.scale;
							bool wclip = v < (double)qmin || v > (double)qmax, clipped;
							double xh = qs_quant_fake(&q, &p, x, NULL, &clipped);
							REQUIRE(fabs(xh - want) <= 1e-15 * fmax(1.0, fabs(want)) &&
									      clipped == wclip,
								      "b=%d signed=%d narrow=%d asym=%d pow2=%d round=%d x=%.17g: "
								      "%.17g clipped=%d, expected %.17g clipped=%d",
								      bits, sg, nr, as, p2, rd, x, xh, clipped, want, wclip);
						}
					}
	gsl_rng_free(rng);
}
END_TEST

/* Stochastic fake-quantization: x = 7.3 s in int4 [-8, 7] gives v = 7 (p 0.7) or 8 (p 0.3, clipped); x̂ = 7 s
 * always; the clipped fraction over 10^5 draws is 0.3 within 5 standard errors. */
START_TEST(test_fake_stochastic)
{
	const double s = 0.375;
	const int n = 100000;
	struct qs_quantizer q = mkq(4, true, false, false, false, QS_ROUND_STOCHASTIC, QS_PROFILE_DEFAULT);
	struct qs_qparams p = { .scale = s, .zero_point = 0, .dead = false };
	gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
	gsl_rng_set(rng, 5);
	int nclip = 0;
	for (int i = 0; i < n; i++) {
		bool clipped;
		double xh = qs_quant_fake(&q, &p, 7.3 * s, rng, &clipped);
		REQUIRE(xh == 7.0 * s, "x̂ = %.17g", xh);
		nclip += clipped;
	}
	double frac = (double)nclip / n, se = sqrt(0.3 * 0.7 / n);
	REQUIRE(fabs(frac - 0.3) < 5 * se, "clipped fraction %g, expected 0.3", frac);
	gsl_rng_free(rng);
}
END_TEST

/* ---- names ------------------------------------------------------------------------------------------------- */

START_TEST(test_names_round_trip)
{
	enum qs_rounding rs[] = { QS_ROUND_EVEN, QS_ROUND_AWAY, QS_ROUND_STOCHASTIC };
	for (size_t i = 0; i < 3; i++) {
		enum qs_rounding r = (enum qs_rounding)99;
		const char *name = qs_rounding_name(rs[i]);
		ck_assert_ptr_nonnull(name);
		ck_assert_int_eq(qs_rounding_parse(name, &r), QS_OK);
		ck_assert_int_eq(r, rs[i]);
	}
	enum qs_profile ps[] = { QS_PROFILE_DEFAULT, QS_PROFILE_TORCH };
	for (size_t i = 0; i < 2; i++) {
		enum qs_profile pr = (enum qs_profile)99;
		const char *name = qs_profile_name(ps[i]);
		ck_assert_ptr_nonnull(name);
		ck_assert_int_eq(qs_profile_parse(name, &pr), QS_OK);
		ck_assert_int_eq(pr, ps[i]);
	}
	enum qs_rounding r;
	enum qs_profile pr;
	ck_assert_int_ne(qs_rounding_parse("bogus", &r), QS_OK);
	ck_assert_int_ne(qs_profile_parse("bogus", &pr), QS_OK);
	ck_assert_int_ne(qs_rounding_parse("", &r), QS_OK);
}
END_TEST

static Suite *quant_suite(void)
{
	Suite *s = suite_create("quant");
	TCase *tc = tcase_create("range");
	tcase_add_loop_test(tc, test_range_all, QS_BITS_MIN, QS_BITS_MAX + 1);
	tcase_add_test(tc, test_range_literals);
	suite_add_tcase(s, tc);

	tc = tcase_create("params");
	tcase_add_loop_test(tc, test_params_default_all, QS_BITS_MIN, QS_BITS_MAX + 1);
	tcase_add_loop_test(tc, test_params_pow2_bounds, QS_BITS_MIN, QS_BITS_MAX + 1);
	tcase_add_loop_test(tc, test_params_no_clipping_at_ends, QS_BITS_MIN, QS_BITS_MAX + 1);
	tcase_add_test(tc, test_params_default_literals);
	tcase_add_loop_test(tc, test_params_dead, QS_BITS_MIN, QS_BITS_MAX + 1);
	suite_add_tcase(s, tc);

	tc = tcase_create("torch");
	tcase_add_test(tc, test_params_torch_literals);
	tcase_add_loop_test(tc, test_params_torch_all, QS_BITS_MIN, QS_BITS_MAX + 1);
	tcase_add_loop_test(tc, test_params_torch_dead, QS_BITS_MIN, QS_BITS_MAX + 1);
	suite_add_tcase(s, tc);

	tc = tcase_create("round");
	tcase_add_test(tc, test_round_deterministic);
	tcase_add_test(tc, test_round_random_vs_ref);
	tcase_add_test(tc, test_round_stochastic_unbiased);
	tcase_add_test(tc, test_round_stochastic_reproducible);
	suite_add_tcase(s, tc);

	tc = tcase_create("fake");
	tcase_add_test(tc, test_fake_ties_int4);
	tcase_add_test(tc, test_fake_ties_narrow);
	tcase_add_test(tc, test_fake_ties_zero_point);
	tcase_add_loop_test(tc, test_fake_vs_formula, QS_BITS_MIN, QS_BITS_MAX + 1);
	tcase_add_test(tc, test_fake_stochastic);
	tcase_add_test(tc, test_names_round_trip);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(quant_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
