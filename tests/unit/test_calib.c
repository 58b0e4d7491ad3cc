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

int main(void)
{
	Suite *s = suite_create("calib");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_parse);
	tcase_add_test(tc, test_minmax);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
