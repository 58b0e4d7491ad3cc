/* In-process benchmark: one calibrator on one tensor as a library call, timed the way bench_sweep.py times a warm
 * in-process observer call (HistogramObserver), so that the two algorithms are compared without qscope's process
 * start and file read.
 *
 * Usage: bench_calib FILE CALIB BITS REPEAT
 * Loads the first tensor of FILE once, then calls (prepare: sort + prefix sums) + (CALIB's clip range, per-tensor
 * symmetric signed BITS) REPEAT + 1 times, reusing the prepare's buffers from the second call on, as the sweep does.
 * Prints one line: "first_ms best_ms clip": the first call (fresh buffers), the best of the other REPEAT, and the
 * clip range's upper end (the same every call). Exit status 1 on any error, with the message on stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "calib/calib.h"
#include "formats/format.h"
#include "metrics/err_fast.h"
#include "util/qs_error.h"

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

/* One timed call: prepare t's values into p, then the calibrator's clip range. */
static int one_call(const struct qs_tensor *t, const struct qs_calib *c, const struct qs_quantizer *q,
		    struct qs_err_prepared *p, double *ms, double *hi)
{
	double t0 = now_ms(), lo;
	int rc = qs_err_prepare(t->data, t->n, p);
	if (rc)
		return qs_error_set(rc, "'%s': its values cannot be prepared (non-finite, beyond float range or out of memory)",
				    t->name);
	const struct qs_calib_group g = {.x = t->data, .n = t->n, .sorted = p};
	rc = qs_calib_clip_range_group(c, &g, q, &lo, hi);
	*ms = now_ms() - t0;
	return rc;
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: bench_calib FILE CALIB BITS REPEAT\n");
		return 2;
	}
	struct qs_load_opts opts = {.rank = -1};
	struct qs_quantizer q = {.bits = atoi(argv[3]), .is_signed = true};
	int repeat = atoi(argv[4]);
	struct qs_calib c;
	struct qs_source *src = NULL;
	struct qs_tensor *t = NULL;
	struct qs_err_prepared p = {0};
	double first = 0.0, best = 0.0, hi = 0.0;
	int rc = qs_calib_parse(argv[2], &c);
	if (rc == QS_OK)
		rc = qs_source_open(argv[1], &opts, &src);
	if (rc == QS_OK)
		rc = qs_source_next(src, &t);
	if (rc == QS_OK && !t)
		rc = qs_error_set(QS_EINVAL, "'%s': no tensor", argv[1]);
	if (rc == QS_OK)
		rc = one_call(t, &c, &q, &p, &first, &hi);
	for (int r = 0; r < repeat && rc == QS_OK; r++) {
		double ms = 0.0;
		rc = one_call(t, &c, &q, &p, &ms, &hi);
		best = r == 0 || ms < best ? ms : best;
	}
	if (rc == QS_OK)
		printf("%.3f %.3f %.9g\n", first, best, hi);
	else
		fprintf(stderr, "bench_calib: %s\n", qs_error_message());
	qs_err_prepared_free(&p);
	qs_tensor_free(t);
	if (src)
		qs_source_close(src);
	return rc == QS_OK ? 0 : 1;
}
