/* Tensor statistics against hand-computed values and a brute-force two-pass computation. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "metrics/stats.h"
#include "util/qs_error.h"

/* {-2, -1, 0, 1, 2, NaN, Inf} as a [7] tensor: finite mean 0, population variance 2, m4 = 34/5, so excess
 * kurtosis 6.8/4 - 3 = -1.3; one zero in seven values. */
START_TEST(test_hand_values)
{
	size_t shape[1] = {7};
	struct qs_tensor *t = qs_tensor_alloc("h", "f32", 1, shape);
	const double v[7] = {-2, -1, 0, 1, 2, NAN, INFINITY};
	memcpy(t->data, v, sizeof v);
	struct qs_stats st;
	ck_assert_int_eq(qs_stats_compute(t, &st), QS_OK);
	ck_assert_uint_eq(st.n, 7);
	ck_assert_uint_eq(st.n_finite, 5);
	ck_assert_uint_eq(st.n_nan, 1);
	ck_assert_uint_eq(st.n_inf, 1);
	ck_assert_double_eq(st.min, -2.0);
	ck_assert_double_eq(st.max, 2.0);
	ck_assert_double_eq_tol(st.mean, 0.0, 1e-15);
	ck_assert_double_eq_tol(st.std, sqrt(2.0), 1e-15);
	ck_assert_double_eq_tol(st.kurtosis, -1.3, 1e-12);
	ck_assert_double_eq_tol(st.absmax_over_std, 2.0 / sqrt(2.0), 1e-15);
	ck_assert_double_eq_tol(st.frac_zero, 1.0 / 7.0, 1e-15);
	/* rank 1: each element is its own channel; finite |x| = {2, 1, 0, 1, 2}: min 0, median 1, max 2 */
	ck_assert(st.has_channels);
	ck_assert_double_eq(st.ch_absmax_min, 0.0);
	ck_assert_double_eq(st.ch_absmax_median, 1.0);
	ck_assert_double_eq(st.ch_absmax_max, 2.0);
	qs_tensor_free(t);
}
END_TEST

/* Per-channel max|x| of a [4, 2, 2] tensor: channels' max |x| are 3.5, 0.25, 7.125, 1.5 -> median 2.5. */
START_TEST(test_channel_spread)
{
	size_t shape[3] = {4, 2, 2};
	struct qs_tensor *t = qs_tensor_alloc("c", "f64", 3, shape);
	const double v[16] = {1, -3.5, 2, 0, 0.25, 0, -0.125, 0.1, 7.125, -7, 0, 1, -1.5, 1.25, 0.5, 0};
	memcpy(t->data, v, sizeof v);
	struct qs_stats st;
	ck_assert_int_eq(qs_stats_compute(t, &st), QS_OK);
	ck_assert_double_eq(st.ch_absmax_min, 0.25);
	ck_assert_double_eq(st.ch_absmax_median, 2.5);
	ck_assert_double_eq(st.ch_absmax_max, 7.125);
	ck_assert_double_eq_tol(st.frac_zero, 4.0 / 16.0, 1e-15); /* zeros at 3, 5, 10, 15 */
	qs_tensor_free(t);
}
END_TEST

/* A weight whose consumer puts output channels on axis 1 (e.g. ONNX MatMul B, [in, out]): the spread is over the
 * columns: max|x| per column {2, 5, 3} -> min 2, median 3, max 5 (over rows it would be {5, 3}). */
START_TEST(test_channel_axis_from_consumer)
{
	size_t shape[2] = {2, 3};
	struct qs_tensor *t = qs_tensor_alloc("fc", "f32", 2, shape);
	const double v[6] = {1, -5, 0.5, -2, 0.25, 3};
	memcpy(t->data, v, sizeof v);
	t->channel_axis = 1;
	struct qs_stats st;
	ck_assert_int_eq(qs_stats_compute(t, &st), QS_OK);
	ck_assert_double_eq(st.ch_absmax_min, 2.0);
	ck_assert_double_eq(st.ch_absmax_median, 3.0);
	ck_assert_double_eq(st.ch_absmax_max, 5.0);
	qs_tensor_free(t);
}
END_TEST

/* Student-t samples: moments equal a plain two-pass computation written here. */
START_TEST(test_brute_force_moments)
{
	size_t shape[2] = {50, 40};
	struct qs_tensor *t = qs_tensor_alloc("t", "f32", 2, shape);
	gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
	gsl_rng_set(rng, 2385);
	for (size_t i = 0; i < t->n; i++)
		t->data[i] = 0.3 + gsl_ran_tdist(rng, 4.0);
	double sum = 0, m2 = 0, m4 = 0, amax = 0;
	for (size_t i = 0; i < t->n; i++)
		sum += t->data[i];
	double mean = sum / (double)t->n;
	for (size_t i = 0; i < t->n; i++) {
		double d = t->data[i] - mean;
		m2 += d * d;
		m4 += d * d * d * d;
		amax = fmax(amax, fabs(t->data[i]));
	}
	m2 /= (double)t->n;
	m4 /= (double)t->n;
	struct qs_stats st;
	ck_assert_int_eq(qs_stats_compute(t, &st), QS_OK);
	ck_assert_double_eq_tol(st.mean, mean, 1e-12);
	ck_assert_double_eq_tol(st.std, sqrt(m2), 1e-12);
	ck_assert_double_eq_tol(st.kurtosis, m4 / (m2 * m2) - 3.0, 1e-9);
	ck_assert_double_eq_tol(st.absmax_over_std, amax / sqrt(m2), 1e-9);
	gsl_rng_free(rng);
	qs_tensor_free(t);
}
END_TEST

START_TEST(test_scalar_and_constant)
{
	struct qs_tensor *t = qs_tensor_alloc("s", "f32", 0, NULL);
	t->data[0] = 2.385;
	struct qs_stats st;
	ck_assert_int_eq(qs_stats_compute(t, &st), QS_OK);
	ck_assert_uint_eq(st.n, 1);
	ck_assert_double_eq(st.mean, 2.385);
	ck_assert_double_eq(st.std, 0.0);
	ck_assert(isnan(st.kurtosis));   /* undefined for zero variance */
	ck_assert(!st.has_channels);
	qs_tensor_free(t);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("stats");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_hand_values);
	tcase_add_test(tc, test_channel_spread);
	tcase_add_test(tc, test_channel_axis_from_consumer);
	tcase_add_test(tc, test_brute_force_moments);
	tcase_add_test(tc, test_scalar_and_constant);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
