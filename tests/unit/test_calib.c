/* The calibrator table: lookup by name, parameters, and minmax against a brute-force scan. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "calib/calib.h"
#include "util/qs_error.h"

START_TEST(test_parse)
{
	struct qs_calib c;
	ck_assert_int_eq(qs_calib_parse("minmax", &c), QS_OK);
	ck_assert_str_eq(c.type->name, "minmax");
	ck_assert_str_eq(c.label, "minmax");
	ck_assert_int_eq(qs_calib_parse("minmax:3", &c), QS_EUSAGE);
	ck_assert_int_eq(qs_calib_parse("bogus", &c), QS_EUSAGE);
	ck_assert_ptr_nonnull(strstr(qs_error_message(), "'bogus'"));
	ck_assert_ptr_nonnull(strstr(qs_error_message(), "minmax"));
	ck_assert_int_eq(qs_calib_parse("minmaxx", &c), QS_EUSAGE);
	ck_assert_int_eq(qs_calib_parse("", &c), QS_EUSAGE);
}
END_TEST

START_TEST(test_minmax)
{
	gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
	gsl_rng_set(rng, 17);
	double x[1000];
	struct qs_calib c;
	struct qs_quantizer q = {.bits = 8, .is_signed = true};
	ck_assert_int_eq(qs_calib_parse("minmax", &c), QS_OK);
	for (int trial = 0; trial < 20; trial++) {
		size_t n = 1 + gsl_rng_uniform_int(rng, 1000);
		double mn = 1e300, mx = -1e300;
		for (size_t i = 0; i < n; i++) {
			x[i] = gsl_ran_cauchy(rng, 2.385) + (trial % 3 == 0 ? 50.0 : 0.0);
			mn = x[i] < mn ? x[i] : mn;
			mx = x[i] > mx ? x[i] : mx;
		}
		double lo, hi;
		ck_assert_int_eq(qs_calib_clip_range(&c, x, n, &q, &lo, &hi), QS_OK);
		ck_assert_double_eq(lo, mn);
		ck_assert_double_eq(hi, mx);
	}
	gsl_rng_free(rng);
}
END_TEST

/* Every calibrator gives the same range from the sweep's prepared (sorted) group as from the plain values, which
 * take each calibrator's own route (its own sort, scan or prepare). */
START_TEST(test_prepared_same_as_plain)
{
	static const char *const specs[] = {"minmax", "percentile:99.9", "percentile:100", "percentile:50", "entropy",
					    "aciq:laplace", "aciq:gauss", "mse"};
	gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
	gsl_rng_set(rng, 2385);
	static double x[5001];
	for (int trial = 0; trial < 6; trial++) {
		size_t n = trial == 0 ? 1 : 1 + gsl_rng_uniform_int(rng, 5000);
		for (size_t i = 0; i < n; i++)
			x[i] = gsl_ran_tdist(rng, 3.0) * 0.37 + (trial % 2 ? 0.2 : 0.0);
		struct qs_err_prepared prep = {0};
		ck_assert_int_eq(qs_err_prepare(x, n, &prep), QS_OK);
		const struct qs_calib_group g = {.x = x, .n = n, .sorted = &prep};
		for (size_t k = 0; k < sizeof specs / sizeof *specs; k++)
			for (int asym = 0; asym < 2; asym++) {
				struct qs_calib c;
				struct qs_quantizer q = {.bits = 4 + 4 * asym, .is_signed = true, .asym = asym};
				double lo1, hi1, lo2, hi2;
				ck_assert_int_eq(qs_calib_parse(specs[k], &c), QS_OK);
				ck_assert_int_eq(qs_calib_clip_range(&c, x, n, &q, &lo1, &hi1), QS_OK);
				ck_assert_int_eq(qs_calib_clip_range_group(&c, &g, &q, &lo2, &hi2), QS_OK);
				ck_assert_msg(lo1 == lo2 && hi1 == hi2, "%s asym=%d n=%zu: [%.17g, %.17g] vs [%.17g, %.17g]",
					      specs[k], asym, n, lo1, hi1, lo2, hi2);
			}
		qs_err_prepared_free(&prep);
	}
	gsl_rng_free(rng);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("calib");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_parse);
	tcase_add_test(tc, test_minmax);
	tcase_add_test(tc, test_prepared_same_as_plain);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
