/* The progress line's text: times, bar, percentage, ETA and width limits, against strings worked out by hand. */
#include <check.h>
#include <math.h>
#include <string.h>

#include "util/qs_progress.h"

START_TEST(test_time)
{
	static const struct {
		double s;
		const char *want;
	} cases[] = {{0.0, "0:00"}, {59.9, "0:59"}, {61.0, "1:01"}, {3599.5, "59:59"}, {3600.0, "1:00:00"},
		     {3725.0, "1:02:05"}, {-1.0, "--:--"}, {NAN, "--:--"}, {INFINITY, "--:--"}};
	char buf[16];
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		qs_progress_time(buf, sizeof buf, cases[i].s);
		ck_assert_str_eq(buf, cases[i].want);
	}
}
END_TEST

/* 80 columns: the tail " 25%  12/221 tensors  0:07 elapsed, ETA 0:21" is 44 characters (ETA = 7·0.75/0.25 = 21 s),
 * so the bar gets 80 − 5 ("sweep") − 44 − 5 = 26 columns, floor(0.25·26) = 6 of them '#'. */
START_TEST(test_bar)
{
	char buf[256];
	qs_progress_format(buf, sizeof buf, 80, "sweep", 0.25, 12, 221, 7.0);
	ck_assert_str_eq(buf, "sweep [######--------------------]  25%  12/221 tensors  0:07 elapsed, ETA 0:21");
	ck_assert_uint_lt(strlen(buf), 80);
	/* wide terminals: the bar stops at 40 columns */
	qs_progress_format(buf, sizeof buf, 200, "sweep", 0.5, 1, 2, 10.0);
	ck_assert_str_eq(buf, "sweep [####################--------------------]  50%  1/2 tensors  0:10 elapsed, ETA 0:10");
	/* done, and more than done: a full bar, ETA 0 */
	qs_progress_format(buf, sizeof buf, 200, "sweep", 1.5, 2, 2, 65.0);
	ck_assert_str_eq(buf, "sweep [########################################] 100%  2/2 tensors  1:05 elapsed, ETA 0:00");
	/* nothing done yet: no ETA */
	qs_progress_format(buf, sizeof buf, 200, "sweep", 0.0, 0, 2, 1.0);
	ck_assert_ptr_nonnull(strstr(buf, "[----------------------------------------]   0%  0/2 tensors  0:01 elapsed, ETA --:--"));
}
END_TEST

START_TEST(test_narrow_and_unknown)
{
	char buf[256];
	/* 50 columns leave no room for a bar (50 − 5 − 44 − 5 < 10); the rest is cut to 49 columns */
	qs_progress_format(buf, sizeof buf, 50, "sweep", 0.25, 12, 221, 7.0);
	ck_assert_str_eq(buf, "sweep   25%  12/221 tensors  0:07 elapsed, ETA 0:");
	ck_assert_uint_eq(strlen(buf), 49);
	/* unknown total: count and elapsed time only */
	qs_progress_format(buf, sizeof buf, 80, "sweep", -1.0, 12, 0, 7.0);
	ck_assert_str_eq(buf, "sweep  12 tensors  0:07 elapsed");
	/* a small buffer is never overrun */
	char small[8];
	qs_progress_format(small, sizeof small, 80, "sweep", 0.5, 1, 2, 1.0);
	ck_assert_uint_eq(strlen(small), 7);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("progress");
	TCase *tc = tcase_create("format");
	tcase_add_test(tc, test_time);
	tcase_add_test(tc, test_bar);
	tcase_add_test(tc, test_narrow_and_unknown);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
